//! What the audit trail and the monthly indicators keep of a message: its Message-ID, its size,
//! the Ségur document types it says it carries (`X-MSS-CODECDA`, Réf. #2 ECO.2.4.1) and the
//! practice software that sent it (`X-MSS-NIL`, ECO.2.4.3). Never the subject, never the body.

use confiance_mail::message::mime;

pub(crate) struct Traced {
    pub message_id: String,
    pub size: usize,
    /// The document type codes, comma-separated as in the field; empty without one.
    pub codecda: String,
    pub nil: String,
    /// What a delivery or read report (`multipart/report`, RFC 6522) says, read once: traced
    /// for each BAL it is delivered to. Empty for any other message.
    pub reports: Vec<confiance_mail::reports::Report>,
}

/// Longest value kept of a field: a trace names, it does not copy.
const MAX_VALUE: usize = 200;

fn field(header: &[u8], name: &str) -> String {
    let value = mime::header_field(header, name).unwrap_or_default();
    let text: String = String::from_utf8_lossy(&value)
        .chars()
        .filter(|c| !c.is_control())
        .take(MAX_VALUE)
        .collect();
    text.trim().to_string()
}

impl Traced {
    pub fn of(message: &[u8]) -> Traced {
        let header = &message[..mime::header_end(message)];
        Traced {
            message_id: field(header, "Message-ID"),
            size: message.len(),
            codecda: field(header, "X-MSS-CODECDA"),
            nil: field(header, "X-MSS-NIL"),
            reports: confiance_mail::reports::read(message),
        }
    }
}

/// One `report` trace for each recipient a delivery or read report speaks of, under the
/// Message-ID of the message reported on: a sent message's timeline reads them (issue 17,
/// proof of exchange). `bal` is the BAL the report was delivered to.
pub(crate) fn reports(bal: &str, reports: &[confiance_mail::reports::Report]) {
    for r in reports {
        let Some(original) = &r.original else { continue };
        tracing::info!(target: "audit", event = "report", bal = %bal, message_id = %format!("<{original}>"),
            recipient = %r.recipient, kind = r.kind.name(), code = r.kind.code(), status = r.status.as_deref().unwrap_or(""));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_identifiers_and_ségur_fields_not_content() {
        let m = b"Subject: secret\r\nMessage-ID: <a@b>\r\nX-MSS-CODECDA: 34112-3,\r\n PRESC-BIO\r\nX-MSS-NIL: DEV935997\r\n\r\nbody secret";
        let t = Traced::of(m);
        assert_eq!(t.message_id, "<a@b>");
        assert_eq!(t.codecda, "34112-3, PRESC-BIO");
        assert_eq!(t.nil, "DEV935997");
        assert_eq!(t.size, m.len());
        let bare = Traced::of(b"no header at all");
        assert_eq!((bare.message_id.as_str(), bare.codecda.as_str()), ("", ""));
    }
}
