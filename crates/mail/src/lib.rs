//! The only door to mailbox state, used by every front (SMTP, IMAP, the webmail): it owns the
//! store and the blob files, serialises deliveries into group commits, and tells open sessions
//! what changed. Each module owns one invariant:
//!
//! - `delivery` + `commit`: a message is durable (blob flushed, rows committed) before `250`;
//! - `blobs`: files are removed by the directory's one owner, under one lock, when unused;
//! - `notify`: every change is announced by the operation that made it;
//! - `folders`: names, depth and counts stay within bounds;
//! - `changes`: flags, copy/move and expunge; `reading`: what the fronts read;
//! - `views`: a folder's messages are shared by the sessions at the same exact state;
//! - `summary` + `backfill`: the list's summary of a message, made one way;
//! - `message`: the message format (MIME structure, encoded words, the author rule).

mod accounts;
pub mod archive;
mod backfill;
mod blobs;
mod changes;
mod commit;
pub mod contacts;
mod delivery;
pub mod filters;
pub mod folders;
mod headers;
pub mod message;
mod notify;
mod reading;
pub mod reports;
mod service;
pub mod structured;
pub mod summary;
mod views;

pub use delivery::{Incoming, internal_date_now};
pub use service::{MailError, MailService, Result};
pub use views::{Messages, View};

/// The mailbox model the fronts work with (defined with the store, which persists it).
pub mod model {
    pub use confiance_store::Exchange;
    pub use confiance_store::{
        Account, AccountId, AccountStatus, Appended, Changes, CopyOutcome, FlagOp, FlagOutcome, FlagUpdate,
        FolderCount, ListQuery, Listed, Mailbox as Folder, MailboxId as FolderId, MessageMeta, MessageSummary,
        ScriptChange, SearchQuery, SieveScript, SortKey, StoreError,
    };
}

/// The outbound queue to the other operators, which the relay and the submission fill and the
/// relay empties (persisted by the store; `confiance_store::open_queue` picks its backend).
pub mod queue {
    pub use confiance_store::Queue;
    pub use confiance_store::queue::*;
}
