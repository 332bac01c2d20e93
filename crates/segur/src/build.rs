//! Building an `IHE_XDM.ZIP` for a professional who attaches a CDA or a PDF in the webmail
//! (IHE ITI-32; segur-documents.md §1–2): `README.TXT` and `INDEX.HTM` at the root for a
//! reader with nothing but a browser, one submission set `IHE_XDM/SUBSET01/` with its
//! `METADATA.XML` and the document, and the `X-MSS-*` fields the message must carry
//! (Réf. #2 ECO.2.4.1–2.4.2). `check` verifies the structure of any archive, ours or a peer's.

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;

use crate::archive::{Archive, sha1};
use crate::cda::{Cda, Ins};
use crate::metadata::scheme;
use crate::narrative::escape;

/// Confidentiality of a document: normal (`N`, HL7 v3 Confidentiality).
const CONFIDENTIALITY_SYSTEM: &str = "2.16.840.1.113883.5.25";
/// The DMP/MSSanté masking flags' code system (`INVISIBLE_PATIENT`, `MASQUE_PS`).
const MASKING_SYSTEM: &str = "1.2.250.1.213.1.1.4.13";
/// IHE format code of a document whose MIME type says all (ITI TF-3 §4.2.3.2.9).
const FORMAT_MIME_SUFFICIENT: &str = "urn:ihe:iti:xds:2017:mimeTypeSufficient";
/// Format code of a level-1 CDA wrapping a PDF (IHE XDS-SD).
const FORMAT_CDA_PDF: &str = "urn:ihe:iti:xds-sd:pdf:2008";
const LOINC: &str = "2.16.840.1.113883.6.1";

/// The file a professional attaches.
pub enum Source {
    /// A CDA R2 document, as their software produced it.
    Cda(Vec<u8>),
    /// A PDF, with the document type chosen (a LOINC code and its label) and a title.
    Pdf {
        bytes: Vec<u8>,
        type_code: String,
        type_label: String,
        title: String,
    },
}

/// Who sends, for the metadata and `README.TXT`.
pub struct Sender {
    pub name: String,
    pub address: String,
    pub organisation: Option<String>,
    /// `Confiance 0.1.0`.
    pub application: String,
}

pub struct Request {
    pub source: Source,
    /// The patient's INS (matricule and OID) as the sender gives it; `None` takes the CDA's
    /// own. A CDA about another patient is refused.
    pub ins: Option<Ins>,
    pub sender: Sender,
    /// `YYYYMMDDhhmmss`, UTC.
    pub now: String,
    /// 128 random bits: the archive's identifiers are `2.25.<n>` OIDs (ITU-T X.667), unique
    /// without a registered root.
    pub unique: u128,
    /// The document must never reach the patient (`INVISIBLE_PATIENT`).
    pub hidden_from_patient: bool,
}

