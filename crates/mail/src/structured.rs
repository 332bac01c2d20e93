//! Ségur structured documents attached to a message (an `IHE_XDM.ZIP`, a bare CDA), found in
//! the message and read with `confiance-segur`, for the webmail that shows them and the
//! submission rules that keep a hidden document from a patient.

use mail_parser::{MessageParser, MimeHeaders};

pub use confiance_segur::{Archive, Document, Warning};

/// Structured attachments read in one message; past it the others are plain attachments.
const MAX_READ: usize = 8;

/// A structured attachment and what it holds.
pub struct Attached {
    /// Its rank among the message's attachments (the webmail's `/piece/{n}`).
    pub index: usize,
    pub name: String,
    /// Its documents, or why it could not be read.
    pub read: Result<Archive, String>,
}

/// Every structured attachment of `message`, read. CPU-heavy for large archives: callers run
/// it off the async workers.
pub fn attached(message: &mail_parser::Message) -> Vec<Attached> {
    message
        .attachments()
        .enumerate()
        .filter_map(|(index, part)| {
            let name = part.attachment_name().unwrap_or_default().trim().to_string();
            let mime = part
                .content_type()
                .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()).to_ascii_lowercase())
                .unwrap_or_default();
            let kind = confiance_segur::is_structured(&name, &mime)?;
            let read = confiance_segur::read_attachment(kind, &name, part.contents())?;
            Some(Attached { index, name, read })
        })
        .take(MAX_READ)
        .collect()
}

/// Whether the message carries a document flagged `INVISIBLE_PATIENT`, which must never be
/// mailed to the patient (IG-TRANS profils-messages).
pub fn hidden_from_patient(bytes: &[u8]) -> bool {
    let Some(message) = MessageParser::default().parse(bytes) else {
        return false;
    };
    attached(&message)
        .iter()
        .any(|a| a.read.as_ref().is_ok_and(Archive::invisible_to_patient))
}
