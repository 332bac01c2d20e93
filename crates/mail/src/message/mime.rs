//! MIME structure of a stored message, as IMAP needs it: byte ranges of every part's header and
//! body (RFC 2045/2046), content types with parameters, and encapsulated messages (RFC 9051
//! §6.4.5 part numbering). Parsing never fails: a malformed message is still a message, and its
//! bytes stay exactly as received.

/// Most nested parts followed; deeper ones are served as opaque bodies (a defence against
/// messages built to exhaust the stack).
const MAX_DEPTH: usize = 32;

#[derive(Debug)]
pub struct Part<'a> {
    /// Header bytes, including the blank line that ends them (when present).
    pub header: &'a [u8],
    pub body: &'a [u8],
    /// Lower-case type and subtype.
    pub mime_type: String,
    pub subtype: String,
    /// Parameter names in lower case, values unquoted.
    pub params: Vec<(String, String)>,
    pub children: Vec<Part<'a>>,
    /// The encapsulated message of a `message/rfc822` part.
    pub message: Option<Box<Part<'a>>>,
}

impl<'a> Part<'a> {
    pub fn parse(bytes: &'a [u8]) -> Part<'a> {
        parse_entity(bytes, Default::default(), 0)
    }

    pub fn is_multipart(&self) -> bool {
        self.mime_type == "multipart"
    }

    pub fn is_message(&self) -> bool {
        self.message.is_some()
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The unfolded value of the first header field `name`.
    pub fn field(&self, name: &str) -> Option<Vec<u8>> {
        header_field(self.header, name)
    }

    /// RFC 9051 §6.4.5: `path` numbers parts from 1; a `message/rfc822` part's numbering goes on
    /// inside the encapsulated message, and a non-multipart message has a single part 1.
    /// A leaf part has no parts below it: `BODY[1.1.1]` of a single-part message names nothing.
    pub fn find(&self, path: &[u32]) -> Option<&Part<'a>> {
        let mut cur = self;
        // Whether `1` may name `cur` itself: at the top, and inside an encapsulated message.
        let mut whole = true;
        for (depth, &n) in path.iter().enumerate() {
            if depth > 0 {
                match &cur.message {
                    Some(inner) => {
                        cur = inner;
                        whole = true;
                    }
                    None => whole = false,
                }
            }
            if cur.is_multipart() {
                cur = cur.children.get((n as usize).checked_sub(1)?)?;
            } else if n != 1 || !whole {
                return None;
            }
        }
        Some(cur)
    }
}

/// Type, subtype and parameters of a Content-Type field.
pub type ContentType = (String, String, Vec<(String, String)>);

#[derive(Clone, Copy, Default)]
struct Defaults {
    /// Inside multipart/digest the default type is message/rfc822 (RFC 2046 §5.1.5).
    digest: bool,
}

fn parse_entity(bytes: &[u8], defaults: Defaults, depth: usize) -> Part<'_> {
    let split = header_end(bytes);
    let (header, body) = bytes.split_at(split);
    let (mime_type, subtype, params) = match header_field(header, "content-type") {
        Some(v) => parse_content_type(&v).unwrap_or_else(|| default_type(defaults)),
        None => default_type(defaults),
    };
    let mut part = Part {
        header,
        body,
        mime_type,
        subtype,
        params,
        children: Vec::new(),
        message: None,
    };
    if depth >= MAX_DEPTH {
        return part;
    }
    if part.is_multipart() {
        if let Some(boundary) = part.param("boundary").map(str::to_owned)
            && !boundary.is_empty()
        {
            let child_defaults = Defaults {
                digest: part.subtype == "digest",
            };
            part.children = split_multipart(body, boundary.as_bytes())
                .into_iter()
                .map(|b| parse_entity(b, child_defaults, depth + 1))
                .collect();
        }
    } else if part.mime_type == "message" && (part.subtype == "rfc822" || part.subtype == "global") {
        part.message = Some(Box::new(parse_entity(body, Defaults::default(), depth + 1)));
    }
    part
}

fn default_type(d: Defaults) -> ContentType {
    if d.digest {
        ("message".into(), "rfc822".into(), vec![])
    } else {
        (
            "text".into(),
            "plain".into(),
            vec![("charset".into(), "us-ascii".into())],
        )
    }
}

