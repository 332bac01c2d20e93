//! IMAP command parser (RFC 9051 §9 formal syntax, with RFC 3501 compatibility
//! and the extensions listed on each item).
//!
//! Input is one complete command as delimited by `framing::frame`: the tag,
//! the command, any literals inline (`{N}\r\n` + N octets) and the final CRLF.

use std::fmt;

/// Maximum nesting depth of parenthesised / NOT / OR search keys.
pub const MAX_SEARCH_DEPTH: usize = 32;

// ---------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------

/// A parsed command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub tag: String,
    pub body: CommandBody,
}

/// Parse failure. `tag` is set when the tag could be read, in which case the
/// server answers `tag BAD reason`; otherwise `* BAD reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub tag: Option<String>,
    pub reason: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} BAD {}", self.tag.as_deref().unwrap_or("*"), self.reason)
    }
}

impl std::error::Error for ParseError {}

/// A mailbox name (RFC 9051 §9 `mailbox`), raw bytes (modified UTF-7 or
/// UTF-8, not decoded). "INBOX" in any case is normalised to "INBOX"
/// (RFC 9051 §5.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Mailbox(pub Vec<u8>);

impl Mailbox {
    pub fn new(raw: Vec<u8>) -> Self {
        if raw.eq_ignore_ascii_case(b"INBOX") {
            Mailbox(b"INBOX".to_vec())
        } else {
            Mailbox(raw)
        }
    }
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
    pub fn is_inbox(&self) -> bool {
        self.0 == b"INBOX"
    }
}

/// One end of a sequence range: a number or `*` (RFC 9051 §9 `seq-number`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNum {
    Value(u32),
    /// `*`: the largest number in use (message count or highest UID).
    Largest,
}

impl SeqNum {
    fn resolve(self, max: u32) -> u32 {
        match self {
            SeqNum::Value(v) => v,
            SeqNum::Largest => max,
        }
    }
}

/// `a` (start == end) or `a:b`, in either order (RFC 9051 §9 `seq-range`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqRange {
    pub start: SeqNum,
    pub end: SeqNum,
}

/// RFC 9051 §9 `sequence-set`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SequenceSet {
    Ranges(Vec<SeqRange>),
    /// `$`: the result saved by SEARCH RETURN (SAVE) (RFC 5182 / RFC 9051 §6.4.4.1).
    /// The server substitutes it before using the helpers below.
    Saved,
}

impl SequenceSet {
    /// Sorted, merged inclusive ranges, with `*` resolved to `max` and values
    /// clamped to `1..=max`. `Saved` and `max == 0` give an empty list.
    pub fn normalize(&self, max: u32) -> Vec<(u32, u32)> {
        let SequenceSet::Ranges(ranges) = self else {
            return Vec::new();
        };
        if max == 0 {
            return Vec::new();
        }
        let mut v: Vec<(u32, u32)> = ranges
            .iter()
            .filter_map(|r| {
                let (a, b) = (r.start.resolve(max), r.end.resolve(max));
                let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
                let hi = hi.min(max);
                (lo <= hi).then_some((lo, hi))
            })
            .collect();
        v.sort_unstable();
        let mut out: Vec<(u32, u32)> = Vec::with_capacity(v.len());
        for (lo, hi) in v {
            match out.last_mut() {
                Some(last) if lo <= last.1.saturating_add(1) => last.1 = last.1.max(hi),
                _ => out.push((lo, hi)),
            }
        }
        out
    }

    /// Whether `n` is in the set, `*` meaning `max`.
    pub fn contains(&self, n: u32, max: u32) -> bool {
        let SequenceSet::Ranges(ranges) = self else {
            return false;
        };
        ranges.iter().any(|r| {
            let (a, b) = (r.start.resolve(max), r.end.resolve(max));
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            n >= lo && n <= hi && n <= max
        })
    }

    /// Ascending, de-duplicated members (lazy; fine for `1:4294967295`).
    pub fn iter(&self, max: u32) -> impl Iterator<Item = u32> {
        self.normalize(max).into_iter().flat_map(|(lo, hi)| lo..=hi)
    }
}

/// A calendar date (RFC 9051 §9 `date`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    pub year: u16,
    pub month: u8,
    pub day: u8,
}

/// RFC 9051 §9 `date-time` (APPEND): `"dd-Mon-yyyy hh:mm:ss +zzzz"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    pub date: Date,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// Offset from UTC in minutes.
    pub zone_minutes: i16,
}

/// SELECT/EXAMINE parameters (RFC 7162 §3.1.8 CONDSTORE, §3.2.5 QRESYNC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SelectParam {
    CondStore,
    QResync {
        uidvalidity: u32,
        modseq: u64,
        known_uids: Option<SequenceSet>,
        /// (known sequence numbers, known UIDs)
        seq_match: Option<(SequenceSet, SequenceSet)>,
    },
}

/// NOTIFY mailbox filters (RFC 5465 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyFilter {
    Selected,
    SelectedDelayed,
    Inboxes,
    Personal,
    Subscribed,
    Subtree(Vec<Mailbox>),
    Mailboxes(Vec<Mailbox>),
}

/// One NOTIFY event group: a filter and its events, upper-cased (empty for NONE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyGroup {
    pub filter: NotifyFilter,
    pub events: Vec<String>,
}

/// LIST selection options (RFC 5258 §3.1, RFC 6154 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListSelectOption {
    Subscribed,
    Remote,
    RecursiveMatch,
    SpecialUse,
}

/// LIST return options (RFC 5258 §3.2, RFC 5819 LIST-STATUS, RFC 6154).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListReturnOption {
    Subscribed,
    Children,
    SpecialUse,
    Status(Vec<StatusItem>),
}

/// STATUS data items (RFC 9051 §6.3.11, RFC 3501 RECENT, RFC 7162 HIGHESTMODSEQ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    Messages,
    UidNext,
    UidValidity,
    Unseen,
    Recent,
    Size,
    Deleted,
    HighestModSeq,
}

/// APPEND message data (RFC 9051 §6.3.12, RFC 3516 literal8, RFC 4469 CATENATE).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppendData {
    Literal { data: Vec<u8>, binary: bool },
    Catenate(Vec<CatPart>),
}

/// RFC 4469 §5 `cat-part`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatPart {
    Text { data: Vec<u8>, binary: bool },
    Url(Vec<u8>),
}

/// One message of a (MULTI)APPEND (RFC 3502 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendMessage {
    pub flags: Vec<String>,
    pub date: Option<DateTime>,
    pub data: AppendData,
}

/// SEARCH/SORT RETURN options (RFC 4731, RFC 5182 SAVE, RFC 5267 CONTEXT/UPDATE,
/// RFC 9394 PARTIAL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnOption {
    Min,
    Max,
    All,
    Count,
    Save,
    Context,
    Update,
    /// (first, last): both positive, or both negative (counting from the end).
    Partial(i64, i64),
}

/// RFC 7162 §3.1.5 `entry-type-req`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryType {
    Private,
    Shared,
    All,
}

/// SEARCH keys (RFC 9051 §6.4.4, RFC 7162 MODSEQ, RFC 5032 WITHIN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchKey {
    All,
    Answered,
    Bcc(Vec<u8>),
    Before(Date),
    Body(Vec<u8>),
    Cc(Vec<u8>),
    Deleted,
    Draft,
    Flagged,
    From(Vec<u8>),
    Header(Vec<u8>, Vec<u8>),
    Keyword(String),
    Larger(u64),
    New,
    Not(Box<SearchKey>),
    Old,
    On(Date),
    Or(Box<SearchKey>, Box<SearchKey>),
    Recent,
    Seen,
    SentBefore(Date),
    SentOn(Date),
    SentSince(Date),
    Since(Date),
    Smaller(u64),
    Subject(Vec<u8>),
    Text(Vec<u8>),
    To(Vec<u8>),
    Uid(SequenceSet),
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unkeyword(String),
    Unseen,
    Older(u32),
    Younger(u32),
    SequenceSet(SequenceSet),
    ModSeq {
        entry: Option<(Vec<u8>, EntryType)>,
        modseq: u64,
    },
    /// A parenthesised list or the implicit AND of top-level keys.
    And(Vec<SearchKey>),
}

/// RFC 9051 §6.4.5 `section-text` / `section-msgtext`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    Header,
    HeaderFields(Vec<Vec<u8>>),
    HeaderFieldsNot(Vec<Vec<u8>>),
    Text,
    Mime,
}

/// BODY[...] section: part path (may be empty) and optional text specifier.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    pub part: Vec<u32>,
    pub text: Option<SectionText>,
}

/// `<origin.size>` partial specifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partial {
    pub origin: u32,
    pub size: u32,
}

/// FETCH data items (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 7162 MODSEQ).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttr {
    Envelope,
    Flags,
    InternalDate,
    Rfc822,
    Rfc822Header,
    Rfc822Size,
    Rfc822Text,
    /// BODY (non-extensible BODYSTRUCTURE)
    Body,
    BodyStructure,
    Uid,
    ModSeq,
    BodySection {
        peek: bool,
        section: Section,
        partial: Option<Partial>,
    },
    Binary {
        peek: bool,
        part: Vec<u32>,
        partial: Option<Partial>,
    },
    BinarySize {
        part: Vec<u32>,
    },
}

/// STORE operation (RFC 9051 §6.4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Replace,
    Add,
    Remove,
}

