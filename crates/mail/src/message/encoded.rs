//! RFC 2047 encoded words (`=?charset?Q?...?=`), decoded for sorting and searching. Charsets:
//! UTF-8, US-ASCII and ISO-8859-1 (Windows-1252 read as Latin-1), which cover French mail.

use base64::Engine;

pub fn decode(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut rest = input;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let before = &rest[..start];
        // White space between two encoded words is dropped (RFC 2047 §6.2).
        if !(last_was_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        match word(&rest[start..]) {
            Some((text, len)) => {
                out.push_str(&text);
                rest = &rest[start + len..];
                last_was_word = true;
            }
            None => {
                out.push_str("=?");
                rest = &rest[start + 2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decodes one encoded word at the start of `s`; returns its text and length.
fn word(s: &str) -> Option<(String, usize)> {
    let body = s.strip_prefix("=?")?;
    let (charset, body) = body.split_once('?')?;
    let (encoding, body) = body.split_once('?')?;
    let end = body.find("?=")?;
    let payload = &body[..end];
    let bytes = match encoding.to_ascii_uppercase().as_str() {
        "B" => base64::engine::general_purpose::STANDARD
            .decode(payload.trim_end_matches('='))
            .ok()
            .or_else(|| {
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(payload.trim_end_matches('='))
                    .ok()
            })?,
        "Q" => q_decode(payload),
        _ => return None,
    };
    let len = 2 + charset.len() + 1 + encoding.len() + 1 + end + 2;
    // RFC 2231 §5: `charset*language`; the language is not needed here.
    let charset = charset.split('*').next().unwrap_or("").to_ascii_lowercase();
    let text = match charset.as_str() {
        "utf-8" | "us-ascii" | "utf8" => String::from_utf8_lossy(&bytes).into_owned(),
        _ => bytes.iter().map(|&b| b as char).collect(),
    };
    Some((text, len))
}

fn q_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'_' => out.push(b' '),
            b'=' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'='),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn decodes_words() {
        assert_eq!(decode("=?iso-8859-1?q?foo_aar?="), "foo aar");
        assert_eq!(decode("=?us-ascii?b?UmU6IGM=?="), "Re: c");
        assert_eq!(
            decode("=?utf-8?q?H=C3=A9l=C3=A8ne?= =?utf-8?q?_Martin?="),
            "Hélène Martin"
        );
        assert_eq!(decode("plain =? text"), "plain =? text");
        assert_eq!(decode("=?utf-8*fr?Q?=C3=A9t=C3=A9?= x"), "été x");
        let _ = decode("=?utf-8*fr?Q?é?=");
    }
}
