//! The header of a CDA R2 document (HL7 CDA R2, CI-SIS structuration minimale): what it is,
//! whose it is, who wrote it and when, its narrative sections and, for a level-1 document, the
//! file it wraps (segur-documents.md §3).

use base64::Engine;
use confiance_core::Nir;
use confiance_core::patient::ins_kind;

use crate::narrative;
use crate::xml::{self, Element, XmlError};

/// Largest file a level-1 CDA may wrap.
const MAX_EMBEDDED: usize = 30 * 1024 * 1024;

/// The patient's INS as a document gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ins {
    /// The 15-character matricule.
    pub matricule: String,
    /// The OID naming it (production, NIA, test, demonstration).
    pub oid: String,
    /// Whether its key is right; ANS samples carry wrong ones (segur-documents.md §6), so a
    /// wrong key is a warning, never a reason to refuse mail.
    pub key_valid: bool,
}

impl Ins {
    pub fn new(matricule: &str, oid: &str) -> Ins {
        Ins {
            matricule: matricule.trim().to_string(),
            oid: oid.trim().to_string(),
            key_valid: Nir::parse(matricule).is_ok(),
        }
    }

    /// "INS-NIR", "INS-NIR de test"…
    pub fn kind(&self) -> &'static str {
        ins_kind(&self.oid).unwrap_or("INS")
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Patient {
    pub ins: Option<Ins>,
    /// Name used (`family` without qualifier, or qualified SP/CL), else the birth name.
    pub family: Option<String>,
    pub birth_family: Option<String>,
    pub given: Option<String>,
    /// `YYYYMMDD`.
    pub birth_date: Option<String>,
    /// `F`, `M` or `U`.
    pub sex: Option<String>,
}

impl Patient {
    /// "NOM Prénom", as the subject convention writes it.
    pub fn name(&self) -> Option<String> {
        let family = self.family.as_ref().or(self.birth_family.as_ref());
        match (family, &self.given) {
            (Some(f), Some(g)) => Some(format!("{} {g}", f.to_uppercase())),
            (Some(f), None) => Some(f.to_uppercase()),
            (None, Some(g)) => Some(g.clone()),
            (None, None) => None,
        }
    }
}

/// A narrative section: its title and its text made safe HTML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    pub title: String,
    pub html: String,
    /// Sub-sections are shown one level down.
    pub depth: usize,
}

#[derive(Debug, Clone, Default)]
pub struct Cda {
    /// `id@root`, with `^extension` when there is one (as the ANS XSLT writes the uniqueId).
    pub id: Option<String>,
    /// `code@code` (LOINC or ANS code): what `X-MSS-CODECDA` carries.
    pub code: Option<String>,
    pub code_label: Option<String>,
    pub title: Option<String>,
    /// `effectiveTime@value`, `YYYYMMDDhhmmss[+zzzz]`.
    pub effective: Option<String>,
    pub confidentiality: Option<String>,
    pub patient: Patient,
    pub author: Option<String>,
    pub organisation: Option<String>,
    pub sections: Vec<Section>,
    /// A level-1 document's wrapped file: its media type and bytes.
    pub embedded: Option<(String, Vec<u8>)>,
}

fn attr(e: Option<&Element>, name: &str) -> Option<String> {
    e.and_then(|e| e.attr(name))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(String::from)
}

fn text(e: Option<&Element>) -> Option<String> {
    e.map(Element::text).filter(|t| !t.is_empty())
}

/// A person's name element: prefix, given names, family name.
fn person_name(name: &Element) -> Option<String> {
    let parts: Vec<String> = ["prefix", "given", "family"]
        .iter()
        .flat_map(|p| name.children(p).map(Element::text))
        .filter(|t| !t.is_empty())
        .collect();
    (!parts.is_empty()).then(|| parts.join(" "))
}

/// Whether `bytes` look like a CDA document (a `ClinicalDocument` root), cheaply.
pub fn looks_like_cda(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(8192)];
    head.windows(b"ClinicalDocument".len())
        .any(|w| w == b"ClinicalDocument")
}

impl Cda {
    pub fn read(bytes: &[u8]) -> Result<Cda, XmlError> {
        let root = xml::parse(bytes)?;
        let doc = root
            .descendants("ClinicalDocument")
            .into_iter()
            .next()
            .ok_or(XmlError::Empty)?;
        Ok(Cda::of(doc))
    }

