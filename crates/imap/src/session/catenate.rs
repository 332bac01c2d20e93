//! CATENATE (RFC 4469): APPEND a message built from literal text and parts of messages the
//! user already has, named by IMAP URLs (RFC 5092) relative to this server.

use crate::proto::command::{CatPart, Section, SectionText};
use crate::section;
use crate::session::Session;
use confiance_mail::message::mime::Part;

pub(crate) enum CatenateError {
    /// The URL does not name a part of the user's messages (RFC 4469 BADURL).
    BadUrl(String),
    /// The result would exceed the message size limit (RFC 4469 TOOBIG).
    TooBig,
}

/// A part of an existing message, as an IMAP URL names it.
struct UrlRef {
    mailbox: String,
    uidvalidity: Option<u32>,
    uid: u32,
    section: Section,
    partial: Option<(usize, Option<usize>)>,
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `HEADER`, `TEXT`, `1.2`, `1.MIME`, `2.HEADER.FIELDS (A B)` (RFC 5092 `isection`).
fn parse_section(spec: &str) -> Option<Section> {
    let mut part = Vec::new();
    let mut rest = spec;
    while let Some(first) = rest.split('.').next() {
        match first.parse::<u32>() {
            Ok(n) if n > 0 => {
                part.push(n);
                rest = rest.get(first.len() + 1..).unwrap_or("");
            }
            _ => break,
        }
    }
    let upper = rest.to_ascii_uppercase();
    let names = |s: &str| -> Option<Vec<Vec<u8>>> {
        let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
        Some(inner.split_whitespace().map(|n| n.as_bytes().to_vec()).collect())
    };
    let text = if upper.is_empty() {
        None
    } else if upper == "HEADER" {
        Some(SectionText::Header)
    } else if upper == "TEXT" {
        Some(SectionText::Text)
    } else if upper == "MIME" && !part.is_empty() {
        Some(SectionText::Mime)
    } else if let Some(list) = upper.strip_prefix("HEADER.FIELDS.NOT") {
        Some(SectionText::HeaderFieldsNot(names(list)?))
    } else if let Some(list) = upper.strip_prefix("HEADER.FIELDS") {
        Some(SectionText::HeaderFields(names(list)?))
    } else {
        return None;
    };
    Some(Section { part, text })
}

/// RFC 5092 relative URL: `/mailbox[;UIDVALIDITY=v]/;UID=n[/;SECTION=s][/;PARTIAL=o[.l]]`.
fn parse_url(url: &str) -> Option<UrlRef> {
    let path = url.strip_prefix('/')?;
    let mut segments = path.split("/;");
    let mailbox_part = segments.next()?;
    let (mailbox, uidvalidity) = match mailbox_part.split_once(';') {
        Some((m, v)) => {
            let v = v
                .strip_prefix("UIDVALIDITY=")
                .or_else(|| v.strip_prefix("uidvalidity="))?;
            (m, Some(v.parse().ok()?))
        }
        None => (mailbox_part, None),
    };
    let mut uid = None;
    let mut section = Section::default();
    let mut partial = None;
    for seg in segments {
        let (key, value) = seg.split_once('=')?;
        match key.to_ascii_uppercase().as_str() {
            "UID" => uid = Some(value.parse().ok()?),
            "SECTION" => section = parse_section(&percent_decode(value)?)?,
            "PARTIAL" => {
                partial = Some(match value.split_once('.') {
                    Some((o, l)) => (o.parse().ok()?, Some(l.parse().ok()?)),
                    None => (value.parse().ok()?, None),
                })
            }
            _ => return None,
        }
    }
    let mailbox = percent_decode(mailbox.trim_end_matches('/'))?;
    Some(UrlRef {
        mailbox: if mailbox.eq_ignore_ascii_case("INBOX") {
            "INBOX".into()
        } else {
            mailbox
        },
        uidvalidity,
        uid: uid?,
        section,
        partial,
    })
}

impl Session {
    /// The message a CATENATE list builds, stopping as soon as it outgrows the size limit.
    pub(crate) async fn catenate(&self, parts: Vec<CatPart>) -> Result<Vec<u8>, CatenateError> {
        let mut message = Vec::new();
        for part in parts {
            match part {
                CatPart::Text { data, .. } => message.extend_from_slice(&data),
                CatPart::Url(raw) => {
                    let url = String::from_utf8_lossy(&raw).into_owned();
                    let bytes = self.resolve_url(&url).await.ok_or(CatenateError::BadUrl(url))?;
                    message.extend_from_slice(&bytes);
                }
            }
            if message.len() as u64 > self.cfg.max_message_size {
                return Err(CatenateError::TooBig);
            }
        }
        Ok(message)
    }

    async fn resolve_url(&self, url: &str) -> Option<Vec<u8>> {
        let r = parse_url(url)?;
        let account = self.account_id();
        let name = r.mailbox.clone();
        // Only the user's own folders: a URL is resolved in the authenticated account.
        let folder = self.svc.folder(account, name).await.ok()??;
        if r.uidvalidity.is_some_and(|v| v != folder.uidvalidity) {
            return None;
        }
        let id = folder.id;
        let meta = self.svc.messages(id).await.ok()?.into_iter().find(|m| m.uid == r.uid)?;
        let bytes = self.svc.read(&meta.blob).await.ok()?;
        let root = Part::parse(&bytes);
        let data = section::section_bytes(&root, &r.section)?;
        Some(match r.partial {
            None => data,
            Some((origin, len)) => {
                let start = origin.min(data.len());
                let end = len.map_or(data.len(), |l| start.saturating_add(l).min(data.len()));
                data[start..end].to_vec()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = parse_url("/Patients%2FDupont;UIDVALIDITY=42/;UID=7/;SECTION=1.MIME/;PARTIAL=10.5").unwrap();
        assert_eq!(u.mailbox, "Patients/Dupont");
        assert_eq!(u.uidvalidity, Some(42));
        assert_eq!(u.uid, 7);
        assert_eq!(u.section.part, vec![1]);
        assert_eq!(u.section.text, Some(SectionText::Mime));
        assert_eq!(u.partial, Some((10, Some(5))));
        let u = parse_url("/inbox/;uid=3/;section=header.fields%20(from%20to)").unwrap();
        assert_eq!(u.mailbox, "INBOX");
        assert_eq!(
            u.section.text,
            Some(SectionText::HeaderFields(vec![b"FROM".to_vec(), b"TO".to_vec()]))
        );
        assert!(parse_url("imap://host/INBOX/;UID=1").is_none());
        assert!(parse_url("/INBOX").is_none());
        assert!(parse_url("/INBOX/;UID=x").is_none());
    }
}
