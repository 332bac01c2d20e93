//! Delivery and read reports a BAL receives about the mail it sent: delivery status
//! notifications (RFC 3464) and message disposition notifications (RFC 8098), including the
//! integration-error MDNs a receiving PFI sends when its software refused a Ségur document
//! (`processed/Error: 902^Identifiant de patient inconnu`, codes 900–906, IG-LPS
//! struct-msg-mdn). Read leniently: the IG's own sample is not valid MIME, and its error
//! modifier goes beyond the RFC 8098 grammar (segur-documents.md §5). The webmail says them in
//! plain words; the audit trail keeps them for a message's timeline.

use crate::message::mime::{Part, header_end, header_field, header_fields, unfold};

/// What a report says of one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// DSN `Action: delivered`: in the recipient's mailbox at their operator.
    Delivered,
    /// DSN `relayed`/`expanded`: passed on to a system that does not report.
    Relayed,
    Delayed,
    Failed,
    /// MDN `displayed`: shown to the recipient.
    Displayed,
    /// MDN `processed` without error: taken in by the recipient's software.
    Processed,
    /// MDN `processed/Error: <code>^<label>`: the recipient's software refused the document.
    IntegrationError {
        code: String,
        label: String,
    },
    /// MDN `deleted`, `denied`, `failed`, `dispatched`: not read.
    NotRead(String),
}

impl Kind {
    /// The name the audit trail keeps (`report` traces, read back by a sent message's
    /// timeline with `from_trace`).
    pub fn name(&self) -> &'static str {
        match self {
            Kind::Delivered => "delivered",
            Kind::Relayed => "relayed",
            Kind::Delayed => "delayed",
            Kind::Failed => "failed",
            Kind::Displayed => "displayed",
            Kind::Processed => "processed",
            Kind::IntegrationError { .. } => "integration_error",
            Kind::NotRead(_) => "not_read",
        }
    }

    /// The integration-error code, empty for other kinds.
    pub fn code(&self) -> &str {
        match self {
            Kind::IntegrationError { code, .. } => code,
            _ => "",
        }
    }

    /// The kind a trace names, with its code (the label is not traced).
    pub fn from_trace(name: &str, code: &str) -> Kind {
        match name {
            "delivered" => Kind::Delivered,
            "relayed" => Kind::Relayed,
            "delayed" => Kind::Delayed,
            "failed" => Kind::Failed,
            "displayed" => Kind::Displayed,
            "processed" => Kind::Processed,
            "integration_error" => Kind::IntegrationError {
                code: code.to_string(),
                label: String::new(),
            },
            other => Kind::NotRead(other.to_string()),
        }
    }
}

/// Whether a Content-Type value is a report's (`multipart/report`, RFC 6522).
pub fn is_report_type(content_type: &str) -> bool {
    content_type
        .trim_start()
        .get(..16)
        .is_some_and(|t| t.eq_ignore_ascii_case("multipart/report"))
}

/// Whether a message header says it is a report: a look at one field, so that delivery can
/// ask it of every message.
pub fn is_report(header: &[u8]) -> bool {
    header_field(header, "content-type").is_some_and(|v| is_report_type(&String::from_utf8_lossy(&v)))
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The Message-ID of the message reported on, without angle brackets.
    pub original: Option<String>,
    pub recipient: String,
    pub kind: Kind,
    /// RFC 3463 status of a DSN (`5.1.1`).
    pub status: Option<String>,
    /// The remote server's words, for a failure.
    pub diagnostic: Option<String>,
}

