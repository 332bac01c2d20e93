//! PostgreSQL side of `Traces`: one table that every node writes its traces to, so that an
//! audit reads a BAL's whole history whichever node served each request.

use postgres::types::ToSql;

use super::{Pool, migrate};
use crate::Result;
use crate::traces::{Trace, TraceQuery, Traces, decode, encode};

const MIGRATIONS: &[&str] = &["
CREATE TABLE traces(
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms bigint NOT NULL,
    event text NOT NULL,
    outcome text,
    actor text,
    bal text,
    peer text,
    message_id text,
    size bigint,
    -- The other fields as a JSON array of [name, value] pairs, in their order.
    detail text NOT NULL DEFAULT '[]'
);
CREATE INDEX traces_at ON traces(at_ms);
CREATE INDEX traces_bal ON traces(bal, at_ms);
-- A message's timeline (issue 17): its sending, relaying, delivery and reports.
CREATE INDEX traces_message ON traces(message_id, at_ms);
"];

/// Traces do not wait for the disk flush (as SQLite's `synchronous=NORMAL`): a crash of the
/// server may lose the last batch, never corrupt the log, and logins and deliveries do not pay
/// a flush each.
const SESSION: &str = "SET synchronous_commit = off; SET lock_timeout = '10s'";

pub struct PgTraces {
    pool: Pool,
}

impl PgTraces {
    pub fn open(url: &str, pool_size: u32) -> Result<PgTraces> {
        let pool = Pool::connect(url, pool_size, SESSION)?;
        migrate(&mut *pool.get()?, "traces", MIGRATIONS)?;
        Ok(PgTraces { pool })
    }
}

impl Traces for PgTraces {
    fn record(&self, batch: &[Trace]) -> Result<()> {
        let mut client = self.pool.get()?;
        let mut tx = client.transaction()?;
        let insert = tx.prepare(
            "INSERT INTO traces(at_ms, event, outcome, actor, bal, peer, message_id, size, detail)
             VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )?;
        for t in batch {
            let size = t.size.map(|s| s.min(i64::MAX as u64) as i64);
            tx.execute(
                &insert,
                &[
                    &t.at_ms,
                    &t.event,
                    &t.outcome,
                    &t.actor,
                    &t.bal,
                    &t.peer,
                    &t.message_id,
                    &size,
                    &encode(&t.detail),
                ],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn scan(&self, query: &TraceQuery<'_>, each: &mut dyn FnMut(Trace) -> bool) -> Result<()> {
        let mut sql = String::from(
            "SELECT at_ms, event, outcome, actor, bal, peer, message_id, size, detail FROM traces
             WHERE at_ms >= $1 AND at_ms < $2",
        );
        let events: Vec<&str> = query.events.to_vec();
        let mut values: Vec<&(dyn ToSql + Sync)> = vec![&query.since_ms, &query.until_ms];
        if let Some(bal) = &query.bal {
            values.push(bal);
            sql.push_str(&format!(" AND bal = ${}", values.len()));
        }
        if let Some(id) = &query.message_id {
            values.push(id);
            sql.push_str(&format!(" AND message_id = ${}", values.len()));
        }
        if !events.is_empty() {
            values.push(&events);
            sql.push_str(&format!(" AND event = ANY(${})", values.len()));
        }
        sql.push_str(" ORDER BY at_ms, id");
        // A portal read 1,000 rows at a time: six months of traces are never held at once, and
        // a scan stopped early leaves nothing in flight on the connection (the transaction's
        // end closes the portal).
        let mut client = self.pool.get()?;
        let mut tx = client.build_transaction().read_only(true).start()?;
        let portal = tx.bind(sql.as_str(), &values)?;
        loop {
            let rows = tx.query_portal(&portal, 1000)?;
            if rows.is_empty() {
                return Ok(());
            }
            for r in &rows {
                let trace = Trace {
                    at_ms: r.get(0),
                    event: r.get(1),
                    outcome: r.get(2),
                    actor: r.get(3),
                    bal: r.get(4),
                    peer: r.get(5),
                    message_id: r.get(6),
                    size: r.get::<_, Option<i64>>(7).map(|s| s.max(0) as u64),
                    detail: decode(r.get(8)),
                };
                if !each(trace) {
                    return Ok(());
                }
            }
        }
    }

    fn purge(&self, before_ms: i64) -> Result<u64> {
        // In slices, so that recording goes on between them after months of backlog.
        let mut gone = 0u64;
        loop {
            let n = self.pool.get()?.execute(
                "DELETE FROM traces WHERE id IN (SELECT id FROM traces WHERE at_ms < $1 LIMIT 10000)",
                &[&before_ms],
            )?;
            gone += n;
            if n < 10_000 {
                return Ok(gone);
            }
        }
    }
}
