//! The selected folder as one session sees it: sequence numbers, flags and \Recent, kept in step
//! with the store by `Session::refresh`, which reports other sessions' changes (RFC 9051 §7.4, §7.5).

use std::collections::{BTreeSet, HashSet};

use confiance_mail::Messages;
use confiance_mail::model::{FolderId, MessageMeta};

use crate::session::context::UpdateContext;
use crate::session::untagged;

pub struct Selected {
    pub id: FolderId,
    pub name: String,
    pub read_only: bool,
    /// Messages in sequence order: `messages[seq - 1]`; shared with the sessions at the same
    /// state, copied before this session changes it (`Arc::make_mut`).
    pub messages: Messages,
    /// UIDs that are \Recent for this session (RFC 3501 §2.3.2).
    pub recent: HashSet<u32>,
    /// UIDs this session appended to the folder and took \Recent of at once (stored without
    /// the mark, so no session clears it after); they join `recent` when they show.
    pub claimed: HashSet<u32>,
    /// The view keeps \Recent marks nobody took (a read-only session leaves them to the next
    /// read-write one), so it is never shared.
    pub marked: bool,
    /// Highest modification sequence this view reflects.
    pub modseq: u64,
    /// UIDs saved by SEARCH RETURN (SAVE) (RFC 5182).
    pub saved: HashSet<u32>,
    /// Searches kept up to date (RFC 5267 CONTEXT).
    pub updates: Vec<UpdateContext>,
    /// This session changed flags since the contexts were last brought up to date.
    pub dirty: bool,
    /// The keywords this session was told of in FLAGS and PERMANENTFLAGS.
    pub keywords: BTreeSet<String>,
}

impl Selected {
    pub fn exists(&self) -> u32 {
        self.messages.len() as u32
    }

    pub fn max_uid(&self) -> u32 {
        self.messages.last().map(|m| m.uid).unwrap_or(0)
    }

    pub fn seq_of(&self, uid: u32) -> Option<u32> {
        seq_in(&self.messages, uid)
    }

    /// Before a FETCH shows `flags`: a keyword the session was not told of yet is announced
    /// first, with the whole set, in FLAGS and PERMANENTFLAGS (RFC 9051 §7.3.5: a client may
    /// refuse a keyword FLAGS did not list).
    pub fn announce_keywords(&mut self, out: &mut Vec<u8>, flags: &[String]) {
        let mut grew = false;
        for keyword in flags.iter().filter(|f| !f.starts_with('\\')) {
            grew |= self.keywords.insert(keyword.clone());
        }
        if grew {
            flags_lines(out, &self.keywords);
        }
    }

    /// Flags as FETCH shows them, with \Recent for this session when IMAP4rev1 is in use.
    pub fn flags_of(&self, meta: &MessageMeta, with_recent: bool) -> String {
        let mut flags = meta.flags.clone();
        if with_recent && self.recent.contains(&meta.uid) {
            flags.push("\\Recent".into());
        }
        flags.join(" ")
    }
}

/// Sequence number of a UID among messages in UID order.
pub fn seq_in(messages: &[MessageMeta], uid: u32) -> Option<u32> {
    messages
        .binary_search_by_key(&uid, |m| m.uid)
        .ok()
        .map(|i| i as u32 + 1)
}

/// The untagged FLAGS and PERMANENTFLAGS of a folder whose messages carry `keywords`; any
/// other keyword may be created (`\*`).
pub fn flags_lines(out: &mut Vec<u8>, keywords: &BTreeSet<String>) {
    let kw: String = keywords.iter().map(|k| format!(" {k}")).collect();
    untagged(
        out,
        &format!("FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft{kw})"),
    );
    untagged(
        out,
        &format!("OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft{kw} \\*)] Flags permitted."),
    );
}
