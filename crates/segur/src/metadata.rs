//! `METADATA.XML` of an XDM submission set (ebRIM 3.0 `SubmitObjectsRequest`, IHE ITI TF-3
//! §4.2), read for what the webmail shows and the rules need: the patient, each document's
//! type, author, date and confidentiality, and where it lies in the archive
//! (segur-documents.md §2). Read tolerantly: a fragment, a SOAP envelope around it, missing
//! pieces; what is absent is `None`.

use crate::cda::Ins;
use crate::xml::{self, Element, XmlError};

/// Classification and identification schemes (IHE ITI TF-3 §4.2.5).
pub mod scheme {
    pub const SUBMISSION_SET: &str = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd";
    pub const SET_PATIENT_ID: &str = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446";
    pub const SET_SOURCE_ID: &str = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832";
    pub const SET_UNIQUE_ID: &str = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8";
    pub const SET_AUTHOR: &str = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d";
    pub const SET_CONTENT_TYPE: &str = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500";
    pub const DOCUMENT_ENTRY: &str = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1";
    pub const ENTRY_PATIENT_ID: &str = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427";
    pub const ENTRY_UNIQUE_ID: &str = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab";
    pub const ENTRY_AUTHOR: &str = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d";
    pub const CLASS_CODE: &str = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a";
    pub const TYPE_CODE: &str = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983";
    pub const CONFIDENTIALITY: &str = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f";
    pub const FORMAT_CODE: &str = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d";
    pub const FACILITY_TYPE: &str = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1";
    pub const PRACTICE_SETTING: &str = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead";
}

/// A coded value: code, scheme and label.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coded {
    pub code: String,
    pub scheme: Option<String>,
    pub label: Option<String>,
}

/// One document of the submission set (`XDSDocumentEntry`).
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub id: String,
    pub mime_type: Option<String>,
    /// Relative to `IHE_XDM/` (`SUBSET01/DOC0001.XML`).
    pub uri: Option<String>,
    pub title: Option<String>,
    pub patient: Option<Ins>,
    /// From `sourcePatientInfo` `PID-5|family^given^…`: "FAMILY Given".
    pub patient_name: Option<String>,
    pub unique_id: Option<String>,
    pub author: Option<String>,
    pub institution: Option<String>,
    pub type_code: Option<Coded>,
    pub class_code: Option<Coded>,
    /// Every value: `N`/`R`/`V`, then `MASQUE_PS`, `INVISIBLE_PATIENT`…
    pub confidentiality: Vec<String>,
    pub creation_time: Option<String>,
    /// SHA-1 of the file, hex (ITI TF-3 §4.2.3.2.10).
    pub hash: Option<String>,
    pub size: Option<u64>,
}

#[derive(Debug, Clone, Default)]
pub struct Metadata {
    /// `XDSSubmissionSet.patientId`.
    pub patient: Option<Ins>,
    pub author: Option<String>,
    pub institution: Option<String>,
    pub submission_time: Option<String>,
    pub entries: Vec<Entry>,
}

/// An HL7 CX (`162018885045327^^^&1.2.250.1.213.1.4.10&ISO^NH`): the id and its authority OID.
pub fn cx(value: &str) -> Option<Ins> {
    let mut parts = value.split('^');
    let id = parts.next()?.trim();
    let authority = parts.nth(2)?;
    let oid = authority.split('&').nth(1)?;
    (!id.is_empty() && !oid.is_empty()).then(|| Ins::new(id, oid))
}

/// An HL7 XCN (`899700367909^DOC0036790^KIT^^^^^^&…`): "given family".
fn xcn(value: &str) -> Option<String> {
    let parts: Vec<&str> = value.split('^').collect();
    let family = parts.get(1).copied().unwrap_or_default().trim();
    let given = parts.get(2).copied().unwrap_or_default().trim();
    let name = format!("{given} {family}").trim().to_string();
    match name.is_empty() {
        true => parts.first().map(|id| id.trim().to_string()).filter(|s| !s.is_empty()),
        false => Some(name),
    }
}

/// An HL7 XON (`BCOM^^^^^&…&ISO^IDNST^^^499700367909006`): its name.
fn xon(value: &str) -> Option<String> {
    value
        .split('^')
        .next()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
}

/// `PID-5|PAT-SIX^Alain^^^^^L` as "PAT-SIX Alain".
fn pid5(value: &str) -> Option<String> {
    let name = value.trim().strip_prefix("PID-5|")?;
    let mut parts = name.split('^');
    let family = parts.next().unwrap_or_default().trim().to_uppercase();
    let given = parts.next().unwrap_or_default().trim();
    let name = format!("{family} {given}").trim().to_string();
    (!name.is_empty()).then_some(name)
}

fn slot(e: &Element, name: &str) -> Vec<String> {
    e.children("Slot")
        .filter(|s| s.attr("name") == Some(name))
        .flat_map(|s| s.descendants("Value"))
        .map(Element::text)
        .collect()
}

