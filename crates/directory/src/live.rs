//! The directory a running server answers from: the national snapshot and this operator's own
//! BAL. An import (another process) replaces the snapshot file atomically; `refresh` notices
//! the new file and swaps the loaded directory in one step, so a search sees the old directory
//! or the new one, never a mix, and searches keep running on the old one while the new one is
//! indexed. Own BAL come from the accounts' listings: they replace the national entry of the
//! same address, and a red-listed one hides it, at once.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use crate::model::{Activity, Interner, Mailbox, Person, Snapshot, Text};
use crate::view::{Entry, EntryKind};
use crate::{Builder, Directory, MailboxEntry, Query, Results, SnapshotError};

/// This operator's own BAL.
struct Own {
    directory: Arc<Directory>,
    /// Addresses national entries must not show, lower case: our published ones (shown from
    /// `directory`) and our red-listed ones (shown nowhere). Besides these, every national
    /// BAL on one of our domains is hidden: a withdrawn or deleted account, or one whose
    /// listing could not be read, must not reappear from an older national file.
    hidden: Arc<HashSet<String>>,
    /// What `directory` was built from, to rebuild only on change.
    source: (Vec<MailboxEntry>, Vec<String>),
}

pub struct LiveDirectory {
    path: PathBuf,
    current: RwLock<Option<Arc<Directory>>>,
    /// Identity of the file loaded (or last refused): device, inode, mtime, size.
    loaded: RwLock<Option<FileStamp>>,
    own: RwLock<Own>,
    /// Our own listings have been read at least once: until then nothing national is shown,
    /// since a red-listed BAL could not be hidden yet (fail closed).
    own_ready: AtomicBool,
    /// This operator's domains (lower case).
    domains: Vec<String>,
}

type FileStamp = (u64, u64, i64, i64, u64);

