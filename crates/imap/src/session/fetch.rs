//! FETCH data items (RFC 9051 §6.4.5, §7.5.2; RFC 3516 BINARY; RFC 7162 MODSEQ).

use chrono::{FixedOffset, NaiveDate, TimeZone};

use crate::proto::command::{DateTime, FetchAttr, Section, SectionText};
use crate::proto::render;
use crate::section;
use confiance_mail::message::mime::Part;
use confiance_mail::model::MessageMeta;

/// Seconds since the epoch of an APPEND date-time.
pub fn timestamp(d: &DateTime) -> i64 {
    let date = NaiveDate::from_ymd_opt(d.date.year as i32, d.date.month as u32, d.date.day as u32)
        .and_then(|n| n.and_hms_opt(d.hour as u32, d.minute as u32, d.second as u32));
    match date {
        Some(n) => n.and_utc().timestamp() - d.zone_minutes as i64 * 60,
        None => 0,
    }
}

/// INTERNALDATE: `"17-Jul-1996 02:44:25 -0700"`.
pub fn internal_date(meta: &MessageMeta) -> String {
    let tz = FixedOffset::east_opt(meta.internal_tz_minutes * 60).unwrap_or(FixedOffset::east_opt(0).unwrap());
    match tz.timestamp_opt(meta.internal_date, 0).single() {
        Some(d) => d.format("%d-%b-%Y %H:%M:%S %z").to_string(),
        None => "01-Jan-1970 00:00:00 +0000".into(),
    }
}

/// Whether the attributes need the message bytes.
pub fn needs_bytes(attrs: &[FetchAttr]) -> bool {
    attrs.iter().any(|a| {
        !matches!(
            a,
            FetchAttr::Flags | FetchAttr::InternalDate | FetchAttr::Rfc822Size | FetchAttr::Uid | FetchAttr::ModSeq
        )
    })
}

/// Whether the attributes need nothing of the message but its header section (a mail program's
/// page of header fields, ENVELOPE): then only that is read, from the cache of header sections.
pub fn needs_only_headers(attrs: &[FetchAttr]) -> bool {
    attrs.iter().all(|a| match a {
        FetchAttr::Envelope | FetchAttr::Rfc822Header => true,
        FetchAttr::BodySection { section, .. } => {
            section.part.is_empty()
                && matches!(
                    section.text,
                    Some(SectionText::Header | SectionText::HeaderFields(_) | SectionText::HeaderFieldsNot(_))
                )
        }
        other => !needs_bytes(std::slice::from_ref(other)),
    })
}

/// Whether fetching the attributes sets \Seen (RFC 9051 §6.4.5: BODY[] without PEEK, RFC822, RFC822.TEXT, BINARY).
pub fn sets_seen(attrs: &[FetchAttr]) -> bool {
    attrs.iter().any(|a| {
        matches!(
            a,
            FetchAttr::Rfc822
                | FetchAttr::Rfc822Text
                | FetchAttr::BodySection { peek: false, .. }
                | FetchAttr::Binary { peek: false, .. }
        )
    })
}

fn section_spec(section: &Section) -> String {
    let mut s: Vec<String> = section.part.iter().map(u32::to_string).collect();
    let text = match &section.text {
        None => None,
        Some(SectionText::Header) => Some("HEADER".to_string()),
        Some(SectionText::Text) => Some("TEXT".to_string()),
        Some(SectionText::Mime) => Some("MIME".to_string()),
        Some(SectionText::HeaderFields(names)) => Some(format!("HEADER.FIELDS ({})", join_names(names))),
        Some(SectionText::HeaderFieldsNot(names)) => Some(format!("HEADER.FIELDS.NOT ({})", join_names(names))),
    };
    s.extend(text);
    s.join(".")
}

fn join_names(names: &[Vec<u8>]) -> String {
    names
        .iter()
        .map(|n| String::from_utf8_lossy(n).to_ascii_uppercase())
        .collect::<Vec<_>>()
        .join(" ")
}

