//! The commands a client may send, as the parser gives them (RFC 9051 §9 formal syntax, with
//! RFC 3501 compatibility and the extensions listed on each item). `parse_command` reads one
//! framed command (see `framing`) into these types.

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

pub use super::parse::{is_astring_char, is_atom_char, normalize_flag, parse_command};