/// Offset just past the blank line ending the header (or the whole input when there is none).
pub fn header_end(bytes: &[u8]) -> usize {
    if bytes.starts_with(b"\r\n") {
        return 2;
    }
    if bytes.starts_with(b"\n") {
        return 1;
    }
    let mut i = 0;
    while let Some(pos) = memchr(b'\n', &bytes[i..]) {
        let nl = i + pos;
        let rest = &bytes[nl + 1..];
        if rest.starts_with(b"\r\n") {
            return nl + 3;
        }
        if rest.starts_with(b"\n") {
            return nl + 2;
        }
        i = nl + 1;
    }
    bytes.len()
}

fn memchr(needle: u8, hay: &[u8]) -> Option<usize> {
    hay.iter().position(|b| *b == needle)
}

/// Header fields as (name, raw value with folding) in order.
pub fn header_fields(header: &[u8]) -> Vec<(&[u8], &[u8])> {
    let mut out = Vec::new();
    let mut lines = header.split_inclusive(|b| *b == b'\n').peekable();
    while let Some(line) = lines.next() {
        if line.first().is_some_and(|b| *b == b' ' || *b == b'\t') || trim_eol(line).is_empty() {
            continue;
        }
        let Some(colon) = memchr(b':', line) else { continue };
        let start = line.as_ptr() as usize - header.as_ptr() as usize;
        let mut end = start + line.len();
        while let Some(next) = lines.peek() {
            if next.first().is_some_and(|b| *b == b' ' || *b == b'\t') {
                end += next.len();
                lines.next();
            } else {
                break;
            }
        }
        let name = trim_ascii(&line[..colon]);
        out.push((name, &header[start + colon + 1..end]));
    }
    out
}

fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// Removes CRLF folding (RFC 5322 §2.2.3) and surrounding white space.
pub fn unfold(value: &[u8]) -> Vec<u8> {
    let v: Vec<u8> = value.iter().copied().filter(|b| *b != b'\r' && *b != b'\n').collect();
    v.trim_ascii().to_vec()
}

pub fn header_field(header: &[u8], name: &str) -> Option<Vec<u8>> {
    header_fields(header)
        .into_iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| unfold(v))
}

/// Splits a multipart body on its boundary (RFC 2046 §5.1.1): the CRLF before a delimiter line
/// belongs to the delimiter; preamble and epilogue are dropped.
fn split_multipart<'a>(body: &'a [u8], boundary: &[u8]) -> Vec<&'a [u8]> {
    let mut delimiters = Vec::new(); // (line start, line end incl. newline, is_close)
    let mut pos = 0;
    while pos < body.len() {
        let line_end = memchr(b'\n', &body[pos..]).map(|i| pos + i + 1).unwrap_or(body.len());
        let line = &body[pos..line_end];
        if let Some(rest) = line.strip_prefix(b"--")
            && let Some(after) = rest.strip_prefix(boundary)
        {
            let close = after.starts_with(b"--");
            let tail = if close { &after[2..] } else { after };
            if tail.iter().all(|b| b.is_ascii_whitespace()) {
                delimiters.push((pos, line_end, close));
                if close {
                    break;
                }
            }
        }
        pos = line_end;
    }
    let mut parts = Vec::new();
    for w in delimiters.windows(2) {
        let (_, start, close) = w[0];
        if close {
            break;
        }
        let mut end = w[1].0;
        if end > start && body[end - 1] == b'\n' {
            end -= 1;
            if end > start && body[end - 1] == b'\r' {
                end -= 1;
            }
        }
        parts.push(&body[start..end.max(start)]);
    }
    // A missing close delimiter: the last part runs to the end.
    if let Some(&(_, start, false)) = delimiters.last() {
        parts.push(&body[start..]);
    }
    parts
}

/// `type/subtype; name=value; ...` (RFC 2045 §5.1), with RFC 2231 continuations joined.
pub fn parse_content_type(value: &[u8]) -> Option<ContentType> {
    let text = String::from_utf8_lossy(value);
    let mut it = text.splitn(2, ';');
    let full = it.next()?.trim();
    let (t, s) = full.split_once('/')?;
    let (t, s) = (t.trim().to_ascii_lowercase(), s.trim().to_ascii_lowercase());
    if t.is_empty() || s.is_empty() || !t.bytes().all(is_token) || !s.bytes().all(is_token) {
        return None;
    }
    Some((t, s, parse_params(it.next().unwrap_or(""))))
}

fn is_token(b: u8) -> bool {
    b.is_ascii_graphic() && !b"()<>@,;:\\\"/[]?=".contains(&b)
}