fn stamp(meta: &std::fs::Metadata) -> FileStamp {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino(), meta.mtime(), meta.mtime_nsec(), meta.size())
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
            own_ready: AtomicBool::new(false),
            domains: Vec::new(),
        }
    }

    /// Hosting `domains`: national BAL on them are never shown (ours come from our listings).
    pub fn for_domains(mut self, domains: &[String]) -> LiveDirectory {
        self.domains = domains.iter().map(|d| d.to_lowercase()).collect();
        self
    }

    /// An already loaded directory with no own BAL (tests, tools).
    pub fn from_directory(directory: Directory) -> LiveDirectory {
        let live = LiveDirectory::empty(PathBuf::new());
        *live.current.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(directory));
        live.own_ready.store(true, Ordering::SeqCst);
        live
    }

    /// The national directory in force, if one was ever loaded.
    pub fn get(&self) -> Option<Arc<Directory>> {
        self.current.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Reloads when the file changed since the last load. Returns whether it did. A damaged
    /// file is an error and the directory in force stays.
    pub fn refresh(&self) -> Result<bool, SnapshotError> {
        // The stamp of the file actually opened (an import may rename another over the path
        // at any moment); a refused file is remembered so it is not re-read every tick.
        let Ok(file) = std::fs::File::open(&self.path) else {
            return Ok(false);
        };
        let Ok(meta) = file.metadata() else { return Ok(false) };
        let stamp = stamp(&meta);
        if *self.loaded.read().unwrap_or_else(|e| e.into_inner()) == Some(stamp) {
            return Ok(false);
        }
        *self.loaded.write().unwrap_or_else(|e| e.into_inner()) = Some(stamp);
        let snapshot = Snapshot::read_from(file, &self.path)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(Directory::new(snapshot)));
        Ok(true)
    }

    /// Sets this operator's own BAL: `published` are shown, `red_listed` (addresses) hidden
    /// everywhere. Returns whether anything changed.
    pub fn set_own(&self, published: Vec<MailboxEntry>, red_listed: Vec<String>) -> bool {
        let source = (published, red_listed);
        if self.own.read().unwrap_or_else(|e| e.into_inner()).source == source {
            self.own_ready.store(true, Ordering::SeqCst);
            return false;
        }
        self.own_ready.store(true, Ordering::SeqCst);
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

    /// The directories to search, own first; `None` when there is nothing at all, or while
    /// our own listings (and so the liste rouge) are not known yet.
    pub fn sources(&self) -> Option<Vec<Source>> {
        if !self.own_ready.load(Ordering::SeqCst) {
            return None;
        }
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

    /// Whether a national BAL must not be shown (see [`Own::hidden`]).
    fn hidden(&self, hidden: &HashSet<String>, address: &str) -> bool {
        let a = lower(address);
        hidden.contains(&a)
            || a.rsplit_once('@')
                .is_some_and(|(_, d)| self.domains.iter().any(|x| *x == d))
    }

    fn hidden_set(&self) -> Arc<HashSet<String>> {
        self.own.read().unwrap_or_else(|e| e.into_inner()).hidden.clone()
    }

    /// The entry of `doc` in `source`, without the BAL the national directory must not show
    /// (ours: shown from our own entry; red-listed: shown nowhere).
    pub fn entry(&self, source: &Source, doc: u32) -> Entry {
        let mut e = Entry::of(&source.directory.snapshot, doc);
        if !source.own {
            let hidden = self.hidden_set();
            e.mailboxes.retain(|m| !self.hidden(&hidden, &m.address));
        }
        e
    }

    /// Whether `doc` of `source` still matches `q` once its hidden BAL are gone: a query must
    /// never find an entry through a BAL it may not show (its address, type or service would
    /// tell who holds a red-listed BAL).
    pub fn matches_visibly(&self, source: &Source, doc: u32, q: &Query) -> bool {
        if source.own {
            return true;
        }
        let s = &source.directory.snapshot;
        let hidden = self.hidden_set();
        let is_hidden = |m: &Mailbox| self.hidden(&hidden, s.text(m.address));
        match s.people.get(doc as usize) {
            None => !is_hidden(&s.organisations[doc as usize - s.people.len()].mailbox),
            Some(p) if !p.mailboxes.iter().any(is_hidden) => true,
            Some(p) => {
                let alone = alone(s, p, |m| !is_hidden(m));
                alone.index.search(q).total > 0
            }
        }
    }

    /// Searches the own and the national directories and merges by score (own first on ties).
    /// `None` when there is no directory at all.
    pub fn search(&self, q: &Query) -> Option<Results> {
        let sources = self.sources()?;
        let limit = q.limit.clamp(1, 200);
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
            if !self.matches_visibly(source, doc, q) {
                total -= 1;
                continue;
            }
            let e = self.entry(source, doc);
            // A professional without a BAL left is still public RPPS data, unless only
            // entries with a BAL were asked for; a structure's entry is its BAL.
            if e.mailboxes.is_empty() && (q.with_mailbox || q.kind.is_some() || e.kind == EntryKind::Organisation) {
                total -= 1;
                continue;
            }
            entries.push(e);
            if entries.len() >= limit {
                break;
            }
        }
        Some(Results { total, more, entries })
    }
}

/// One professional of `s` alone in a directory, with only the BAL `keep` accepts.
fn alone(s: &Snapshot, p: &Person, keep: impl Fn(&Mailbox) -> bool) -> Directory {
    let mut t = Interner::default();
    let mut c = |x: Text| t.intern(s.text(x));
    let activities = p
        .activities
        .iter()
        .map(|a| Activity::from_texts(a.texts().map(&mut c)))
        .collect();
    let mailboxes = p
        .mailboxes
        .iter()
        .filter(|m| keep(m))
        .map(|m| Mailbox {
            address: c(m.address),
            service: c(m.service),
            ..*m
        })
        .collect();
    let person = Person {
        national_id: c(p.national_id),
        civility: c(p.civility),
        family_name: c(p.family_name),
        given_name: c(p.given_name),
        profession: c(p.profession),
        specialty: c(p.specialty),
        activities,
        mailboxes,
    };
    Directory::new(Snapshot {
        texts: t.finish(),
        people: vec![person],
        ..Snapshot::default()
    })
}