/// SORT keys (RFC 5256 §3, RFC 5957 DISPLAYFROM/DISPLAYTO).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    Arrival,
    Cc,
    Date,
    From,
    Size,
    Subject,
    To,
    DisplayFrom,
    DisplayTo,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortCriterion {
    pub reverse: bool,
    pub key: SortKey,
}

/// RFC 2971 `id-params-list` entry: (field, value or NIL).
pub type IdParam = (Vec<u8>, Option<Vec<u8>>);

/// All supported commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandBody {
    Capability,
    Noop,
    Logout,
    StartTls,
    Check,
    Close,
    Unselect,
    Expunge,
    Idle,
    Namespace,
    /// RFC 9051 §6.2.2, RFC 4959 SASL-IR. `initial_response` is base64-decoded;
    /// "=" gives `Some(vec![])`.
    Authenticate {
        mechanism: String,
        initial_response: Option<Vec<u8>>,
    },
    Login {
        username: Vec<u8>,
        password: Vec<u8>,
    },
    /// RFC 5161; capability names upper-cased.
    Enable {
        capabilities: Vec<String>,
    },
    Select {
        mailbox: Mailbox,
        params: Vec<SelectParam>,
    },
    Examine {
        mailbox: Mailbox,
        params: Vec<SelectParam>,
    },
    /// RFC 6154 §3 CREATE-SPECIAL-USE: `special_use` holds e.g. "\\Drafts".
    Create {
        mailbox: Mailbox,
        special_use: Vec<String>,
    },
    Delete {
        mailbox: Mailbox,
    },
    Rename {
        from: Mailbox,
        to: Mailbox,
    },
    Subscribe {
        mailbox: Mailbox,
    },
    Unsubscribe {
        mailbox: Mailbox,
    },
    /// RFC 9051 §6.3.9, RFC 5258 LIST-EXTENDED.
    List {
        selection: Vec<ListSelectOption>,
        reference: Vec<u8>,
        patterns: Vec<Vec<u8>>,
        return_opts: Vec<ListReturnOption>,
    },
    Lsub {
        reference: Vec<u8>,
        pattern: Vec<u8>,
    },
    Status {
        mailbox: Mailbox,
        items: Vec<StatusItem>,
    },
    /// One message, or several with MULTIAPPEND (RFC 3502).
    Append {
        mailbox: Mailbox,
        messages: Vec<AppendMessage>,
    },
    /// RFC 2971: `None` for `ID NIL`.
    Id {
        params: Option<Vec<IdParam>>,
    },
    /// RFC 9208 §4.
    GetQuota {
        root: Vec<u8>,
    },
    GetQuotaRoot {
        mailbox: Mailbox,
    },
    SetQuota {
        root: Vec<u8>,
        limits: Vec<(String, u64)>,
    },
    /// UID EXPUNGE (RFC 4315 §2.1, RFC 9051 §6.4.9).
    UidExpunge {
        set: SequenceSet,
    },
    /// `return_opts` is `None` without RETURN, `Some(vec![])` for `RETURN ()`.
    Search {
        uid: bool,
        return_opts: Option<Vec<ReturnOption>>,
        charset: Option<String>,
        criteria: SearchKey,
    },
    Fetch {
        uid: bool,
        set: SequenceSet,
        attrs: Vec<FetchAttr>,
        /// RFC 7162 §3.1.4.1 CHANGEDSINCE.
        changed_since: Option<u64>,
        /// RFC 7162 §3.2.6 VANISHED.
        vanished: bool,
    },
    Store {
        uid: bool,
        set: SequenceSet,
        /// RFC 7162 §3.1.3 UNCHANGEDSINCE.
        unchanged_since: Option<u64>,
        mode: StoreMode,
        silent: bool,
        flags: Vec<String>,
    },
    Copy {
        uid: bool,
        set: SequenceSet,
        mailbox: Mailbox,
    },
    /// RFC 6851.
    Move {
        uid: bool,
        set: SequenceSet,
        mailbox: Mailbox,
    },
    /// RFC 5256 §3, RFC 5267 ESORT return options.
    Sort {
        uid: bool,
        return_opts: Option<Vec<ReturnOption>>,
        criteria: Vec<SortCriterion>,
        charset: String,
        search: SearchKey,
    },
    /// RFC 5256 §3; algorithm upper-cased (ORDEREDSUBJECT, REFERENCES, ...).
    Thread {
        uid: bool,
        algorithm: String,
        charset: String,
        search: SearchKey,
    },
    /// RFC 5465 NOTIFY: `groups` is `None` for NOTIFY NONE.
    Notify {
        status: bool,
        groups: Option<Vec<NotifyGroup>>,
    },
    /// RFC 5267 §4.3.
    CancelUpdate {
        tags: Vec<Vec<u8>>,
    },
}

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

    fn command_body(&mut self) -> PResult<CommandBody> {
        let name = self.keyword()?;
        let body = match name.as_str() {
            "CAPABILITY" => CommandBody::Capability,
            "NOOP" => CommandBody::Noop,
            "LOGOUT" => CommandBody::Logout,
            "STARTTLS" => CommandBody::StartTls,
            "CHECK" => CommandBody::Check,
            "CLOSE" => CommandBody::Close,
            "UNSELECT" => CommandBody::Unselect,
            "EXPUNGE" => CommandBody::Expunge,
            "IDLE" => CommandBody::Idle,
            "NAMESPACE" => CommandBody::Namespace,
            "AUTHENTICATE" => self.authenticate()?,
            "LOGIN" => {
                self.sp()?;
                let username = self.astring()?;
                self.sp()?;
                let password = self.astring()?;
                CommandBody::Login { username, password }
            }
            "ENABLE" => {
                let mut capabilities = Vec::new();
                while self.more_args() {
                    self.sp()?;
                    capabilities.push(self.keyword()?);
                }
                if capabilities.is_empty() {
                    return self.err("ENABLE needs at least one capability");
                }
                CommandBody::Enable { capabilities }
            }
            "SELECT" | "EXAMINE" => {
                self.sp()?;
                let mailbox = self.mailbox()?;
                let params = if self.more_args() {
                    self.sp()?;
                    self.paren_list(false, Self::select_param)?
                } else {
                    Vec::new()
                };
                if name == "SELECT" {
                    CommandBody::Select { mailbox, params }
                } else {
                    CommandBody::Examine { mailbox, params }
                }
            }
            "CREATE" => self.create()?,
            "DELETE" => CommandBody::Delete {
                mailbox: self.sp_mailbox()?,
            },
            "SUBSCRIBE" => CommandBody::Subscribe {
                mailbox: self.sp_mailbox()?,
            },
            "UNSUBSCRIBE" => CommandBody::Unsubscribe {
                mailbox: self.sp_mailbox()?,
            },
            "RENAME" => {
                let from = self.sp_mailbox()?;
                let to = self.sp_mailbox()?;
                CommandBody::Rename { from, to }
            }
            "LIST" => self.list()?,
            "LSUB" => {
                self.sp()?;
                let reference = self.astring()?;
                self.sp()?;
                let pattern = self.list_mailbox()?;
                CommandBody::Lsub { reference, pattern }
            }
            "STATUS" => {
                let mailbox = self.sp_mailbox()?;
                self.sp()?;
                let items = self.paren_list(false, Self::status_item)?;
                CommandBody::Status { mailbox, items }
            }
            "APPEND" => self.append()?,
            "ID" => {
                self.sp()?;
                let params = if self.try_keyword("NIL") {
                    None
                } else {
                    Some(self.paren_list(true, |p| {
                        let k = p.string()?;
                        p.sp()?;
                        Ok((k, p.nstring()?))
                    })?)
                };
                CommandBody::Id { params }
            }
            "GETQUOTA" => {
                self.sp()?;
                CommandBody::GetQuota { root: self.astring()? }
            }
            "GETQUOTAROOT" => CommandBody::GetQuotaRoot {
                mailbox: self.sp_mailbox()?,
            },
            "SETQUOTA" => {
                self.sp()?;
                let root = self.astring()?;
                self.sp()?;
                let limits = self.paren_list(true, |p| {
                    let r = p.keyword()?;
                    p.sp()?;
                    Ok((r, p.number64()?))
                })?;
                CommandBody::SetQuota { root, limits }
            }
            "SEARCH" => self.search(false)?,
            "FETCH" => self.fetch(false)?,
            "STORE" => self.store(false)?,
            "COPY" => self.copy_move(false, false)?,
            "MOVE" => self.copy_move(false, true)?,
            "SORT" => self.sort(false)?,
            "THREAD" => self.thread(false)?,
            "UID" => {
                self.sp()?;
                let sub = self.keyword()?;
                match sub.as_str() {
                    "SEARCH" => self.search(true)?,
                    "FETCH" => self.fetch(true)?,
                    "STORE" => self.store(true)?,
                    "COPY" => self.copy_move(true, false)?,
                    "MOVE" => self.copy_move(true, true)?,
                    "SORT" => self.sort(true)?,
                    "THREAD" => self.thread(true)?,
                    "EXPUNGE" => {
                        self.sp()?;
                        CommandBody::UidExpunge {
                            set: self.sequence_set()?,
                        }
                    }
                    _ => return Err(format!("unknown UID command {sub}")),
                }
            }
            "CANCELUPDATE" => {
                let mut tags = Vec::new();
                while self.more_args() {
                    self.sp()?;
                    tags.push(self.string()?);
                }
                if tags.is_empty() {
                    return self.err("CANCELUPDATE needs a tag");
                }
                CommandBody::CancelUpdate { tags }
            }
            "NOTIFY" => {
                self.sp()?;
                if self.try_keyword("NONE") {
                    CommandBody::Notify {
                        status: false,
                        groups: None,
                    }
                } else if self.try_keyword("SET") {
                    self.sp()?;
                    let status = self.try_keyword("STATUS");
                    if status {
                        self.sp()?;
                    }
                    let mut groups = vec![self.notify_group()?];
                    while self.more_args() {
                        self.sp()?;
                        groups.push(self.notify_group()?);
                    }
                    CommandBody::Notify {
                        status,
                        groups: Some(groups),
                    }
                } else {
                    return self.err("expected SET or NONE");
                }
            }
            _ => return Err(format!("unknown or unsupported command {name}")),
        };
        self.end()?;
        Ok(body)
    }

    /// `"(" filter-mailboxes SP events ")"` (RFC 5465 §8).
    fn notify_group(&mut self) -> PResult<NotifyGroup> {
        self.expect(b'(')?;
        let filter = match self.keyword()?.as_str() {
            "SELECTED" => NotifyFilter::Selected,
            "SELECTED-DELAYED" => NotifyFilter::SelectedDelayed,
            "INBOXES" => NotifyFilter::Inboxes,
            "PERSONAL" => NotifyFilter::Personal,
            "SUBSCRIBED" => NotifyFilter::Subscribed,
            kw @ ("SUBTREE" | "MAILBOXES") => {
                self.sp()?;
                let list = if self.peek() == Some(b'(') {
                    self.paren_list(false, Self::mailbox)?
                } else {
                    vec![self.mailbox()?]
                };
                if kw == "SUBTREE" {
                    NotifyFilter::Subtree(list)
                } else {
                    NotifyFilter::Mailboxes(list)
                }
            }
            other => return Err(format!("unknown NOTIFY filter {other}")),
        };
        self.sp()?;
        let mut events = Vec::new();
        if !self.try_keyword("NONE") {
            self.expect(b'(')?;
            loop {
                let event = self.keyword()?;
                // MessageNew may carry the FETCH items to push; they are parsed and not used.
                if event == "MESSAGENEW" && self.peek() == Some(b' ') && self.peek_at(1) == Some(b'(') {
                    self.sp()?;
                    self.skip_parenthesised()?;
                }
                events.push(event);
                match self.peek() {
                    Some(b' ') => self.pos += 1,
                    Some(b')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return self.err("expected SP or ')' in NOTIFY events"),
                }
            }
        }
        self.expect(b')')?;
        Ok(NotifyGroup { filter, events })
    }

    /// Skips a balanced `( ... )` group (no literals inside).
    fn skip_parenthesised(&mut self) -> PResult<()> {
        self.expect(b'(')?;
        let mut depth = 1;
        while depth > 0 {
            match self.peek() {
                Some(b'(') => depth += 1,
                Some(b')') => depth -= 1,
                Some(b'\r' | b'\n') | None => return self.err("unbalanced parentheses"),
                _ => {}
            }
            self.pos += 1;
        }
        Ok(())
    }

    fn sp_mailbox(&mut self) -> PResult<Mailbox> {
        self.sp()?;
        self.mailbox()
    }

    /// authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp] (RFC 4959)
    fn authenticate(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let mechanism = self.keyword()?;
        let initial_response = if self.more_args() {
            self.sp()?;
            let raw = self.take_while(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
            if raw == b"=" {
                Some(Vec::new())
            } else {
                Some(base64_decode(raw).ok_or("invalid base64 initial response")?)
            }
        } else {
            None
        };
        Ok(CommandBody::Authenticate {
            mechanism,
            initial_response,
        })
    }

    fn select_param(&mut self) -> PResult<SelectParam> {
        let name = self.keyword()?;
        match name.as_str() {
            "CONDSTORE" => Ok(SelectParam::CondStore),
            "QRESYNC" => {
                self.sp()?;
                self.expect(b'(')?;
                let uidvalidity = self.nz_number()?;
                self.sp()?;
                let modseq = self.number64()?;
                let mut known_uids = None;
                let mut seq_match = None;
                if self.peek() == Some(b' ') && self.peek_at(1) != Some(b'(') {
                    self.sp()?;
                    known_uids = Some(self.sequence_set()?);
                }
                if self.peek() == Some(b' ') {
                    self.sp()?;
                    self.expect(b'(')?;
                    let seqs = self.sequence_set()?;
                    self.sp()?;
                    let uids = self.sequence_set()?;
                    self.expect(b')')?;
                    seq_match = Some((seqs, uids));
                }
                self.expect(b')')?;
                Ok(SelectParam::QResync {
                    uidvalidity,
                    modseq,
                    known_uids,
                    seq_match,
                })
            }
            _ => Err(format!("unknown SELECT parameter {name}")),
        }
    }

    /// create = "CREATE" SP mailbox [SP "(" USE SP "(" use-attr... ")" ")"] (RFC 6154 §6)
    fn create(&mut self) -> PResult<CommandBody> {
        let mailbox = self.sp_mailbox()?;
        let mut special_use = Vec::new();
        if self.more_args() {
            self.sp()?;
            let params = self.paren_list(false, |p| {
                let name = p.keyword()?;
                if name != "USE" {
                    return Err(format!("unknown CREATE parameter {name}"));
                }
                p.sp()?;
                p.paren_list(true, |p| {
                    p.expect(b'\\')?;
                    let a = String::from_utf8_lossy(p.atom()?).into_owned();
                    Ok(canonical_special_use(&a))
                })
            })?;
            special_use = params.into_iter().flatten().collect();
        }
        Ok(CommandBody::Create { mailbox, special_use })
    }

    /// list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
    /// (RFC 5258 §6, RFC 9051 §9).
    fn list(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let mut selection = Vec::new();
        if self.peek() == Some(b'(') {
            selection = self.paren_list(true, |p| {
                let k = p.keyword()?;
                Ok(match k.as_str() {
                    "SUBSCRIBED" => ListSelectOption::Subscribed,
                    "REMOTE" => ListSelectOption::Remote,
                    "RECURSIVEMATCH" => ListSelectOption::RecursiveMatch,
                    "SPECIAL-USE" => ListSelectOption::SpecialUse,
                    _ => return Err(format!("unsupported LIST selection option {k}")),
                })
            })?;
            // RFC 5258 §3.1: RECURSIVEMATCH needs another (non-REMOTE) selection option.
            if selection.contains(&ListSelectOption::RecursiveMatch)
                && !selection
                    .iter()
                    .any(|o| matches!(o, ListSelectOption::Subscribed | ListSelectOption::SpecialUse))
            {
                return self.err("RECURSIVEMATCH requires another selection option");
            }
            self.sp()?;
        }
        let reference = self.astring()?;
        self.sp()?;
        let patterns = if self.peek() == Some(b'(') {
            self.paren_list(false, Self::list_mailbox)?
        } else {
            vec![self.list_mailbox()?]
        };
        let mut return_opts = Vec::new();
        if self.more_args() {
            self.sp()?;
            if !self.try_keyword("RETURN") {
                return self.err("expected RETURN");
            }
            self.sp()?;
            return_opts = self.paren_list(true, |p| {
                let k = p.keyword()?;
                Ok(match k.as_str() {
                    "SUBSCRIBED" => ListReturnOption::Subscribed,
                    "CHILDREN" => ListReturnOption::Children,
                    "SPECIAL-USE" => ListReturnOption::SpecialUse,
                    "STATUS" => {
                        p.sp()?;
                        ListReturnOption::Status(p.paren_list(false, Self::status_item)?)
                    }
                    _ => return Err(format!("unsupported LIST return option {k}")),
                })
            })?;
        }
        Ok(CommandBody::List {
            selection,
            reference,
            patterns,
            return_opts,
        })
    }

    fn status_item(&mut self) -> PResult<StatusItem> {
        let k = self.keyword()?;
        Ok(match k.as_str() {
            "MESSAGES" => StatusItem::Messages,
            "UIDNEXT" => StatusItem::UidNext,
            "UIDVALIDITY" => StatusItem::UidValidity,
            "UNSEEN" => StatusItem::Unseen,
            "RECENT" => StatusItem::Recent,
            "SIZE" => StatusItem::Size,
            "DELETED" => StatusItem::Deleted,
            "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
            _ => return Err(format!("unknown STATUS item {k}")),
        })
    }

    /// append = "APPEND" SP mailbox 1*append-message (RFC 3502 §6);
    /// append-message = [SP flag-list] [SP date-time] SP append-data;
    /// append-data = literal / literal8 / "CATENATE" SP "(" cat-part *(SP cat-part) ")".
    fn append(&mut self) -> PResult<CommandBody> {
        let mailbox = self.sp_mailbox()?;
        let mut messages = Vec::new();
        while self.more_args() || messages.is_empty() {
            self.sp()?;
            let mut flags = Vec::new();
            let mut date = None;
            if self.peek() == Some(b'(') {
                flags = self.flag_list()?;
                self.sp()?;
            }
            if self.peek() == Some(b'"') {
                date = Some(self.date_time()?);
                self.sp()?;
            }
            let data = match self.peek() {
                Some(b'{' | b'~') => {
                    let (data, binary) = self.literal(true)?;
                    AppendData::Literal { data, binary }
                }
                _ if self.try_keyword("CATENATE") => {
                    self.sp()?;
                    AppendData::Catenate(self.paren_list(false, |p| {
                        let k = p.keyword()?;
                        p.sp()?;
                        match k.as_str() {
                            "TEXT" => {
                                let (data, binary) = p.literal(true)?;
                                Ok(CatPart::Text { data, binary })
                            }
                            "URL" => Ok(CatPart::Url(p.astring()?)),
                            _ => Err(format!("unknown CATENATE part {k}")),
                        }
                    })?)
                }
                _ => return self.err("expected message literal or CATENATE"),
            };
            messages.push(AppendMessage { flags, date, data });
        }
        Ok(CommandBody::Append { mailbox, messages })
    }

    /// search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"
    fn return_opts(&mut self) -> PResult<Option<Vec<ReturnOption>>> {
        if !self.try_keyword("RETURN") {
            return Ok(None);
        }
        self.sp()?;
        let opts = self.paren_list(true, |p| {
            let k = p.keyword()?;
            Ok(match k.as_str() {
                "MIN" => ReturnOption::Min,
                "MAX" => ReturnOption::Max,
                "ALL" => ReturnOption::All,
                "COUNT" => ReturnOption::Count,
                "SAVE" => ReturnOption::Save,
                "CONTEXT" => ReturnOption::Context,
                "UPDATE" => ReturnOption::Update,
                "PARTIAL" => {
                    // RFC 9394 §4: partial-range-first / partial-range-last.
                    p.sp()?;
                    let neg = p.peek() == Some(b'-');
                    let sign = |p: &mut Self| -> PResult<i64> {
                        if neg {
                            p.expect(b'-')?;
                        }
                        let n = i64::from(p.nz_number()?);
                        Ok(if neg { -n } else { n })
                    };
                    let a = sign(p)?;
                    p.expect(b':')?;
                    let b = sign(p)?;
                    ReturnOption::Partial(a, b)
                }
                _ => return Err(format!("unknown RETURN option {k}")),
            })
        })?;
        self.sp()?;
        Ok(Some(opts))
    }

    fn search(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let return_opts = self.return_opts()?;
        let charset = if self.try_keyword("CHARSET") {
            self.sp()?;
            let c = Self::utf8(self.astring()?)?;
            self.sp()?;
            Some(c)
        } else {
            None
        };
        let criteria = self.search_keys()?;
        Ok(CommandBody::Search {
            uid,
            return_opts,
            charset,
            criteria,
        })
    }

    /// search-key *(SP search-key), up to end of line; one key is returned as
    /// itself, several as `And`.
    fn search_keys(&mut self) -> PResult<SearchKey> {
        let mut keys = vec![self.search_key()?];
        while self.more_args() {
            self.sp()?;
            keys.push(self.search_key()?);
        }
        Ok(if keys.len() == 1 {
            keys.pop().unwrap_or(SearchKey::All)
        } else {
            SearchKey::And(keys)
        })
    }

    fn search_key(&mut self) -> PResult<SearchKey> {
        if self.depth >= MAX_SEARCH_DEPTH {
            return self.err("search keys nested too deeply");
        }
        self.depth += 1;
        let r = self.search_key_inner();
        self.depth -= 1;
        r
    }

    fn search_key_inner(&mut self) -> PResult<SearchKey> {
        match self.peek() {
            Some(b'(') => {
                let mut keys = self.paren_list(false, Self::search_key)?;
                return Ok(if keys.len() == 1 {
                    keys.pop().unwrap_or(SearchKey::All)
                } else {
                    SearchKey::And(keys)
                });
            }
            Some(b'0'..=b'9' | b'*' | b'$') => {
                return Ok(SearchKey::SequenceSet(self.sequence_set()?));
            }
            _ => {}
        }
        let k = self.keyword()?;
        macro_rules! arg {
            ($f:ident) => {{
                self.sp()?;
                self.$f()?
            }};
        }
        Ok(match k.as_str() {
            "ALL" => SearchKey::All,
            "ANSWERED" => SearchKey::Answered,
            "BCC" => SearchKey::Bcc(arg!(astring)),
            "BEFORE" => SearchKey::Before(arg!(date)),
            "BODY" => SearchKey::Body(arg!(astring)),
            "CC" => SearchKey::Cc(arg!(astring)),
            "DELETED" => SearchKey::Deleted,
            "DRAFT" => SearchKey::Draft,
            "FLAGGED" => SearchKey::Flagged,
            "FROM" => SearchKey::From(arg!(astring)),
            "HEADER" => {
                let name = arg!(astring);
                SearchKey::Header(name, arg!(astring))
            }
            "KEYWORD" => SearchKey::Keyword(String::from_utf8_lossy(arg!(atom)).into_owned()),
            "UNKEYWORD" => SearchKey::Unkeyword(String::from_utf8_lossy(arg!(atom)).into_owned()),
            "LARGER" => SearchKey::Larger(arg!(number64)),
            "SMALLER" => SearchKey::Smaller(arg!(number64)),
            "NEW" => SearchKey::New,
            "NOT" => SearchKey::Not(Box::new(arg!(search_key))),
            "OLD" => SearchKey::Old,
            "ON" => SearchKey::On(arg!(date)),
            "OR" => {
                let a = arg!(search_key);
                SearchKey::Or(Box::new(a), Box::new(arg!(search_key)))
            }
            "RECENT" => SearchKey::Recent,
            "SEEN" => SearchKey::Seen,
            "SENTBEFORE" => SearchKey::SentBefore(arg!(date)),
            "SENTON" => SearchKey::SentOn(arg!(date)),
            "SENTSINCE" => SearchKey::SentSince(arg!(date)),
            "SINCE" => SearchKey::Since(arg!(date)),
            "SUBJECT" => SearchKey::Subject(arg!(astring)),
            "TEXT" => SearchKey::Text(arg!(astring)),
            "TO" => SearchKey::To(arg!(astring)),
            "UID" => SearchKey::Uid(arg!(sequence_set)),
            "UNANSWERED" => SearchKey::Unanswered,
            "UNDELETED" => SearchKey::Undeleted,
            "UNDRAFT" => SearchKey::Undraft,
            "UNFLAGGED" => SearchKey::Unflagged,
            "UNSEEN" => SearchKey::Unseen,
            "OLDER" => SearchKey::Older(arg!(nz_number)),
            "YOUNGER" => SearchKey::Younger(arg!(nz_number)),
            "MODSEQ" => {
                // RFC 7162 §3.1.5: "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer
                self.sp()?;
                let entry = if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    None
                } else {
                    let name = self.string()?;
                    self.sp()?;
                    let t = self.keyword()?;
                    let t = match t.as_str() {
                        "PRIV" => EntryType::Private,
                        "SHARED" => EntryType::Shared,
                        "ALL" => EntryType::All,
                        _ => return Err(format!("invalid MODSEQ entry type {t}")),
                    };
                    self.sp()?;
                    Some((name, t))
                };
                SearchKey::ModSeq {
                    entry,
                    modseq: self.number64()?,
                }
            }
            _ => return Err(format!("unknown search key {k}")),
        })
    }

    /// fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
    /// "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]   (RFC 7162 §3.1.4.1)
    fn fetch(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let set = self.sequence_set()?;
        self.sp()?;
        let attrs = if self.peek() == Some(b'(') {
            self.paren_list(false, Self::fetch_att)?
        } else if self.try_keyword("ALL") {
            vec![
                FetchAttr::Flags,
                FetchAttr::InternalDate,
                FetchAttr::Rfc822Size,
                FetchAttr::Envelope,
            ]
        } else if self.try_keyword("FAST") {
            vec![FetchAttr::Flags, FetchAttr::InternalDate, FetchAttr::Rfc822Size]
        } else if self.try_keyword("FULL") {
            vec![
                FetchAttr::Flags,
                FetchAttr::InternalDate,
                FetchAttr::Rfc822Size,
                FetchAttr::Envelope,
                FetchAttr::Body,
            ]
        } else {
            vec![self.fetch_att()?]
        };
        let mut changed_since = None;
        let mut vanished = false;
        if self.more_args() {
            self.sp()?;
            self.paren_list(false, |p| {
                let k = p.keyword()?;
                match k.as_str() {
                    "CHANGEDSINCE" => {
                        p.sp()?;
                        changed_since = Some(p.number64()?);
                    }
                    "VANISHED" => vanished = true,
                    _ => return Err(format!("unknown FETCH modifier {k}")),
                }
                Ok(())
            })?;
        }
        if vanished && (!uid || changed_since.is_none()) {
            return self.err("VANISHED requires UID FETCH with CHANGEDSINCE");
        }
        Ok(CommandBody::Fetch {
            uid,
            set,
            attrs,
            changed_since,
            vanished,
        })
    }

    fn fetch_att(&mut self) -> PResult<FetchAttr> {
        let name = self
            .take_while(|b| b.is_ascii_alphanumeric() || b == b'.')
            .to_ascii_uppercase();
        let simple = match name.as_slice() {
            b"ENVELOPE" => Some(FetchAttr::Envelope),
            b"FLAGS" => Some(FetchAttr::Flags),
            b"INTERNALDATE" => Some(FetchAttr::InternalDate),
            b"RFC822" => Some(FetchAttr::Rfc822),
            b"RFC822.HEADER" => Some(FetchAttr::Rfc822Header),
            b"RFC822.SIZE" => Some(FetchAttr::Rfc822Size),
            b"RFC822.TEXT" => Some(FetchAttr::Rfc822Text),
            b"BODYSTRUCTURE" => Some(FetchAttr::BodyStructure),
            b"UID" => Some(FetchAttr::Uid),
            b"MODSEQ" => Some(FetchAttr::ModSeq),
            b"BODY" if self.peek() != Some(b'[') => Some(FetchAttr::Body),
            _ => None,
        };
        if let Some(a) = simple {
            return Ok(a);
        }
        match name.as_slice() {
            b"BODY" | b"BODY.PEEK" => {
                let section = self.section()?;
                let partial = self.partial()?;
                Ok(FetchAttr::BodySection {
                    peek: name.len() > 4,
                    section,
                    partial,
                })
            }
            b"BINARY" | b"BINARY.PEEK" => {
                let part = self.binary_section()?;
                let partial = self.partial()?;
                Ok(FetchAttr::Binary {
                    peek: name.len() > 6,
                    part,
                    partial,
                })
            }
            b"BINARY.SIZE" => Ok(FetchAttr::BinarySize {
                part: self.binary_section()?,
            }),
            _ => Err(format!("unknown FETCH attribute {}", String::from_utf8_lossy(&name))),
        }
    }

    /// section-part = nz-number *("." nz-number); stops before ".<letter>".
    fn section_part(&mut self) -> PResult<Vec<u32>> {
        let mut part = Vec::new();
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            part.push(self.nz_number()?);
            if self.peek() == Some(b'.') && self.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(part)
    }

    /// section-binary = "[" [section-part] "]" (RFC 3516 §4.3)
    fn binary_section(&mut self) -> PResult<Vec<u32>> {
        self.expect(b'[')?;
        let part = self.section_part()?;
        self.expect(b']')?;
        Ok(part)
    }

    /// section = "[" [section-spec] "]" (RFC 9051 §9)
    fn section(&mut self) -> PResult<Section> {
        self.expect(b'[')?;
        let part = self.section_part()?;
        let mut text = None;
        if self.peek() != Some(b']') {
            if !part.is_empty() {
                self.expect(b'.')?;
            }
            let kw = self
                .take_while(|b| b.is_ascii_alphabetic() || b == b'.')
                .to_ascii_uppercase();
            text = Some(match kw.as_slice() {
                b"HEADER" => SectionText::Header,
                b"TEXT" => SectionText::Text,
                b"MIME" if !part.is_empty() => SectionText::Mime,
                b"HEADER.FIELDS" => {
                    self.sp()?;
                    SectionText::HeaderFields(self.paren_list(false, Self::astring)?)
                }
                b"HEADER.FIELDS.NOT" => {
                    self.sp()?;
                    SectionText::HeaderFieldsNot(self.paren_list(false, Self::astring)?)
                }
                _ => return self.err("invalid section"),
            });
        }
        self.expect(b']')?;
        Ok(Section { part, text })
    }

    /// partial = "<" number "." nz-number ">"
    fn partial(&mut self) -> PResult<Option<Partial>> {
        if self.peek() != Some(b'<') {
            return Ok(None);
        }
        self.pos += 1;
        let origin = self.number()?;
        self.expect(b'.')?;
        let size = self.nz_number()?;
        self.expect(b'>')?;
        Ok(Some(Partial { origin, size }))
    }

    /// store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags
    fn store(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let set = self.sequence_set()?;
        self.sp()?;
        let mut unchanged_since = None;
        if self.peek() == Some(b'(') {
            self.paren_list(false, |p| {
                let k = p.keyword()?;
                if k != "UNCHANGEDSINCE" {
                    return Err(format!("unknown STORE modifier {k}"));
                }
                p.sp()?;
                unchanged_since = Some(p.number64()?);
                Ok(())
            })?;
            self.sp()?;
        }
        let mode = match self.peek() {
            Some(b'+') => StoreMode::Add,
            Some(b'-') => StoreMode::Remove,
            _ => StoreMode::Replace,
        };
        if mode != StoreMode::Replace {
            self.pos += 1;
        }
        let item = self.keyword()?;
        let silent = match item.as_str() {
            "FLAGS" => false,
            "FLAGS.SILENT" => true,
            _ => return Err(format!("unknown STORE item {item}")),
        };
        self.sp()?;
        let flags = if self.peek() == Some(b'(') {
            self.flag_list()?
        } else {
            let mut v = vec![self.flag()?];
            while self.more_args() {
                self.sp()?;
                v.push(self.flag()?);
            }
            v
        };
        Ok(CommandBody::Store {
            uid,
            set,
            unchanged_since,
            mode,
            silent,
            flags,
        })
    }

    fn copy_move(&mut self, uid: bool, is_move: bool) -> PResult<CommandBody> {
        self.sp()?;
        let set = self.sequence_set()?;
        let mailbox = self.sp_mailbox()?;
        Ok(if is_move {
            CommandBody::Move { uid, set, mailbox }
        } else {
            CommandBody::Copy { uid, set, mailbox }
        })
    }

    /// sort = ["UID" SP] "SORT" [search-return-opts] SP sort-criteria SP
    /// search-charset 1*(SP search-key)   (RFC 5256 §5, RFC 5267 §3.1)
    fn sort(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let return_opts = self.return_opts()?;
        let criteria = self.paren_list(false, |p| {
            let reverse = p.try_keyword("REVERSE");
            if reverse {
                p.sp()?;
            }
            let k = p.keyword()?;
            let key = match k.as_str() {
                "ARRIVAL" => SortKey::Arrival,
                "CC" => SortKey::Cc,
                "DATE" => SortKey::Date,
                "FROM" => SortKey::From,
                "SIZE" => SortKey::Size,
                "SUBJECT" => SortKey::Subject,
                "TO" => SortKey::To,
                "DISPLAYFROM" => SortKey::DisplayFrom,
                "DISPLAYTO" => SortKey::DisplayTo,
                _ => return Err(format!("unknown sort key {k}")),
            };
            Ok(SortCriterion { reverse, key })
        })?;
        self.sp()?;
        let charset = Self::utf8(self.astring()?)?;
        self.sp()?;
        let search = self.search_keys()?;
        Ok(CommandBody::Sort {
            uid,
            return_opts,
            criteria,
            charset,
            search,
        })
    }

    /// thread = ["UID" SP] "THREAD" SP thread-alg SP search-charset 1*(SP search-key)
    fn thread(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let algorithm = self.keyword()?;
        self.sp()?;
        let charset = Self::utf8(self.astring()?)?;
        self.sp()?;
        let search = self.search_keys()?;
        Ok(CommandBody::Thread {
            uid,
            algorithm,
            charset,
            search,
        })
    }
}

