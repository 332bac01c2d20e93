//! Command framing: deciding when a complete IMAP command is in the input buffer.
//!
//! An IMAP command is a sequence of CRLF-terminated lines glued together by
//! literals (RFC 9051 §4.3, §2.2.1). A line that ends with a literal header
//! (`{N}`, `{N+}` or the BINARY `~{N}` form of RFC 3516 §4.2) is followed by
//! exactly N octets of literal data, which may contain anything, including CRLF
//! and further `{N}` lookalikes; only after those N octets does the command
//! text resume. The command ends at the first CRLF that is not inside a literal
//! and is not preceded by a literal header.
//!
//! Synchronising literals (`{N}`) require the server to send a command
//! continuation request (`+ ...`) before the client sends the data (RFC 9051
//! §7.5). Non-synchronising literals (`{N+}`, RFC 7888 LITERAL+/LITERAL-) do
//! not.
//!
//! # Usage
//!
//! [`frame`] is stateless and rescans the buffer from its start. Each scan is
//! linear in the number of *lines* (literal data is skipped in O(1)), so
//! calling it after each read is cheap. The caller keeps one counter per
//! command being assembled: the number of continuation requests it has already
//! sent for it.
//!
//! ```text
//! let mut sent = 0;
//! loop {
//!     match frame(&buf, sent, &limits) {
//!         Frame::Complete(n) => { handle(&buf[..n]); buf.drain(..n); sent = 0; }
//!         Frame::Incomplete { continuation: Some(_) } => { write("+ Ready\r\n"); sent += 1; read_more(); }
//!         Frame::Incomplete { continuation: None } => read_more(),
//!         Frame::Error(e) => { /* see FrameError docs for recovery */ }
//!     }
//! }
//! ```
//!
//! `Incomplete { continuation: Some(n) }` is returned at most once per
//! synchronising literal as long as the caller increments its counter each
//! time it sends the continuation request.

/// Limits applied while framing. All of them protect the server against
/// clients that would make it buffer without bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Maximum length of one line of command text (excluding literal data),
    /// CRLF included. RFC 9051 §4 recommends accepting at least 8192 octets.
    pub max_line: usize,
    /// Maximum announced size of any single literal.
    pub max_literal: u64,
    /// If `Some(n)`, the server advertises LITERAL- (RFC 7888 §5): a
    /// non-synchronising literal larger than `n` (4096) is an error.
    pub max_nonsync_literal: Option<u64>,
    /// Maximum total size of a command, literals included.
    pub max_command: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 64 * 1024,
            max_literal: 64 * 1024 * 1024,
            max_nonsync_literal: None,
            max_command: 96 * 1024 * 1024,
        }
    }
}

/// Result of [`frame`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// `buf[..len]` holds one complete command, its final CRLF included;
    /// pass that slice to `command::parse_command`.
    Complete(usize),
    /// More bytes are needed. If `continuation` is `Some(n)`, the client has
    /// announced a synchronising literal of `n` octets and is waiting: the
    /// server must send a continuation request (e.g. `+ Ready\r\n`) now and
    /// increment its `continuations_sent` counter.
    Incomplete { continuation: Option<u64> },
    /// The input cannot be framed within the limits; see [`FrameError`].
    Error(FrameError),
}

/// Framing failures, with enough information to recover.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// A line of command text (outside literals) exceeds `max_line`
    /// (whether or not its CRLF has arrived). The server should answer
    /// `* BAD` (or `tag BAD`, see [`peek_tag`]) and close the connection,
    /// since it cannot know where the next command starts.
    LineTooLong,
    /// A literal header looked like `{digits}` but the number does not fit
    /// in 64 bits.
    BadLiteral,
    /// A literal larger than `max_literal` (or than `max_nonsync_literal` for
    /// a LITERAL- non-synchronising literal) was announced.
    ///
    /// If `synchronizing` is true the client has not sent the data: the server
    /// answers `tag NO [TOOBIG]` or `tag BAD` (RFC 9051 §7.1, RFC 7888 §4),
    /// discards `buf[..header_end]` and carries on. Otherwise the client is
    /// already sending the data and the server should send `* BYE` and close.
    LiteralTooLarge {
        size: u64,
        synchronizing: bool,
        /// Offset just past the CRLF that ends the literal header line.
        header_end: usize,
    },
    /// The command (literals included) would exceed `max_command`.
    CommandTooLarge,
}

/// A literal header found at the end of a line.
struct LiteralHeader {
    size: u64,
    synchronizing: bool,
}

