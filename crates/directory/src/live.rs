//! The directory a running server answers from: the national snapshot and this operator's own
//! BAL. An import (another process) replaces the snapshot file atomically; `refresh` notices
//! the new file and swaps the loaded directory in one step, so a search sees the old directory
//! or the new one, never a mix, and searches keep running on the old one while the new one is
//! indexed. Own BAL come from the accounts' listings: they replace the national entry of the
//! same address, and a red-listed one hides it, at once.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::view::Entry;
use crate::{Builder, Directory, MailboxEntry, Query, Results, SnapshotError};

/// This operator's own BAL.
struct Own {
    directory: Arc<Directory>,
    /// Addresses national entries must not show: our published ones (shown from `directory`)
    /// and our red-listed ones (shown nowhere). Lower case.
    hidden: Arc<HashSet<String>>,
    /// What `directory` was built from, to rebuild only on change.
    source: (Vec<MailboxEntry>, Vec<String>),
}

pub struct LiveDirectory {
    path: PathBuf,
    current: RwLock<Option<Arc<Directory>>>,
    /// Modification time and size of the file loaded.
    loaded: RwLock<Option<(SystemTime, u64)>>,
    own: RwLock<Own>,
}

/// One of the directories searched, and whether it holds this operator's own BAL.
pub struct Source {
    pub directory: Arc<Directory>,
    pub own: bool,
}

fn empty_directory() -> Arc<Directory> {
    Arc::new(Directory::new(Builder::new().finish(0)))
}

fn lower(a: &str) -> String {
    a.to_lowercase()
}

impl LiveDirectory {
    /// Loads the snapshot at `path` if there is one.
    pub fn open(path: PathBuf) -> Result<LiveDirectory, SnapshotError> {
        let live = LiveDirectory::empty(path);
        live.refresh()?;
        Ok(live)
    }

    /// Nothing loaded yet: the first [`LiveDirectory::refresh`] loads `path`.
    pub fn empty(path: PathBuf) -> LiveDirectory {
        LiveDirectory {
            path,
            current: RwLock::new(None),
            loaded: RwLock::new(None),
            own: RwLock::new(Own {
                directory: empty_directory(),
                hidden: Arc::new(HashSet::new()),
                source: (Vec::new(), Vec::new()),
            }),
        }
    }

    /// An already loaded directory (tests, demo).
    pub fn from_directory(directory: Directory) -> LiveDirectory {
        let live = LiveDirectory::empty(PathBuf::new());
        *live.current.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(directory));
        live
    }

    /// The national directory in force, if one was ever loaded.
    pub fn get(&self) -> Option<Arc<Directory>> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reloads when the file changed since the last load. Returns whether it did. A damaged
    /// file is an error and the directory in force stays.
    pub fn refresh(&self) -> Result<bool, SnapshotError> {
        let Ok(meta) = std::fs::metadata(&self.path) else {
            return Ok(false);
        };
        let stamp = (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len());
        if *self.loaded.read().unwrap_or_else(|e| e.into_inner()) == Some(stamp) {
            return Ok(false);
        }
        let directory = Directory::open(&self.path)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(directory));
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = Some(stamp);
        Ok(true)
    }

    /// Sets this operator's own BAL: `published` are shown, `red_listed` (addresses) hidden
    /// everywhere. Returns whether anything changed.
    pub fn set_own(&self, published: Vec<MailboxEntry>, red_listed: Vec<String>) -> bool {
        let source = (published, red_listed);
        if self.own.read().unwrap_or_else(|e| e.into_inner()).source == source {
            return false;
        }
        let mut b = Builder::new();
        for e in &source.0 {
            b.own_mailbox(e.clone());
        }
        let hidden: HashSet<String> = source
            .0
            .iter()
            .map(|e| lower(&e.address.to_string()))
            .chain(source.1.iter().map(|a| lower(a)))
            .collect();
        *self.own.write().unwrap_or_else(|e| e.into_inner()) = Own {
            directory: Arc::new(Directory::new(b.finish(0))),
            hidden: Arc::new(hidden),
            source,
        };
        true
    }

    /// The directories to search, own first; `None` when there is nothing at all.
    pub fn sources(&self) -> Option<Vec<Source>> {
        let own = self.own.read().unwrap_or_else(|e| e.into_inner()).directory.clone();
        let national = self.get();
        if national.is_none() && own.index.docs() == 0 {
            return None;
        }
        let mut v = vec![Source {
            directory: own,
            own: true,
        }];
        v.extend(national.map(|directory| Source { directory, own: false }));
        Some(v)
    }

    /// The entry of `doc` in `source`, without the BAL the national directory must not show
    /// (ours: shown from our own entry; red-listed: shown nowhere).
    pub fn entry(&self, source: &Source, doc: u32) -> Entry {
        let mut e = Entry::of(&source.directory.snapshot, doc);
        if !source.own {
            let hidden = self.own.read().unwrap_or_else(|e| e.into_inner()).hidden.clone();
            e.mailboxes.retain(|m| !hidden.contains(&lower(&m.address)));
        }
        e
    }

    /// Searches the own and the national directories and merges by score (own first on ties).
    /// `None` when there is no directory at all.
    pub fn search(&self, q: &Query) -> Option<Results> {
        let sources = self.sources()?;
        let mut hits = Vec::new();
        let (mut total, mut more) = (0, false);
        for (i, s) in sources.iter().enumerate() {
            let found = s.directory.index.search(q);
            total += found.total;
            more |= found.more;
            hits.extend(found.hits.iter().map(|h| (h.score, std::cmp::Reverse(i), h.doc)));
        }
        // Stable: within a source the index's order (score, then alphabetical) stays.
        hits.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
        let mut entries = Vec::new();
        for (_, std::cmp::Reverse(i), doc) in hits {
            let source = &sources[i];
            let e = self.entry(source, doc);
            // A structure's entry is its BAL; a professional stays (public RPPS data) unless
            // only entries with a BAL were asked for.
            let lost_its_bal = !source.own
                && e.mailboxes.is_empty()
                && !Entry::of(&source.directory.snapshot, doc).mailboxes.is_empty();
            if lost_its_bal && (q.with_mailbox || q.kind.is_some() || e.kind == crate::EntryKind::Organisation) {
                total -= 1;
                continue;
            }
            entries.push(e);
            if entries.len() >= q.limit.clamp(1, 200) {
                break;
            }
        }
        Some(Results { total, more, entries })
    }
}
