//! The health directory (annuaire): the ANS public extracts read by header name, grouped into
//! a snapshot that each import replaces atomically, and searched in memory.

pub mod activity;
pub mod codec;
pub mod extract;
pub mod fold;
pub mod generate;
pub mod import;
pub mod index;
pub mod live;
pub mod model;
pub mod mssante;
pub mod search;
pub mod view;

use std::path::Path;

pub use codec::SnapshotError;
pub use extract::{BadLine, Extract, ExtractError};
pub use import::Builder;
pub use index::Index;
pub use live::LiveDirectory;
pub use model::{Activity, Mailbox, Organisation, Person, Snapshot, Text};
pub use mssante::{MailboxEntry, read_mailboxes};
pub use search::{Found, Hit, Query};
pub use view::{Entry, EntryKind};

/// A loaded directory: a snapshot and its index.
pub struct Directory {
    pub snapshot: Snapshot,
    pub index: Index,
}

/// The entries a search returns, best first.
#[derive(Debug, serde::Serialize)]
pub struct Results {
    /// How many entries matched in all (more than `entries` holds when limited).
    pub total: usize,
    /// `total` is only a lower bound (a word just begun matched too many entries to count).
    pub more: bool,
    pub entries: Vec<Entry>,
}

impl Directory {
    pub fn new(snapshot: Snapshot) -> Directory {
        let index = Index::build(&snapshot);
        Directory { snapshot, index }
    }

    /// Loads the snapshot at `path` and indexes it.
    pub fn open(path: &Path) -> Result<Directory, SnapshotError> {
        Ok(Directory::new(Snapshot::read(path)?))
    }

    /// The documents carrying an identifier: `kind` is one of [`index::filter`]'s (RPPS,
    /// national id, FINESS, address).
    pub fn with_identifier(&self, kind: char, value: &str) -> &[u32] {
        self.index
            .find(&index::filter::term(kind, value))
            .map_or(&[], |t| self.index.postings(t))
    }

    pub fn search(&self, query: &Query) -> Results {
        let found = self.index.search(query);
        Results {
            total: found.total,
            more: found.more,
            entries: found.hits.iter().map(|h| Entry::of(&self.snapshot, h.doc)).collect(),
        }
    }
}
