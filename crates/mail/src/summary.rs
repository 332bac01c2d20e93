//! The summary of a message a list shows, read from its header and MIME structure once, when
//! it is stored.

use confiance_store::MessageSummary;
use mail_parser::{Address, MessageParser, MimeHeaders};

pub use confiance_segur::XDM_ARCHIVE;

/// Longest subject or recipient list kept for the list (the message itself keeps all).
const KEEP: usize = 500;

/// Characters of text a list shows under a subject.
const SNIPPET_CHARS: usize = 140;

/// The first words of a message's text: quoted lines (`> `) and the signature (`-- `) left out,
/// whitespace folded, at most `SNIPPET_CHARS` characters.
pub fn snippet(text: &str) -> String {
    let mut out = String::new();
    for line in text.lines() {
        let line = line.trim_end();
        if line == "--" || line == "-- " {
            break;
        }
        if line.trim_start().starts_with('>') {
            continue;
        }
        for word in line.split_whitespace() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
        if out.chars().count() >= SNIPPET_CHARS {
            break;
        }
    }
    match out.char_indices().nth(SNIPPET_CHARS) {
        Some((end, _)) => format!("{}…", out[..end].trim_end()),
        None => out,
    }
}

fn clip(mut s: String) -> String {
    if s.len() > KEEP {
        let mut end = KEEP;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
    s
}

/// `Name <address>` for each address of a header, joined by `, `.
pub fn addresses(address: Option<&Address>) -> Vec<(String, String)> {
    let Some(address) = address else {
        return Vec::new();
    };
    address
        .iter()
        .map(|a| {
            (
                a.name().unwrap_or_default().trim().to_string(),
                a.address().unwrap_or_default().trim().to_string(),
            )
        })
        .collect()
}

pub fn display(list: &[(String, String)]) -> String {
    list.iter()
        .map(|(name, address)| match name.is_empty() {
            true => address.clone(),
            false => format!("{name} <{address}>"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn summarize(bytes: &[u8]) -> MessageSummary {
    let Some(message) = MessageParser::default().parse(bytes) else {
        return MessageSummary::default();
    };
    let (from_name, from_address) = addresses(message.from()).into_iter().next().unwrap_or_default();
    let mut recipients = addresses(message.to());
    recipients.extend(addresses(message.cc()));
    let mut attachments = 0;
    let mut xdm = false;
    for part in message.attachments() {
        attachments += 1;
        xdm |= part
            .attachment_name()
            .is_some_and(|n| n.trim().eq_ignore_ascii_case(XDM_ARCHIVE));
    }
    let receipt_to = message
        .header("Disposition-Notification-To")
        .and_then(|h| match h {
            mail_parser::HeaderValue::Address(a) => addresses(Some(a)).into_iter().next().map(|(_, a)| a),
            mail_parser::HeaderValue::Text(t) => Some(t.trim().trim_matches(['<', '>']).to_string()),
            _ => None,
        })
        // One plain address, or nothing: it becomes a RCPT TO of the receipt.
        .filter(|a| confiance_core::Address::parse(a).is_ok());
    without_nul(MessageSummary {
        date: message.date().map(|d| d.to_timestamp()),
        from_name: clip(from_name),
        from_address: clip(from_address),
        recipients: clip(display(&recipients)),
        subject: clip(message.subject().unwrap_or_default().trim().to_string()),
        attachments,
        xdm,
        receipt_to,
        snippet: snippet(&message.body_text(0).unwrap_or_default()),
        thread: thread(&message),
    })
}

/// The summary without U+0000, which a sender can encode in a subject (`=00`) or a body, and
/// which PostgreSQL's text refuses: kept, it would fail every delivery committed with it.
/// Nothing readable is lost.
fn without_nul(mut s: MessageSummary) -> MessageSummary {
    let strip = |t: &mut String| {
        if t.contains('\0') {
            t.retain(|c| c != '\0');
        }
    };
    for t in [
        &mut s.from_name,
        &mut s.from_address,
        &mut s.recipients,
        &mut s.subject,
        &mut s.snippet,
        &mut s.thread,
    ] {
        strip(t);
    }
    if let Some(t) = s.receipt_to.as_mut() {
        strip(t);
    }
    s
}

/// The Message-ID that started the message's conversation: the first of `References:` (RFC
/// 5322 §3.6.4: a reply keeps its parent's first reference first), else `In-Reply-To:`, else
/// its own `Message-ID:`.
fn thread(message: &mail_parser::Message) -> String {
    let first = |v: &mail_parser::HeaderValue| match v {
        mail_parser::HeaderValue::Text(t) => Some(t.to_string()),
        mail_parser::HeaderValue::TextList(l) => l.first().map(|t| t.to_string()),
        _ => None,
    };
    [message.references(), message.in_reply_to()]
        .into_iter()
        .find_map(first)
        .or_else(|| message.message_id().map(str::to_string))
        .map(|id| clip(id.trim().to_string()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_belongs_to_the_thread_its_first_reference_started() {
        let s = |headers: &str| summarize(format!("{headers}Subject: x\r\n\r\nbody").as_bytes()).thread;
        assert_eq!(s("Message-ID: <racine@a>\r\n"), "racine@a");
        assert_eq!(s("Message-ID: <r2@b>\r\nIn-Reply-To: <racine@a>\r\n"), "racine@a");
        assert_eq!(
            s("Message-ID: <r3@c>\r\nIn-Reply-To: <r2@b>\r\nReferences: <racine@a> <r2@b>\r\n"),
            "racine@a"
        );
        assert_eq!(s(""), "");
    }

    #[test]
    fn reads_sender_subject_attachments_and_receipt_request() {
        let mail = concat!(
            "From: =?utf-8?q?Dr_Ana=C3=AFs_Durand?= <anais.durand@medecin.confiance.test>\r\n",
            "To: Jean <jean@pro.confiance.test>, b@pro.confiance.test\r\n",
            "Cc: Secrétariat <sec@pro.confiance.test>\r\n",
            "Subject: XDM/1.0/DDM+Compte rendu DUPONT Marie\r\n",
            "Date: Mon, 23 Nov 2026 10:00:00 +0100\r\n",
            "Disposition-Notification-To: <anais.durand@medecin.confiance.test>\r\n",
            "MIME-Version: 1.0\r\n",
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n",
            "--b\r\nContent-Type: text/plain\r\n\r\nBonjour\r\n",
            "--b\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=IHE_XDM.ZIP\r\n\r\nPK\r\n",
            "--b\r\nContent-Type: application/pdf; name=cr.pdf\r\n\r\n%PDF\r\n",
            "--b--\r\n"
        );
        let s = summarize(mail.as_bytes());
        assert_eq!(s.from_name, "Dr Anaïs Durand");
        assert_eq!(s.from_address, "anais.durand@medecin.confiance.test");
        assert_eq!(
            s.recipients,
            "Jean <jean@pro.confiance.test>, b@pro.confiance.test, Secrétariat <sec@pro.confiance.test>"
        );
        assert_eq!(s.subject, "XDM/1.0/DDM+Compte rendu DUPONT Marie");
        assert_eq!(s.date, Some(1_795_424_400));
        assert_eq!(s.attachments, 2);
        assert!(s.xdm);
        assert_eq!(s.receipt_to.as_deref(), Some("anais.durand@medecin.confiance.test"));
    }

    #[test]
    fn nul_characters_never_reach_the_store() {
        let s = summarize(
            b"From: =?utf-8?q?Dr_=00X?= <x@medecin.test>\r\nSubject: =?utf-8?q?a=00b?=\r\n\
              Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
              texte =00 cach=C3=A9\r\n",
        );
        assert_eq!(s.subject, "ab");
        assert!(!s.from_name.contains('\0') && !s.snippet.contains('\0'), "{s:?}");
        assert!(s.snippet.contains("caché"), "{s:?}");
    }

    #[test]
    fn garbage_gives_an_empty_summary() {
        let s = summarize(b"\x00\x01 not a message");
        assert_eq!(s.attachments, 0);
        assert!(s.receipt_to.is_none());
    }

    #[test]
    fn snippets_skip_quotes_and_signatures_and_stop_short() {
        let text = "Bonjour,\n\n> ancien message\nvoici   les résultats.\n-- \nDr Martin";
        assert_eq!(snippet(text), "Bonjour, voici les résultats.");
        let long = "é".repeat(300);
        let s = snippet(&long);
        assert_eq!(s.chars().count(), SNIPPET_CHARS + 1);
        assert!(s.ends_with('…'));
        assert_eq!(snippet(""), "");
    }
}