/// Canonical spelling of RFC 6154 §2 special-use attributes (without the
/// leading backslash in input); unknown ones are case-preserved.
fn canonical_special_use(a: &str) -> String {
    const KNOWN: [&str; 7] = ["All", "Archive", "Drafts", "Flagged", "Junk", "Sent", "Trash"];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(a))
        .map_or_else(|| format!("\\{a}"), |k| format!("\\{k}"))
}

/// Strict base64 decoding (RFC 4648 §4, padding required) for SASL-IR.
fn base64_decode(input: &[u8]) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    if !input.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let chunks = input.len() / 4;
    for (i, chunk) in input.chunks(4).enumerate() {
        let pad = chunk.iter().rev().take_while(|&&c| c == b'=').count();
        if pad > 2 || (pad > 0 && i + 1 != chunks) {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | val(c)?;
        }
        n <<= 6 * pad as u32;
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..3 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> CommandBody {
        let line = format!("{s}\r\n");
        match parse_command(line.as_bytes()) {
            Ok(c) => c.body,
            Err(e) => panic!("{s:?}: {e}"),
        }
    }

    fn perr(s: &[u8]) -> ParseError {
        parse_command(s).expect_err(&String::from_utf8_lossy(s))
    }

    fn set(s: &str) -> SequenceSet {
        let line = format!("{s}\r\n");
        let mut pr = Parser {
            input: line.as_bytes(),
            pos: 0,
            depth: 0,
        };
        pr.sequence_set().unwrap()
    }

    #[test]
    fn simple_commands() {
        let c = parse_command(b"a1 noop\r\n").unwrap();
        assert_eq!(c.tag, "a1");
        assert_eq!(c.body, CommandBody::Noop);
        for (s, b) in [
            ("x CAPABILITY", CommandBody::Capability),
            ("x LoGoUt", CommandBody::Logout),
            ("x STARTTLS", CommandBody::StartTls),
            ("x check", CommandBody::Check),
            ("x close", CommandBody::Close),
            ("x unselect", CommandBody::Unselect),
            ("x expunge", CommandBody::Expunge),
            ("x idle", CommandBody::Idle),
            ("x namespace", CommandBody::Namespace),
        ] {
            assert_eq!(p(s), b);
        }
        assert_eq!(parse_command(b"a noop\n").unwrap().body, CommandBody::Noop);
    }

    #[test]
    fn login_strings() {
        assert_eq!(
            p(r#"a LOGIN "fr\"ed" "p\\w d""#),
            CommandBody::Login {
                username: b"fr\"ed".to_vec(),
                password: b"p\\w d".to_vec()
            }
        );
        let c = parse_command(b"a login {5}\r\nfr\ned {3+}\r\n)(x\r\n").unwrap();
        assert_eq!(
            c.body,
            CommandBody::Login {
                username: b"fr\ned".to_vec(),
                password: b")(x".to_vec()
            }
        );
        assert_eq!(
            p("a login user]x pass"),
            CommandBody::Login {
                username: b"user]x".to_vec(),
                password: b"pass".to_vec()
            }
        );
    }

    #[test]
    fn authenticate() {
        assert_eq!(
            p("a AUTHENTICATE plain AGZyZWQAcHdk"),
            CommandBody::Authenticate {
                mechanism: "PLAIN".into(),
                initial_response: Some(b"\0fred\0pwd".to_vec())
            }
        );
        assert_eq!(
            p("a AUTHENTICATE EXTERNAL ="),
            CommandBody::Authenticate {
                mechanism: "EXTERNAL".into(),
                initial_response: Some(vec![])
            }
        );
        assert_eq!(
            p("a AUTHENTICATE XOAUTH2"),
            CommandBody::Authenticate {
                mechanism: "XOAUTH2".into(),
                initial_response: None
            }
        );
        assert!(parse_command(b"a AUTHENTICATE PLAIN abc\r\n").is_err());
        assert_eq!(base64_decode(b"YQ==").unwrap(), b"a");
        assert_eq!(base64_decode(b"YWI=").unwrap(), b"ab");
        assert!(base64_decode(b"YQ==YQ==").is_none());
    }

    #[test]
    fn enable_select() {
        assert_eq!(
            p("a enable condstore utf8=accept"),
            CommandBody::Enable {
                capabilities: vec!["CONDSTORE".into(), "UTF8=ACCEPT".into()]
            }
        );
        assert_eq!(
            p("a select inbox (condstore)"),
            CommandBody::Select {
                mailbox: Mailbox(b"INBOX".to_vec()),
                params: vec![SelectParam::CondStore]
            }
        );
        assert_eq!(
            p(r#"a EXAMINE "Inbox""#),
            CommandBody::Examine {
                mailbox: Mailbox(b"INBOX".to_vec()),
                params: vec![]
            }
        );
        assert_eq!(
            p("a select INBOX.sub"),
            CommandBody::Select {
                mailbox: Mailbox(b"INBOX.sub".to_vec()),
                params: vec![]
            }
        );
        assert_eq!(
            p("a select foo (QRESYNC (67890007 20050715194045000 41,43:211,214:541))"),
            CommandBody::Select {
                mailbox: Mailbox(b"foo".to_vec()),
                params: vec![SelectParam::QResync {
                    uidvalidity: 67890007,
                    modseq: 20050715194045000,
                    known_uids: Some(set("41,43:211,214:541")),
                    seq_match: None
                }]
            }
        );
        assert!(matches!(
            p("a select foo (QRESYNC (1 2 1:5 (1,3 10,30)))"),
            CommandBody::Select { .. }
        ));
        assert!(parse_command(b"a select foo (bogus)\r\n").is_err());
    }

    #[test]
    fn create_rename_etc() {
        assert_eq!(
            p(r"a CREATE MyDrafts (USE (\drafts \Sent))"),
            CommandBody::Create {
                mailbox: Mailbox(b"MyDrafts".to_vec()),
                special_use: vec!["\\Drafts".into(), "\\Sent".into()]
            }
        );
        assert_eq!(
            p("a rename a b"),
            CommandBody::Rename {
                from: Mailbox(b"a".to_vec()),
                to: Mailbox(b"b".to_vec())
            }
        );
        assert!(matches!(p("a delete x"), CommandBody::Delete { .. }));
        assert!(matches!(p("a subscribe x"), CommandBody::Subscribe { .. }));
        assert!(matches!(p("a unsubscribe x"), CommandBody::Unsubscribe { .. }));
    }

    #[test]
    fn list() {
        assert_eq!(
            p(r#"a LIST "" %"#),
            CommandBody::List {
                selection: vec![],
                reference: vec![],
                patterns: vec![b"%".to_vec()],
                return_opts: vec![]
            }
        );
        assert_eq!(
            p(r#"a list (subscribed recursivematch) "" (foo/* bar) return (children status (messages unseen))"#),
            CommandBody::List {
                selection: vec![ListSelectOption::Subscribed, ListSelectOption::RecursiveMatch],
                reference: vec![],
                patterns: vec![b"foo/*".to_vec(), b"bar".to_vec()],
                return_opts: vec![
                    ListReturnOption::Children,
                    ListReturnOption::Status(vec![StatusItem::Messages, StatusItem::Unseen])
                ]
            }
        );
        assert!(matches!(p(r#"a list (special-use) "" *"#), CommandBody::List { .. }));
        assert!(matches!(
            p(r#"a list "" "" return (special-use)"#),
            CommandBody::List { .. }
        ));
        assert!(parse_command(b"a list (recursivematch) \"\" \"\"\r\n").is_err());
        assert!(parse_command(b"a list (imaptest) \"\" \"\"\r\n").is_err());
        assert!(parse_command(b"a list \"\" \"\" return (imaptest)\r\n").is_err());
        assert_eq!(
            p(r#"a lsub "" foo*"#),
            CommandBody::Lsub {
                reference: vec![],
                pattern: b"foo*".to_vec()
            }
        );
    }

    #[test]
    fn status() {
        assert_eq!(
            p("a status inbox (messages uidnext uidvalidity unseen recent size deleted highestmodseq)"),
            CommandBody::Status {
                mailbox: Mailbox(b"INBOX".to_vec()),
                items: vec![
                    StatusItem::Messages,
                    StatusItem::UidNext,
                    StatusItem::UidValidity,
                    StatusItem::Unseen,
                    StatusItem::Recent,
                    StatusItem::Size,
                    StatusItem::Deleted,
                    StatusItem::HighestModSeq
                ]
            }
        );
        assert!(parse_command(b"a status x ()\r\n").is_err());
        assert!(parse_command(b"a status x (foo)\r\n").is_err());
    }

    #[test]
    fn append() {
        let c = parse_command(b"a APPEND saved-messages (\\Seen kw) \" 7-Feb-1994 21:52:25 -0800\" {5}\r\nhello\r\n")
            .unwrap();
        assert_eq!(
            c.body,
            CommandBody::Append {
                mailbox: Mailbox(b"saved-messages".to_vec()),
                messages: vec![AppendMessage {
                    flags: vec!["\\Seen".into(), "kw".into()],
                    date: Some(DateTime {
                        date: Date {
                            year: 1994,
                            month: 2,
                            day: 7
                        },
                        hour: 21,
                        minute: 52,
                        second: 25,
                        zone_minutes: -480
                    }),
                    data: AppendData::Literal {
                        data: b"hello".to_vec(),
                        binary: false
                    }
                }]
            }
        );
        // MULTIAPPEND with literal8
        let c = parse_command(b"a append x {2+}\r\nab (\\flagged) ~{3}\r\n\0\x01\x02\r\n").unwrap();
        let CommandBody::Append { messages, .. } = c.body else {
            panic!()
        };
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[1].flags, vec!["\\Flagged".to_string()]);
        assert_eq!(
            messages[1].data,
            AppendData::Literal {
                data: vec![0, 1, 2],
                binary: true
            }
        );
        // CATENATE
        let c = parse_command(b"a append x catenate (url \"/a;uid=1\" text {2}\r\nab)\r\n").unwrap();
        let CommandBody::Append { messages, .. } = c.body else {
            panic!()
        };
        assert_eq!(
            messages[0].data,
            AppendData::Catenate(vec![
                CatPart::Url(b"/a;uid=1".to_vec()),
                CatPart::Text {
                    data: b"ab".to_vec(),
                    binary: false
                }
            ])
        );
        // Errors
        assert!(parse_command(b"a append x\r\n").is_err());
        assert!(parse_command(b"a append x {2}\r\n\0a\r\n").is_err());
        assert!(parse_command(b"a append x {10}\r\nab\r\n").is_err());
        assert!(parse_command(b"a append x (\\Recent) {1}\r\na\r\n").is_err());
        assert!(parse_command(b"a append x \"30-Feb-2020 00:00:00 +0000\" {1}\r\na\r\n").is_err());
    }

    #[test]
    fn id_quota() {
        assert_eq!(p("a ID NIL"), CommandBody::Id { params: None });
        assert_eq!(
            p(r#"a id ("name" "sodr" "version" NIL)"#),
            CommandBody::Id {
                params: Some(vec![
                    (b"name".to_vec(), Some(b"sodr".to_vec())),
                    (b"version".to_vec(), None)
                ])
            }
        );
        assert_eq!(p(r#"a GETQUOTA """#), CommandBody::GetQuota { root: vec![] });
        assert!(matches!(p("a getquotaroot inbox"), CommandBody::GetQuotaRoot { .. }));
        assert_eq!(
            p(r#"a SETQUOTA "" (storage 512 MESSAGE 1000)"#),
            CommandBody::SetQuota {
                root: vec![],
                limits: vec![("STORAGE".into(), 512), ("MESSAGE".into(), 1000)]
            }
        );
    }

    #[test]
    fn sequence_sets() {
        assert_eq!(
            set("1:3,5,*:7"),
            SequenceSet::Ranges(vec![
                SeqRange {
                    start: SeqNum::Value(1),
                    end: SeqNum::Value(3)
                },
                SeqRange {
                    start: SeqNum::Value(5),
                    end: SeqNum::Value(5)
                },
                SeqRange {
                    start: SeqNum::Largest,
                    end: SeqNum::Value(7)
                },
            ])
        );
        let s = set("4:2,9,*,7:*");
        assert_eq!(s.normalize(10), vec![(2, 4), (7, 10)]);
        assert_eq!(s.iter(10).collect::<Vec<_>>(), vec![2, 3, 4, 7, 8, 9, 10]);
        assert!(s.contains(3, 10) && !s.contains(5, 10) && s.contains(10, 10));
        assert!(!s.contains(11, 10));
        // `*` with a max below the range start: "15:*" with max 12 contains 12.
        assert_eq!(set("15:*").normalize(12), vec![(12, 12)]);
        assert!(set("15:*").contains(12, 12));
        assert!(set("1:*").normalize(0).is_empty());
        assert_eq!(set("$"), SequenceSet::Saved);
        assert_eq!(set("1:4294967295").normalize(u32::MAX), vec![(1, u32::MAX)]);
        assert!(parse_command(b"a fetch 0 flags\r\n").is_err());
        assert!(parse_command(b"a fetch 4294967296 flags\r\n").is_err());
        assert!(parse_command(b"a fetch 1: flags\r\n").is_err());
        assert!(parse_command(b"a fetch 1,,2 flags\r\n").is_err());
    }

    #[test]
    fn search() {
        assert_eq!(
            p("a search return (min max all count save) charset utf-8 from \"bob\" since 1-Feb-1994 not seen"),
            CommandBody::Search {
                uid: false,
                return_opts: Some(vec![
                    ReturnOption::Min,
                    ReturnOption::Max,
                    ReturnOption::All,
                    ReturnOption::Count,
                    ReturnOption::Save
                ]),
                charset: Some("utf-8".into()),
                criteria: SearchKey::And(vec![
                    SearchKey::From(b"bob".to_vec()),
                    SearchKey::Since(Date {
                        year: 1994,
                        month: 2,
                        day: 1
                    }),
                    SearchKey::Not(Box::new(SearchKey::Seen))
                ])
            }
        );
        assert_eq!(
            p("a uid search or (1:3 uid 5) $ header X-Foo \"\""),
            CommandBody::Search {
                uid: true,
                return_opts: None,
                charset: None,
                criteria: SearchKey::And(vec![
                    SearchKey::Or(
                        Box::new(SearchKey::And(vec![
                            SearchKey::SequenceSet(set("1:3")),
                            SearchKey::Uid(set("5"))
                        ])),
                        Box::new(SearchKey::SequenceSet(SequenceSet::Saved))
                    ),
                    SearchKey::Header(b"X-Foo".to_vec(), vec![])
                ])
            }
        );
        assert_eq!(
            p(r#"a search modseq "/flags/\\draft" all 620162338"#),
            CommandBody::Search {
                uid: false,
                return_opts: None,
                charset: None,
                criteria: SearchKey::ModSeq {
                    entry: Some((b"/flags/\\draft".to_vec(), EntryType::All)),
                    modseq: 620162338
                }
            }
        );
        assert!(matches!(p("a search modseq 5"), CommandBody::Search { .. }));
        for k in [
            "all",
            "answered",
            "bcc x",
            "before 1-Jan-2000",
            "body x",
            "cc x",
            "deleted",
            "draft",
            "flagged",
            "from x",
            "header a b",
            "keyword $Fwd",
            "larger 10",
            "new",
            "not 1",
            "old",
            "on \"29-Feb-2024\"",
            "or 1 2",
            "recent",
            "seen",
            "sentbefore 1-jan-2000",
            "senton 1-jan-2000",
            "sentsince 1-jan-2000",
            "since 1-jan-2000",
            "smaller 1",
            "subject x",
            "text x",
            "to x",
            "uid 1:*",
            "unanswered",
            "undeleted",
            "undraft",
            "unflagged",
            "unkeyword x",
            "unseen",
            "older 5",
            "younger 5",
            "(seen)",
        ] {
            assert!(parse_command(format!("a search {k}\r\n").as_bytes()).is_ok(), "{k}");
        }
        assert!(matches!(
            p("a search return (partial -1:-100) all"),
            CommandBody::Search {
                return_opts: Some(ref r), ..
            } if r == &[ReturnOption::Partial(-1, -100)]
        ));
        for bad in [
            "a search\r\n",
            "a search bogus\r\n",
            "a search on 30-Feb-2020\r\n",
            "a search on 1-Foo-2020\r\n",
            "a search larger 99999999999999999999\r\n",
            "a search (seen\r\n",
            "a search seen)\r\n",
            "a search or seen\r\n",
            "a search return (partial 1) all\r\n",
            "a search return (partial 1:*) all\r\n",
            "a search return (partial -1:2) all\r\n",
            "a search return (bogus) all\r\n",
            "a search modseq \"/flags/x\" foo 1\r\n",
        ] {
            assert!(parse_command(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn search_nesting_limit() {
        let deep = format!("a search {}seen{}\r\n", "(".repeat(10_000), ")".repeat(10_000));
        let e = perr(deep.as_bytes());
        assert!(e.reason.contains("nested"));
        let nots = format!("a search {}seen\r\n", "not ".repeat(10_000));
        assert!(parse_command(nots.as_bytes()).is_err());
        let ok = format!("a search {}seen{}\r\n", "(".repeat(20), ")".repeat(20));
        assert!(parse_command(ok.as_bytes()).is_ok());
    }

    #[test]
    fn fetch() {
        assert_eq!(
            p(
                "a fetch 1:* (flags body.peek[1.2.header.fields (from \"to\")]<0.100> binary[2]<5.10> binary.size[] bodystructure)"
            ),
            CommandBody::Fetch {
                uid: false,
                set: set("1:*"),
                attrs: vec![
                    FetchAttr::Flags,
                    FetchAttr::BodySection {
                        peek: true,
                        section: Section {
                            part: vec![1, 2],
                            text: Some(SectionText::HeaderFields(vec![b"from".to_vec(), b"to".to_vec()]))
                        },
                        partial: Some(Partial { origin: 0, size: 100 })
                    },
                    FetchAttr::Binary {
                        peek: false,
                        part: vec![2],
                        partial: Some(Partial { origin: 5, size: 10 })
                    },
                    FetchAttr::BinarySize { part: vec![] },
                    FetchAttr::BodyStructure
                ],
                changed_since: None,
                vanished: false
            }
        );
        assert_eq!(
            p("a uid fetch 1:* (flags) (changedsince 12345 vanished)"),
            CommandBody::Fetch {
                uid: true,
                set: set("1:*"),
                attrs: vec![FetchAttr::Flags],
                changed_since: Some(12345),
                vanished: true
            }
        );
        let CommandBody::Fetch { attrs, .. } = p("a fetch 1 full") else {
            panic!()
        };
        assert_eq!(attrs.len(), 5);
        let CommandBody::Fetch { attrs, .. } = p("a fetch 1 body[]") else {
            panic!()
        };
        assert_eq!(
            attrs,
            vec![FetchAttr::BodySection {
                peek: false,
                section: Section::default(),
                partial: None
            }]
        );
        for s in [
            "body[text]",
            "body[header]",
            "body[1.mime]",
            "body[1.2.3]",
            "body[1.text]",
            "body[header.fields.not (date)]",
            "rfc822",
            "rfc822.header",
            "rfc822.size",
            "rfc822.text",
            "envelope",
            "internaldate",
            "uid",
            "modseq",
            "body",
            "binary.peek[1]",
        ] {
            assert!(parse_command(format!("a fetch 1 {s}\r\n").as_bytes()).is_ok(), "{s}");
        }
        for bad in [
            "a fetch 1 body[mime]\r\n",
            "a fetch 1 body[1.foo]\r\n",
            "a fetch 1 body[header.fields ()]\r\n",
            "a fetch 1 body[text]<1.0>\r\n",
            "a fetch 1 binary[text]\r\n",
            "a fetch 1 (all)\r\n",
            "a fetch 1 bogus\r\n",
            "a fetch 1 (flags\r\n",
            "a fetch 1 flags (vanished)\r\n",
            "a fetch 1 body[1.0]\r\n",
        ] {
            assert!(parse_command(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn store() {
        assert_eq!(
            p(r"a store 2:4 +FLAGS.SILENT (\deleted $Label1 \SEEN)"),
            CommandBody::Store {
                uid: false,
                set: set("2:4"),
                unchanged_since: None,
                mode: StoreMode::Add,
                silent: true,
                flags: vec!["\\Deleted".into(), "$Label1".into(), "\\Seen".into()]
            }
        );
        assert_eq!(
            p(r"a uid store 1 (unchangedsince 5) -flags \answered \draft"),
            CommandBody::Store {
                uid: true,
                set: set("1"),
                unchanged_since: Some(5),
                mode: StoreMode::Remove,
                silent: false,
                flags: vec!["\\Answered".into(), "\\Draft".into()]
            }
        );
        assert!(matches!(
            p("a store 1 flags ()"),
            CommandBody::Store { mode: StoreMode::Replace, ref flags, .. } if flags.is_empty()
        ));
        assert!(parse_command(b"a store 1 flags (\\recent)\r\n").is_err());
        assert!(parse_command(b"a store 1 +labels (x)\r\n").is_err());
        assert!(parse_command(b"a store 1 flags\r\n").is_err());
    }

    #[test]
    fn copy_move_expunge() {
        assert_eq!(
            p("a uid move 1:5 Trash"),
            CommandBody::Move {
                uid: true,
                set: set("1:5"),
                mailbox: Mailbox(b"Trash".to_vec())
            }
        );
        assert_eq!(
            p("a copy $ inbox"),
            CommandBody::Copy {
                uid: false,
                set: SequenceSet::Saved,
                mailbox: Mailbox(b"INBOX".to_vec())
            }
        );
        assert_eq!(
            p("a uid expunge 3000:3002"),
            CommandBody::UidExpunge { set: set("3000:3002") }
        );
        assert!(parse_command(b"a uid noop\r\n").is_err());
    }

    #[test]
    fn sort_thread() {
        assert_eq!(
            p("a uid sort return (count) (reverse arrival displayfrom) utf-8 all"),
            CommandBody::Sort {
                uid: true,
                return_opts: Some(vec![ReturnOption::Count]),
                criteria: vec![
                    SortCriterion {
                        reverse: true,
                        key: SortKey::Arrival
                    },
                    SortCriterion {
                        reverse: false,
                        key: SortKey::DisplayFrom
                    }
                ],
                charset: "utf-8".into(),
                search: SearchKey::All
            }
        );
        assert_eq!(
            p("a thread references us-ascii seen 1:5"),
            CommandBody::Thread {
                uid: false,
                algorithm: "REFERENCES".into(),
                charset: "us-ascii".into(),
                search: SearchKey::And(vec![SearchKey::Seen, SearchKey::SequenceSet(set("1:5"))])
            }
        );
        assert!(parse_command(b"a sort () utf-8 all\r\n").is_err());
        assert!(parse_command(b"a sort (bogus) utf-8 all\r\n").is_err());
        assert!(parse_command(b"a sort (reverse) utf-8 all\r\n").is_err());
        assert!(parse_command(b"a thread references\r\n").is_err());
    }

    #[test]
    fn errors_carry_tag() {
        let e = perr(b"a001 bogus\r\n");
        assert_eq!(e.tag.as_deref(), Some("a001"));
        assert!(e.to_string().starts_with("a001 BAD"));
        let e = perr(b"(x noop\r\n");
        assert_eq!(e.tag, None);
        assert!(e.to_string().starts_with("* BAD"));
        assert_eq!(perr(b"\r\n").tag, None);
        assert_eq!(perr(b"a+b noop\r\n").tag, None);
        assert_eq!(perr(b"a noop").tag.as_deref(), Some("a"));
        assert!(parse_command(b"a noop extra\r\n").is_err());
        assert!(parse_command(b"a  noop\r\n").is_err());
    }

    #[test]
    fn malformed_never_panics() {
        for bad in [
            &b"a login \"unterminated\r\n"[..],
            b"a login \"bad\\escape\" x\r\n",
            b"a login {99999999999999999999}\r\nx x\r\n",
            b"a login {18446744073709551615}\r\n",
            b"a login {5}\r\nab",
            b"a login {3",
            b"a select \"a\r\nb\"\r\n",
            b"a select ~{1}\r\nx\r\n",
            b"a fetch 1 body[",
            b"a fetch 1 body[1.",
            b"a fetch 1 body.peek[]<",
            b"a store 1 +",
            b"a search header",
            b"a search on \"1-jan-2000",
            b"a append x \"7-Feb-1994 21:52",
            b"a id (\"k\"",
            b"a uid",
            b"a list (",
            b"a \xff\xfe\r\n",
            b"\xff noop\r\n",
        ] {
            assert!(parse_command(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
        // Fuzz-ish: every prefix of some valid commands must not panic.
        for cmd in [
            &b"a append x (\\Seen) \"7-Feb-1994 21:52:25 -0800\" {3}\r\nabc\r\n"[..],
            b"a uid fetch 1:*,3 (body.peek[1.header.fields (a b)]<1.2>) (changedsince 1)\r\n",
            b"a search return (partial 1:5) or not (seen uid 1:*) modseq \"/flags/x\" priv 1\r\n",
            b"a list (subscribed) \"\" (a b) return (status (messages))\r\n",
        ] {
            assert!(parse_command(cmd).is_ok());
            for i in 0..cmd.len() {
                let _ = parse_command(&cmd[..i]);
            }
        }
    }

    /// Variables used by the imaptest scripts, with plausible values.
    fn substitute_vars(line: &str) -> String {
        let mut out = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            if c != '$' {
                out.push(c);
                continue;
            }
            match chars.peek() {
                Some('$') => {
                    chars.next();
                    out.push('$');
                }
                Some('!') => {
                    // $!directive: imaptest-specific, not a real argument.
                    out.push_str("$!");
                }
                Some('{') => {
                    chars.next();
                    let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                    out.push_str(var_value(&name));
                }
                _ => {
                    let mut name = String::new();
                    while let Some(&c) = chars.peek() {
                        if c.is_ascii_alphanumeric() || c == '_' {
                            name.push(c);
                            chars.next();
                        } else {
                            break;
                        }
                    }
                    if name.is_empty() {
                        out.push('$');
                    } else {
                        out.push_str(var_value(&name));
                    }
                }
            }
        }
        out
    }

    fn var_value(name: &str) -> &'static str {
        match name {
            "mailbox" => "testbox",
            "sep" => "/",
            "searchtag" => "tag1",
            "mailbox_url" => "testbox",
            "username" | "user" => "user",
            "domain" => "example.com",
            n if n.starts_with("mail_url") => "\"imap://user@example.com/testbox/;uid=1\"",
            _ => "5",
        }
    }

    /// Extract command lines from an imaptest script, joining `{{{ ... }}}`
    /// multi-line literals into real IMAP literals. Returns (expected status, command).
    fn script_commands(text: &[u8]) -> Vec<(String, Vec<u8>)> {
        let text = String::from_utf8_lossy(text).replace("\r\n", "\n");
        let mut lines = text.split('\n');
        // Header: "key: value" lines up to the first blank line.
        for l in lines.by_ref() {
            if l.trim().is_empty() {
                break;
            }
        }
        let mut out = Vec::new();
        while let Some(line) = lines.next() {
            let t = line.trim_end();
            if t.starts_with('*') || t.starts_with('!') || t.starts_with('?') {
                // Expected untagged response: skip it and its {{{ }}} literals.
                let mut cur = t.to_string();
                while cur.ends_with("{{{") {
                    cur.clear();
                    for l in lines.by_ref() {
                        if let Some(a) = l.strip_prefix("}}}") {
                            cur = a.trim_end().to_string();
                            break;
                        }
                    }
                }
                continue;
            }
            if t.is_empty() || t.starts_with('#') {
                continue;
            }
            // Strip connection number and expected status.
            let mut rest = t;
            if let Some((first, r)) = rest.split_once(' ')
                && first.chars().all(|c| c.is_ascii_digit())
            {
                rest = r;
            }
            if let Some((first, r)) = rest.split_once(' ')
                && first.starts_with("tag")
                && first[3..].chars().all(|c| c.is_ascii_digit())
            {
                rest = r;
            }
            let (status, cmd) = match rest.split_once(' ') {
                Some((s, r)) if ["ok", "no", "bad", "\"\""].contains(&s.to_ascii_lowercase().as_str()) => {
                    (s.to_ascii_lowercase(), r)
                }
                _ => (String::new(), rest),
            };
            let lower = cmd.to_ascii_lowercase();
            if ["ok", "no", "bad"].contains(&lower.as_str()) || cmd.starts_with('[') {
                continue; // expected-result line
            }
            let mut cmd = substitute_vars(cmd);
            // Join {{{ literals: content up to a line starting with "}}}".
            let mut wire: Vec<u8> = Vec::new();
            while cmd.ends_with("{{{") {
                cmd.truncate(cmd.len() - 3);
                let mut content = Vec::new();
                let mut after = String::new();
                for l in lines.by_ref() {
                    if let Some(a) = l.strip_prefix("}}}") {
                        after = substitute_vars(a.trim_end());
                        break;
                    }
                    content.extend_from_slice(l.as_bytes());
                    content.extend_from_slice(b"\r\n");
                }
                wire.extend_from_slice(cmd.as_bytes());
                wire.extend_from_slice(format!("{{{}}}\r\n", content.len()).as_bytes());
                wire.extend_from_slice(&content);
                cmd = after;
            }
            wire.extend_from_slice(cmd.as_bytes());
            // imaptest fills in the message for a bare "append [mailbox]".
            let lower = String::from_utf8_lossy(&wire).to_ascii_lowercase();
            if lower == "append" {
                wire = b"append testbox {5}\r\nhello".to_vec();
            } else if lower.starts_with("append ") && !lower.contains('{') && !lower.contains("catenate") {
                wire.extend_from_slice(b" {5}\r\nhello");
            }
            wire.extend_from_slice(b"\r\n");
            out.push((status, wire));
        }
        out
    }

    /// Commands from the scripts that are deliberately not supported.
    const UNSUPPORTED: [&str; 3] = ["GENURLAUTH", "URLFETCH", "RESETKEY"];

    #[test]
    fn imaptest_scripts() {
        // The shared fixtures sit beside the repository (`../shared`).
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/imaptest");
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("imaptest fixtures at {}: {e}", dir.display()));
        let mut total = 0;
        let mut skipped = 0;
        let mut failures = Vec::new();
        let mut names: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        names.sort();
        for path in names {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !path.is_file() || name.ends_with(".mbox") || name == "COPYING.MIT" {
                continue;
            }
            let text = std::fs::read(&path).unwrap();
            for (status, wire) in script_commands(&text) {
                let mut line = b"t1 ".to_vec();
                line.extend_from_slice(&wire);
                let first = String::from_utf8_lossy(&wire)
                    .split(' ')
                    .next()
                    .unwrap_or("")
                    .to_ascii_uppercase();
                if UNSUPPORTED.contains(&first.as_str()) {
                    skipped += 1;
                    assert!(parse_command(&line).is_err());
                    continue;
                }
                total += 1;
                let r = parse_command(&line);
                if status == "bad" {
                    if r.is_ok() {
                        failures.push(format!("{name}: expected BAD: {}", String::from_utf8_lossy(&line)));
                    }
                } else if let Err(e) = r {
                    failures.push(format!("{name}: {e}: {}", String::from_utf8_lossy(&line)));
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{} failures:\n{}",
            failures.len(),
            failures.join("\n")
        );
        eprintln!("imaptest: {total} commands checked, {skipped} unsupported skipped");
        assert!(total > 500);
    }
}