/// Field blocks of a `message/delivery-status` or `message/disposition-notification` body:
/// groups of `Name: value` lines separated by blank lines; names in lower case.
fn blocks(body: &[u8]) -> Vec<Vec<(String, String)>> {
    let text = String::from_utf8_lossy(body).replace("\r\n", "\n");
    text.split("\n\n")
        .map(|block| {
            header_fields(block.as_bytes())
                .into_iter()
                .map(|(n, v)| {
                    (
                        String::from_utf8_lossy(n).trim().to_ascii_lowercase(),
                        String::from_utf8_lossy(&unfold(v)).trim().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        })
        .filter(|b| !b.is_empty())
        .collect()
}

fn get<'a>(block: &'a [(String, String)], name: &str) -> Option<&'a str> {
    block.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

/// A typed field's value without its type: `rfc822;anne@x.fr` → `anne@x.fr`,
/// `smtp; 550 5.1.1 …` → `550 5.1.1 …`.
fn after_type(value: &str) -> String {
    value
        .split_once(';')
        .map_or(value, |(_, a)| a)
        .trim()
        .trim_matches(['<', '>'])
        .to_string()
}

fn message_id(value: &[u8]) -> String {
    String::from_utf8_lossy(value)
        .trim()
        .trim_matches(['<', '>'])
        .to_string()
}

/// The report fields of an MDN's `Disposition:` value.
pub fn disposition(value: &str) -> Kind {
    let after = value.split_once(';').map_or(value, |(_, d)| d).trim();
    let lower = after.to_ascii_lowercase();
    if let Some(at) = lower.find("error:") {
        let error = after[at + "error:".len()..].trim();
        let mut parts = error.split('^');
        let code = parts.next().unwrap_or_default().trim().to_string();
        let label = parts.next().unwrap_or_default().trim().to_string();
        return Kind::IntegrationError { code, label };
    }
    let word: String = lower
        .chars()
        .take_while(|c| c.is_ascii_alphabetic() || *c == '-')
        .collect();
    match word.as_str() {
        "displayed" => Kind::Displayed,
        "processed" => Kind::Processed,
        other => Kind::NotRead(other.to_string()),
    }
}

/// The reports a message carries; empty when it is no report.
pub fn read(bytes: &[u8]) -> Vec<Report> {
    // Most messages are no report: their MIME tree is not walked for nothing.
    if !is_report(&bytes[..header_end(bytes)]) {
        return Vec::new();
    }
    let top = Part::parse(bytes);
    if !(top.mime_type == "multipart" && top.subtype == "report") {
        return Vec::new();
    }
    let mut out = Vec::new();
    // The original's Message-ID: in the returned message or headers (RFC 3462 §3 part 3).
    let returned = top
        .children
        .iter()
        .find(|p| p.message.is_some() || (p.mime_type == "text" && p.subtype == "rfc822-headers"))
        .and_then(|p| header_field(p.message.as_ref().map_or(p.body, |m| m.header), "message-id"))
        .map(|v| message_id(&v));
    for part in &top.children {
        match (part.mime_type.as_str(), part.subtype.as_str()) {
            ("message", "delivery-status") => {
                let blocks = blocks(part.body);
                for r in blocks.iter().skip(1) {
                    let Some(recipient) = get(r, "final-recipient").or(get(r, "original-recipient")) else {
                        continue;
                    };
                    let kind = match get(r, "action").unwrap_or_default().to_ascii_lowercase().as_str() {
                        "delivered" => Kind::Delivered,
                        "relayed" | "expanded" => Kind::Relayed,
                        "delayed" => Kind::Delayed,
                        _ => Kind::Failed,
                    };
                    out.push(Report {
                        original: returned.clone(),
                        recipient: after_type(recipient),
                        kind,
                        status: get(r, "status").map(String::from),
                        diagnostic: get(r, "diagnostic-code").map(after_type),
                    });
                }
            }
            ("message", "disposition-notification") => {
                let fields: Vec<(String, String)> = blocks(part.body).into_iter().flatten().collect();
                let Some(d) = get(&fields, "disposition") else { continue };
                out.push(Report {
                    original: get(&fields, "original-message-id")
                        .map(|v| message_id(v.as_bytes()))
                        .or(returned.clone()),
                    recipient: after_type(
                        get(&fields, "final-recipient")
                            .or(get(&fields, "original-recipient"))
                            .unwrap_or_default(),
                    ),
                    kind: disposition(d),
                    status: None,
                    diagnostic: None,
                });
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_delivery_status_notification() {
        let dsn = b"From: MAILER-DAEMON@op.fr\r\nContent-Type: multipart/report; report-type=delivery-status; boundary=b\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nRemis.\r\n\
--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.op.fr\r\n\r\n\
Final-Recipient: rfc822; anne@medecin.op.fr\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\n\
Final-Recipient: rfc822;paul@medecin.op.fr\r\nAction: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 no such user\r\n\
--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: <abc@medecin.confiance.test>\r\nSubject: x\r\n\r\n--b--\r\n";
        let r = read(dsn);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].recipient, "anne@medecin.op.fr");
        assert_eq!(r[0].kind, Kind::Delivered);
        assert_eq!(r[0].original.as_deref(), Some("abc@medecin.confiance.test"));
        assert_eq!(
            (r[1].kind.clone(), r[1].status.as_deref()),
            (Kind::Failed, Some("5.1.1"))
        );
        assert!(r[1].diagnostic.as_deref().unwrap().contains("no such user"));
    }

    #[test]
    fn read_receipts_and_integration_errors() {
        let mdn = b"Content-Type: multipart/report; report-type=disposition-notification; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain\r\n\r\nErreur 902\r\n\
--b\r\nContent-Type: message/disposition-notification\r\n\r\nFinal-Recipient: rfc822;pfi@chu.op.fr\r\n\
Original-Message-ID: <doc-1@medecin.confiance.test>\r\n\
Disposition: automatic-action/MDN-sent-automatically; processed/Error: 902^Identifiant de patient inconnu^messageErrorCondition| E^Error^errorSeverity\r\n\
--b--\r\n";
        let r = read(mdn);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].original.as_deref(), Some("doc-1@medecin.confiance.test"));
        assert_eq!(
            r[0].kind,
            Kind::IntegrationError {
                code: "902".into(),
                label: "Identifiant de patient inconnu".into()
            }
        );
        assert_eq!(
            disposition("manual-action/MDN-sent-manually; displayed"),
            Kind::Displayed
        );
        assert_eq!(
            disposition("automatic-action/MDN-sent-automatically; processed"),
            Kind::Processed
        );
        assert_eq!(
            disposition("manual-action/MDN-sent-manually; deleted"),
            Kind::NotRead("deleted".into())
        );
        // Not a report at all.
        assert!(read(b"Subject: x\r\n\r\nDisposition: displayed\r\n").is_empty());
    }
}