    fn of(doc: &Element) -> Cda {
        let id = doc.child("id").and_then(|id| {
            let root = id.attr("root")?;
            Some(match id.attr("extension") {
                Some(ext) => format!("{root}^{ext}"),
                None => root.to_string(),
            })
        });
        let code = doc.child("code");
        let role = doc.at(&["recordTarget", "patientRole"]);
        let ins = role.and_then(|r| {
            r.children("id")
                .find(|id| id.attr("root").is_some_and(|o| ins_kind(o).is_some()))
                .and_then(|id| Some(Ins::new(id.attr("extension")?, id.attr("root")?)))
        });
        let person = role.and_then(|r| r.child("patient"));
        let name = person.and_then(|p| p.child("name"));
        let family_by = |qualifiers: &[Option<&str>]| {
            name.and_then(|n| {
                n.children("family")
                    .find(|f| qualifiers.contains(&f.attr("qualifier")))
                    .map(Element::text)
            })
        };
        let patient = Patient {
            ins,
            family: family_by(&[None, Some("SP"), Some("CL")]),
            birth_family: family_by(&[Some("BR")]),
            given: name.and_then(|n| {
                let givens: Vec<&Element> = n.children("given").collect();
                givens
                    .iter()
                    .find(|g| g.attr("qualifier") == Some("BR"))
                    .or(givens.first())
                    .map(|g| g.text())
            }),
            birth_date: attr(person.and_then(|p| p.child("birthTime")), "value").map(|v| v.chars().take(8).collect()),
            sex: attr(person.and_then(|p| p.child("administrativeGenderCode")), "code"),
        };
        let assigned = doc.at(&["author", "assignedAuthor"]);
        let author = assigned
            .and_then(|a| a.at(&["assignedPerson", "name"]))
            .and_then(person_name);
        let organisation = text(assigned.and_then(|a| a.at(&["representedOrganization", "name"])));
        let mut sections = Vec::new();
        let mut embedded = None;
        if let Some(body) = doc.child("component") {
            if let Some(structured) = body.child("structuredBody") {
                for c in structured.children("component") {
                    if let Some(s) = c.child("section") {
                        collect_sections(s, 0, &mut sections);
                    }
                }
            }
            if let Some(t) = body.at(&["nonXMLBody", "text"]) {
                let media = t.attr("mediaType").unwrap_or("text/plain").to_ascii_lowercase();
                let raw = t.text();
                let bytes = match t.attr("representation") {
                    Some(r) if r.eq_ignore_ascii_case("B64") => {
                        let clean: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
                        base64::engine::general_purpose::STANDARD.decode(clean).ok()
                    }
                    _ => Some(raw.into_bytes()),
                };
                embedded = bytes.filter(|b| b.len() <= MAX_EMBEDDED).map(|b| (media, b));
            }
        }
        Cda {
            id,
            code: attr(code, "code"),
            code_label: attr(code, "displayName"),
            title: text(doc.child("title")),
            effective: attr(doc.child("effectiveTime"), "value"),
            confidentiality: attr(doc.child("confidentialityCode"), "code"),
            patient,
            author,
            organisation,
            sections,
            embedded,
        }
    }
}

/// Sections at most this deep are shown; deeper ones join their parent's text.
const MAX_SECTION_DEPTH: usize = 4;
/// Most sections shown.
const MAX_SECTIONS: usize = 200;

fn collect_sections(section: &Element, depth: usize, out: &mut Vec<Section>) {
    if out.len() >= MAX_SECTIONS {
        return;
    }
    let title = section.child("title").map(Element::text).unwrap_or_default();
    let html = section.child("text").map(narrative::to_html).unwrap_or_default();
    if !title.is_empty() || !html.is_empty() {
        out.push(Section { title, html, depth });
    }
    if depth < MAX_SECTION_DEPTH {
        for c in section.children("component") {
            if let Some(s) = c.child("section") {
                collect_sections(s, depth + 1, out);
            }
        }
    }
}

/// `YYYYMMDD…` as `DD/MM/YYYY`.
pub fn french_date(ts: &str) -> Option<String> {
    let d = ts.get(..8)?;
    if !d.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!("{}/{}/{}", &d[6..8], &d[4..6], &d[..4]))
}
