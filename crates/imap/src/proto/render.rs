//! Wire forms of IMAP data: strings (RFC 9051 §4.3), ENVELOPE and BODYSTRUCTURE (§7.5.2).

use confiance_mail::message::mime::{self, Part};

/// Writes a string as a quoted string when it can be one, else as a literal.
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    let quotable = s.len() < 4096 && s.iter().all(|&b| (0x20..0x7f).contains(&b));
    if quotable {
        out.push(b'"');
        for &b in s {
            if b == b'"' || b == b'\\' {
                out.push(b'\\');
            }
            out.push(b);
        }
        out.push(b'"');
    } else {
        literal(out, s);
    }
}

pub fn literal(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("{{{}}}\r\n", s.len()).as_bytes());
    let start = out.len();
    out.extend_from_slice(s);
    // RFC 9051 §4.3: a literal never carries NUL (a BINARY APPEND may have stored one); like
    // other servers, send 0x80 in its place so sizes stay what RFC822.SIZE said.
    for b in &mut out[start..] {
        if *b == 0 {
            *b = 0x80;
        }
    }
}

/// RFC 3516 literal8: binary content, NUL included.
pub fn literal8(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(format!("~{{{}}}\r\n", s.len()).as_bytes());
    out.extend_from_slice(s);
}

pub fn nstring(out: &mut Vec<u8>, s: Option<&[u8]>) {
    match s {
        Some(s) => string(out, s),
        None => out.extend_from_slice(b"NIL"),
    }
}

/// A mailbox name: an atom-like quoted string, or a literal for 8-bit names.
pub fn mailbox_name(out: &mut Vec<u8>, name: &str) {
    string(out, name.as_bytes());
}

#[derive(Debug, PartialEq, Eq)]
pub struct EnvelopeAddress {
    pub name: Option<Vec<u8>>,
    pub adl: Option<Vec<u8>>,
    pub mailbox: Option<Vec<u8>>,
    pub host: Option<Vec<u8>>,
}

/// RFC 9051 §7.5.2 ENVELOPE of a message (or of a message/rfc822 part's message).
pub fn envelope(out: &mut Vec<u8>, header: &[u8]) {
    let field = |n: &str| mime::header_field(header, n);
    out.push(b'(');
    nstring(out, field("date").as_deref());
    out.push(b' ');
    nstring(out, field("subject").as_deref().filter(|s| !s.is_empty()));
    let from = field("from").map(|v| parse_addresses(&v)).unwrap_or_default();
    let with_default = |name: &str, out: &mut Vec<u8>| {
        let list = field(name).map(|v| parse_addresses(&v)).unwrap_or_default();
        // Sender and Reply-To default to From (RFC 9051 §7.5.2).
        address_list(out, if list.is_empty() { &from } else { &list });
    };
    out.push(b' ');
    address_list(out, &from);
    out.push(b' ');
    with_default("sender", out);
    out.push(b' ');
    with_default("reply-to", out);
    for name in ["to", "cc", "bcc"] {
        out.push(b' ');
        let list = field(name).map(|v| parse_addresses(&v)).unwrap_or_default();
        address_list(out, &list);
    }
    out.push(b' ');
    nstring(out, field("in-reply-to").as_deref().filter(|s| !s.is_empty()));
    out.push(b' ');
    nstring(out, field("message-id").as_deref().filter(|s| !s.is_empty()));
    out.push(b')');
}

fn address_list(out: &mut Vec<u8>, list: &[EnvelopeAddress]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for a in list {
        out.push(b'(');
        nstring(out, a.name.as_deref());
        out.push(b' ');
        nstring(out, a.adl.as_deref());
        out.push(b' ');
        nstring(out, a.mailbox.as_deref());
        out.push(b' ');
        nstring(out, a.host.as_deref());
        out.push(b')');
    }
    out.push(b')');
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(Vec<u8>),
    Quoted(Vec<u8>),
    Comment(Vec<u8>),
    Special(u8),
}

