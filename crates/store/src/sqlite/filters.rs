//! SQLite side of `Filters`: `sieve_scripts` and `vacation_replies`, both gone with their BAL.

use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, now};
use crate::filters::*;
use crate::{AccountId, Result};

fn script_row(r: &rusqlite::Row) -> rusqlite::Result<SieveScript> {
    Ok(SieveScript {
        name: r.get(0)?,
        content: r.get(1)?,
        active: r.get(2)?,
    })
}

fn exists(tx: &rusqlite::Transaction, account: AccountId, name: &str) -> rusqlite::Result<bool> {
    tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM sieve_scripts WHERE account_id = ?1 AND name = ?2)",
        params![account.0, name],
        |r| r.get(0),
    )
}

impl Filters for SqliteStore {
    fn sieve_scripts(&self, account: AccountId) -> Result<Vec<SieveScript>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT name, content, active FROM sieve_scripts WHERE account_id = ?1 ORDER BY name",
            )?;
            let rows = stmt
                .query_map([account.0], script_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn active_sieve_script(&self, account: AccountId) -> Result<Option<SieveScript>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT name, content, active FROM sieve_scripts WHERE account_id = ?1 AND active = 1",
            )?
            .query_row([account.0], script_row)
            .optional()?)
        })
    }

    fn put_sieve_script(&self, account: AccountId, name: &str, content: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO sieve_scripts(account_id, name, content, active, updated_at) VALUES(?1, ?2, ?3, 0, ?4)
                 ON CONFLICT(account_id, name) DO UPDATE SET content = excluded.content, updated_at = excluded.updated_at",
                params![account.0, name, content, now()],
            )?;
            Ok(())
        })
    }

    fn activate_sieve_script(&self, account: AccountId, name: Option<&str>) -> Result<ScriptChange> {
        self.write(|tx| {
            if let Some(name) = name
                && !exists(tx, account, name)?
            {
                return Ok(ScriptChange::NoSuchScript);
            }
            tx.execute(
                "UPDATE sieve_scripts SET active = (name IS ?2) WHERE account_id = ?1",
                params![account.0, name],
            )?;
            Ok(ScriptChange::Done)
        })
    }

    fn delete_sieve_script(&self, account: AccountId, name: &str) -> Result<ScriptChange> {
        self.write(|tx| {
            let active: Option<bool> = tx
                .query_row(
                    "SELECT active FROM sieve_scripts WHERE account_id = ?1 AND name = ?2",
                    params![account.0, name],
                    |r| r.get(0),
                )
                .optional()?;
            Ok(match active {
                None => ScriptChange::NoSuchScript,
                Some(true) => ScriptChange::Active,
                Some(false) => {
                    tx.execute(
                        "DELETE FROM sieve_scripts WHERE account_id = ?1 AND name = ?2",
                        params![account.0, name],
                    )?;
                    ScriptChange::Done
                }
            })
        })
    }

    fn rename_sieve_script(&self, account: AccountId, from: &str, to: &str) -> Result<ScriptChange> {
        self.write(|tx| {
            if !exists(tx, account, from)? {
                return Ok(ScriptChange::NoSuchScript);
            }
            if exists(tx, account, to)? {
                return Ok(ScriptChange::NameTaken);
            }
            tx.execute(
                "UPDATE sieve_scripts SET name = ?3 WHERE account_id = ?1 AND name = ?2",
                params![account.0, from, to],
            )?;
            Ok(ScriptChange::Done)
        })
    }

    fn claim_vacation_reply(&self, account: AccountId, sender: &str, handle: &str, days: u32) -> Result<bool> {
        let now = now();
        let since = now - i64::from(days) * 86_400;
        self.write(|tx| {
            // Old answers are forgotten on the way: the table holds at most a period's senders.
            tx.execute(
                "DELETE FROM vacation_replies WHERE account_id = ?1 AND sent_at < ?2",
                params![account.0, now - 30 * 86_400],
            )?;
            let changed = tx.execute(
                "INSERT INTO vacation_replies(account_id, sender, handle, sent_at) VALUES(?1, ?2, ?3, ?4)
                 ON CONFLICT(account_id, sender, handle) DO UPDATE SET sent_at = excluded.sent_at
                 WHERE vacation_replies.sent_at <= ?5",
                params![account.0, sender, handle, now, since],
            )?;
            Ok(changed == 1)
        })
    }

    fn release_vacation_reply(&self, account: AccountId, sender: &str, handle: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM vacation_replies WHERE account_id = ?1 AND sender = ?2 AND handle = ?3",
                params![account.0, sender, handle],
            )?;
            Ok(())
        })
    }
}
