//! SQLite side of `Traces`: a file of its own, one connection that records and one that reads,
//! so that reading six months back never holds up the traces of the moment.

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, params, params_from_iter};

use crate::Result;
use crate::traces::{Trace, TraceQuery, Traces, decode, encode};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS traces(
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    event TEXT NOT NULL,
    outcome TEXT,
    actor TEXT,
    bal TEXT,
    peer TEXT,
    message_id TEXT,
    size INTEGER,
    -- The other fields as a JSON array of [name, value] pairs, in their order.
    detail TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS traces_at ON traces(at_ms);
CREATE INDEX IF NOT EXISTS traces_bal ON traces(bal, at_ms);
-- A message's timeline (issue 17): its sending, relaying, delivery and reports.
CREATE INDEX IF NOT EXISTS traces_message ON traces(message_id, at_ms);
";

pub struct TraceLog {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // NORMAL: a power cut may lose the last batch of traces, never corrupt the log; a flush per
    // batch would cost every login and delivery a disk round trip.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    Ok(conn)
}

impl TraceLog {
    pub fn open(path: &Path) -> Result<TraceLog> {
        let writer = connect(path)?;
        writer.execute_batch(SCHEMA)?;
        let reader = connect(path)?;
        Ok(TraceLog {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
        })
    }
}

fn row(r: &rusqlite::Row) -> rusqlite::Result<Trace> {
    Ok(Trace {
        at_ms: r.get(0)?,
        event: r.get(1)?,
        outcome: r.get(2)?,
        actor: r.get(3)?,
        bal: r.get(4)?,
        peer: r.get(5)?,
        message_id: r.get(6)?,
        size: r.get::<_, Option<i64>>(7)?.map(|s| s.max(0) as u64),
        detail: decode(&r.get::<_, String>(8)?),
    })
}

fn lock(m: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Traces for TraceLog {
    fn record(&self, batch: &[Trace]) -> Result<()> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO traces(at_ms, event, outcome, actor, bal, peer, message_id, size, detail)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for t in batch {
                insert.execute(params![
                    t.at_ms,
                    t.event,
                    t.outcome,
                    t.actor,
                    t.bal,
                    t.peer,
                    t.message_id,
                    t.size.map(|s| s.min(i64::MAX as u64) as i64),
                    encode(&t.detail),
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn scan(&self, query: &TraceQuery<'_>, each: &mut dyn FnMut(Trace) -> bool) -> Result<()> {
        let conn = lock(&self.reader);
        let mut sql = String::from(
            "SELECT at_ms, event, outcome, actor, bal, peer, message_id, size, detail FROM traces
             WHERE at_ms >= ? AND at_ms < ?",
        );
        let mut values: Vec<rusqlite::types::Value> = vec![query.since_ms.into(), query.until_ms.into()];
        if let Some(bal) = query.bal {
            sql.push_str(" AND bal = ?");
            values.push(bal.to_string().into());
        }
        if let Some(id) = query.message_id {
            sql.push_str(" AND message_id = ?");
            values.push(id.to_string().into());
        }
        if !query.events.is_empty() {
            sql.push_str(" AND event IN (");
            sql.push_str(&vec!["?"; query.events.len()].join(", "));
            sql.push(')');
            values.extend(query.events.iter().map(|e| e.to_string().into()));
        }
        sql.push_str(" ORDER BY at_ms, id");
        let mut stmt = conn.prepare(&sql)?;
        let mut rows = stmt.query(params_from_iter(values))?;
        while let Some(r) = rows.next()? {
            if !each(row(r)?) {
                break;
            }
        }
        Ok(())
    }

    fn purge(&self, before_ms: i64) -> Result<u64> {
        // In slices, so that recording goes on between them after months of backlog.
        let mut gone = 0u64;
        loop {
            let n = lock(&self.writer).execute(
                "DELETE FROM traces WHERE id IN (SELECT id FROM traces WHERE at_ms < ?1 LIMIT 10000)",
                [before_ms],
            )?;
            gone += n as u64;
            if n < 10_000 {
                return Ok(gone);
            }
        }
    }
}