fn tokenize(v: &[u8]) -> Vec<Token> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let b = v[i];
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'"' => {
                let mut s = Vec::new();
                i += 1;
                while i < v.len() && v[i] != b'"' {
                    if v[i] == b'\\' && i + 1 < v.len() {
                        i += 1;
                    }
                    s.push(v[i]);
                    i += 1;
                }
                i += 1;
                out.push(Token::Quoted(s));
            }
            b'(' => {
                let mut depth = 0;
                let mut s = Vec::new();
                while i < v.len() {
                    match v[i] {
                        b'(' => {
                            depth += 1;
                            if depth > 1 {
                                s.push(b'(');
                            }
                        }
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                i += 1;
                                break;
                            }
                            s.push(b')');
                        }
                        b'\\' if i + 1 < v.len() => {
                            i += 1;
                            s.push(v[i]);
                        }
                        c => s.push(c),
                    }
                    i += 1;
                }
                out.push(Token::Comment(s));
            }
            b'<' | b'>' | b'@' | b',' | b';' | b':' | b'.' | b'[' | b']' => {
                out.push(Token::Special(b));
                i += 1;
            }
            _ => {
                let start = i;
                while i < v.len() && !b" \t\r\n\"(<>@,;:.[]".contains(&v[i]) {
                    i += 1;
                }
                out.push(Token::Word(v[start..i].to_vec()));
            }
        }
    }
    out
}

/// Parses an address-list header value (RFC 5322 §3.4) into ENVELOPE addresses, groups as
/// `(NIL NIL "name" NIL) ... (NIL NIL NIL NIL)` (RFC 9051 §7.5.2). Tolerant: junk is skipped.
pub fn parse_addresses(value: &[u8]) -> Vec<EnvelopeAddress> {
    let tokens = tokenize(value);
    let mut out = Vec::new();
    let mut p = 0;
    let mut in_group = false;
    while p < tokens.len() {
        match &tokens[p] {
            Token::Special(b',') => {
                p += 1;
                continue;
            }
            Token::Special(b';') => {
                if in_group {
                    out.push(group_marker(None));
                    in_group = false;
                }
                p += 1;
                continue;
            }
            _ => {}
        }
        // Phrase or local part up to a structural special.
        let start = p;
        while p < tokens.len() && !matches!(tokens[p], Token::Special(b'<' | b':' | b'@' | b',' | b';')) {
            p += 1;
        }
        let words = &tokens[start..p];
        match tokens.get(p) {
            Some(Token::Special(b':')) if !in_group => {
                out.push(group_marker(Some(phrase(words).unwrap_or_default())));
                in_group = true;
                p += 1;
            }
            Some(Token::Special(b'<')) => {
                p += 1;
                let inner_start = p;
                while p < tokens.len() && tokens[p] != Token::Special(b'>') {
                    p += 1;
                }
                let inner = &tokens[inner_start..p];
                p += 1;
                let (adl, spec) = split_route(inner);
                let (mailbox, host) = addr_spec(spec);
                out.push(EnvelopeAddress {
                    name: phrase(words),
                    adl,
                    mailbox,
                    host,
                });
            }
            Some(Token::Special(b'@')) => {
                p += 1;
                let dstart = p;
                while p < tokens.len() && !matches!(tokens[p], Token::Special(b',' | b';')) {
                    p += 1;
                }
                let domain_tokens = &tokens[dstart..p];
                let comment = domain_tokens.iter().chain(words.iter()).find_map(|t| match t {
                    Token::Comment(c) if !c.is_empty() => Some(c.clone()),
                    _ => None,
                });
                out.push(EnvelopeAddress {
                    name: comment,
                    adl: None,
                    mailbox: Some(join_local(words)),
                    host: Some(join_local(domain_tokens)),
                });
            }
            _ => {
                // A bare word list without '@' (or a second ':' inside a group): keep it as a
                // mailbox with no host, and always move on so that junk cannot loop.
                if p < tokens.len() && p == start {
                    p += 1;
                }
                let local = join_local(words);
                if !local.is_empty() {
                    out.push(EnvelopeAddress {
                        name: None,
                        adl: None,
                        mailbox: Some(local),
                        host: None,
                    });
                }
            }
        }
    }
    if in_group {
        out.push(group_marker(None));
    }
    out
}

