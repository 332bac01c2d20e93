//! Folder views shared between the sessions that see the same state. A hospital's secretaries
//! keep several sessions open on one BAL, and mail programs open several connections each: every
//! one of them would otherwise hold its own copy of every message's metadata (about 170 bytes a
//! message), the bulk of an idle session's memory (issue 15: at most 50 KB a session).
//!
//! A view is shared only at an exact HIGHESTMODSEQ: the messages and the modseq are read in one
//! snapshot (`Store::messages`), or reached by a session that applied every change up to it. A
//! session that changes its view copies it first (`Arc::make_mut`), so no session ever sees a
//! change it was not told of (RFC 9051 §7.4: sequence numbers move only by what the server
//! announced to that session).
//!
//! A message is marked \Recent in a view until a session takes it (RFC 3501 §2.3.2), and a
//! view holding such marks is never shared: the session that reads it from the store takes the
//! marks (or, read-only, leaves them to the next one), and a session that gets a shared view
//! finds none.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};

use confiance_store::{MailboxId, MessageMeta};

use crate::{MailService, Result};

/// A folder's messages in UID order, shared between sessions.
pub type Messages = Arc<Vec<MessageMeta>>;

/// What a session starts from when it selects a folder.
pub struct View {
    /// The HIGHESTMODSEQ the messages are exactly at.
    pub modseq: u64,
    pub messages: Messages,
}

/// The live shared view of each folder, at its modseq. Entries whose sessions all left are
/// dropped when the table has doubled since it was last swept.
#[derive(Default)]
pub(crate) struct Views {
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    live: HashMap<MailboxId, (u64, Weak<Vec<MessageMeta>>)>,
    swept_at: usize,
}

impl Views {
    fn get(&self, folder: MailboxId, modseq: u64) -> Option<Messages> {
        let table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        match table.live.get(&folder) {
            Some((at, view)) if *at == modseq => view.upgrade(),
            _ => None,
        }
    }

    /// Makes `messages` (exactly at `modseq`) the shared view of `folder` unless a newer one
    /// lives or it holds \Recent marks nobody took (`marked`, which its session knows: a scan
    /// of the folder for them cost every APPEND a read of thousands of messages), and returns
    /// the shared view of that modseq.
    fn share(&self, folder: MailboxId, modseq: u64, messages: Messages, marked: bool) -> Messages {
        debug_assert!(marked || !messages.iter().any(|m| m.recent), "unsaid \\Recent marks");
        if marked {
            return messages;
        }
        let mut table = self.table.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((at, view)) = table.live.get(&folder)
            && let Some(view) = view.upgrade()
        {
            if *at == modseq {
                return view;
            }
            if *at > modseq {
                return messages;
            }
        }
        table.live.insert(folder, (modseq, Arc::downgrade(&messages)));
        if table.live.len() >= 2 * table.swept_at.max(64) {
            table.live.retain(|_, (_, view)| view.strong_count() > 0);
            table.swept_at = table.live.len();
        }
        messages
    }
}

impl MailService {
    /// The view a session starts from when it selects `folder`, whose HIGHESTMODSEQ was just
    /// read as `modseq`: the shared one when it is at that modseq, else read from the store for
    /// this session alone, with its \Recent marks; the session shares it (`share_view`) once it
    /// has taken them.
    pub async fn view(&self, folder: MailboxId, modseq: u64) -> Result<View> {
        if let Some(messages) = self.views.get(folder, modseq) {
            return Ok(View { modseq, messages });
        }
        let state = self.run(move |s| s.messages(folder)).await?;
        Ok(View {
            modseq: state.highest_modseq,
            messages: Arc::new(state.messages),
        })
    }

    /// After a session brought its view exactly to `modseq`: it takes the shared view of that
    /// state when another session holds one, else its own becomes the shared one, unless it
    /// still holds \Recent marks nobody took (`marked`, then it stays the session's own).
    pub fn share_view(&self, folder: MailboxId, modseq: u64, messages: &mut Messages, marked: bool) {
        *messages = self.views.share(folder, modseq, messages.clone(), marked);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view(uids: &[u32]) -> Messages {
        Arc::new(
            uids.iter()
                .map(|&uid| MessageMeta {
                    uid,
                    blob: confiance_store::BlobId("0".repeat(64)),
                    size: 1,
                    internal_date: 0,
                    internal_tz_minutes: 0,
                    flags: Vec::new(),
                    recent: false,
                    modseq: uid as u64,
                })
                .collect(),
        )
    }

    #[test]
    fn a_view_is_shared_at_its_exact_modseq_only() {
        let views = Views::default();
        let folder = MailboxId(1);
        let first = views.share(folder, 5, view(&[1, 2]), false);
        assert!(Arc::ptr_eq(&views.get(folder, 5).unwrap(), &first));
        // Another modseq is another state: not this view.
        assert!(views.get(folder, 4).is_none());
        assert!(views.get(folder, 6).is_none());
        // A session that reached modseq 5 on its own takes the shared copy.
        let caught_up = views.share(folder, 5, view(&[1, 2]), false);
        assert!(Arc::ptr_eq(&caught_up, &first));
        // An older state does not replace a newer one that lives.
        let newer = views.share(folder, 7, view(&[1, 2, 3]), false);
        let older = views.share(folder, 6, view(&[1, 2]), false);
        assert!(!Arc::ptr_eq(&older, &newer));
        assert!(Arc::ptr_eq(&views.get(folder, 7).unwrap(), &newer));
        // When every session has left, the view is gone.
        drop((first, caught_up, newer));
        assert!(views.get(folder, 7).is_none());
        // A view with a \Recent mark nobody took stays its session's own.
        let mut marked = view(&[1, 2, 3, 4]);
        Arc::make_mut(&mut marked)[3].recent = true;
        assert!(Arc::ptr_eq(&views.share(folder, 9, marked.clone(), true), &marked));
        assert!(views.get(folder, 9).is_none());
    }

    #[test]
    fn views_nobody_holds_are_swept() {
        let views = Views::default();
        for f in 0..1000 {
            drop(views.share(MailboxId(f), 1, view(&[1]), false));
        }
        let table = views.table.lock().unwrap();
        assert!(table.live.len() < 128, "{} entries kept", table.live.len());
    }
}
