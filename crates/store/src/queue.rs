//! The outbound queue: messages accepted for other operators of the trust space, kept durably
//! until each recipient is delivered, refused for good, or given up (RFC 5321 §4.5.4.1).
//!
//! Several nodes may share one queue (PostgreSQL): a node takes due recipients under a lease of
//! its own name that it renews while it works on them. A node that dies stops renewing, so its
//! recipients come back to the others when the lease ends; a node that restarts gives back only
//! its own, never the ones live nodes are delivering (they would be sent twice).

use std::path::Path;

use crate::Result;

pub use crate::sqlite::queue::SqliteQueue;

/// How long a lease lasts without renewal: the longest a dead node's recipients wait before
/// another node takes them.
pub const LEASE_SECS: i64 = 60;
/// How often a node renews its leases (well within `LEASE_SECS`, so a slow database round trip
/// never lets a live node's lease end).
pub const RENEW_EVERY_SECS: u64 = (LEASE_SECS / 4) as u64;

/// A message to queue, with its recipients at other operators.
pub struct NewQueued<'a> {
    pub id: &'a str,
    /// Envelope sender; empty for a delivery report (RFC 3461 §6.2: reports have a null sender).
    pub sender: &'a str,
    pub envid: Option<&'a str>,
    pub ret_full: bool,
    pub body: &'a [u8],
    pub recipients: Vec<QueuedAddress>,
}

/// One recipient with its DSN parameters (RFC 3461 NOTIFY and ORCPT).
#[derive(Clone, Debug)]
pub struct QueuedAddress {
    pub address: String,
    pub orcpt: Option<String>,
    pub notify: Option<String>,
}

impl QueuedAddress {
    /// The domain the recipient is relayed to, in lower case (one connection per domain).
    pub fn domain(&self) -> String {
        self.address
            .rsplit_once('@')
            .map(|(_, d)| d.to_lowercase())
            .unwrap_or_default()
    }
}

/// One recipient waiting, as the relay and the admin see it.
#[derive(Clone, Debug)]
pub struct QueuedRecipient {
    pub id: i64,
    pub message: String,
    pub sender: String,
    pub address: String,
    pub domain: String,
    pub orcpt: Option<String>,
    pub notify: Option<String>,
    pub attempts: u32,
    pub next_attempt: i64,
    pub arrival: i64,
    pub bounce: bool,
    pub delay_notified: bool,
    pub last_error: Option<String>,
}

/// A message's envelope and content.
pub struct QueuedMessage {
    pub id: String,
    pub sender: String,
    pub envid: Option<String>,
    pub ret_full: bool,
    pub arrival: i64,
    pub body: Vec<u8>,
}

/// Opens the outbound queue of the embedded default (`queue.sqlite` under `data_dir`), leasing
/// in this host's name.
pub fn open_queue(data_dir: &Path) -> Result<std::sync::Arc<dyn Queue>> {
    Ok(std::sync::Arc::new(SqliteQueue::open(
        &data_dir.join("queue.sqlite"),
        &host_name(),
    )?))
}

/// This machine's host name: the default name of its node.
pub fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length; the name is cut at its first NUL.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(name) if ok && !name.is_empty() => name.to_string(),
        _ => "local".to_string(),
    }
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The outbound queue as the relay and the CLI use it: one implementation per backend (the
/// embedded SQLite file, or PostgreSQL shared by several nodes). A handle belongs to one node
/// (`node()`): the leases it takes are in that name.
pub trait Queue: Send + Sync + 'static {
    /// Stores messages and their recipients in one transaction; due at once.
    fn enqueue(&self, messages: &[NewQueued]) -> Result<()>;
    /// The name leases are taken in.
    fn node(&self) -> &str;
    /// Start-up: this node's attempts that its stop interrupted are due again. Other nodes'
    /// leases stay with them (they end by themselves if their node is dead).
    fn release_leases(&self) -> Result<usize>;
    /// Takes up to `limit` due recipients, oldest first: those not leased, and those whose lease
    /// ended before `now` on another node (it died). Never this node's own: they are in its
    /// hands, however late its renewal (only `release_leases`, at start, gives them back). They are leased to this node until
    /// `now + LEASE_SECS`; two nodes never take the same recipient at once.
    fn take_due(&self, now: i64, limit: usize) -> Result<Vec<QueuedRecipient>>;
    /// This node still works on what it leased: the leases last `LEASE_SECS` from `now`.
    /// Returns how many it holds.
    fn renew_leases(&self, now: i64) -> Result<usize>;
    fn message(&self, id: &str) -> Result<Option<QueuedMessage>>;
    /// Recipients done with (delivered, or failed and reported): removed, and their message
    /// with them once no recipient is left.
    fn finish(&self, recipients: &[i64]) -> Result<()>;
    /// A temporary failure: try again at `next_attempt`. Only while this node holds the
    /// lease: a lease that ended belongs to whoever took the recipient next. Returns whether it
    /// held it.
    fn defer(&self, recipient: i64, next_attempt: i64, error: &str) -> Result<bool>;
    /// Gives a leased recipient back untouched (no attempt was made); same rule as `defer`.
    fn release(&self, recipient: i64) -> Result<()>;
    fn set_delay_notified(&self, recipient: i64) -> Result<()>;
    /// Everything waiting, oldest first (`confiance queue list`).
    fn list(&self) -> Result<Vec<QueuedRecipient>>;
    /// Number of recipients waiting.
    fn len(&self) -> Result<usize>;
    fn is_empty(&self) -> Result<bool>;
    /// `confiance queue retry`: due now (one message, or all with `None`). Returns the count.
    fn retry(&self, message: Option<&str>) -> Result<usize>;
    /// `confiance queue bounce`: the relay fails the recipients with a report to the sender.
    fn bounce(&self, message: &str) -> Result<usize>;
    /// `confiance queue delete`: removes a message without any report. Returns recipients removed.
    fn delete(&self, message: &str) -> Result<usize>;
}