fn group_marker(name: Option<Vec<u8>>) -> EnvelopeAddress {
    EnvelopeAddress {
        name: None,
        adl: None,
        mailbox: name,
        host: None,
    }
}

fn phrase(tokens: &[Token]) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::new();
    let mut last_was_dot = false;
    for t in tokens {
        match t {
            Token::Word(w) | Token::Quoted(w) => {
                if !out.is_empty() && !last_was_dot {
                    out.push(b' ');
                }
                out.extend_from_slice(w);
                last_was_dot = false;
            }
            Token::Special(b'.') => {
                out.push(b'.');
                last_was_dot = true;
            }
            _ => {}
        }
    }
    (!out.is_empty()).then_some(out)
}

fn join_local(tokens: &[Token]) -> Vec<u8> {
    let mut out = Vec::new();
    for t in tokens {
        match t {
            Token::Word(w) => out.extend_from_slice(w),
            Token::Quoted(w) => {
                out.push(b'"');
                out.extend_from_slice(w);
                out.push(b'"');
            }
            Token::Special(c) if *c != b',' && *c != b';' => out.push(*c),
            _ => {}
        }
    }
    out
}

/// `@route1,@route2:user@host` → (Some("@route1,@route2"), user@host tokens).
fn split_route(tokens: &[Token]) -> (Option<Vec<u8>>, &[Token]) {
    if tokens.first() == Some(&Token::Special(b'@'))
        && let Some(colon) = tokens.iter().position(|t| *t == Token::Special(b':'))
    {
        return (Some(join_local(&tokens[..colon])), &tokens[colon + 1..]);
    }
    (None, tokens)
}

fn addr_spec(tokens: &[Token]) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    match tokens.iter().rposition(|t| *t == Token::Special(b'@')) {
        Some(at) => (Some(join_local(&tokens[..at])), Some(join_local(&tokens[at + 1..]))),
        None if tokens.is_empty() => (None, None),
        None => (Some(join_local(tokens)), None),
    }
}

/// RFC 9051 §7.5.2 BODYSTRUCTURE (`extended`) or BODY.
pub fn body_structure(out: &mut Vec<u8>, part: &Part, extended: bool) {
    out.push(b'(');
    if part.is_multipart() {
        if part.children.is_empty() {
            // A multipart without parts (no or wrong boundary): show one empty text part.
            out.extend_from_slice(b"(\"text\" \"plain\" (\"charset\" \"us-ascii\") NIL NIL \"7bit\" 0 0)");
        }
        for child in &part.children {
            body_structure(out, child, extended);
        }
        out.push(b' ');
        string(out, part.subtype.as_bytes());
        if extended {
            out.push(b' ');
            params(out, &part.params);
            extension(out, part);
        }
    } else {
        string(out, part.mime_type.as_bytes());
        out.push(b' ');
        string(out, part.subtype.as_bytes());
        out.push(b' ');
        params(out, &part.params);
        out.push(b' ');
        nstring(out, part.field("content-id").as_deref());
        out.push(b' ');
        nstring(out, part.field("content-description").as_deref());
        out.push(b' ');
        let encoding = part
            .field("content-transfer-encoding")
            .unwrap_or_else(|| b"7bit".to_vec());
        string(out, &encoding);
        out.extend_from_slice(format!(" {}", part.body.len()).as_bytes());
        if let Some(inner) = &part.message {
            out.push(b' ');
            envelope(out, inner.header);
            out.push(b' ');
            body_structure(out, inner, extended);
            out.extend_from_slice(format!(" {}", lines(part.body)).as_bytes());
        } else if part.mime_type == "text" {
            out.extend_from_slice(format!(" {}", lines(part.body)).as_bytes());
        }
        if extended {
            out.push(b' ');
            nstring(out, part.field("content-md5").as_deref());
            extension(out, part);
        }
    }
    out.push(b')');
}