/// Parameters `; a=b; c="d e"` with quoted strings and comments handled.
pub fn parse_params(input: &str) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    let bytes = input.as_bytes();
    let mut i = 0;
    loop {
        while i < bytes.len() && (bytes[i] == b';' || bytes[i].is_ascii_whitespace()) {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let name_start = i;
        while i < bytes.len() && bytes[i] != b'=' && bytes[i] != b';' {
            i += 1;
        }
        let name = input[name_start..i].trim().to_ascii_lowercase();
        if i >= bytes.len() || bytes[i] == b';' {
            continue;
        }
        i += 1; // '='
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = Vec::new();
        if i < bytes.len() && bytes[i] == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                if bytes[i] == b'\\' && i + 1 < bytes.len() {
                    i += 1;
                }
                value.push(bytes[i]);
                i += 1;
            }
            i += 1;
        } else {
            while i < bytes.len() && bytes[i] != b';' && !bytes[i].is_ascii_whitespace() {
                value.push(bytes[i]);
                i += 1;
            }
        }
        while i < bytes.len() && bytes[i] != b';' {
            i += 1;
        }
        if !name.is_empty() {
            out.push((name, String::from_utf8_lossy(&value).into_owned()));
        }
    }
    join_rfc2231(out)
}

/// RFC 2231 §3: `name*0=a; name*1=b` → `name=ab` (charset-tagged `name*=` values are kept raw).
fn join_rfc2231(params: Vec<(String, String)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for (name, value) in params {
        if let Some((base, idx)) = name.split_once('*')
            && idx.trim_end_matches('*').parse::<u32>().is_ok()
        {
            if let Some(existing) = out.iter_mut().find(|(n, _)| n == base) {
                existing.1.push_str(&value);
            } else {
                out.push((base.to_string(), value));
            }
            continue;
        }
        out.push((name, value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NESTED: &[u8] = b"From: a@b.fr\r\nContent-Type: multipart/mixed; boundary=\"foo\r\n bar\"\r\n\r\n\
prologue\r\n--foo bar\r\nContent-Type: text/plain\r\n\r\nhello\r\n\r\n--foo bar\r\n\
Content-Type: message/rfc822\r\n\r\nSubject: sub\r\nContent-Type: multipart/alternative; boundary=b2\r\n\r\n\
--b2\r\n\r\nplain\r\n--b2\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b2--\r\n\r\n--foo bar--\r\nepilogue\r\n";

    #[test]
    fn parts_and_numbering() {
        let m = Part::parse(NESTED);
        assert_eq!(m.param("boundary"), Some("foo bar"));
        assert_eq!(m.children.len(), 2);
        assert_eq!(m.find(&[1]).unwrap().body, b"hello\r\n");
        let enc = m.find(&[2]).unwrap();
        assert!(enc.is_message());
        assert_eq!(m.find(&[2, 1]).unwrap().body, b"plain");
        assert_eq!(m.find(&[2, 2]).unwrap().subtype, "html");
        assert!(m.find(&[3]).is_none());
        let single = Part::parse(b"Subject: x\r\n\r\nbody");
        assert_eq!(single.find(&[1]).unwrap().body, b"body");
        assert!(single.find(&[2]).is_none());
        // A leaf has nothing below it (it once answered the whole body).
        assert!(single.find(&[1, 1, 1]).is_none());
        assert!(single.find(&[1, 1]).is_none());
        assert!(m.find(&[1, 1]).is_none());
        assert_eq!(m.find(&[2, 1]).unwrap().body, b"plain");
    }

    #[test]
    fn header_fields_unfold() {
        let h = b"Subject: a\r\n b\r\nX: 1\r\n\r\n";
        // "a\r\n b" unfolds to "a b": CRLF removed, the folding space kept.
        assert_eq!(header_field(h, "subject").unwrap(), b"a b");
        assert_eq!(header_field(h, "x").unwrap(), b"1");
        assert_eq!(header_end(b"A: 1\n\nbody"), 6);
    }

    #[test]
    fn rfc2231_and_garbage() {
        let (t, s, p) = parse_content_type(b"Text/Plain; name*0=\"a\"; name*1=b; charset=utf-8 (c)").unwrap();
        assert_eq!((t.as_str(), s.as_str()), ("text", "plain"));
        assert_eq!(p[0], ("name".into(), "ab".into()));
        assert!(parse_content_type(b"garbage").is_none());
        // Deep nesting stops without a stack overflow.
        let mut deep = Vec::new();
        for i in 0..200 {
            deep.extend_from_slice(
                format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes(),
            );
        }
        let _ = Part::parse(&deep);
    }
}
