//! Delivery status notifications (RFC 3464) for the DSN extension (RFC 3461): a report to the
//! sender when a recipient asked NOTIFY=SUCCESS got the message, or when one could not be
//! delivered (NOTIFY=FAILURE, the default). Réf. #2 asks operators to support DSN (ECO.2.3.1).

use chrono::{DateTime, Local};

/// RFC 3464 §2.3.3 Action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Delivered,
    /// Handed to an operator that does not offer DSN: no further report will come.
    Relayed,
    /// Still queued after a while; delivery goes on.
    Delayed,
    Failed,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::Delivered => "delivered",
            Action::Relayed => "relayed",
            Action::Delayed => "delayed",
            Action::Failed => "failed",
        }
    }

    /// The RFC 3461 NOTIFY keyword that asks for this report.
    fn keyword(self) -> &'static str {
        match self {
            Action::Delivered | Action::Relayed => "SUCCESS",
            Action::Delayed => "DELAY",
            Action::Failed => "FAILURE",
        }
    }
}

/// What happened to one recipient.
pub struct Outcome {
    pub recipient: String,
    /// RFC 3461 ORCPT value, decoded (`rfc822;addr`).
    pub original: Option<String>,
    pub action: Action,
    /// Enhanced status code (RFC 3463) and the reply or sentence a person reads.
    pub status: String,
    pub diagnostic: String,
    /// The operator MTA that answered, if any.
    pub remote_mta: Option<String>,
}

/// The transaction-wide DSN parameters (RFC 3461 §4.3, §4.4).
pub struct Request<'a> {
    pub reporting_host: &'a str,
    pub envelope_id: Option<String>,
    /// RET=FULL: the whole message comes back; otherwise only its header (the default here:
    /// health data goes back in the report only when the sender asked).
    pub return_full: bool,
    pub arrival: DateTime<Local>,
    pub original: &'a [u8],
}

/// RFC 3461 §4.1: SUCCESS only when asked; without NOTIFY, FAILURE and DELAY (the usual
/// default, §4.1 leaves it to the implementation); never with NOTIFY=NEVER.
pub fn wanted(notify: Option<&str>, action: Action) -> bool {
    let Some(notify) = notify else {
        return matches!(action, Action::Failed | Action::Delayed);
    };
    notify
        .split(',')
        .any(|w| w.trim().eq_ignore_ascii_case(action.keyword()))
}

/// RFC 3461 §4 xtext: `+XX` stands for the octet XX.
pub fn decode_xtext(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'+'
            && let Some(v) = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The header of a message, up to and including the CRLF before the blank line.
pub(crate) fn header_of(message: &[u8]) -> &[u8] {
    let end = message
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| p + 2)
        .unwrap_or(message.len());
    &message[..end]
}

/// The value of a header field (its first occurrence, unfolded: RFC 5322 §2.2.3), if any.
pub(crate) fn header_field(message: &[u8], name: &str) -> Option<String> {
    let header = String::from_utf8_lossy(header_of(message));
    let mut value: Option<String> = None;
    for line in header.split("\r\n") {
        match &mut value {
            Some(v) if line.starts_with([' ', '\t']) => v.push_str(line),
            Some(_) => break,
            None => {
                if let Some((n, rest)) = line.split_once(':')
                    && n.trim().eq_ignore_ascii_case(name)
                {
                    value = Some(rest.to_string());
                }
            }
        }
    }
    value
}

