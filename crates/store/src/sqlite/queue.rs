//! SQLite side of the outbound queue: a file of its own, so that `confiance queue` can inspect
//! it while the operator runs.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use crate::queue::{LEASE_SECS, NewQueued, Queue, QueuedMessage, QueuedRecipient, now};
use crate::{Result, StoreError};

/// The queue's schema, one step a version (`PRAGMA user_version`). Version 1 is written so that
/// it also accepts the files made before versions were counted.
const MIGRATIONS: &[&str] = &[
    r#"
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
    leased INTEGER NOT NULL DEFAULT 0,
    -- The administrator asked to give up: fail with a report at the next pass.
    bounce INTEGER NOT NULL DEFAULT 0,
    delay_notified INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE INDEX IF NOT EXISTS queued_recipient_due ON queued_recipient(next_attempt) WHERE leased = 0;
CREATE INDEX IF NOT EXISTS queued_recipient_message ON queued_recipient(message);
"#,
    // Leases in a node's name that end by themselves (issue 19), in place of a flag that only
    // a restart cleared.
    r#"
DROP INDEX queued_recipient_due;
ALTER TABLE queued_recipient DROP COLUMN leased;
ALTER TABLE queued_recipient ADD COLUMN leased_by TEXT;
ALTER TABLE queued_recipient ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
CREATE INDEX queued_recipient_due ON queued_recipient(next_attempt);
"#,
];

pub struct SqliteQueue {
    conn: Mutex<Connection>,
    node: String,
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

impl SqliteQueue {
    /// Opens (or creates) the queue file; `node` names the leases this handle takes.
    pub fn open(path: &Path, node: &str) -> Result<SqliteQueue> {
        let mut conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // FULL: a queued message is on disk before its `250`.
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrate(&mut conn)?;
        Ok(SqliteQueue {
            conn: Mutex::new(conn),
            node: node.to_string(),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> Result<T> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        Ok(f(&mut conn)?)
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let found: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    // Files of before the count have the tables but say 0: version 1 accepts them as they are.
    let known = MIGRATIONS.len() as i64;
    if found > known {
        return Err(StoreError::NewerSchema {
            component: "queue".into(),
            found,
            known,
        });
    }
    for sql in &MIGRATIONS[found as usize..] {
        tx.execute_batch(sql)?;
    }
    tx.pragma_update(None, "user_version", known)?;
    tx.commit()?;
    Ok(())
}

impl Queue for SqliteQueue {
    fn node(&self) -> &str {
        &self.node
    }

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
                    tx.execute(
                        "INSERT INTO queued_recipient(message, address, domain, orcpt, notify, next_attempt) \
                         VALUES (?1,?2,?3,?4,?5,?6)",
                        params![m.id, r.address, r.domain(), r.orcpt, r.notify, now],
                    )?;
                }
            }
            tx.commit()
        })
    }

    fn release_leases(&self) -> Result<usize> {
        self.with(|c| {
            c.execute(
                "UPDATE queued_recipient SET leased_by = NULL, lease_until = 0 WHERE leased_by = ?1",
                [&self.node],
            )
        })
    }

    fn take_due(&self, now: i64, limit: usize) -> Result<Vec<QueuedRecipient>> {
        self.with(|c| {
            // IMMEDIATE: the write lock from the start, so that two handles on the file take
            // turns instead of both reading the same recipients.
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let due = {
                let mut st = tx.prepare_cached(&format!(
                    "SELECT {COLUMNS} FROM queued_recipient r JOIN queued_message m ON m.id = r.message \
                     WHERE r.next_attempt <= ?1 \
                     AND (r.leased_by IS NULL OR (r.lease_until < ?1 AND r.leased_by IS NOT ?3)) \
                     ORDER BY r.next_attempt, r.id LIMIT ?2"
                ))?;
                st.query_map(params![now, limit as i64, self.node], row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            {
                let mut lease =
                    tx.prepare_cached("UPDATE queued_recipient SET leased_by = ?2, lease_until = ?3 WHERE id = ?1")?;
                for r in &due {
                    lease.execute(params![r.id, self.node, now + LEASE_SECS])?;
                }
            }
            tx.commit()?;
            Ok(due)
        })
    }

    fn renew_leases(&self, now: i64) -> Result<usize> {
        self.with(|c| {
            c.execute(
                "UPDATE queued_recipient SET lease_until = ?2 WHERE leased_by = ?1",
                params![self.node, now + LEASE_SECS],
            )
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

    fn defer(&self, recipient: i64, next_attempt: i64, error: &str) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "UPDATE queued_recipient SET leased_by = NULL, lease_until = 0, attempts = attempts + 1, \
                 next_attempt = ?2, last_error = ?3 WHERE id = ?1 AND leased_by = ?4",
                params![recipient, next_attempt, error, self.node],
            )
            .map(|n| n == 1)
        })
    }

    fn release(&self, recipient: i64) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE queued_recipient SET leased_by = NULL, lease_until = 0 WHERE id = ?1 AND leased_by = ?2",
                params![recipient, self.node],
            )
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