/// Recognise a literal header at the end of `line` (CRLF already stripped):
/// `"{" number64 ["+"] "}"` (RFC 9051 §9 `literal`, RFC 7888 `literal`),
/// optionally preceded by `~` (RFC 3516 `literal8`; the `~` does not matter
/// for framing). Returns `Ok(None)` when the line does not end with a literal
/// header (e.g. a mailbox name that just ends with `}`).
fn literal_header(line: &[u8]) -> Result<Option<LiteralHeader>, FrameError> {
    let Some(body) = line.strip_suffix(b"}") else {
        return Ok(None);
    };
    let (body, synchronizing) = match body.strip_suffix(b"+") {
        Some(b) => (b, false),
        None => (body, true),
    };
    let digits_len = body.iter().rev().take_while(|b| b.is_ascii_digit()).count();
    if digits_len == 0 {
        return Ok(None);
    }
    let open = body.len() - digits_len;
    if open == 0 || body[open - 1] != b'{' {
        return Ok(None);
    }
    let mut size: u64 = 0;
    for &d in &body[open..] {
        size = size
            .checked_mul(10)
            .and_then(|s| s.checked_add(u64::from(d - b'0')))
            .ok_or(FrameError::BadLiteral)?;
    }
    Ok(Some(LiteralHeader { size, synchronizing }))
}

/// Decide whether `buf` starts with a complete command.
///
/// `continuations_sent` is the number of continuation requests the server has
/// already sent for the command at the start of `buf` (reset to 0 after each
/// complete command). Lines may end with CRLF or, leniently, a bare LF.
pub fn frame(buf: &[u8], continuations_sent: usize, limits: &Limits) -> Frame {
    let mut pos = 0usize;
    let mut sync_seen = 0usize;
    loop {
        let rest = &buf[pos..];
        let Some(lf) = rest.iter().position(|&b| b == b'\n') else {
            if rest.len() > limits.max_line {
                return Frame::Error(FrameError::LineTooLong);
            }
            return Frame::Incomplete { continuation: None };
        };
        if lf + 1 > limits.max_line {
            return Frame::Error(FrameError::LineTooLong);
        }
        let line = &rest[..lf];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let line_end = pos + lf + 1;
        let header = match literal_header(line) {
            Ok(Some(h)) => h,
            Ok(None) => return Frame::Complete(line_end),
            Err(e) => return Frame::Error(e),
        };
        let too_large = header.size > limits.max_literal
            || (!header.synchronizing && limits.max_nonsync_literal.is_some_and(|max| header.size > max));
        if too_large {
            return Frame::Error(FrameError::LiteralTooLarge {
                size: header.size,
                synchronizing: header.synchronizing,
                header_end: line_end,
            });
        }
        let data_end = (line_end as u64).saturating_add(header.size);
        if data_end > limits.max_command {
            return Frame::Error(FrameError::CommandTooLarge);
        }
        // data_end <= max_command; on 32-bit targets it may still exceed usize.
        let Ok(data_end) = usize::try_from(data_end) else {
            return Frame::Error(FrameError::CommandTooLarge);
        };
        if buf.len() < data_end {
            let continuation = if header.synchronizing && sync_seen >= continuations_sent {
                Some(header.size)
            } else {
                None
            };
            return Frame::Incomplete { continuation };
        }
        if header.synchronizing {
            sync_seen += 1;
        }
        pos = data_end;
    }
}

