//! The IMAP command grammar (RFC 9051 §9): one framed command in, a `Command` out. Tokens
//! (atoms, strings, literals, numbers, sequence sets, dates) are read here; the command bodies
//! in `commands` (session and folder commands) and `messages` (search, fetch, store, sort).
//!
//! Input is one complete command as delimited by `framing::frame`: the tag, the command, any
//! literals inline (`{N}\r\n` + N octets) and the final CRLF.

mod commands;
mod messages;
#[cfg(test)]
mod tests;

use super::command::*;

/// Parse one framed command (trailing CRLF included; a bare LF is tolerated).
pub fn parse_command(input: &[u8]) -> Result<Command, ParseError> {
    let mut p = Parser {
        input,
        pos: 0,
        depth: 0,
    };
    let tag = p.tag().map_err(|reason| ParseError { tag: None, reason })?;
    let body = p.command_body().map_err(|reason| ParseError {
        tag: Some(tag.clone()),
        reason,
    })?;
    Ok(Command { tag, body })
}

// ---------------------------------------------------------------------------
// Character classes (RFC 9051 §9)
// ---------------------------------------------------------------------------

/// ATOM-CHAR: any CHAR except atom-specials
/// ( "(" / ")" / "{" / SP / CTL / "%" / "*" / DQUOTE / "\" / "]" ).
pub fn is_atom_char(b: u8) -> bool {
    b > 0x20 && b < 0x7f && !matches!(b, b'(' | b')' | b'{' | b'%' | b'*' | b'"' | b'\\' | b']')
}

/// ASTRING-CHAR = ATOM-CHAR / resp-specials ("]").
pub fn is_astring_char(b: u8) -> bool {
    is_atom_char(b) || b == b']'
}

/// list-char = ATOM-CHAR / list-wildcards / resp-specials.
fn is_list_char(b: u8) -> bool {
    is_astring_char(b) || b == b'%' || b == b'*'
}

/// Canonical form of a flag: system flags get their RFC 9051 §2.3.2 spelling,
/// keywords and extension flags are case-preserved.
pub fn normalize_flag(raw: &str) -> String {
    const SYSTEM: [&str; 6] = ["\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft", "\\Recent"];
    SYSTEM
        .iter()
        .find(|s| s.eq_ignore_ascii_case(raw))
        .map_or_else(|| raw.to_string(), |s| s.to_string())
}

const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

// ---------------------------------------------------------------------------
// Parser
// ---------------------------------------------------------------------------

type PResult<T> = Result<T, String>;

