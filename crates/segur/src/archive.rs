//! Reading an `IHE_XDM.ZIP` (IHE ITI-32 "ZIP over e-mail"): every `IHE_XDM/<subset>/METADATA.XML`
//! (never a hard-coded `SUBSET01`: the ANS DRIMbox example uses `SS000001`), the documents its
//! `URI` slots name, and the CDA header of each CDA, which stands in for missing metadata
//! (segur-documents.md §1, §8). A zip is outside input: entries, sizes and the total read are
//! bounded, so a zip bomb costs little.

use std::io::{Cursor, Read};

use sha1::Digest;

use crate::Document;
use crate::cda::{Cda, looks_like_cda};
use crate::metadata::Metadata;

/// Most entries looked at in one archive.
pub const MAX_ENTRIES: usize = 1024;
/// Largest file read out of an archive.
pub const MAX_FILE: u64 = 30 * 1024 * 1024;
/// Most bytes read out of one archive in all.
pub const MAX_TOTAL: u64 = 64 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error("not a zip archive: {0}")]
    NotZip(String),
    #[error("more than {MAX_ENTRIES} files in the archive")]
    TooManyEntries,
    #[error("a file of the archive is larger than {MAX_FILE} bytes once uncompressed")]
    TooLarge,
    #[error("no IHE_XDM folder and no CDA document in the archive")]
    NotXdm,
}

/// What a reader notices without refusing anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// An INS whose key is wrong (ANS samples carry some).
    InsKey(String),
    /// The submission set names one patient, a document another.
    PatientMismatch { set: String, document: String },
    /// A document the metadata names is not in the archive.
    Missing(String),
    /// A document's SHA-1 differs from the metadata's.
    Hash(String),
    /// A document's size differs from the metadata's.
    Size(String),
    /// A file that could not be read, and why.
    Unreadable(String, String),
}

pub struct Archive {
    pub documents: Vec<Document>,
    pub warnings: Vec<Warning>,
}

struct Zip {
    inner: zip::ZipArchive<Cursor<Vec<u8>>>,
    /// Names, for lookups that ignore case (`IHE_XDM.ZIP` writers differ).
    names: Vec<String>,
    read: u64,
}

impl Zip {
    fn open(bytes: Vec<u8>) -> Result<Zip, ArchiveError> {
        let inner = zip::ZipArchive::new(Cursor::new(bytes)).map_err(|e| ArchiveError::NotZip(e.to_string()))?;
        if inner.len() > MAX_ENTRIES {
            return Err(ArchiveError::TooManyEntries);
        }
        let names = inner.file_names().map(String::from).collect();
        Ok(Zip { inner, names, read: 0 })
    }

    fn find(&self, path: &str) -> Option<usize> {
        let path = path.trim_start_matches("./");
        self.names.iter().position(|n| n.eq_ignore_ascii_case(path))
    }

    /// A file's bytes, within the per-file and total bounds (sizes announced by the archive
    /// are not trusted: the reading itself stops).
    fn file(&mut self, index: usize) -> Result<Vec<u8>, String> {
        let mut f = self.inner.by_index(index).map_err(|e| e.to_string())?;
        let budget = MAX_FILE.min(MAX_TOTAL.saturating_sub(self.read));
        let mut out = Vec::new();
        (&mut f)
            .take(budget + 1)
            .read_to_end(&mut out)
            .map_err(|e| e.to_string())?;
        if out.len() as u64 > budget {
            return Err(ArchiveError::TooLarge.to_string());
        }
        self.read += out.len() as u64;
        Ok(out)
    }
}

