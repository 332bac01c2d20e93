//! Storage for the operator: the `Store` trait that every backend implements, the SQLite backend
//! (embedded default) and the content-addressed blob store that holds message bodies.
//!
//! Protocol crates never see SQL: they call the `mail` service, which calls this trait. A
//! PostgreSQL backend implements the same trait and runs the same test suite (`tests/`).

pub mod blobs;
pub mod contacts;
pub mod filters;
pub mod identity;
pub mod members;
pub mod model;
pub mod overview;
pub mod pg;
pub mod queue;
pub mod sqlite;
pub mod structures;
pub mod traces;

pub use blobs::{BlobStorage, BlobStore, OwnerLock, Remover};
pub use contacts::{Exchange, PatientContacts};
pub use filters::{Filters, ScriptChange, SieveScript};
pub use identity::*;
pub use members::*;
pub use model::*;
pub use overview::*;
pub use queue::{Queue, SqliteQueue, open_queue};
pub use sqlite::SqliteStore;
pub use structures::*;
pub use traces::{Trace, TraceQuery, Traces, open_traces};

/// Opens the metadata store the configuration names: today the embedded SQLite file under
/// `data_dir` (the one-node default); a second backend is chosen here, and nowhere else.
pub fn open(data_dir: &std::path::Path) -> Result<std::sync::Arc<dyn Store>> {
    std::fs::create_dir_all(data_dir)?;
    Ok(std::sync::Arc::new(SqliteStore::open(&data_dir.join("confiance.db"))?))
}

/// What every metadata backend offers. Calls block: the mail service runs them on blocking threads.
pub trait Store:
    Filters + Identities + Members + Overviews + PatientContacts + Structures + Send + Sync + 'static
{
    // Accounts
    fn create_account(&self, address: &str, password_hash: &str, quota_bytes: u64) -> Result<AccountId>;
    fn account_by_address(&self, address: &str) -> Result<Option<Account>>;
    fn account(&self, id: AccountId) -> Result<Option<Account>>;
    fn set_password(&self, id: AccountId, password_hash: &str) -> Result<()>;
    fn set_quota(&self, id: AccountId, quota_bytes: u64) -> Result<()>;
    fn accounts(&self) -> Result<Vec<Account>>;
    /// Publishes an account in the directory (`None`: withdraws it).
    fn set_listing(&self, id: AccountId, listing: Option<&DirectoryListing>) -> Result<()>;
    /// Every account's directory listing, with its address, red-listed ones included.
    fn listings(&self) -> Result<Vec<(String, DirectoryListing)>>;
    /// Bytes used by the account's messages (RFC 9208 STORAGE resource).
    fn usage(&self, id: AccountId) -> Result<u64>;

    // Mailboxes (folders)
    fn mailboxes(&self, account: AccountId) -> Result<Vec<Mailbox>>;
    fn mailbox(&self, account: AccountId, name: &str) -> Result<Option<Mailbox>>;
    fn create_mailbox(&self, account: AccountId, name: &str, special_use: Option<&str>) -> Result<Mailbox>;
    /// Deletes the folder and its messages; returns the blobs no message refers to any more.
    fn delete_mailbox(&self, account: AccountId, name: &str) -> Result<Vec<BlobId>>;
    /// Renames a folder and its children (`a` → `b` also moves `a/x` to `b/x`). Renaming INBOX
    /// moves its messages to a new folder and leaves INBOX empty (RFC 9051 §6.3.6).
    fn rename_mailbox(&self, account: AccountId, from: &str, to: &str, delimiter: char) -> Result<()>;
    fn set_subscribed(&self, account: AccountId, name: &str, subscribed: bool) -> Result<()>;
    /// Names the account subscribed to, including those of folders that no longer exist.
    fn subscriptions(&self, account: AccountId) -> Result<Vec<String>>;

    // Messages
    /// Every message of a folder, in UID order, with the folder's HIGHESTMODSEQ of that moment.
    fn messages(&self, mailbox: MailboxId) -> Result<FolderMessages>;
    /// What changed in a folder after `modseq`: new or changed messages, and expunged UIDs.
    fn changes_since(&self, mailbox: MailboxId, modseq: u64) -> Result<Changes>;
    /// Appends messages whose blobs are already durable, in one transaction (the group commit).
    /// Fails with `QuotaExceeded` for the deliveries that do not fit, leaving the others stored.
    ///
    /// Each group is either atomic (all its messages or none, RFC 3502 MULTIAPPEND) or not
    /// (each message stands alone: one SMTP message to several recipients, one over quota).
    fn append_groups(&self, groups: &[AppendGroup]) -> Vec<Vec<Result<Appended>>>;

    /// Appends messages that each stand alone, in one transaction.
    fn append(&self, deliveries: &[NewMessage]) -> Vec<Result<Appended>> {
        let group = AppendGroup {
            messages: deliveries.to_vec(),
            atomic: false,
        };
        self.append_groups(std::slice::from_ref(&group))
            .pop()
            .unwrap_or_default()
    }

    /// Appends all the messages or none.
    fn append_all(&self, deliveries: &[NewMessage]) -> Result<Vec<Appended>> {
        let group = AppendGroup {
            messages: deliveries.to_vec(),
            atomic: true,
        };
        self.append_groups(std::slice::from_ref(&group))
            .pop()
            .unwrap_or_default()
            .into_iter()
            .collect()
    }
    fn store_flags(&self, mailbox: MailboxId, request: &FlagUpdate) -> Result<FlagOutcome>;
    /// Copies (or moves) messages; returns (source uid, destination uid) pairs and the destination
    /// UIDVALIDITY (RFC 4315 COPYUID).
    fn copy(&self, from: MailboxId, uids: &[u32], to: MailboxId, remove_source: bool) -> Result<CopyOutcome>;
    /// Expunges the messages flagged \Deleted (restricted to `uids` when given); returns the
    /// expunged UIDs and the blobs no message refers to any more.
    fn expunge(&self, mailbox: MailboxId, uids: Option<&[u32]>) -> Result<(Vec<u32>, Vec<BlobId>)>;
    /// Whether any message refers to the blob.
    fn blob_in_use(&self, blob: &BlobId) -> Result<bool>;
    /// Forgets \Recent for the session that selected the folder read-write (RFC 3501 §2.3.2).
    fn clear_recent(&self, mailbox: MailboxId) -> Result<()>;

    // Blob bookkeeping for a process that may not remove blob files (see mail's `blobs`).
    /// Records blobs to remove once their owner checks that no row uses them.
    fn defer_blob_removals(&self, blobs: &[BlobId]) -> Result<()>;
    /// At most `limit` blobs recorded by `defer_blob_removals`.
    fn deferred_blob_removals(&self, limit: u32) -> Result<Vec<BlobId>>;
    /// Forgets recorded blobs (removed, or found in use again).
    fn forget_blob_removals(&self, blobs: &[BlobId]) -> Result<()>;
}

