//! The shape every ANS extract shares (reference: directory-and-identifiers §2.1): `|`-separated,
//! no quoting, one header line, LF or CRLF. Columns are found by their header name, because
//! their order and number change between versions. Text is UTF-8 (a BOM is skipped); a line
//! that is not is read as Windows-1252, as some older files are.

use std::collections::HashMap;
use std::io::BufRead;

#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    #[error("cannot read the file: {0}")]
    Io(#[from] std::io::Error),
    #[error("the file is empty: no header line")]
    NoHeader,
    #[error("this is not {kind}: the header lacks the column {column:?}")]
    MissingColumn { kind: &'static str, column: &'static str },
}

/// A line left out of an import, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 1-based line number in the file (the header is line 1).
    pub line: u64,
    pub reason: String,
}

/// A line's number, and its fields or why it is unusable.
pub type Line = (u64, Result<Vec<String>, BadLine>);

/// An extract being read: its header, then its lines split into fields.
pub struct Extract<R> {
    reader: R,
    columns: HashMap<String, usize>,
    width: usize,
    line: u64,
    buf: Vec<u8>,
}

/// Windows-1252 for the bytes 0x80–0x9F; the rest is ISO-8859-1.
const CP1252_HIGH: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}', '\u{90}', '‘', '’',
    '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

fn decode(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes
            .iter()
            .map(|&b| match b {
                0x80..=0x9f => CP1252_HIGH[(b - 0x80) as usize],
                _ => b as char,
            })
            .collect(),
    }
}

impl<R: BufRead> Extract<R> {
    /// Reads the header; `required` columns must all be there.
    pub fn open(mut reader: R, kind: &'static str, required: &[&'static str]) -> Result<Extract<R>, ExtractError> {
        let mut buf = Vec::new();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Err(ExtractError::NoHeader);
        }
        let header = decode(trim_end(&buf));
        let header = header.trim_start_matches('\u{feff}');
        let names: Vec<&str> = header.split('|').collect();
        // A trailing `|` (some versions) makes an empty last column: not counted.
        let width = names.len() - usize::from(names.last() == Some(&""));
        let columns: HashMap<String, usize> = names[..width]
            .iter()
            .enumerate()
            .map(|(i, n)| (n.trim().to_string(), i))
            .collect();
        for column in required {
            if !columns.contains_key(*column) {
                return Err(ExtractError::MissingColumn { kind, column });
            }
        }
        Ok(Extract {
            reader,
            columns,
            width,
            line: 1,
            buf,
        })
    }

    /// Where a column is, if this version has it.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.get(name).copied()
    }

    /// The next line's fields with its line number; `Err` for a line with the wrong number of
    /// fields. `None` at the end.
    pub fn next_line(&mut self) -> Result<Option<Line>, ExtractError> {
        loop {
            self.buf.clear();
            if self.reader.read_until(b'\n', &mut self.buf)? == 0 {
                return Ok(None);
            }
            self.line += 1;
            let text = decode(trim_end(&self.buf));
            if text.trim().is_empty() {
                continue;
            }
            let mut fields: Vec<String> = text.split('|').map(|f| f.trim().to_string()).collect();
            if fields.len() == self.width + 1 && fields.last().is_some_and(|f| f.is_empty()) {
                fields.pop();
            }
            if fields.len() != self.width {
                let bad = BadLine {
                    line: self.line,
                    reason: format!("{} fields where the header has {}", fields.len(), self.width),
                };
                return Ok(Some((self.line, Err(bad))));
            }
            return Ok(Some((self.line, Ok(fields))));
        }
    }
}

fn trim_end(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_by_name_bom_crlf_and_cp1252() {
        let data = b"\xef\xbb\xbfB|A|\r\n1|2|\r\n\r\nx|y|z\r\n\xe9t\xe9|\x80\n";
        let mut e = Extract::open(&data[..], "test", &["A"]).unwrap();
        assert_eq!(e.column("A"), Some(1));
        assert_eq!(e.next_line().unwrap().unwrap().1.unwrap(), vec!["1", "2"]);
        let (line, bad) = e.next_line().unwrap().unwrap();
        assert_eq!(line, 4);
        assert!(bad.unwrap_err().reason.contains("3 fields where the header has 2"));
        assert_eq!(e.next_line().unwrap().unwrap().1.unwrap(), vec!["été", "€"]);
        assert!(e.next_line().unwrap().is_none());
        assert!(matches!(
            Extract::open(&b"X|Y\n"[..], "test", &["A"]),
            Err(ExtractError::MissingColumn { column: "A", .. })
        ));
        assert!(matches!(
            Extract::open(&b""[..], "test", &[]),
            Err(ExtractError::NoHeader)
        ));
    }
}