/// Disposition, language and location (RFC 9051 §7.5.2 body extensions).
fn extension(out: &mut Vec<u8>, part: &Part) {
    out.push(b' ');
    match part.field("content-disposition") {
        Some(v) => {
            let text = String::from_utf8_lossy(&v).into_owned();
            let (kind, rest) = text.split_once(';').unwrap_or((text.as_str(), ""));
            out.push(b'(');
            string(out, kind.trim().as_bytes());
            out.push(b' ');
            params(out, &mime::parse_params(rest));
            out.push(b')');
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    match part.field("content-language") {
        Some(v) => {
            let langs: Vec<&[u8]> = v
                .split(|b| *b == b',')
                .map(|l| l.trim_ascii())
                .filter(|l| !l.is_empty())
                .collect();
            if langs.len() == 1 {
                string(out, langs[0]);
            } else {
                out.push(b'(');
                for (i, l) in langs.iter().enumerate() {
                    if i > 0 {
                        out.push(b' ');
                    }
                    string(out, l);
                }
                out.push(b')');
            }
        }
        None => out.extend_from_slice(b"NIL"),
    }
    out.push(b' ');
    nstring(out, part.field("content-location").as_deref());
}

fn params(out: &mut Vec<u8>, params: &[(String, String)]) {
    if params.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for (i, (n, v)) in params.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        string(out, n.as_bytes());
        out.push(b' ');
        string(out, v.as_bytes());
    }
    out.push(b')');
}

/// Line count of a text body: its line breaks, plus a last line without one.
pub fn lines(body: &[u8]) -> usize {
    let n = body.iter().filter(|b| **b == b'\n').count();
    if body.last().is_some_and(|b| *b != b'\n') {
        n + 1
    } else {
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(header: &str) -> String {
        let mut out = Vec::new();
        envelope(&mut out, header.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn envelope_of_groups_comments_and_routes() {
        let e = env(
            "From: user@domain (Real Name)\r\nTo: group: g1@d1.org, g2@d2.org;, group2: g3@d3.org;\r\nCc: group:;, group2: (foo) ;\r\n\r\n",
        );
        assert!(e.contains(r#"(("Real Name" NIL "user" "domain"))"#), "{e}");
        assert!(e.contains(r#"((NIL NIL "group" NIL)(NIL NIL "g1" "d1.org")(NIL NIL "g2" "d2.org")(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL "g3" "d3.org")(NIL NIL NIL NIL))"#), "{e}");
        assert!(
            e.contains(r#"((NIL NIL "group" NIL)(NIL NIL NIL NIL)(NIL NIL "group2" NIL)(NIL NIL NIL NIL))"#),
            "{e}"
        );
        let e = env("From: <@route:user@domain>\r\n\r\n");
        assert!(e.contains(r#"((NIL "@route" "user" "domain"))"#), "{e}");
        let e = env("From: \"Dr. Jean \\\"JD\\\" Dupont\" <jean@medecin.fr>\r\nSubject: \r\n\r\n");
        assert!(
            e.starts_with(r#"(NIL NIL (("Dr. Jean \"JD\" Dupont" NIL "jean" "medecin.fr"))"#),
            "{e}"
        );
    }

    #[test]
    fn hostile_address_lists_terminate() {
        for v in [
            "a: b: c",
            "x: y@z, w:v@u;",
            ":::",
            "<<<>>>",
            "@@@",
            ";;,,",
            "a:<b@c>:d;",
        ] {
            let _ = parse_addresses(v.as_bytes());
        }
    }

    #[test]
    fn strings_fall_back_to_literals() {
        let mut out = Vec::new();
        string(&mut out, "é".as_bytes());
        assert_eq!(out, b"{2}\r\n\xc3\xa9");
        out.clear();
        string(&mut out, b"a\"b");
        assert_eq!(out, b"\"a\\\"b\"");
    }
}
