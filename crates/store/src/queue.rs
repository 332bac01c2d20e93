//! The outbound queue: messages accepted for other operators of the trust space, kept durably
//! until each recipient is delivered, refused for good, or given up (RFC 5321 §4.5.4.1). It
//! lives in its own SQLite file so that `confiance queue` can inspect it while the operator runs.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, params};

use crate::Result;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS queued_message(
    id TEXT PRIMARY KEY,
    sender TEXT NOT NULL,
    envid TEXT,
    ret_full INTEGER NOT NULL,
    arrival INTEGER NOT NULL,
    body BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS queued_recipient(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    message TEXT NOT NULL REFERENCES queued_message(id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    domain TEXT NOT NULL,
    orcpt TEXT,
    notify TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt INTEGER NOT NULL,
    -- Taken by a delivery attempt of this process; released at start-up.
    leased INTEGER NOT NULL DEFAULT 0,
    -- The administrator asked to give up: fail with a report at the next pass.
    bounce INTEGER NOT NULL DEFAULT 0,
    delay_notified INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS queued_recipient_due ON queued_recipient(next_attempt) WHERE leased = 0;
CREATE INDEX IF NOT EXISTS queued_recipient_message ON queued_recipient(message);
"#;

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

pub struct OutboundQueue {
    conn: Mutex<Connection>,
}

const COLUMNS: &str = "r.id, r.message, m.sender, r.address, r.domain, r.orcpt, r.notify, r.attempts, \
     r.next_attempt, m.arrival, r.bounce, r.delay_notified, r.last_error";

fn row(r: &rusqlite::Row) -> rusqlite::Result<QueuedRecipient> {
    Ok(QueuedRecipient {
        id: r.get(0)?,
        message: r.get(1)?,
        sender: r.get(2)?,
        address: r.get(3)?,
        domain: r.get(4)?,
        orcpt: r.get(5)?,
        notify: r.get(6)?,
        attempts: r.get(7)?,
        next_attempt: r.get(8)?,
        arrival: r.get(9)?,
        bounce: r.get(10)?,
        delay_notified: r.get(11)?,
        last_error: r.get(12)?,
    })
}

/// Opens the outbound queue of the embedded default (`queue.sqlite` under `data_dir`).
pub fn open_queue(data_dir: &Path) -> Result<std::sync::Arc<dyn Queue>> {
    Ok(std::sync::Arc::new(OutboundQueue::open(
        &data_dir.join("queue.sqlite"),
    )?))
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl OutboundQueue {
    pub fn open(path: &Path) -> Result<OutboundQueue> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a queued message is on disk before its `250`.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.execute_batch(SCHEMA)?;
        Ok(OutboundQueue { conn: Mutex::new(conn) })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        Ok(f(&mut conn)?)
    }
}

/// The outbound queue as the relay and the CLI use it: one implementation per backend (the
/// embedded SQLite file today), chosen by `open_queue`.
pub trait Queue: Send + Sync + 'static {
    /// Stores messages and their recipients in one transaction; due at once.
    fn enqueue(&self, messages: &[NewQueued]) -> Result<()>;
    /// Start-up: attempts of a previous run that was stopped are due again.
    fn release_leases(&self) -> Result<usize>;
    /// Takes up to `limit` due recipients (leasing them), oldest first.
    fn take_due(&self, now: i64, limit: usize) -> Result<Vec<QueuedRecipient>>;
    fn message(&self, id: &str) -> Result<Option<QueuedMessage>>;
    /// Recipients done with (delivered, or failed and reported): removed, and their message
    /// with them once no recipient is left.
    fn finish(&self, recipients: &[i64]) -> Result<()>;
    /// A temporary failure: try again at `next_attempt`.
    fn defer(&self, recipient: i64, next_attempt: i64, error: &str) -> Result<()>;
    /// Gives a leased recipient back untouched (no attempt was made).
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

impl Queue for OutboundQueue {
    fn enqueue(&self, messages: &[NewQueued]) -> Result<()> {
        let now = now();
        self.with(|c| {
            let tx = c.transaction()?;
            for m in messages {
                tx.execute(
                    "INSERT INTO queued_message(id, sender, envid, ret_full, arrival, body) VALUES (?1,?2,?3,?4,?5,?6)",
                    params![m.id, m.sender, m.envid, m.ret_full, now, m.body],
                )?;
                for r in &m.recipients {
                    let domain = r
                        .address
                        .rsplit_once('@')
                        .map(|(_, d)| d.to_lowercase())
                        .unwrap_or_default();
                    tx.execute(
                        "INSERT INTO queued_recipient(message, address, domain, orcpt, notify, next_attempt) \
                         VALUES (?1,?2,?3,?4,?5,?6)",
                        params![m.id, r.address, domain, r.orcpt, r.notify, now],
                    )?;
                }
            }
            tx.commit()
        })
    }

    fn release_leases(&self) -> Result<usize> {
        self.with(|c| c.execute("UPDATE queued_recipient SET leased = 0 WHERE leased = 1", []))
    }

    fn take_due(&self, now: i64, limit: usize) -> Result<Vec<QueuedRecipient>> {
        self.with(|c| {
            let tx = c.transaction()?;
            let due = {
                let mut st = tx.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM queued_recipient r JOIN queued_message m ON m.id = r.message \
                     WHERE r.leased = 0 AND r.next_attempt <= ?1 ORDER BY r.next_attempt, r.id LIMIT ?2"
                ))?;
                st.query_map(params![now, limit as i64], row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            for r in &due {
                tx.execute("UPDATE queued_recipient SET leased = 1 WHERE id = ?1", [r.id])?;
            }
            tx.commit()?;
            Ok(due)
        })
    }

    fn message(&self, id: &str) -> Result<Option<QueuedMessage>> {
        self.with(|c| {
            c.query_row(
                "SELECT id, sender, envid, ret_full, arrival, body FROM queued_message WHERE id = ?1",
                [id],
                |r| {
                    Ok(QueuedMessage {
                        id: r.get(0)?,
                        sender: r.get(1)?,
                        envid: r.get(2)?,
                        ret_full: r.get(3)?,
                        arrival: r.get(4)?,
                        body: r.get(5)?,
                    })
                },
            )
            .optional()
        })
    }

    fn finish(&self, recipients: &[i64]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction()?;
            for id in recipients {
                let message: Option<String> = tx
                    .query_row(
                        "DELETE FROM queued_recipient WHERE id = ?1 RETURNING message",
                        [id],
                        |r| r.get(0),
                    )
                    .optional()?;
                if let Some(m) = message {
                    tx.execute(
                        "DELETE FROM queued_message WHERE id = ?1 \
                         AND NOT EXISTS (SELECT 1 FROM queued_recipient WHERE message = ?1)",
                        [m],
                    )?;
                }
            }
            tx.commit()
        })
    }

    fn defer(&self, recipient: i64, next_attempt: i64, error: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE queued_recipient SET leased = 0, attempts = attempts + 1, next_attempt = ?2, last_error = ?3 \
                 WHERE id = ?1",
                params![recipient, next_attempt, error],
            )
            .map(|_| ())
        })
    }

    fn release(&self, recipient: i64) -> Result<()> {
        self.with(|c| {
            c.execute("UPDATE queued_recipient SET leased = 0 WHERE id = ?1", [recipient])
                .map(|_| ())
        })
    }

    fn set_delay_notified(&self, recipient: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE queued_recipient SET delay_notified = 1 WHERE id = ?1",
                [recipient],
            )
            .map(|_| ())
        })
    }

    fn list(&self) -> Result<Vec<QueuedRecipient>> {
        self.with(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {COLUMNS} FROM queued_recipient r JOIN queued_message m ON m.id = r.message \
                 ORDER BY m.arrival, r.id"
            ))?;
            st.query_map([], row)?.collect()
        })
    }

    fn len(&self) -> Result<usize> {
        self.with(|c| c.query_row("SELECT count(*) FROM queued_recipient", [], |r| r.get::<_, i64>(0)))
            .map(|n| n as usize)
    }

    fn is_empty(&self) -> Result<bool> {
        self.len().map(|n| n == 0)
    }

    fn retry(&self, message: Option<&str>) -> Result<usize> {
        self.with(|c| match message {
            Some(m) => c.execute("UPDATE queued_recipient SET next_attempt = 0 WHERE message = ?1", [m]),
            None => c.execute("UPDATE queued_recipient SET next_attempt = 0", []),
        })
    }

    fn bounce(&self, message: &str) -> Result<usize> {
        self.with(|c| {
            c.execute(
                "UPDATE queued_recipient SET bounce = 1, next_attempt = 0 WHERE message = ?1",
                [message],
            )
        })
    }

    fn delete(&self, message: &str) -> Result<usize> {
        self.with(|c| {
            let tx = c.transaction()?;
            let n = tx.execute("DELETE FROM queued_recipient WHERE message = ?1", [message])?;
            tx.execute("DELETE FROM queued_message WHERE id = ?1", [message])?;
            tx.commit()?;
            Ok(n)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rcpt(a: &str) -> QueuedAddress {
        QueuedAddress {
            address: a.into(),
            orcpt: None,
            notify: Some("FAILURE".into()),
        }
    }

    #[test]
    fn lifecycle() {
        let dir = tempfile::tempdir().unwrap();
        let q = OutboundQueue::open(&dir.path().join("queue.sqlite")).unwrap();
        q.enqueue(&[NewQueued {
            id: "M1",
            sender: "a@x.test",
            envid: None,
            ret_full: false,
            body: b"Subject: s\r\n\r\nbody\r\n",
            recipients: vec![rcpt("b@Y.test"), rcpt("c@z.test")],
        }])
        .unwrap();
        let due = q.take_due(now(), 10).unwrap();
        assert_eq!(due.len(), 2);
        assert_eq!(due[0].domain, "y.test");
        assert!(
            q.take_due(now(), 10).unwrap().is_empty(),
            "leased recipients are not due twice"
        );
        q.defer(due[0].id, now() + 3600, "421 busy").unwrap();
        q.finish(&[due[1].id]).unwrap();
        assert_eq!(q.len().unwrap(), 1);
        assert!(q.message("M1").unwrap().is_some());
        assert!(q.take_due(now(), 10).unwrap().is_empty());
        assert_eq!(q.retry(Some("M1")).unwrap(), 1);
        let again = q.take_due(now(), 10).unwrap();
        assert_eq!(again[0].attempts, 1);
        assert_eq!(again[0].last_error.as_deref(), Some("421 busy"));
        // A restart releases what the stopped run had taken.
        assert_eq!(q.release_leases().unwrap(), 1);
        q.finish(&[again[0].id]).unwrap();
        assert!(
            q.message("M1").unwrap().is_none(),
            "the message goes with its last recipient"
        );
        assert_eq!(q.delete("nope").unwrap(), 0);
    }
}
