//! Messages the webmail writes: a professional's message (UTF-8 text, attachments, reply
//! threading, read-receipt request) and a read receipt (RFC 8098 MDN).

use mail_builder::MessageBuilder;
use mail_builder::headers::address::Address;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::raw::Raw;
use mail_builder::mime::{BodyPart, MimePart};
use mail_parser::MessageParser;

/// A file joined to a message.
#[derive(Clone, Debug)]
pub struct Attachment {
    pub name: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// What the compose form says.
#[derive(Clone, Debug, Default)]
pub struct Draft {
    pub to: Vec<String>,
    pub cc: Vec<String>,
    /// Blind copies: in the envelope, never in the message sent (RFC 5322 §3.6.3); kept in
    /// the sender's own copies (Sent, Drafts) by `with_bcc`.
    pub bcc: Vec<String>,
    /// Where answers should go, when not to the sender (RFC 5322 §3.6.2).
    pub reply_to: Option<String>,
    pub subject: String,
    pub body: String,
    /// A read receipt is asked for (RFC 8098 Disposition-Notification-To).
    pub receipt: bool,
    /// A delivery report is asked for each recipient (RFC 3461 NOTIFY=SUCCESS,FAILURE).
    pub delivery_report: bool,
    /// Message-ID of the message answered, and its References (RFC 5322 §3.6.4, ECO.2.2.2).
    pub in_reply_to: Option<String>,
    pub references: Vec<String>,
    /// Closes the exchange with a patient (`X-MSS-MES: FIN`, Réf. #2 ECO.2.2.8).
    pub closes: bool,
    /// Fields of a structured document (`X-MSS-CODECDA`, `X-MSS-INS`).
    pub headers: Vec<(String, String)>,
}

fn address_list(list: &[String]) -> Address<'_> {
    Address::new_list(list.iter().map(|a| Address::from(a.as_str())).collect())
}

/// The message as it is sent (and kept in Sent or Drafts).
pub fn build(from_name: &str, from: &str, draft: &Draft, attachments: &[Attachment]) -> std::io::Result<Vec<u8>> {
    let mut m = MessageBuilder::new()
        .message_id(confiance_smtp::new_message_id(from))
        .date(mail_builder::headers::date::Date::now())
        .from((from_name, from))
        .subject(draft.subject.as_str())
        // ECO.2.2.3 and ECO.2.2.4: UTF-8 plain text.
        .text_body(draft.body.replace("\r\n", "\n").replace('\n', "\r\n"));
    if !draft.to.is_empty() {
        m = m.to(address_list(&draft.to));
    }
    if !draft.cc.is_empty() {
        m = m.cc(address_list(&draft.cc));
    }
    if let Some(reply_to) = &draft.reply_to {
        m = m.reply_to(reply_to.as_str());
    }
    if let Some(parent) = &draft.in_reply_to {
        m = m.in_reply_to(parent.as_str());
        let mut refs: Vec<&str> = draft.references.iter().map(String::as_str).collect();
        refs.push(parent);
        m = m.references(refs.as_slice());
    }
    if draft.receipt {
        // RFC 8098 §2.1: receipts go to the sender.
        m = m.header("Disposition-Notification-To", Raw::new(format!("<{from}>")));
    }
    if draft.closes {
        m = m.header("X-MSS-MES", Raw::new("FIN"));
    }
    for (name, value) in &draft.headers {
        m = m.header(name.clone(), Raw::new(value.clone()));
    }
    for a in attachments {
        m = m.attachment(a.content_type.clone(), a.name.clone(), a.bytes.clone());
    }
    m.write_to_vec()
}

/// The sender's own copy of a message sent with blind copies: the same bytes with a `Bcc:`
/// field naming them, so that Sent and Drafts show who else got it.
pub fn with_bcc(message: Vec<u8>, bcc: &[String]) -> Vec<u8> {
    if bcc.is_empty() {
        return message;
    }
    // One address a line after the first (RFC 5322 §2.2.3 folding): no line grows past 998.
    let mut copy = format!("Bcc: {}\r\n", bcc.join(",\r\n ")).into_bytes();
    copy.extend_from_slice(&message);
    copy
}

