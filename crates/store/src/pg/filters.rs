//! PostgreSQL side of `Filters`: `sieve_scripts` and `vacation_replies`, both gone with their
//! BAL. Script changes lock the BAL's `accounts` row, so that "at most one active" holds.

use postgres::{Row, Transaction};

use super::store::{PgStore, now};
use crate::filters::*;
use crate::{AccountId, Result};

fn script_row(r: &Row) -> SieveScript {
    SieveScript {
        name: r.get(0),
        content: r.get(1),
        active: r.get(2),
    }
}

/// Takes the BAL's row lock: its script changes then run one after the other, on any node, as
/// SQLite's single writer ran them (the check before each write stays true until commit).
fn lock_account(tx: &mut Transaction, account: AccountId) -> Result<()> {
    tx.execute("SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE", &[&account.0])?;
    Ok(())
}

fn exists(tx: &mut Transaction, account: AccountId, name: &str) -> Result<bool> {
    Ok(tx
        .query_one(
            "SELECT EXISTS(SELECT 1 FROM sieve_scripts WHERE account_id = $1 AND name = $2)",
            &[&account.0, &name],
        )?
        .get(0))
}

impl Filters for PgStore {
    fn sieve_scripts(&self, account: AccountId) -> Result<Vec<SieveScript>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT name, content, active FROM sieve_scripts WHERE account_id = $1 ORDER BY name",
                &[&account.0],
            )?;
            Ok(rows.iter().map(script_row).collect())
        })
    }

    fn active_sieve_script(&self, account: AccountId) -> Result<Option<SieveScript>> {
        self.read(|c| {
            let row = c.query_opt(
                "SELECT name, content, active FROM sieve_scripts WHERE account_id = $1 AND active",
                &[&account.0],
            )?;
            Ok(row.as_ref().map(script_row))
        })
    }

    fn put_sieve_script(&self, account: AccountId, name: &str, content: &str) -> Result<()> {
        self.write(|tx| {
            // After a rename or an activation of the same BAL, never beside it.
            lock_account(tx, account)?;
            tx.execute(
                "INSERT INTO sieve_scripts(account_id, name, content, active, updated_at) VALUES($1, $2, $3, false, $4)
                 ON CONFLICT(account_id, name) DO UPDATE SET content = excluded.content, updated_at = excluded.updated_at",
                &[&account.0, &name, &content, &now()],
            )?;
            Ok(())
        })
    }

    fn activate_sieve_script(&self, account: AccountId, name: Option<&str>) -> Result<ScriptChange> {
        self.write(|tx| {
            // The script checked here is still there at the update: one active, not none.
            lock_account(tx, account)?;
            if let Some(name) = name
                && !exists(tx, account, name)?
            {
                return Ok(ScriptChange::NoSuchScript);
            }
            tx.execute(
                "UPDATE sieve_scripts SET active = (name IS NOT DISTINCT FROM $2) WHERE account_id = $1",
                &[&account.0, &name],
            )?;
            Ok(ScriptChange::Done)
        })
    }

    fn delete_sieve_script(&self, account: AccountId, name: &str) -> Result<ScriptChange> {
        self.write(|tx| {
            // No activation between the check and the delete: the active script stays.
            lock_account(tx, account)?;
            let active: Option<bool> = tx
                .query_opt(
                    "SELECT active FROM sieve_scripts WHERE account_id = $1 AND name = $2",
                    &[&account.0, &name],
                )?
                .map(|r| r.get(0));
            Ok(match active {
                None => ScriptChange::NoSuchScript,
                Some(true) => ScriptChange::Active,
                Some(false) => {
                    tx.execute(
                        "DELETE FROM sieve_scripts WHERE account_id = $1 AND name = $2",
                        &[&account.0, &name],
                    )?;
                    ScriptChange::Done
                }
            })
        })
    }

    fn rename_sieve_script(&self, account: AccountId, from: &str, to: &str) -> Result<ScriptChange> {
        self.write(|tx| {
            // Both checks hold until commit: no put or rename of this BAL can take `to` between.
            lock_account(tx, account)?;
            if !exists(tx, account, from)? {
                return Ok(ScriptChange::NoSuchScript);
            }
            if exists(tx, account, to)? {
                return Ok(ScriptChange::NameTaken);
            }
            tx.execute(
                "UPDATE sieve_scripts SET name = $3 WHERE account_id = $1 AND name = $2",
                &[&account.0, &from, &to],
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
                "DELETE FROM vacation_replies WHERE account_id = $1 AND sent_at < $2",
                &[&account.0, &(now - 30 * 86_400)],
            )?;
            // One statement claims: a concurrent claim waits for this row, then re-reads its
            // committed `sent_at` in the WHERE and updates nothing, so only one node answers.
            let claimed = tx.query_opt(
                "INSERT INTO vacation_replies(account_id, sender, handle, sent_at) VALUES($1, $2, $3, $4)
                 ON CONFLICT(account_id, sender, handle) DO UPDATE SET sent_at = excluded.sent_at
                 WHERE vacation_replies.sent_at <= $5
                 RETURNING 1",
                &[&account.0, &sender, &handle, &now, &since],
            )?;
            Ok(claimed.is_some())
        })
    }

    fn release_vacation_reply(&self, account: AccountId, sender: &str, handle: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM vacation_replies WHERE account_id = $1 AND sender = $2 AND handle = $3",
                &[&account.0, &sender, &handle],
            )?;
            Ok(())
        })
    }
}