/// An archive built, and the fields the message carries for it.
pub struct Built {
    pub zip: Vec<u8>,
    /// `X-MSS-CODECDA` (absent without a CDA), `X-MSS-INS`.
    pub headers: Vec<(&'static str, String)>,
    /// "NOM Prénom" of the patient, when the document names them.
    pub patient_name: Option<String>,
    /// Their birth date, `DD/MM/YYYY`.
    pub patient_birth: Option<String>,
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    #[error("the file is not a CDA document: {0}")]
    NotCda(String),
    #[error("the file is not a PDF")]
    NotPdf,
    #[error("no patient: a PDF, or a CDA without INS, needs the patient's INS")]
    NoPatient,
    #[error("the document's patient ({document}) is not the patient given ({given})")]
    OtherPatient { document: String, given: String },
}

/// `X-MSS-INS`: `O` when the document carries a qualified INS, as far as an operator can tell
/// (the matricule with a right key, an INS OID and the identity traits), `N` otherwise
/// (ECO.2.4.2).
fn qualified(cda: &Cda) -> bool {
    let p = &cda.patient;
    p.ins
        .as_ref()
        .is_some_and(|i| i.key_valid && crate::cda::Ins::kind(i) != "INS")
        && (p.birth_family.is_some() || p.family.is_some())
        && p.given.is_some()
        && p.birth_date.is_some()
        && p.sex.is_some()
}

struct Doc {
    file: &'static str,
    mime: &'static str,
    bytes: Vec<u8>,
    type_code: String,
    type_label: String,
    title: String,
    format: &'static str,
    cda: Option<Cda>,
}

pub fn build(request: Request) -> Result<Built, BuildError> {
    let doc = match request.source {
        Source::Cda(bytes) => {
            let cda = Cda::read(&bytes).map_err(|e| BuildError::NotCda(e.to_string()))?;
            if let (Some(ins), Some(given)) = (&cda.patient.ins, &request.ins)
                && ins.matricule != given.matricule
            {
                return Err(BuildError::OtherPatient {
                    document: ins.matricule.clone(),
                    given: given.matricule.clone(),
                });
            }
            let code = cda.code.clone().ok_or(BuildError::NotCda("no document code".into()))?;
            Doc {
                file: "DOC0001.XML",
                mime: "text/xml",
                type_label: cda.code_label.clone().unwrap_or_else(|| code.clone()),
                title: cda
                    .title
                    .clone()
                    .or(cda.code_label.clone())
                    .unwrap_or_else(|| code.clone()),
                type_code: code,
                // A level-3 document's format depends on its content template, which only its
                // author knows; its MIME type is then what describes it.
                format: match cda.embedded {
                    Some(_) => FORMAT_CDA_PDF,
                    None => FORMAT_MIME_SUFFICIENT,
                },
                bytes,
                cda: Some(cda),
            }
        }
        Source::Pdf {
            bytes,
            type_code,
            type_label,
            title,
        } => {
            if !bytes.starts_with(b"%PDF-") {
                return Err(BuildError::NotPdf);
            }
            Doc {
                file: "DOC0001.PDF",
                mime: "application/pdf",
                bytes,
                type_code,
                type_label,
                title,
                format: FORMAT_MIME_SUFFICIENT,
                cda: None,
            }
        }
    };
    let ins = match &doc.cda {
        // The document's own INS, with its OID, is the patient's.
        Some(Cda {
            patient: crate::cda::Patient { ins: Some(i), .. },
            ..
        }) => i.clone(),
        _ => request.ins.clone().ok_or(BuildError::NoPatient)?,
    };
    let metadata = metadata(
        &doc,
        &ins,
        &request.sender,
        &request.now,
        request.unique,
        request.hidden_from_patient,
    );
    let readme = readme(&request.sender, &doc);
    let index = index(&request.sender, &doc);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let files: [(String, &[u8]); 4] = [
        ("README.TXT".into(), readme.as_bytes()),
        ("INDEX.HTM".into(), index.as_bytes()),
        ("IHE_XDM/SUBSET01/METADATA.XML".into(), metadata.as_bytes()),
        (format!("IHE_XDM/SUBSET01/{}", doc.file), &doc.bytes),
    ];
    for (name, bytes) in files {
        // Writing to memory cannot fail short of memory itself.
        zip.start_file(name, options).expect("zip in memory");
        zip.write_all(bytes).expect("zip in memory");
    }
    let zip = zip.finish().expect("zip in memory").into_inner();
    let mut headers = Vec::new();
    if let Some(cda) = &doc.cda {
        headers.push(("X-MSS-CODECDA", doc.type_code.clone()));
        headers.push(("X-MSS-INS", if qualified(cda) { "O" } else { "N" }.to_string()));
    }
    Ok(Built {
        zip,
        headers,
        patient_name: doc.cda.as_ref().and_then(|c| c.patient.name()),
        patient_birth: doc
            .cda
            .as_ref()
            .and_then(|c| c.patient.birth_date.as_deref())
            .and_then(crate::cda::french_date),
        title: doc.title,
    })
}

fn esc(text: &str) -> String {
    let mut out = String::new();
    escape(text, &mut out);
    out
}

fn slot(name: &str, value: &str) -> String {
    format!(
        "<rim:Slot name=\"{name}\"><rim:ValueList><rim:Value>{}</rim:Value></rim:ValueList></rim:Slot>",
        esc(value)
    )
}

fn name(value: &str) -> String {
    format!(
        "<rim:Name><rim:LocalizedString charset=\"UTF-8\" xml:lang=\"fr-FR\" value=\"{}\"/></rim:Name>",
        esc(value)
    )
}

fn classification(id: &str, scheme: &str, object: &str, code: &str, system: &str, label: &str) -> String {
    format!(
        "<rim:Classification id=\"{id}\" classificationScheme=\"{scheme}\" classifiedObject=\"{object}\" \
         nodeRepresentation=\"{}\">{}{}</rim:Classification>",
        esc(code),
        slot("codingScheme", system),
        name(label)
    )
}

fn author(id: &str, scheme: &str, object: &str, sender: &Sender) -> String {
    let mut slots = slot("authorPerson", &format!("^{}", sender.name.replace('^', " ")));
    if let Some(org) = &sender.organisation {
        slots.push_str(&slot("authorInstitution", &org.replace('^', " ")));
    }
    slots.push_str(&slot(
        "authorTelecommunication",
        &format!("^^Internet^{}", sender.address),
    ));
    format!(
        "<rim:Classification id=\"{id}\" classificationScheme=\"{scheme}\" classifiedObject=\"{object}\" \
         nodeRepresentation=\"\">{slots}</rim:Classification>"
    )
}

fn external(id: &str, scheme: &str, object: &str, value: &str, label: &str) -> String {
    format!(
        "<rim:ExternalIdentifier id=\"{id}\" identificationScheme=\"{scheme}\" registryObject=\"{object}\" \
         value=\"{}\">{}</rim:ExternalIdentifier>",
        esc(value),
        name(label)
    )
}

/// The decimal of a UUID as an OID arc under `2.25`.
fn oid(unique: u128, n: u128) -> String {
    format!("2.25.{}", unique.wrapping_add(n))
}

fn uuid(unique: u128, n: u128) -> String {
    let v = unique.wrapping_add(n).to_be_bytes();
    let h = hex::encode(v);
    format!(
        "urn:uuid:{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

fn metadata(doc: &Doc, ins: &Ins, sender: &Sender, now: &str, unique: u128, hidden: bool) -> String {
    let patient_id = format!("{}^^^&{}&ISO^NH", ins.matricule, ins.oid);
    let set = uuid(unique, 1);
    let entry = uuid(unique, 2);
    let mut confidentiality = classification(
        "cl-conf",
        scheme::CONFIDENTIALITY,
        &entry,
        doc.cda
            .as_ref()
            .and_then(|c| c.confidentiality.as_deref())
            .unwrap_or("N"),
        CONFIDENTIALITY_SYSTEM,
        "Normal",
    );
    if hidden {
        confidentiality.push_str(&classification(
            "cl-conf-2",
            scheme::CONFIDENTIALITY,
            &entry,
            crate::INVISIBLE_PATIENT,
            MASKING_SYSTEM,
            "Non visible par le patient",
        ));
    }
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.push_str(
        "<lcm:SubmitObjectsRequest xmlns:lcm=\"urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0\" \
         xmlns:rim=\"urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0\"><rim:RegistryObjectList>\n",
    );
    // The submission set (ITI TF-3 §4.2.3.3).
    x.push_str(&format!("<rim:RegistryPackage id=\"{set}\">"));
    x.push_str(&slot("submissionTime", now));
    x.push_str(&name(&doc.title));
    x.push_str(&author("cl-set-author", scheme::SET_AUTHOR, &set, sender));
    x.push_str(&external(
        "ei-set-patient",
        scheme::SET_PATIENT_ID,
        &set,
        &patient_id,
        "XDSSubmissionSet.patientId",
    ));
    x.push_str(&external(
        "ei-set-source",
        scheme::SET_SOURCE_ID,
        &set,
        &oid(unique, 3),
        "XDSSubmissionSet.sourceId",
    ));
    x.push_str(&external(
        "ei-set-unique",
        scheme::SET_UNIQUE_ID,
        &set,
        &oid(unique, 4),
        "XDSSubmissionSet.uniqueId",
    ));
    x.push_str("</rim:RegistryPackage>\n");
    x.push_str(&format!(
        "<rim:Classification id=\"cl-set\" classifiedObject=\"{set}\" classificationNode=\"{}\"/>\n",
        scheme::SUBMISSION_SET
    ));
    // The document entry (ITI TF-3 §4.2.3.2).
    x.push_str(&format!(
        "<rim:ExtrinsicObject id=\"{entry}\" mimeType=\"{}\" objectType=\"{}\">",
        doc.mime,
        scheme::DOCUMENT_ENTRY
    ));
    let created = doc
        .cda
        .as_ref()
        .and_then(|c| c.effective.clone())
        .map(|t| t.chars().take_while(char::is_ascii_digit).take(14).collect())
        .unwrap_or_else(|| now.to_string());
    x.push_str(&slot("creationTime", &created));
    x.push_str(&slot("hash", &hex::encode(sha1(&doc.bytes))));
    x.push_str(&slot("size", &doc.bytes.len().to_string()));
    x.push_str(&slot("languageCode", "fr-FR"));
    x.push_str(&slot("sourcePatientId", &patient_id));
    x.push_str(&slot("URI", &format!("SUBSET01/{}", doc.file)));
    x.push_str(&name(&doc.title));
    x.push_str(&author("cl-doc-author", scheme::ENTRY_AUTHOR, &entry, sender));
    x.push_str(&confidentiality);
    x.push_str(&classification(
        "cl-format",
        scheme::FORMAT_CODE,
        &entry,
        doc.format,
        "1.3.6.1.4.1.19376.1.2.3",
        doc.format,
    ));
    x.push_str(&classification(
        "cl-type",
        scheme::TYPE_CODE,
        &entry,
        &doc.type_code,
        LOINC,
        &doc.type_label,
    ));
    x.push_str(&external(
        "ei-doc-patient",
        scheme::ENTRY_PATIENT_ID,
        &entry,
        &patient_id,
        "XDSDocumentEntry.patientId",
    ));
    let unique_id = doc
        .cda
        .as_ref()
        .and_then(|c| c.id.clone())
        .unwrap_or_else(|| oid(unique, 5));
    x.push_str(&external(
        "ei-doc-unique",
        scheme::ENTRY_UNIQUE_ID,
        &entry,
        &unique_id,
        "XDSDocumentEntry.uniqueId",
    ));
    x.push_str("</rim:ExtrinsicObject>\n");
    x.push_str(&format!(
        "<rim:Association id=\"as-1\" associationType=\"urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember\" \
         sourceObject=\"{set}\" targetObject=\"{entry}\">{}</rim:Association>\n",
        slot("SubmissionSetStatus", "Original")
    ));
    x.push_str("</rim:RegistryObjectList></lcm:SubmitObjectsRequest>\n");
    x
}

fn readme(sender: &Sender, doc: &Doc) -> String {
    let organisation = sender.organisation.as_deref().unwrap_or("");
    format!(
        "Document de santé transmis par messagerie sécurisée de santé (MSSanté)\r\n\
         \r\n\
         Émetteur : {}\r\n\
         Adresse : {}\r\n\
         Structure : {organisation}\r\n\
         \r\n\
         Application : {}\r\n\
         \r\n\
         Pour lire ce document, ouvrez INDEX.HTM avec un navigateur, ou importez cette archive\r\n\
         (IHE XDM) dans votre logiciel métier.\r\n\
         \r\n\
         Contenu de l'archive :\r\n\
         README.TXT\r\n\
         INDEX.HTM\r\n\
         IHE_XDM/SUBSET01/METADATA.XML\r\n\
         IHE_XDM/SUBSET01/{}  ({})\r\n",
        sender.name, sender.address, sender.application, doc.file, doc.title
    )
}

fn index(sender: &Sender, doc: &Doc) -> String {
    format!(
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"fr\"><head><meta charset=\"utf-8\"/>\
         <title>Document de santé</title></head><body><h1>{}</h1><p>Transmis par {} ({}).</p>\
         <ul><li><a href=\"IHE_XDM/SUBSET01/{}\">{}</a></li><li><a href=\"README.TXT\">README.TXT</a></li></ul>\
         </body></html>\n",
        esc(&doc.title),
        esc(&sender.name),
        esc(&sender.address),
        doc.file,
        esc(&doc.title)
    )
}

/// The XDM structure an archive must have (ITI TF-3 §4.3: README.TXT and INDEX.HTM at the
/// root, `IHE_XDM/<subset>/METADATA.XML`, every document it names present with its size and
/// hash, one patient). Returns what is wrong; empty when all is right.
pub fn check(zip: &[u8]) -> Vec<String> {
    let mut problems = Vec::new();
    let names: Vec<String> = match zip::ZipArchive::new(Cursor::new(zip)) {
        Ok(a) => a.file_names().map(|n| n.to_ascii_uppercase()).collect(),
        Err(e) => return vec![format!("not a zip archive: {e}")],
    };
    for required in ["README.TXT", "INDEX.HTM"] {
        if !names.iter().any(|n| n == required) {
            problems.push(format!("{required} missing at the root"));
        }
    }
    if !names
        .iter()
        .any(|n| n.starts_with("IHE_XDM/") && n.ends_with("/METADATA.XML"))
    {
        problems.push("no IHE_XDM/<subset>/METADATA.XML".into());
    }
    match Archive::read(zip.to_vec()) {
        Ok(archive) => {
            problems.extend(archive.warnings.iter().map(|w| format!("{w:?}")));
            for d in &archive.documents {
                problems.extend(d.warnings.iter().map(|w| format!("{}: {w:?}", d.path)));
                if d.entry.as_ref().is_some_and(|e| e.hash.is_none() || e.size.is_none()) {
                    problems.push(format!("{}: no hash or size in the metadata", d.path));
                }
                if d.ins().is_none() {
                    problems.push(format!("{}: no patient identifier", d.path));
                }
            }
        }
        Err(e) => problems.push(e.to_string()),
    }
    problems
}