/// Best-effort extraction of the tag at the start of `buf`, to answer
/// `tag BAD ...` when framing fails. RFC 9051 §9: `tag = 1*<any ASTRING-CHAR
/// except "+">`.
pub fn peek_tag(buf: &[u8]) -> Option<&str> {
    let len = buf
        .iter()
        .take_while(|&&b| crate::proto::command::is_astring_char(b) && b != b'+')
        .count();
    if len == 0 || buf.get(len) != Some(&b' ') {
        return None;
    }
    std::str::from_utf8(&buf[..len]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l() -> Limits {
        Limits::default()
    }

    #[test]
    fn simple_line() {
        assert_eq!(frame(b"a NOOP\r\n", 0, &l()), Frame::Complete(8));
        assert_eq!(frame(b"a NOOP\r\nb NOOP\r\n", 0, &l()), Frame::Complete(8));
        assert_eq!(frame(b"a NOOP\n", 0, &l()), Frame::Complete(7));
    }

    #[test]
    fn partial_line() {
        assert_eq!(frame(b"a NOO", 0, &l()), Frame::Incomplete { continuation: None });
        assert_eq!(frame(b"", 0, &l()), Frame::Incomplete { continuation: None });
        assert_eq!(frame(b"a NOOP\r", 0, &l()), Frame::Incomplete { continuation: None });
    }

    #[test]
    fn sync_literal_continuation_once() {
        let mut buf = b"a LOGIN {5}\r\n".to_vec();
        assert_eq!(frame(&buf, 0, &l()), Frame::Incomplete { continuation: Some(5) });
        // Server sent "+", so counter = 1: no second continuation.
        assert_eq!(frame(&buf, 1, &l()), Frame::Incomplete { continuation: None });
        buf.extend_from_slice(b"fr");
        assert_eq!(frame(&buf, 1, &l()), Frame::Incomplete { continuation: None });
        buf.extend_from_slice(b"ed {3}\r\n");
        assert_eq!(frame(&buf, 1, &l()), Frame::Incomplete { continuation: Some(3) });
        buf.extend_from_slice(b"pwd\r\n");
        assert_eq!(frame(&buf, 2, &l()), Frame::Complete(buf.len()));
    }

    #[test]
    fn nonsync_literal_no_continuation() {
        let buf = b"a APPEND INBOX {12+}\r\nhello\r\n{3}\r\n\r\n";
        assert_eq!(frame(buf, 0, &l()), Frame::Complete(buf.len()));
        assert_eq!(frame(&buf[..25], 0, &l()), Frame::Incomplete { continuation: None });
    }

    #[test]
    fn literal8() {
        let buf = b"a APPEND INBOX ~{4}\r\n\0\r\n\x01\r\n";
        assert_eq!(frame(&buf[..21], 0, &l()), Frame::Incomplete { continuation: Some(4) });
        assert_eq!(frame(buf, 1, &l()), Frame::Complete(buf.len()));
    }

    #[test]
    fn literal_data_containing_crlf_and_braces() {
        let buf = b"a X {7}\r\n{2}\r\n\r\n\r\nb NOOP\r\n";
        assert_eq!(frame(buf, 1, &l()), Frame::Complete(18));
    }

    #[test]
    fn zero_length_literal() {
        let buf = b"a LOGIN {0}\r\n {0}\r\n\r\n";
        assert_eq!(frame(buf, 0, &l()), Frame::Complete(buf.len()));
    }

    #[test]
    fn not_a_literal() {
        // Mailbox names may end with "}" (RFC 9051 ATOM-CHAR).
        assert_eq!(frame(b"a SELECT foo}\r\n", 0, &l()), Frame::Complete(15));
        assert_eq!(frame(b"a SELECT {}\r\n", 0, &l()), Frame::Complete(13));
        assert_eq!(frame(b"a SELECT {1a}\r\n", 0, &l()), Frame::Complete(15));
        assert_eq!(frame(b"a SELECT {+}\r\n", 0, &l()), Frame::Complete(14));
    }

    #[test]
    fn literal_too_large() {
        let buf = b"a APPEND INBOX {67108865}\r\n";
        assert_eq!(
            frame(buf, 0, &l()),
            Frame::Error(FrameError::LiteralTooLarge {
                size: 67108865,
                synchronizing: true,
                header_end: buf.len()
            })
        );
        assert!(matches!(
            frame(b"a APPEND INBOX {99999999999999999999999}\r\n", 0, &l()),
            Frame::Error(FrameError::BadLiteral)
        ));
        assert!(matches!(
            frame(b"a APPEND INBOX {18446744073709551615+}\r\n", 0, &l()),
            Frame::Error(FrameError::LiteralTooLarge {
                synchronizing: false,
                ..
            })
        ));
    }

    #[test]
    fn literal_minus() {
        let lim = Limits {
            max_nonsync_literal: Some(4096),
            ..l()
        };
        assert!(matches!(
            frame(b"a APPEND INBOX {4097+}\r\n", 0, &lim),
            Frame::Error(FrameError::LiteralTooLarge {
                synchronizing: false,
                ..
            })
        ));
        assert_eq!(
            frame(b"a APPEND INBOX {4097}\r\n", 0, &lim),
            Frame::Incomplete {
                continuation: Some(4097)
            }
        );
    }

    #[test]
    fn command_too_large() {
        let lim = Limits {
            max_command: 100,
            ..l()
        };
        assert_eq!(
            frame(b"a X {50}\r\n", 0, &lim),
            Frame::Incomplete { continuation: Some(50) }
        );
        assert_eq!(
            frame(b"a X {95}\r\n", 0, &lim),
            Frame::Error(FrameError::CommandTooLarge)
        );
    }

    #[test]
    fn line_too_long() {
        let lim = Limits { max_line: 16, ..l() };
        assert_eq!(
            frame(b"a NOOP 1234567890123", 0, &lim),
            Frame::Error(FrameError::LineTooLong)
        );
        assert_eq!(
            frame(b"a NOOP 12345678901\r\n", 0, &lim),
            Frame::Error(FrameError::LineTooLong)
        );
        assert_eq!(frame(b"a NOOP 1234567\r\n", 0, &lim), Frame::Complete(16));
        // Literal data does not count against the line limit.
        let mut buf = b"a X {40}\r\n".to_vec();
        buf.extend_from_slice(&[b'x'; 40]);
        buf.extend_from_slice(b"\r\n");
        assert_eq!(frame(&buf, 1, &lim), Frame::Complete(buf.len()));
    }

    #[test]
    fn tag_peek() {
        assert_eq!(peek_tag(b"a001 NOOP"), Some("a001"));
        assert_eq!(peek_tag(b"+ x"), None);
        assert_eq!(peek_tag(b"(x y"), None);
        assert_eq!(peek_tag(b"abc"), None);
    }
}