fn partial_slice(bytes: &[u8], partial: Option<crate::proto::command::Partial>) -> (&[u8], String) {
    match partial {
        None => (bytes, String::new()),
        Some(p) => {
            let start = (p.origin as usize).min(bytes.len());
            let end = start.saturating_add(p.size as usize).min(bytes.len());
            (&bytes[start..end], format!("<{}>", p.origin))
        }
    }
}

/// Renders one attribute. `flags` is the FLAGS list already formatted.
pub fn render_attr(out: &mut Vec<u8>, attr: &FetchAttr, meta: &MessageMeta, flags: &str, root: Option<&Part>) {
    match attr {
        FetchAttr::Flags => out.extend_from_slice(format!("FLAGS ({flags})").as_bytes()),
        FetchAttr::Uid => out.extend_from_slice(format!("UID {}", meta.uid).as_bytes()),
        FetchAttr::ModSeq => out.extend_from_slice(format!("MODSEQ ({})", meta.modseq).as_bytes()),
        FetchAttr::InternalDate => {
            out.extend_from_slice(format!("INTERNALDATE \"{}\"", internal_date(meta)).as_bytes())
        }
        FetchAttr::Rfc822Size => out.extend_from_slice(format!("RFC822.SIZE {}", meta.size).as_bytes()),
        _ => {
            let Some(root) = root else {
                out.extend_from_slice(b"NIL");
                return;
            };
            render_content(out, attr, root)
        }
    }
}

fn render_content(out: &mut Vec<u8>, attr: &FetchAttr, root: &Part) {
    match attr {
        FetchAttr::Envelope => {
            out.extend_from_slice(b"ENVELOPE ");
            render::envelope(out, root.header);
        }
        FetchAttr::Body => {
            out.extend_from_slice(b"BODY ");
            render::body_structure(out, root, false);
        }
        FetchAttr::BodyStructure => {
            out.extend_from_slice(b"BODYSTRUCTURE ");
            render::body_structure(out, root, true);
        }
        FetchAttr::Rfc822 => {
            out.extend_from_slice(b"RFC822 ");
            let whole = section::section_bytes(root, &Section::default()).unwrap_or_default();
            render::literal(out, &whole);
        }
        FetchAttr::Rfc822Header => {
            out.extend_from_slice(b"RFC822.HEADER ");
            render::literal(out, root.header);
        }
        FetchAttr::Rfc822Text => {
            out.extend_from_slice(b"RFC822.TEXT ");
            render::literal(out, root.body);
        }
        FetchAttr::BodySection { section, partial, .. } => {
            out.extend_from_slice(format!("BODY[{}]", section_spec(section)).as_bytes());
            match section::section_bytes(root, section) {
                Some(bytes) => {
                    let (slice, origin) = partial_slice(&bytes, *partial);
                    out.extend_from_slice(origin.as_bytes());
                    out.push(b' ');
                    render::literal(out, slice);
                }
                None => out.extend_from_slice(b" NIL"),
            }
        }
        FetchAttr::Binary { part, partial, .. } => {
            let spec = part.iter().map(u32::to_string).collect::<Vec<_>>().join(".");
            out.extend_from_slice(format!("BINARY[{spec}]").as_bytes());
            match section::binary_bytes(root, part) {
                Some(Ok(bytes)) => {
                    let (slice, origin) = partial_slice(&bytes, *partial);
                    out.extend_from_slice(origin.as_bytes());
                    out.push(b' ');
                    // RFC 3516 §4.3: binary content goes in a literal8 when it holds NUL.
                    if slice.contains(&0) {
                        render::literal8(out, slice);
                    } else {
                        render::literal(out, slice);
                    }
                }
                _ => out.extend_from_slice(b" NIL"),
            }
        }
        FetchAttr::BinarySize { part } => {
            let spec = part.iter().map(u32::to_string).collect::<Vec<_>>().join(".");
            let size = match section::binary_bytes(root, part) {
                Some(Ok(b)) => b.len().to_string(),
                _ => "NIL".into(),
            };
            out.extend_from_slice(format!("BINARY.SIZE[{spec}] {size}").as_bytes());
        }
        _ => {}
    }
}