/// The report message, addressed to `sender`, from the operator's postmaster.
pub fn report(req: &Request, sender: &str, outcomes: &[Outcome], id: &str) -> Vec<u8> {
    let boundary = format!("=_dsn_{id}");
    let subject = if outcomes.iter().any(|o| o.action == Action::Failed) {
        "Échec de remise / Delivery failure"
    } else if outcomes.iter().any(|o| o.action == Action::Delayed) {
        "Remise retardée / Delivery delayed"
    } else {
        "Accusé de remise / Delivery notification"
    };
    let mut m = String::new();
    m.push_str(&format!(
        "From: Messagerie {host} <postmaster@{host}>\r\n",
        host = req.reporting_host
    ));
    m.push_str(&format!("To: <{sender}>\r\n"));
    m.push_str(&format!("Subject: =?utf-8?q?{}?=\r\n", q_encode(subject)));
    m.push_str(&format!("Date: {}\r\n", Local::now().to_rfc2822()));
    m.push_str(&format!("Message-ID: <dsn.{id}@{}>\r\n", req.reporting_host));
    m.push_str("Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n");
    m.push_str(&format!(
        "Content-Type: multipart/report; report-type=delivery-status; boundary=\"{boundary}\"\r\n\r\n"
    ));
    // 1. For people, French first.
    m.push_str(&format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
    ));
    for o in outcomes {
        let r = &o.recipient;
        let d = &o.diagnostic;
        m.push_str(&match o.action {
            Action::Delivered => format!("Votre message a été remis à {r}.\r\n"),
            Action::Relayed => format!("Votre message a été transmis à l'opérateur de {r}.\r\n"),
            Action::Delayed => format!(
                "Votre message n'a pas encore pu être remis à {r} ; de nouvelles tentatives suivront ({d}).\r\n"
            ),
            Action::Failed => format!("Votre message n'a pas pu être remis à {r} : {d}\r\n"),
        });
    }
    m.push_str("\r\n");
    for o in outcomes {
        let r = &o.recipient;
        let d = &o.diagnostic;
        m.push_str(&match o.action {
            Action::Delivered => format!("Your message was delivered to {r}.\r\n"),
            Action::Relayed => format!("Your message was handed to the operator of {r}.\r\n"),
            Action::Delayed => format!("Your message could not be delivered to {r} yet; we keep trying ({d}).\r\n"),
            Action::Failed => format!("Your message could not be delivered to {r}: {d}\r\n"),
        });
    }
    // 2. For programs (RFC 3464 §2).
    m.push_str(&format!(
        "\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
    ));
    m.push_str(&format!("Reporting-MTA: dns; {}\r\n", req.reporting_host));
    if let Some(envid) = &req.envelope_id {
        m.push_str(&format!("Original-Envelope-Id: {envid}\r\n"));
    }
    m.push_str(&format!("Arrival-Date: {}\r\n", req.arrival.to_rfc2822()));
    for o in outcomes {
        m.push_str("\r\n");
        if let Some(orcpt) = &o.original {
            m.push_str(&format!("Original-Recipient: {orcpt}\r\n"));
        }
        m.push_str(&format!("Final-Recipient: rfc822; {}\r\n", o.recipient));
        m.push_str(&format!("Action: {}\r\n", o.action.name()));
        m.push_str(&format!("Status: {}\r\n", o.status));
        if let Some(mta) = &o.remote_mta {
            m.push_str(&format!("Remote-MTA: dns; {mta}\r\n"));
        }
        if matches!(o.action, Action::Failed | Action::Delayed) {
            m.push_str(&format!("Diagnostic-Code: smtp; {}\r\n", o.diagnostic));
        }
    }
    // 3. The message, or its header (RFC 6522 text/rfc822-headers).
    let mut bytes = m.into_bytes();
    if req.return_full {
        bytes.extend_from_slice(format!("\r\n--{boundary}\r\nContent-Type: message/rfc822\r\n\r\n").as_bytes());
        bytes.extend_from_slice(req.original);
    } else {
        bytes.extend_from_slice(format!("\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n").as_bytes());
        bytes.extend_from_slice(header_of(req.original));
    }
    bytes.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    bytes
}

fn q_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b' ' => "_".to_string(),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'.' | b'/' | b'-' => (b as char).to_string(),
            _ => format!("={b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_rules() {
        assert!(wanted(None, Action::Failed));
        assert!(wanted(None, Action::Delayed));
        assert!(!wanted(None, Action::Delivered));
        assert!(wanted(Some("SUCCESS,FAILURE"), Action::Delivered));
        assert!(wanted(Some("SUCCESS"), Action::Relayed));
        assert!(!wanted(Some("NEVER"), Action::Failed));
        assert!(!wanted(Some("DELAY"), Action::Failed));
        assert!(wanted(Some("failure"), Action::Failed));
        assert_eq!(decode_xtext("rfc822;a+2Bb@x.fr"), "rfc822;a+b@x.fr");
    }

    #[test]
    fn report_shape() {
        let req = Request {
            reporting_host: "mail.test",
            envelope_id: Some("E1".into()),
            return_full: false,
            arrival: Local::now(),
            original: b"Subject: IRM\r\nFrom: a@b.fr\r\n\r\nsecret body\r\n",
        };
        let outcomes = [Outcome {
            recipient: "b@c.fr".into(),
            original: Some("rfc822;b@c.fr".into()),
            action: Action::Failed,
            status: "5.2.2".into(),
            diagnostic: "mailbox full".into(),
            remote_mta: None,
        }];
        let r = String::from_utf8(report(&req, "a@b.fr", &outcomes, "ID1")).unwrap();
        assert!(r.contains("report-type=delivery-status"));
        assert!(r.contains("Action: failed\r\nStatus: 5.2.2"));
        assert!(r.contains("Original-Envelope-Id: E1"));
        assert!(r.contains("Subject: IRM"));
        assert!(!r.contains("secret body"), "RET=HDRS must not return the body");
    }
}
