//! The selected folder as one session sees it: sequence numbers, flags and \Recent, kept in step
//! with the store by `Session::refresh`, which reports other sessions' changes (RFC 9051 §7.4, §7.5).

use std::collections::HashSet;

use confiance_mail::model::{FolderId, MessageMeta};

use crate::session::context::UpdateContext;

pub struct Selected {
    pub id: FolderId,
    pub name: String,
    pub read_only: bool,
    /// Messages in sequence order: `messages[seq - 1]`.
    pub messages: Vec<MessageMeta>,
    /// UIDs that are \Recent for this session (RFC 3501 §2.3.2).
    pub recent: HashSet<u32>,
    /// Highest modification sequence this view reflects.
    pub modseq: u64,
    /// UIDs saved by SEARCH RETURN (SAVE) (RFC 5182).
    pub saved: HashSet<u32>,
    /// Searches kept up to date (RFC 5267 CONTEXT).
    pub updates: Vec<UpdateContext>,
    /// This session changed flags since the contexts were last brought up to date.
    pub dirty: bool,
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
