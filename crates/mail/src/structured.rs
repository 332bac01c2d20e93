//! Ségur structured documents attached to a message (an `IHE_XDM.ZIP`, a bare CDA), found in
//! the message and read with `confiance-segur`, for the webmail that shows them and the
//! submission rules that keep a hidden document from a patient.

use mail_parser::{MessageParser, MimeHeaders};

use confiance_segur::Kind;
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
    structured(message)
        .map(|(index, part, kind)| read(index, part, kind))
        .collect()
}

/// Attachment `index` of `message`, read, when it is one of those `attached` reads: the viewer
/// opens one document without reading the others.
pub fn attached_at(message: &mail_parser::Message, index: usize) -> Option<Attached> {
    let (index, part, kind) = structured(message).find(|(i, ..)| *i == index)?;
    Some(read(index, part, kind))
}

/// The structured attachments, the first `MAX_READ`, told by their name, type and first
/// bytes (`confiance_segur::is_structured`); nothing read yet.
fn structured<'a>(
    message: &'a mail_parser::Message<'a>,
) -> impl Iterator<Item = (usize, &'a mail_parser::MessagePart<'a>, Kind)> + 'a {
    message
        .attachments()
        .enumerate()
        .filter_map(|(index, part)| {
            let mime = part
                .content_type()
                .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or_default()).to_ascii_lowercase())
                .unwrap_or_default();
            let kind = confiance_segur::is_structured(&name(part), &mime, part.contents())?;
            Some((index, part, kind))
        })
        .take(MAX_READ)
}

fn name(part: &mail_parser::MessagePart) -> String {
    part.attachment_name().unwrap_or_default().trim().to_string()
}

fn read(index: usize, part: &mail_parser::MessagePart, kind: Kind) -> Attached {
    let name = name(part);
    let read = confiance_segur::read_attachment(kind, &name, part.contents());
    Attached { index, name, read }
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