impl Archive {
    pub fn read(bytes: Vec<u8>) -> Result<Archive, ArchiveError> {
        let mut zip = Zip::open(bytes)?;
        let mut archive = Archive {
            documents: Vec::new(),
            warnings: Vec::new(),
        };
        let metadata: Vec<(usize, String)> = zip
            .names
            .iter()
            .enumerate()
            .filter(|(_, n)| {
                let parts: Vec<&str> = n.split('/').collect();
                parts.len() == 3
                    && parts[0].eq_ignore_ascii_case("IHE_XDM")
                    && parts[2].eq_ignore_ascii_case("METADATA.XML")
            })
            .map(|(i, n)| (i, n.clone()))
            .collect();
        for (index, name) in metadata {
            let read = zip
                .file(index)
                .map_err(|e| (name.clone(), e))
                .and_then(|bytes| Metadata::read(&bytes).map_err(|e| (name.clone(), e.to_string())));
            match read {
                Ok(m) => archive.subset(&mut zip, m),
                Err((name, why)) => archive.warnings.push(Warning::Unreadable(name, why)),
            }
        }
        if archive.documents.is_empty() {
            // No usable metadata: the CDA documents found anywhere stand alone.
            for index in 0..zip.names.len() {
                let name = zip.names[index].clone();
                if !name.to_ascii_uppercase().ends_with(".XML") || name.to_ascii_uppercase().ends_with("METADATA.XML") {
                    continue;
                }
                match zip.file(index) {
                    Ok(bytes) if looks_like_cda(&bytes) => archive.cda(name, &bytes, None),
                    Ok(_) => {}
                    Err(why) => archive.warnings.push(Warning::Unreadable(name, why)),
                }
            }
        }
        if archive.documents.is_empty() && archive.warnings.is_empty() {
            return Err(ArchiveError::NotXdm);
        }
        Ok(archive)
    }

    fn subset(&mut self, zip: &mut Zip, metadata: Metadata) {
        let set_patient = metadata.patient.clone();
        for entry in metadata.entries {
            let mut warnings = Vec::new();
            if let (Some(set), Some(doc)) = (&set_patient, &entry.patient)
                && set.matricule != doc.matricule
            {
                warnings.push(Warning::PatientMismatch {
                    set: set.matricule.clone(),
                    document: doc.matricule.clone(),
                });
            }
            let path = entry.uri.as_ref().map(|u| format!("IHE_XDM/{u}"));
            let mut cda = None;
            match path.as_deref().and_then(|p| zip.find(p)) {
                Some(index) => match zip.file(index) {
                    Ok(bytes) => {
                        let sha1 = hex::encode(sha1(&bytes));
                        if entry.hash.as_ref().is_some_and(|h| *h != sha1) {
                            warnings.push(Warning::Hash(path.clone().unwrap_or_default()));
                        }
                        if entry.size.is_some_and(|s| s != bytes.len() as u64) {
                            warnings.push(Warning::Size(path.clone().unwrap_or_default()));
                        }
                        if looks_like_cda(&bytes) {
                            match Cda::read(&bytes) {
                                Ok(c) => cda = Some(c),
                                Err(e) => {
                                    warnings.push(Warning::Unreadable(path.clone().unwrap_or_default(), e.to_string()))
                                }
                            }
                        }
                    }
                    Err(why) => warnings.push(Warning::Unreadable(path.clone().unwrap_or_default(), why)),
                },
                None => warnings.push(Warning::Missing(entry.uri.clone().unwrap_or_else(|| entry.id.clone()))),
            }
            let mut doc = Document {
                path: path.unwrap_or_else(|| entry.id.clone()),
                set_patient: set_patient.clone(),
                entry: Some(entry),
                cda,
                warnings,
            };
            doc.check_keys();
            self.documents.push(doc);
        }
    }

    fn cda(&mut self, path: String, bytes: &[u8], entry: Option<crate::metadata::Entry>) {
        match Cda::read(bytes) {
            Ok(cda) => {
                let mut doc = Document {
                    path,
                    set_patient: None,
                    entry,
                    cda: Some(cda),
                    warnings: Vec::new(),
                };
                doc.check_keys();
                self.documents.push(doc);
            }
            Err(e) => self.warnings.push(Warning::Unreadable(path, e.to_string())),
        }
    }

    /// Whether any document of the archive is hidden from the patient.
    pub fn invisible_to_patient(&self) -> bool {
        self.documents.iter().any(Document::invisible_to_patient)
    }
}

/// SHA-1, the hash XDS metadata carries (ITI TF-3 §4.2.3.2.10): compared with what the
/// sender wrote, never relied on for security.
pub fn sha1(bytes: &[u8]) -> Vec<u8> {
    sha1::Sha1::digest(bytes).to_vec()
}
