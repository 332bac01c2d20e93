//! The command grammar of RFC 5804 §4: a command name, then atoms, numbers, quoted strings and
//! literals (`{n+}` or `{n}` followed by CRLF and n octets). `frame` finds where a command ends
//! in the bytes received so far; `words` splits a complete one.

/// Where a command ends, or why it cannot be read.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// The command is the first `n` bytes of the buffer.
    Complete(usize),
    /// More bytes are needed.
    Incomplete,
    /// Over the limit: the connection is closed after a BYE.
    TooLong,
}

/// Finds the end of the first command of `buf`, at most `max` bytes in all: its lines and
/// literals together, however many literals it chains.
pub fn frame(buf: &[u8], max: usize) -> Frame {
    let mut at = 0;
    loop {
        let Some(nl) = buf[at..].iter().position(|b| *b == b'\n') else {
            return match buf.len() > max {
                true => Frame::TooLong,
                false => Frame::Incomplete,
            };
        };
        let line_end = at + nl + 1;
        if line_end > max {
            return Frame::TooLong;
        }
        match literal_size(&buf[at..line_end]) {
            None => return Frame::Complete(line_end),
            Some(n) if line_end + n > max => return Frame::TooLong,
            Some(n) => match buf.len() >= line_end + n {
                true => at = line_end + n,
                false => return Frame::Incomplete,
            },
        }
    }
}

/// The size of the literal announced at the end of a line (`{12+}` or `{12}` then CRLF).
fn literal_size(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\n")?;
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let inner = line.strip_suffix(b"}")?;
    let open = inner.iter().rposition(|b| *b == b'{')?;
    let digits = inner[open + 1..].strip_suffix(b"+").unwrap_or(&inner[open + 1..]);
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// One word of a command: an atom (command names, numbers) or a string.
#[derive(Debug, PartialEq, Eq)]
pub enum Word {
    Atom(String),
    Text(Vec<u8>),
}

impl Word {
    /// Its bytes, whichever way it was written (an AUTHENTICATE message comes either way).
    pub fn bytes(&self) -> Vec<u8> {
        match self {
            Word::Atom(a) => a.as_bytes().to_vec(),
            Word::Text(t) => t.clone(),
        }
    }

    pub fn text(&self) -> Option<String> {
        match self {
            Word::Text(t) => String::from_utf8(t.clone()).ok(),
            Word::Atom(_) => None,
        }
    }
}

/// Splits a framed command into words; `Err` names what is wrong.
pub fn words(command: &[u8]) -> Result<Vec<Word>, &'static str> {
    let mut out = Vec::new();
    let mut i = 0;
    let end = command.len();
    while i < end {
        match command[i] {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'"' => {
                let mut text = Vec::new();
                i += 1;
                loop {
                    match command.get(i) {
                        None | Some(b'\r') | Some(b'\n') => return Err("chaîne sans guillemet fermant"),
                        Some(b'"') => break,
                        Some(b'\\') => {
                            match command.get(i + 1) {
                                Some(c @ (b'"' | b'\\')) => text.push(*c),
                                _ => return Err("échappement invalide dans une chaîne"),
                            }
                            i += 1;
                        }
                        Some(c) => text.push(*c),
                    }
                    i += 1;
                }
                i += 1;
                out.push(Word::Text(text));
            }
            b'{' => {
                let nl = command[i..]
                    .iter()
                    .position(|b| *b == b'\n')
                    .ok_or("littéral mal formé")?
                    + i;
                let n = literal_size(&command[i..=nl]).ok_or("littéral mal formé")?;
                let start = nl + 1;
                let bytes = command.get(start..start + n).ok_or("littéral incomplet")?;
                out.push(Word::Text(bytes.to_vec()));
                i = start + n;
            }
            _ => {
                let start = i;
                while i < end && !b" \t\r\n\"{".contains(&command[i]) {
                    i += 1;
                }
                let atom = std::str::from_utf8(&command[start..i]).map_err(|_| "mot invalide")?;
                out.push(Word::Atom(atom.to_string()));
            }
        }
    }
    Ok(out)
}

/// A string as the server sends it: quoted when it can be, a literal otherwise (RFC 5804 §4).
pub fn string(text: &str) -> String {
    if text.len() <= 1024 && !text.contains(['"', '\\', '\r', '\n']) {
        format!("\"{text}\"")
    } else {
        format!("{{{}}}\r\n{text}", text.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_with_literals_frame_whole() {
        let put = b"PUTSCRIPT \"s\" {9+}\r\nkeep;\r\n\r\n\r\nNOOP\r\n";
        assert_eq!(frame(put, 100), Frame::Complete(put.len() - 6));
        assert_eq!(frame(&put[..22], 100), Frame::Incomplete);
        assert_eq!(frame(b"PUTSCRIPT \"s\" {999}\r\n", 100), Frame::TooLong);
        assert_eq!(frame(&[b'a'; 200], 100), Frame::TooLong);
        // Literals chained one after another count together.
        let chained = b"X {40+}\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa {40+}\r\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa {40+}\r\n";
        assert_eq!(frame(chained, 100), Frame::TooLong);
        let w = words(&put[..put.len() - 6]).unwrap();
        assert_eq!(
            w,
            [
                Word::Atom("PUTSCRIPT".into()),
                Word::Text(b"s".to_vec()),
                Word::Text(b"keep;\r\n\r\n".to_vec())
            ]
        );
    }

    #[test]
    fn quoted_strings_and_their_errors() {
        assert_eq!(
            words(b"GETSCRIPT \"a \\\"b\\\\\"\r\n").unwrap()[1],
            Word::Text(b"a \"b\\".to_vec())
        );
        assert!(words(b"GETSCRIPT \"abc\r\n").is_err());
        assert!(words(b"GETSCRIPT \"a\\x\"\r\n").is_err());
        assert_eq!(string("webmail"), "\"webmail\"");
        assert_eq!(string("a\"b"), "{3}\r\na\"b");
    }
}
