//! Ségur structured documents: the IHE XDM archive (`IHE_XDM.ZIP`) and the CDA R2 document
//! a professional's software attaches to an MSSanté message, read tolerantly for what the
//! webmail shows and the patient rules need, and built for a professional who sends one
//! (segur-documents.md). Pure: no I/O beyond the bytes given, every size bounded.

pub mod archive;
pub mod build;
pub mod cda;
pub mod metadata;
pub mod narrative;
pub mod xml;

pub use archive::{Archive, ArchiveError, Warning};
pub use cda::{Cda, Ins, Patient};
pub use metadata::{Entry, Metadata};

/// The archive name of a structured document (Réf. #2 ECO.2.1.1); either case occurs.
pub const XDM_ARCHIVE: &str = "IHE_XDM.ZIP";

/// The subject of a message carrying a structured document starts with this (Réf. #2
/// ECO.2.1.3: `XDM/1.0/DDM+<libellé> <NOM> <prénom> <date de naissance>`); it is for
/// software, and the webmail does not show it.
pub const SUBJECT_PREFIX: &str = "XDM/1.0/DDM+";

/// A confidentiality flag: the document must never be mailed to the patient
/// (IG-TRANS profils-messages).
pub const INVISIBLE_PATIENT: &str = "INVISIBLE_PATIENT";

/// One document: what the metadata says of it and, for a CDA, its header.
#[derive(Debug, Clone)]
pub struct Document {
    /// Its place in the archive, or the attachment's name.
    pub path: String,
    /// The submission set's patient.
    pub set_patient: Option<Ins>,
    pub entry: Option<Entry>,
    pub cda: Option<Cda>,
    pub warnings: Vec<Warning>,
}

impl Document {
    /// A bare CDA attachment.
    pub fn from_cda(path: &str, bytes: &[u8]) -> Result<Document, xml::XmlError> {
        let mut doc = Document {
            path: path.to_string(),
            set_patient: None,
            entry: None,
            cda: Some(Cda::read(bytes)?),
            warnings: Vec::new(),
        };
        doc.check_keys();
        Ok(doc)
    }

    /// The patient's INS: the document entry's (ECO.2.1.2: the receiver identifies the patient
    /// by the metadata), the submission set's, or the CDA header's.
    pub fn ins(&self) -> Option<&Ins> {
        self.entry
            .as_ref()
            .and_then(|e| e.patient.as_ref())
            .or(self.set_patient.as_ref())
            .or(self.cda.as_ref().and_then(|c| c.patient.ins.as_ref()))
    }

    pub fn patient_name(&self) -> Option<String> {
        self.cda
            .as_ref()
            .and_then(|c| c.patient.name())
            .or_else(|| self.entry.as_ref().and_then(|e| e.patient_name.clone()))
    }

    /// The document type's code (`X-MSS-CODECDA`): the CDA's, else the metadata's typeCode.
    pub fn type_code(&self) -> Option<String> {
        self.cda.as_ref().and_then(|c| c.code.clone()).or_else(|| {
            self.entry
                .as_ref()
                .and_then(|e| e.type_code.as_ref())
                .map(|t| t.code.clone())
        })
    }

    /// What it is, in words.
    pub fn type_label(&self) -> Option<String> {
        self.entry
            .as_ref()
            .and_then(|e| e.type_code.as_ref())
            .and_then(|t| t.label.clone())
            .or_else(|| self.cda.as_ref().and_then(|c| c.code_label.clone().or(c.title.clone())))
            .or_else(|| self.entry.as_ref().and_then(|e| e.title.clone()))
    }

    pub fn title(&self) -> Option<String> {
        self.cda
            .as_ref()
            .and_then(|c| c.title.clone())
            .or_else(|| self.entry.as_ref().and_then(|e| e.title.clone()))
    }

    pub fn author(&self) -> Option<String> {
        self.entry
            .as_ref()
            .and_then(|e| e.author.clone())
            .or_else(|| self.cda.as_ref().and_then(|c| c.author.clone()))
    }

    pub fn organisation(&self) -> Option<String> {
        self.entry
            .as_ref()
            .and_then(|e| e.institution.clone())
            .or_else(|| self.cda.as_ref().and_then(|c| c.organisation.clone()))
    }

    /// Creation time, `YYYYMMDDhhmmss…`.
    pub fn date(&self) -> Option<String> {
        self.entry
            .as_ref()
            .and_then(|e| e.creation_time.clone())
            .or_else(|| self.cda.as_ref().and_then(|c| c.effective.clone()))
    }

    /// Every confidentiality code, from the metadata and the CDA.
    pub fn confidentiality(&self) -> Vec<String> {
        let mut codes: Vec<String> = self
            .entry
            .as_ref()
            .map(|e| e.confidentiality.clone())
            .unwrap_or_default();
        if let Some(c) = self.cda.as_ref().and_then(|c| c.confidentiality.clone())
            && !codes.contains(&c)
        {
            codes.push(c);
        }
        codes
    }

    pub fn invisible_to_patient(&self) -> bool {
        self.confidentiality().iter().any(|c| c == INVISIBLE_PATIENT)
    }

    fn check_keys(&mut self) {
        let mut wrong: Vec<String> = [
            self.set_patient.as_ref(),
            self.entry.as_ref().and_then(|e| e.patient.as_ref()),
            self.cda.as_ref().and_then(|c| c.patient.ins.as_ref()),
        ]
        .into_iter()
        .flatten()
        .filter(|i| !i.key_valid)
        .map(|i| i.matricule.clone())
        .collect();
        wrong.dedup();
        self.warnings.extend(wrong.into_iter().map(Warning::InsKey));
    }
}

/// Whether an attachment is a structured document: an `IHE_XDM.ZIP`, or an XML file whose
/// first bytes make it a CDA (other XML files are plain attachments). Nothing is read.
pub fn is_structured(name: &str, mime_type: &str, bytes: &[u8]) -> Option<Kind> {
    let name = name.trim();
    if name.eq_ignore_ascii_case(XDM_ARCHIVE) {
        return Some(Kind::Xdm);
    }
    let xml = name.to_ascii_lowercase().ends_with(".xml") || mime_type.ends_with("/xml");
    (xml && cda::looks_like_cda(bytes)).then_some(Kind::Cda)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Xdm,
    Cda,
}

/// What a structured attachment holds: its documents and what was noticed, or why it could
/// not be read at all.
pub fn read_attachment(kind: Kind, name: &str, bytes: &[u8]) -> Result<Archive, String> {
    match kind {
        Kind::Xdm => Archive::read(bytes.to_vec()).map_err(|e| e.to_string()),
        Kind::Cda => Document::from_cda(name, bytes)
            .map(|d| Archive {
                documents: vec![d],
                warnings: Vec::new(),
            })
            .map_err(|e| e.to_string()),
    }
}