fn first_slot(e: &Element, name: &str) -> Option<String> {
    slot(e, name).into_iter().next().filter(|v| !v.is_empty())
}

fn localized(e: &Element) -> Option<String> {
    e.at(&["Name", "LocalizedString"])
        .and_then(|l| l.attr("value"))
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(String::from)
}

fn classifications<'a>(e: &'a Element, scheme: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
    e.children("Classification")
        .filter(move |c| c.attr("classificationScheme") == Some(scheme))
}

fn coded(c: &Element) -> Coded {
    Coded {
        code: c.attr("nodeRepresentation").unwrap_or_default().trim().to_string(),
        scheme: first_slot(c, "codingScheme"),
        label: localized(c),
    }
}

fn external_id(e: &Element, scheme: &str) -> Option<String> {
    e.children("ExternalIdentifier")
        .find(|x| x.attr("identificationScheme") == Some(scheme))
        .and_then(|x| x.attr("value"))
        .map(|v| v.trim().to_string())
}

/// (author person, institution) of an author classification.
fn author(e: &Element, scheme: &str) -> (Option<String>, Option<String>) {
    match classifications(e, scheme).next() {
        Some(c) => (
            first_slot(c, "authorPerson").and_then(|v| xcn(&v)),
            first_slot(c, "authorInstitution").and_then(|v| xon(&v)),
        ),
        None => (None, None),
    }
}

impl Metadata {
    pub fn read(bytes: &[u8]) -> Result<Metadata, XmlError> {
        let root = xml::parse(bytes)?;
        Ok(Metadata::of(&root))
    }

    /// The metadata under `root`, wherever the registry objects lie in it (bare, in a
    /// `SubmitObjectsRequest`, in a SOAP envelope).
    pub fn of(root: &Element) -> Metadata {
        let mut m = Metadata::default();
        if let Some(set) = root.descendants("RegistryPackage").into_iter().next() {
            m.patient = external_id(set, scheme::SET_PATIENT_ID).and_then(|v| cx(&v));
            (m.author, m.institution) = author(set, scheme::SET_AUTHOR);
            m.submission_time = first_slot(set, "submissionTime");
        }
        for doc in root.descendants("ExtrinsicObject") {
            let (author, institution) = author(doc, scheme::ENTRY_AUTHOR);
            m.entries.push(Entry {
                id: doc.attr("id").unwrap_or_default().to_string(),
                mime_type: doc.attr("mimeType").map(String::from),
                uri: first_slot(doc, "URI"),
                title: localized(doc),
                patient: external_id(doc, scheme::ENTRY_PATIENT_ID).and_then(|v| cx(&v)),
                patient_name: slot(doc, "sourcePatientInfo").iter().find_map(|v| pid5(v)),
                unique_id: external_id(doc, scheme::ENTRY_UNIQUE_ID),
                author,
                institution,
                type_code: classifications(doc, scheme::TYPE_CODE).next().map(coded),
                class_code: classifications(doc, scheme::CLASS_CODE).next().map(coded),
                confidentiality: classifications(doc, scheme::CONFIDENTIALITY)
                    .map(|c| coded(c).code)
                    .filter(|c| !c.is_empty())
                    .collect(),
                creation_time: first_slot(doc, "creationTime"),
                hash: first_slot(doc, "hash").map(|h| h.to_ascii_lowercase()),
                size: first_slot(doc, "size").and_then(|s| s.parse().ok()),
            });
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hl7_datatypes() {
        let ins = cx("162018885045327^^^&1.2.250.1.213.1.4.10&ISO^NH").unwrap();
        assert_eq!(
            (ins.matricule.as_str(), ins.oid.as_str()),
            ("162018885045327", "1.2.250.1.213.1.4.10")
        );
        assert!(ins.key_valid);
        assert!(cx("162018885045327").is_none() && cx("^^^&1.2&ISO").is_none());
        // Found by fuzzing: non-UTF-8 bytes in the matricule (read lossily) are a wrong INS,
        // not a panic.
        assert!(
            !cx("162018885\u{FFFD}\u{FFFD}5327^^^&1.2.250.1.213.1.4.10&ISO^NH")
                .unwrap()
                .key_valid
        );
        assert_eq!(
            xcn("899700367909^DOC0036790^KIT^^^^^^&1.2.250.1.71.4.2.1&ISO^D^^^IDNPS").as_deref(),
            Some("KIT DOC0036790")
        );
        assert_eq!(xcn("899700367909").as_deref(), Some("899700367909"));
        assert_eq!(pid5("PID-5|PAT-SIX^Alain^^^^^L").as_deref(), Some("PAT-SIX Alain"));
        assert_eq!(pid5("PID-7|19960124"), None);
        assert_eq!(
            xon("BCOM^^^^^&1.2.250.1.71.4.2.2&ISO^IDNST^^^499700367909006").as_deref(),
            Some("BCOM")
        );
    }
}