struct Parser<'a> {
    input: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.input.get(self.pos).copied()
    }

    fn peek_at(&self, off: usize) -> Option<u8> {
        self.input.get(self.pos + off).copied()
    }

    fn err<T>(&self, what: &str) -> PResult<T> {
        Err(format!("{what} at offset {}", self.pos))
    }

    fn expect(&mut self, b: u8) -> PResult<()> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            self.err(&format!("expected '{}'", b as char))
        }
    }

    fn sp(&mut self) -> PResult<()> {
        if self.peek() == Some(b' ') {
            self.pos += 1;
            Ok(())
        } else {
            self.err("expected SP")
        }
    }

    fn at_end(&self) -> bool {
        matches!(&self.input[self.pos..], b"\r\n" | b"\n")
    }

    fn end(&mut self) -> PResult<()> {
        if self.at_end() {
            self.pos = self.input.len();
            Ok(())
        } else if self.pos >= self.input.len() {
            self.err("missing CRLF")
        } else {
            self.err("unexpected trailing data")
        }
    }

    /// If the next bytes are SP followed by something other than end of line.
    fn more_args(&self) -> bool {
        self.peek() == Some(b' ') && !matches!(self.peek_at(1), None | Some(b'\r' | b'\n'))
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a [u8] {
        let start = self.pos;
        while self.peek().is_some_and(&f) {
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    fn tag(&mut self) -> PResult<String> {
        let t = self.take_while(|b| is_astring_char(b) && b != b'+');
        if t.is_empty() {
            return self.err("missing or invalid tag");
        }
        let t = String::from_utf8(t.to_vec()).map_err(|_| "invalid tag".to_string())?;
        if self.peek() != Some(b' ') {
            return self.err("expected SP after tag");
        }
        self.pos += 1;
        Ok(t)
    }

    fn atom(&mut self) -> PResult<&'a [u8]> {
        let a = self.take_while(is_atom_char);
        if a.is_empty() {
            return self.err("expected atom");
        }
        Ok(a)
    }

    /// An atom, upper-cased, for keyword comparison.
    fn keyword(&mut self) -> PResult<String> {
        let a = self.atom()?;
        Ok(String::from_utf8_lossy(a).to_ascii_uppercase())
    }

    /// Consume `kw` (case-insensitive) if it is the next whole atom.
    fn try_keyword(&mut self, kw: &str) -> bool {
        let end = self.pos + kw.len();
        if end <= self.input.len()
            && self.input[self.pos..end].eq_ignore_ascii_case(kw.as_bytes())
            && !self.input.get(end).is_some_and(|&b| is_atom_char(b))
        {
            self.pos = end;
            true
        } else {
            false
        }
    }

    fn number_u64(&mut self, max: u64) -> PResult<u64> {
        let digits = self.take_while(|b| b.is_ascii_digit());
        if digits.is_empty() {
            return self.err("expected number");
        }
        let mut n: u64 = 0;
        for &d in digits {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .filter(|&n| n <= max)
                .ok_or_else(|| format!("number too large at offset {}", self.pos))?;
        }
        Ok(n)
    }

    /// RFC 9051 `number` (unsigned 32-bit).
    fn number(&mut self) -> PResult<u32> {
        Ok(self.number_u64(u64::from(u32::MAX))? as u32)
    }

    fn nz_number(&mut self) -> PResult<u32> {
        let n = self.number()?;
        if n == 0 {
            return self.err("zero is not allowed here");
        }
        Ok(n)
    }

    /// RFC 9051 `number64` (63-bit), also RFC 7162 `mod-sequence-value`.
    fn number64(&mut self) -> PResult<u64> {
        self.number_u64(i64::MAX as u64)
    }

    /// quoted = DQUOTE *QUOTED-CHAR DQUOTE, with only \" and \\ escapes.
    fn quoted(&mut self) -> PResult<Vec<u8>> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.peek() {
                None | Some(b'\r' | b'\n' | 0) => return self.err("unterminated quoted string"),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => match self.peek_at(1) {
                    Some(c @ (b'"' | b'\\')) => {
                        out.push(c);
                        self.pos += 2;
                    }
                    _ => return self.err("invalid escape in quoted string"),
                },
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// literal = "{" number64 ["+"] "}" CRLF *CHAR8; with `allow8`, also
    /// literal8 = "~{" number64 ["+"] "}" CRLF *OCTET (RFC 3516 §4.2).
    /// Returns (data, is_literal8).
    fn literal(&mut self, allow8: bool) -> PResult<(Vec<u8>, bool)> {
        let binary = if self.peek() == Some(b'~') {
            if !allow8 {
                return self.err("literal8 not allowed here");
            }
            self.pos += 1;
            true
        } else {
            false
        };
        self.expect(b'{')?;
        let n = self.number64()?;
        if self.peek() == Some(b'+') {
            self.pos += 1;
        }
        self.expect(b'}')?;
        if self.peek() == Some(b'\r') {
            self.pos += 1;
        }
        self.expect(b'\n')?;
        let remaining = (self.input.len() - self.pos) as u64;
        if n > remaining {
            return self.err("literal extends past end of command");
        }
        let data = &self.input[self.pos..self.pos + n as usize];
        if !binary && data.contains(&0) {
            return self.err("NUL in literal (use literal8)");
        }
        self.pos += n as usize;
        Ok((data.to_vec(), binary))
    }

    /// string = quoted / literal
    fn string(&mut self) -> PResult<Vec<u8>> {
        match self.peek() {
            Some(b'"') => self.quoted(),
            Some(b'{') => Ok(self.literal(false)?.0),
            _ => self.err("expected string"),
        }
    }

    /// astring = 1*ASTRING-CHAR / string
    fn astring(&mut self) -> PResult<Vec<u8>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let a = self.take_while(is_astring_char);
                if a.is_empty() {
                    return self.err("expected astring");
                }
                Ok(a.to_vec())
            }
        }
    }

    /// nstring = string / nil
    fn nstring(&mut self) -> PResult<Option<Vec<u8>>> {
        if self.try_keyword("NIL") {
            Ok(None)
        } else {
            Ok(Some(self.string()?))
        }
    }

    fn mailbox(&mut self) -> PResult<Mailbox> {
        Ok(Mailbox::new(self.astring()?))
    }

    /// list-mailbox = 1*list-char / string
    fn list_mailbox(&mut self) -> PResult<Vec<u8>> {
        match self.peek() {
            Some(b'"' | b'{') => self.string(),
            _ => {
                let a = self.take_while(is_list_char);
                if a.is_empty() {
                    return self.err("expected mailbox pattern");
                }
                Ok(a.to_vec())
            }
        }
    }

    fn utf8(bytes: Vec<u8>) -> PResult<String> {
        String::from_utf8(bytes).map_err(|_| "invalid UTF-8".to_string())
    }

    fn seq_num(&mut self) -> PResult<SeqNum> {
        if self.peek() == Some(b'*') {
            self.pos += 1;
            Ok(SeqNum::Largest)
        } else {
            Ok(SeqNum::Value(self.nz_number()?))
        }
    }

    /// sequence-set = (seq-number / seq-range) ["," sequence-set] / "$"
    fn sequence_set(&mut self) -> PResult<SequenceSet> {
        if self.peek() == Some(b'$') {
            self.pos += 1;
            return Ok(SequenceSet::Saved);
        }
        let mut ranges = Vec::new();
        loop {
            let start = self.seq_num()?;
            let end = if self.peek() == Some(b':') {
                self.pos += 1;
                self.seq_num()?
            } else {
                start
            };
            ranges.push(SeqRange { start, end });
            if self.peek() == Some(b',') {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(SequenceSet::Ranges(ranges))
    }

    /// Parse `"(" [item *(SP item)] ")"`; empty lists allowed iff `allow_empty`.
    fn paren_list<T>(&mut self, allow_empty: bool, mut item: impl FnMut(&mut Self) -> PResult<T>) -> PResult<Vec<T>> {
        self.expect(b'(')?;
        let mut out = Vec::new();
        if self.peek() == Some(b')') {
            self.pos += 1;
            if !allow_empty {
                return self.err("empty list");
            }
            return Ok(out);
        }
        loop {
            out.push(item(self)?);
            match self.peek() {
                Some(b' ') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    return Ok(out);
                }
                _ => return self.err("expected SP or ')'"),
            }
        }
    }

    /// flag = "\" atom / keyword (RFC 9051 §9 `flag`). `\Recent` and `\*` are
    /// rejected: they cannot be set by clients.
    fn flag(&mut self) -> PResult<String> {
        let backslash = self.peek() == Some(b'\\');
        if backslash {
            self.pos += 1;
        }
        let a = String::from_utf8_lossy(self.atom()?).into_owned();
        if !backslash {
            return Ok(a);
        }
        let f = normalize_flag(&format!("\\{a}"));
        if f == "\\Recent" {
            return self.err("\\Recent cannot be stored");
        }
        Ok(f)
    }

    fn flag_list(&mut self) -> PResult<Vec<String>> {
        self.paren_list(true, Self::flag)
    }

    /// date = date-text / DQUOTE date-text DQUOTE;
    /// date-text = date-day "-" date-month "-" date-year
    fn date(&mut self) -> PResult<Date> {
        let quoted = self.peek() == Some(b'"');
        if quoted {
            self.pos += 1;
        }
        let day = self.number_u64(99)? as u8;
        self.expect(b'-')?;
        let mon = self.take_while(|b| b.is_ascii_alphabetic());
        let month = MONTHS
            .iter()
            .position(|m| m.as_bytes().eq_ignore_ascii_case(mon))
            .ok_or_else(|| format!("invalid month at offset {}", self.pos))? as u8
            + 1;
        self.expect(b'-')?;
        let start = self.pos;
        let year = self.number_u64(9999)? as u16;
        if self.pos - start != 4 {
            return self.err("year must have 4 digits");
        }
        if quoted {
            self.expect(b'"')?;
        }
        if day == 0 || day > days_in_month(year, month) {
            return self.err("invalid day of month");
        }
        Ok(Date { year, month, day })
    }

    fn two_digits(&mut self, max: u8) -> PResult<u8> {
        let (a, b) = (self.peek(), self.peek_at(1));
        match (a, b) {
            (Some(a), Some(b)) if a.is_ascii_digit() && b.is_ascii_digit() => {
                self.pos += 2;
                let v = (a - b'0') * 10 + (b - b'0');
                if v > max {
                    return self.err("time field out of range");
                }
                Ok(v)
            }
            _ => self.err("expected 2 digits"),
        }
    }

    /// date-time = DQUOTE date-day-fixed "-" date-month "-" date-year SP time SP zone DQUOTE
    fn date_time(&mut self) -> PResult<DateTime> {
        self.expect(b'"')?;
        if self.peek() == Some(b' ') {
            self.pos += 1;
        }
        let date = self.date()?;
        self.sp()?;
        let hour = self.two_digits(23)?;
        self.expect(b':')?;
        let minute = self.two_digits(59)?;
        self.expect(b':')?;
        let second = self.two_digits(60)?;
        self.sp()?;
        let sign: i16 = match self.peek() {
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return self.err("expected zone"),
        };
        self.pos += 1;
        let zh = self.two_digits(99)?;
        let zm = self.two_digits(59)?;
        self.expect(b'"')?;
        Ok(DateTime {
            date,
            hour,
            minute,
            second,
            zone_minutes: sign * (i16::from(zh) * 60 + i16::from(zm)),
        })
    }

    // ---- commands --------------------------------------------------------
}
