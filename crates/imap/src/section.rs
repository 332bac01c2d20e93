//! The bytes a FETCH of BODY[section], BINARY[part] or RFC822.* returns (RFC 9051 §6.4.5,
//! RFC 3516 §4.2).

use base64::Engine;

use crate::proto::command::{Section, SectionText};
use confiance_mail::message::mime::{self, Part};

/// The bytes of `section` in `root`, or `None` when the part does not exist.
pub fn section_bytes(root: &Part, section: &Section) -> Option<Vec<u8>> {
    let part = root.find(&section.part)?;
    // HEADER and TEXT of a numbered part address the message it encapsulates.
    let message = if section.part.is_empty() {
        Some(part)
    } else {
        part.message.as_deref()
    };
    Some(match &section.text {
        None if section.part.is_empty() => whole(root),
        None => part.body.to_vec(),
        Some(SectionText::Mime) => part.header.to_vec(),
        Some(SectionText::Header) => message?.header.to_vec(),
        Some(SectionText::Text) => message?.body.to_vec(),
        Some(SectionText::HeaderFields(names)) => filter_header(message?.header, names, true),
        Some(SectionText::HeaderFieldsNot(names)) => filter_header(message?.header, names, false),
    })
}

fn whole(root: &Part) -> Vec<u8> {
    let mut v = Vec::with_capacity(root.header.len() + root.body.len());
    v.extend_from_slice(root.header);
    v.extend_from_slice(root.body);
    v
}

/// Header lines whose names are (or are not) in `names`, then the blank line (RFC 9051 §6.4.5).
fn filter_header(header: &[u8], names: &[Vec<u8>], keep: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in mime::header_fields(header) {
        let listed = names.iter().any(|n| n.eq_ignore_ascii_case(name));
        if listed == keep {
            out.extend_from_slice(name);
            out.push(b':');
            out.extend_from_slice(value);
            if !value.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// BINARY[part]: the part's content with its transfer encoding undone. `Err` for an encoding we
/// do not know (RFC 3516 §4.3 UNKNOWN-CTE).
pub fn binary_bytes(root: &Part, path: &[u32]) -> Option<Result<Vec<u8>, ()>> {
    let part = root.find(path)?;
    if path.is_empty() {
        return Some(Ok(whole(root)));
    }
    if part.is_multipart() {
        return Some(Ok(part.body.to_vec()));
    }
    let cte = part
        .field("content-transfer-encoding")
        .map(|v| String::from_utf8_lossy(&v).trim().to_ascii_lowercase())
        .unwrap_or_else(|| "7bit".into());
    Some(match cte.as_str() {
        "7bit" | "8bit" | "binary" => Ok(part.body.to_vec()),
        "base64" => Ok(decode_base64(part.body)),
        "quoted-printable" => Ok(decode_qp(part.body)),
        _ => Err(()),
    })
}

/// Lenient base64: white space and junk characters are skipped (RFC 2045 §6.8).
pub fn decode_base64(body: &[u8]) -> Vec<u8> {
    let clean: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        .collect();
    // A lone trailing sextet carries no whole byte.
    let usable = if clean.len() % 4 == 1 {
        clean.len() - 1
    } else {
        clean.len()
    };
    base64::engine::general_purpose::STANDARD_NO_PAD
        .decode(&clean[..usable])
        .unwrap_or_default()
}

/// Quoted-printable (RFC 2045 §6.7): trailing white space of each line dropped, `=` at a line's
/// end is a soft break, `=XX` an octet; malformed escapes are kept as they are.
pub fn decode_qp(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    for raw in body.split_inclusive(|b| *b == b'\n') {
        let had_newline = raw.ends_with(b"\n");
        let line = raw.strip_suffix(b"\n").unwrap_or(raw);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line = line.trim_ascii_end();
        let (line, soft) = match line.strip_suffix(b"=") {
            Some(l) => (l, true),
            None => (line, false),
        };
        let mut i = 0;
        while i < line.len() {
            if line[i] == b'='
                && i + 2 < line.len()
                && let (Some(h), Some(l)) = (hex(line[i + 1]), hex(line[i + 2]))
            {
                out.push(h << 4 | l);
                i += 3;
                continue;
            }
            out.push(line[i]);
            i += 1;
        }
        if had_newline && !soft {
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoders() {
        assert_eq!(decode_qp(b"a=3Db=\r\nc"), b"a=bc");
        assert_eq!(
            decode_qp(b"hello  \r\nbar=\r\n\r\nfoo\t= \r\n=62\r\n"),
            b"hello\r\nbar\r\nfoo\tb\r\n"
        );
        assert_eq!(decode_base64(b"aGVs\r\nbG8="), b"hello");
        assert_eq!(decode_base64(b"aGVsbA"), b"hell");
    }

    #[test]
    fn header_fields_section() {
        let m = Part::parse(b"From: a\r\nTo: b\r\n c\r\nSubject: s\r\n\r\nbody");
        let s = Section {
            part: vec![],
            text: Some(SectionText::HeaderFields(vec![b"to".to_vec()])),
        };
        assert_eq!(section_bytes(&m, &s).unwrap(), b"To: b\r\n c\r\n\r\n");
        let s = Section {
            part: vec![],
            text: Some(SectionText::HeaderFieldsNot(vec![b"to".to_vec(), b"from".to_vec()])),
        };
        assert_eq!(section_bytes(&m, &s).unwrap(), b"Subject: s\r\n\r\n");
    }
}
