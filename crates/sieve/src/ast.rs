//! The checked script: only what the supported subset can express, every argument already
//! typed and defaulted, so that evaluation has nothing left to validate.

use crate::Vacation;
use crate::address::AddressPart;
use crate::matching::{Comparator, MatchType, compare};

#[derive(Debug, Clone)]
pub(crate) enum Command {
    /// `if`, its `elsif`s, and the `else` block (empty if none).
    If {
        branches: Vec<(Test, Vec<Command>)>,
        otherwise: Vec<Command>,
    },
    Stop,
    /// `flags` is `None` without `:flags`: the internal variable is used (RFC 5232 §5).
    Keep {
        line: usize,
        flags: Option<Vec<String>>,
    },
    Discard {
        line: usize,
    },
    Redirect {
        line: usize,
        address: String,
        copy: bool,
    },
    FileInto {
        line: usize,
        folder: String,
        flags: Option<Vec<String>>,
        copy: bool,
    },
    /// `setflag`, `addflag`, `removeflag` on the internal variable (RFC 5232 §3).
    Flags {
        op: FlagOp,
        flags: Vec<String>,
    },
    Vacation {
        line: usize,
        vacation: Vacation,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FlagOp {
    Set,
    Add,
    Remove,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EnvelopePart {
    From,
    To,
}

/// A comparator, a match type and the keys: a value matches if it matches any key.
#[derive(Debug, Clone)]
pub(crate) struct Matcher {
    pub cmp: Comparator,
    pub mt: MatchType,
    pub keys: Vec<String>,
}

impl Matcher {
    pub(crate) fn matches(&self, value: &str) -> bool {
        self.keys.iter().any(|key| compare(self.cmp, self.mt, value, key))
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Test {
    Address {
        part: AddressPart,
        headers: Vec<String>,
        matcher: Matcher,
    },
    Header {
        headers: Vec<String>,
        matcher: Matcher,
    },
    Envelope {
        part: AddressPart,
        parts: Vec<EnvelopePart>,
        matcher: Matcher,
    },
    Exists(Vec<String>),
    Size {
        over: bool,
        limit: u64,
    },
    AllOf(Vec<Test>),
    AnyOf(Vec<Test>),
    Not(Box<Test>),
    True,
    False,
    HasFlag(Matcher),
}

/// The flags a list of strings names: space-separated words, unique regardless of ASCII
/// case, the first spelling kept (RFC 5232 §3).
pub(crate) fn flag_words(strings: &[String]) -> Vec<String> {
    let mut flags = Vec::new();
    add_flags(&mut flags, strings.iter().flat_map(|s| s.split_whitespace()));
    flags
}

pub(crate) fn add_flags<'a>(flags: &mut Vec<String>, words: impl IntoIterator<Item = &'a str>) {
    for word in words {
        if !flags.iter().any(|f| f.eq_ignore_ascii_case(word)) {
            flags.push(word.to_string());
        }
    }
}

pub(crate) fn remove_flags(flags: &mut Vec<String>, words: &[String]) {
    flags.retain(|f| !words.iter().any(|w| w.eq_ignore_ascii_case(f)));
}
