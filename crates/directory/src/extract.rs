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

/// The fields of one line, borrowed from the reader's buffer so that a national file
/// (2.2 million lines of 56 fields) is read without an allocation per field.
pub struct Fields<'a> {
    text: &'a str,
    spans: &'a [(usize, usize)],
}

impl<'a> Fields<'a> {
    /// The field in column `i`, trimmed.
    pub fn get(&self, i: usize) -> &'a str {
        let (start, end) = self.spans[i];
        self.text[start..end].trim()
    }

    /// The field of an optional column, `None` when the column is absent or the field empty.
    pub fn opt(&self, column: Option<usize>) -> Option<&'a str> {
        column.map(|i| self.get(i)).filter(|v| !v.is_empty())
    }
}

/// A line's number, and its fields or why it is unusable.
pub type Line<'a> = (u64, Result<Fields<'a>, BadLine>);

/// An extract being read: its header, then its lines split into fields.
pub struct Extract<R> {
    reader: R,
    columns: HashMap<String, usize>,
    width: usize,
    line: u64,
    buf: Vec<u8>,
    text: String,
    spans: Vec<(usize, usize)>,
}

/// Windows-1252 for the bytes 0x80–0x9F; the rest is ISO-8859-1.
const CP1252_HIGH: [char; 32] = [
    '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž', '\u{8f}', '\u{90}', '‘', '’',
    '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}', 'ž', 'Ÿ',
];

fn decode(bytes: &[u8], into: &mut String) {
    into.clear();
    match std::str::from_utf8(bytes) {
        Ok(s) => into.push_str(s),
        Err(_) => into.extend(bytes.iter().map(|&b| match b {
            0x80..=0x9f => CP1252_HIGH[(b - 0x80) as usize],
            _ => b as char,
        })),
    }
}

impl<R: BufRead> Extract<R> {
    /// Reads the header; `required` columns must all be there.
    pub fn open(mut reader: R, kind: &'static str, required: &[&'static str]) -> Result<Extract<R>, ExtractError> {
        let mut buf = Vec::new();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Err(ExtractError::NoHeader);
        }
        let mut header = String::new();
        decode(trim_end(&buf), &mut header);
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
            text: String::new(),
            spans: Vec::new(),
        })
    }

    /// Where a column is, if this version has it.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns.get(name).copied()
    }

    /// The next line's fields with its line number; `Err` for a line with the wrong number of
    /// fields. `None` at the end.
    pub fn next_line(&mut self) -> Result<Option<Line<'_>>, ExtractError> {
        loop {
            self.buf.clear();
            if self.reader.read_until(b'\n', &mut self.buf)? == 0 {
                return Ok(None);
            }
            self.line += 1;
            decode(trim_end(&self.buf), &mut self.text);
            if self.text.trim().is_empty() {
                continue;
            }
            self.spans.clear();
            let mut start = 0;
            for (i, _) in self.text.match_indices('|') {
                self.spans.push((start, i));
                start = i + 1;
            }
            self.spans.push((start, self.text.len()));
            // A trailing `|` (some versions) makes one empty field more than the header.
            if self.spans.len() == self.width + 1
                && self
                    .spans
                    .last()
                    .is_some_and(|&(a, b)| self.text[a..b].trim().is_empty())
            {
                self.spans.pop();
            }
            if self.spans.len() != self.width {
                let bad = BadLine {
                    line: self.line,
                    reason: format!("{} fields where the header has {}", self.spans.len(), self.width),
                };
                return Ok(Some((self.line, Err(bad))));
            }
            let fields = Fields {
                text: &self.text,
                spans: &self.spans,
            };
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
        let fields = |e: &mut Extract<&[u8]>| {
            let f = e.next_line().unwrap().unwrap().1.unwrap();
            vec![f.get(0).to_string(), f.get(1).to_string()]
        };
        assert_eq!(fields(&mut e), vec!["1", "2"]);
        let (line, bad) = e.next_line().unwrap().unwrap();
        assert_eq!(line, 4);
        assert!(bad.err().unwrap().reason.contains("3 fields where the header has 2"));
        assert_eq!(fields(&mut e), vec!["été", "€"]);
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