impl StoreError {
    /// The same error again, for every message of a batch it stopped.
    pub fn replicate(&self) -> StoreError {
        match self {
            StoreError::QuotaExceeded { used, limit } => StoreError::QuotaExceeded {
                used: *used,
                limit: *limit,
            },
            StoreError::NoSuchMailbox => StoreError::NoSuchMailbox,
            other => StoreError::Io(std::io::Error::other(other.to_string())),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no such account")]
    NoSuchAccount,
    #[error("no such folder")]
    NoSuchMailbox,
    #[error("the folder already exists")]
    MailboxExists,
    #[error("the account already exists")]
    AccountExists,
    #[error("a structure with this FINESS already exists")]
    StructureExists,
    #[error("no structure with this FINESS")]
    NoSuchStructure,
    /// A BAL keeps the type (PER, ORG, APP, CAB) it was created with (issue 16).
    #[error("this BAL is of type {0}, and a BAL's type never changes after its creation")]
    KindFixed(String),
    #[error("this folder cannot be changed this way: {0}")]
    Forbidden(&'static str),
    #[error("over quota: {used} of {limit} bytes used")]
    QuotaExceeded { used: u64, limit: u64 },
    #[error("the message was changed since the given modification sequence")]
    Modified,
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("PostgreSQL error: {}", pg::describe(.0))]
    Postgres(#[from] postgres::Error),
    /// No pooled connection came free in time (the server is down, or every connection busy).
    #[error("no PostgreSQL connection available: {0}")]
    Pool(#[from] r2d2::Error),
    #[error("storage configuration: {0}")]
    Config(String),
    /// The database was migrated by a newer Confiance: this one does not know its tables.
    #[error(
        "the {component} schema is at version {found}, newer than this version of Confiance knows ({known}): run the newer version"
    )]
    NewerSchema { component: String, found: i64, known: i64 },
    #[error("blob store error: {0}")]
    Io(#[from] std::io::Error),
}

impl StoreError {
    /// The disk (or the database's file system) is full: RFC 3463 4.3.1, not a failure of ours.
    pub fn is_storage_full(&self) -> bool {
        match self {
            StoreError::Io(e) => e.kind() == std::io::ErrorKind::StorageFull,
            StoreError::Database(rusqlite::Error::SqliteFailure(e, _)) => e.code == rusqlite::ErrorCode::DiskFull,
            StoreError::Postgres(e) => e.code() == Some(&postgres::error::SqlState::DISK_FULL),
            _ => false,
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;