/// The receipt of a message read by `reader` (RFC 8098 §3: multipart/report with a
/// human-readable part and the machine-readable disposition).
pub fn read_receipt(reader: &str, to: &str, original: &[u8]) -> Vec<u8> {
    let parsed = MessageParser::default().parse(original);
    let subject = parsed
        .as_ref()
        .and_then(|m| m.subject())
        .unwrap_or_default()
        .to_string();
    let original_id = parsed.as_ref().and_then(|m| m.message_id()).map(str::to_string);
    let text = format!(
        "Votre message « {subject} » a été affiché par {reader}. Cela ne garantit pas qu'il a été lu ou compris.\r\n\r\n\
         Your message \"{subject}\" was displayed by {reader}. This does not guarantee it was read or understood.\r\n"
    );
    let mut fields = format!("Reporting-UA: Confiance webmail\r\nFinal-Recipient: rfc822;{reader}\r\n");
    if let Some(id) = &original_id {
        fields.push_str(&format!("Original-Message-ID: <{id}>\r\n"));
    }
    // The professional chose to send it (RFC 8098 §3.2.6: manual-action, MDN-sent-manually).
    fields.push_str("Disposition: manual-action/MDN-sent-manually; displayed\r\n");
    let report = MimePart::new(
        ContentType::new("multipart/report").attribute("report-type", "disposition-notification"),
        BodyPart::Multipart(vec![
            MimePart::new("text/plain", BodyPart::Text(text.into())),
            MimePart::new("message/disposition-notification", BodyPart::Text(fields.into())),
        ]),
    );
    let mut m = MessageBuilder::new()
        .message_id(confiance_smtp::new_message_id(reader))
        .date(mail_builder::headers::date::Date::now())
        .from(reader)
        .to(to)
        .subject(format!("Accusé de lecture : {subject}"))
        .body(report);
    if let Some(id) = original_id {
        m = m.in_reply_to(id).header("Auto-Submitted", Raw::new("auto-replied"));
    }
    m.write_to_vec().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_with_accents_attachment_threading_and_receipt() {
        let draft = Draft {
            to: vec!["anne@medecin.confiance.test".into()],
            cc: vec!["sec@pro.confiance.test".into()],
            bcc: vec!["archives@medecin.confiance.test".into()],
            reply_to: Some("secretariat@medecin.confiance.test".into()),
            subject: "Résultats d'analyse".into(),
            body: "Bonjour,\nvoici les résultats.".into(),
            receipt: true,
            delivery_report: true,
            in_reply_to: Some("parent@medecin.confiance.test".into()),
            references: vec!["root@medecin.confiance.test".into()],
            closes: true,
            headers: vec![("X-MSS-CODECDA".into(), "11490-0".into())],
        };
        let file = Attachment {
            name: "résultats.pdf".into(),
            content_type: "application/pdf".into(),
            bytes: b"%PDF-1.4 test".to_vec(),
        };
        let bytes = build("Dr Jean Martin", "jean.martin@medecin.confiance.test", &draft, &[file]).unwrap();
        let m = MessageParser::default().parse(&bytes).unwrap();
        assert_eq!(m.subject(), Some("Résultats d'analyse"));
        assert_eq!(m.header("X-MSS-MES").and_then(|h| h.as_text()), Some("FIN"));
        assert_eq!(m.header("X-MSS-CODECDA").and_then(|h| h.as_text()), Some("11490-0"));
        assert_eq!(m.body_text(0).unwrap().trim_end(), "Bonjour,\r\nvoici les résultats.");
        assert_eq!(m.attachments().count(), 1);
        let part = m.attachments().next().unwrap();
        assert_eq!(mail_parser::MimeHeaders::attachment_name(part), Some("résultats.pdf"));
        assert_eq!(part.contents(), b"%PDF-1.4 test");
        assert!(m.message_id().unwrap().ends_with("@medecin.confiance.test"));
        assert_eq!(m.in_reply_to().as_text(), Some("parent@medecin.confiance.test"));
        let s = confiance_mail::summary::summarize(&bytes);
        assert_eq!(s.receipt_to.as_deref(), Some("jean.martin@medecin.confiance.test"));
        assert_eq!(s.recipients, "anne@medecin.confiance.test, sec@pro.confiance.test");
        // The blind copy is in no field of what is sent; Reply-To is.
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("archives@"), "{text}");
        assert!(
            text.contains("Reply-To: <secretariat@medecin.confiance.test>"),
            "{text}"
        );
        let kept = with_bcc(bytes, &draft.bcc);
        let m = MessageParser::default().parse(&kept).unwrap();
        assert_eq!(
            m.bcc().and_then(|b| b.first()).and_then(|a| a.address()),
            Some("archives@medecin.confiance.test")
        );
    }

    #[test]
    fn a_read_receipt_is_an_rfc_8098_report() {
        let original = b"Message-ID: <abc@medecin.confiance.test>\r\nSubject: Bilan\r\n\r\nx\r\n";
        let mdn = read_receipt("anne@medecin.confiance.test", "jean@medecin.confiance.test", original);
        let text = String::from_utf8_lossy(&mdn);
        assert!(text.contains("multipart/report"), "{text}");
        assert!(
            text.contains("report-type=\"disposition-notification\"")
                || text.contains("report-type=disposition-notification")
        );
        assert!(text.contains("Original-Message-ID: <abc@medecin.confiance.test>"));
        assert!(text.contains("Disposition: manual-action/MDN-sent-manually; displayed"));
        assert!(text.contains("Final-Recipient: rfc822;anne@medecin.confiance.test"));
    }
}
