//! Audit traces (traces fonctionnelles): who did what to which BAL, when, from where, without
//! the content. Réf. #2 ECO.4.1.1/4.1.2 and Ségur SC.MSS/CONF.17/18: the author, the time, the
//! action and the server's answer, failures included; message content never; kept at least six
//! months (FAQ ANS 10217), then purged.
//!
//! They live in a database of their own (`traces.sqlite` in the embedded default): a burst of
//! traces never waits for, nor delays, the writer of the mailboxes.

use std::path::Path;

use crate::Result;

/// One trace. Times are Unix milliseconds, so that a burst keeps its order when read back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    pub at_ms: i64,
    /// What happened: `login`, `sent`, `delivered`, `read`, `expunged`, `bal_suspended`…
    pub event: String,
    /// `success` or `failure`, where the event has one.
    pub outcome: Option<String>,
    /// Who did it: a national identifier (`8` + RPPS), an account, or `cli:<user>`.
    pub actor: Option<String>,
    /// The BAL it was done to or for.
    pub bal: Option<String>,
    /// The network peer (IP address, or the other operator's host).
    pub peer: Option<String>,
    /// The Message-ID of the message concerned, never its content.
    pub message_id: Option<String>,
    pub size: Option<u64>,
    /// The event's other fields, in the order they were given (method, reason, counts…).
    pub detail: Vec<(String, String)>,
}

impl Trace {
    /// The value of a detail field.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.detail.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// Which traces to read: a time range (milliseconds, `until` excluded), optionally one BAL.
#[derive(Clone, Debug, Default)]
pub struct TraceQuery<'a> {
    pub since_ms: i64,
    pub until_ms: i64,
    pub bal: Option<&'a str>,
    /// Only the traces of this Message-ID (as the field writes it, `<…>`).
    pub message_id: Option<&'a str>,
    /// Only these events (all when empty).
    pub events: &'a [&'a str],
}

pub trait Traces: Send + Sync + 'static {
    /// Records a batch in one transaction.
    fn record(&self, batch: &[Trace]) -> Result<()>;
    /// Calls `each` for every trace the query selects, oldest first, until it returns false.
    fn scan(&self, query: &TraceQuery<'_>, each: &mut dyn FnMut(Trace) -> bool) -> Result<()>;
    /// Deletes the traces older than `before_ms`; returns how many went.
    fn purge(&self, before_ms: i64) -> Result<u64>;
}

/// The detail fields as stored: a JSON array of `[name, value]` pairs, in their order.
pub(crate) fn encode(detail: &[(String, String)]) -> String {
    let pairs: Vec<[&str; 2]> = detail.iter().map(|(k, v)| [k.as_str(), v.as_str()]).collect();
    serde_json::to_string(&pairs).unwrap_or_else(|_| "[]".into())
}

pub(crate) fn decode(text: &str) -> Vec<(String, String)> {
    serde_json::from_str::<Vec<[String; 2]>>(text)
        .map(|pairs| pairs.into_iter().map(|[k, v]| (k, v)).collect())
        .unwrap_or_default()
}

/// Opens the trace log of the data directory (created if missing).
pub fn open_traces(data_dir: &Path) -> Result<std::sync::Arc<dyn Traces>> {
    std::fs::create_dir_all(data_dir)?;
    Ok(std::sync::Arc::new(crate::sqlite::traces::TraceLog::open(
        &data_dir.join("traces.sqlite"),
    )?))
}
