//! PostgreSQL side of `Identities`: profiles, login failures, lifecycle, app passwords, SCRAM
//! keys, secrets, shared access and web sessions, safe with several nodes writing at once.

use postgres::Row;

use super::store::{ACCOUNT_COLS, PgStore, account_row, now, revoke};
use crate::identity::*;
use crate::{Account, AccountId, BlobId, Result, StoreError};

const PROFILE_COLS: &str = "national_id, given_name, family_name, personal_email, mobile, second_factor, \
     totp_secret, notify_new_mail, publish_mobile, mail_password, terms_accepted_at";

fn profile_row(r: &Row) -> Profile {
    Profile {
        national_id: r.get(0),
        given_name: r.get(1),
        family_name: r.get(2),
        personal_email: r.get(3),
        mobile: r.get(4),
        second_factor: SecondFactor::parse(r.get::<_, &str>(5)).unwrap_or(SecondFactor::Email),
        totp_secret: r.get(6),
        notify_new_mail: r.get(7),
        publish_mobile: r.get(8),
        mail_password: r.get(9),
        terms_accepted_at: r.get(10),
    }
}

fn failures_row(r: &Row) -> LoginFailures {
    LoginFailures {
        count: r.get::<_, i64>(0).clamp(0, u32::MAX as i64) as u32,
        locked_until: r.get(1),
    }
}

fn app_password_row(r: &Row) -> AppPassword {
    AppPassword {
        id: r.get(0),
        account: AccountId(r.get(1)),
        label: r.get(2),
        hash: r.get(3),
        created_at: r.get(4),
        last_used_at: r.get(5),
        lookup: r.get(6),
        member: r.get(7),
    }
}

fn scram_row(r: &Row) -> ScramKey {
    ScramKey {
        source: r.get(0),
        salt: r.get(1),
        iterations: r.get::<_, i64>(2).clamp(0, u32::MAX as i64) as u32,
        stored_key: r.get(3),
        server_key: r.get(4),
    }
}

fn changed(rows: u64) -> Result<()> {
    match rows {
        0 => Err(StoreError::NoSuchAccount),
        _ => Ok(()),
    }
}

impl Identities for PgStore {
    fn profile(&self, account: AccountId) -> Result<Option<Profile>> {
        self.read(|c| {
            let row = c.query_opt(
                &format!("SELECT {PROFILE_COLS} FROM account_profiles WHERE account_id = $1"),
                &[&account.0],
            )?;
            Ok(row.as_ref().map(profile_row))
        })
    }

    fn set_profile(&self, account: AccountId, p: &Profile) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO account_profiles(account_id, national_id, given_name, family_name, personal_email,
                     mobile, second_factor, totp_secret, notify_new_mail, publish_mobile, mail_password,
                     terms_accepted_at)
                 VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                 ON CONFLICT(account_id) DO UPDATE SET national_id = excluded.national_id,
                     given_name = excluded.given_name, family_name = excluded.family_name,
                     personal_email = excluded.personal_email, mobile = excluded.mobile,
                     second_factor = excluded.second_factor, totp_secret = excluded.totp_secret,
                     notify_new_mail = excluded.notify_new_mail, publish_mobile = excluded.publish_mobile,
                     mail_password = excluded.mail_password, terms_accepted_at = excluded.terms_accepted_at",
                &[
                    &account.0,
                    &p.national_id,
                    &p.given_name,
                    &p.family_name,
                    &p.personal_email,
                    &p.mobile,
                    &p.second_factor.as_str(),
                    &p.totp_secret,
                    &p.notify_new_mail,
                    &p.publish_mobile,
                    &p.mail_password,
                    &p.terms_accepted_at,
                ],
            )?;
            Ok(())
        })
    }

    fn claim_totp_step(&self, account: AccountId, step: i64) -> Result<bool> {
        // One conditional UPDATE: a concurrent claim of the same step on another node waits
        // for the row, re-checks the condition against the new value, and matches nothing.
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE account_profiles SET totp_step = $2
                 WHERE account_id = $1 AND (totp_step IS NULL OR totp_step < $2)",
                &[&account.0, &step],
            )? == 1)
        })
    }

    fn accounts_of(&self, national_id: &str) -> Result<Vec<Account>> {
        self.read(|c| {
            let rows = c.query(
                &format!(
                    "SELECT {} FROM accounts a JOIN account_profiles t ON t.account_id = a.id
                     WHERE t.national_id = $1 ORDER BY a.address",
                    qualified(ACCOUNT_COLS, "a")
                ),
                &[&national_id],
            )?;
            Ok(rows.iter().map(account_row).collect())
        })
    }

    fn set_status(&self, account: AccountId, status: AccountStatus) -> Result<()> {
        self.write(|tx| {
            changed(tx.execute(
                "UPDATE accounts SET status = $2 WHERE id = $1",
                &[&account.0, &status.as_str()],
            )?)?;
            if status == AccountStatus::Suspended {
                tx.execute("DELETE FROM web_sessions WHERE account_id = $1", &[&account.0])?;
                revoke(tx, account)?;
            }
            Ok(())
        })
    }

    fn revocations_since(&self, after: i64) -> Result<Vec<(i64, AccountId)>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT seq, account_id FROM revocations WHERE seq > $1 ORDER BY seq",
                &[&after],
            )?;
            Ok(rows.iter().map(|r| (r.get::<_, i64>(0), AccountId(r.get(1)))).collect())
        })
    }

    fn last_revocation(&self) -> Result<i64> {
        self.read(|c| {
            Ok(c.query_one("SELECT COALESCE(MAX(seq), 0) FROM revocations", &[])?
                .get(0))
        })
    }

    fn record_login(&self, account: AccountId, at: i64) -> Result<()> {
        self.write(|tx| {
            changed(tx.execute(
                "UPDATE accounts SET last_login_at = $2, failed_logins = 0, locked_until = NULL,
                     inactivity_notices = 0, inactivity_notice_at = NULL WHERE id = $1",
                &[&account.0, &at],
            )?)
        })
    }

    fn record_activity(&self, account: AccountId, at: i64) -> Result<()> {
        self.write(|tx| {
            changed(tx.execute(
                "UPDATE accounts SET last_login_at = $2, inactivity_notices = 0, inactivity_notice_at = NULL
                 WHERE id = $1",
                &[&account.0, &at],
            )?)
        })
    }

    fn record_failure(&self, account: AccountId, at: i64, limit: u32, lock_seconds: i64) -> Result<LoginFailures> {
        // One UPDATE … RETURNING, not SQLite's reset-then-count-then-read: parallel failures on
        // several nodes each see the row as the previous one left it, so none is lost. A lock
        // that has run out (`locked_until <= at`) starts a fresh count.
        self.write(|tx| {
            let row = tx.query_opt(
                "UPDATE accounts SET
                     failed_logins = CASE WHEN locked_until <= $2 THEN 0 ELSE failed_logins END + 1,
                     locked_until = CASE
                         WHEN CASE WHEN locked_until <= $2 THEN 0 ELSE failed_logins END + 1 >= $3
                             THEN $2 + $4
                         WHEN locked_until <= $2 THEN NULL
                         ELSE locked_until END
                 WHERE id = $1
                 RETURNING failed_logins, locked_until",
                &[&account.0, &at, &(limit as i64), &lock_seconds],
            )?;
            row.as_ref().map(failures_row).ok_or(StoreError::NoSuchAccount)
        })
    }

    fn forgive_failure(&self, account: AccountId, limit: u32) -> Result<()> {
        self.write(|tx| {
            changed(tx.execute(
                "UPDATE accounts SET failed_logins = GREATEST(failed_logins - 1, 0),
                     locked_until = CASE WHEN failed_logins - 1 < $2 THEN NULL ELSE locked_until END
                 WHERE id = $1",
                &[&account.0, &(limit as i64)],
            )?)
        })
    }

    fn login_failures(&self, account: AccountId) -> Result<LoginFailures> {
        self.read(|c| {
            let row = c.query_opt(
                "SELECT failed_logins, locked_until FROM accounts WHERE id = $1",
                &[&account.0],
            )?;
            row.as_ref().map(failures_row).ok_or(StoreError::NoSuchAccount)
        })
    }

    fn set_inactivity_notices(&self, account: AccountId, sent: u32, at: i64) -> Result<()> {
        self.write(|tx| {
            changed(tx.execute(
                "UPDATE accounts SET inactivity_notices = $2, inactivity_notice_at = $3 WHERE id = $1",
                &[&account.0, &(sent as i64), &at],
            )?)
        })
    }

    fn delete_account(&self, account: AccountId) -> Result<Vec<BlobId>> {
        self.write(|tx| {
            // The account first (the one lock order): a delivery committing meanwhile would
            // otherwise go with the cascade without its body being counted below.
            tx.execute("SELECT 1 FROM accounts WHERE id = $1 FOR UPDATE", &[&account.0])?;
            let blobs: Vec<String> = tx
                .query(
                    "SELECT DISTINCT m.blob FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
                     WHERE b.account_id = $1",
                    &[&account.0],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            // Folders, messages, subscriptions, listing, profile, app passwords and sessions
            // follow by ON DELETE CASCADE.
            changed(tx.execute("DELETE FROM accounts WHERE id = $1", &[&account.0])?)?;
            let orphans: Vec<String> = tx
                .query(
                    "SELECT u.blob FROM unnest($1::text[]) AS u(blob)
                     WHERE NOT EXISTS(SELECT 1 FROM messages m WHERE m.blob = u.blob) ORDER BY u.blob",
                    &[&blobs],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect();
            tx.execute("DELETE FROM message_summaries WHERE blob = ANY($1)", &[&orphans])?;
            // Last, so the advisory lock that orders revocations is held only until the commit.
            revoke(tx, account)?;
            Ok(orphans.into_iter().map(BlobId).collect())
        })
    }

    fn add_app_password(&self, account: AccountId, label: &str, hash: &str, lookup: Option<&str>) -> Result<i64> {
        self.write(|tx| {
            Ok(tx
                .query_one(
                    "INSERT INTO app_passwords(account_id, label, hash, created_at, lookup)
                     VALUES($1, $2, $3, $4, $5) RETURNING id",
                    &[&account.0, &label, &hash, &now(), &lookup],
                )?
                .get(0))
        })
    }

    fn app_passwords(&self, account: AccountId) -> Result<Vec<AppPassword>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT id, account_id, label, hash, created_at, last_used_at, lookup, member FROM app_passwords
                 WHERE account_id = $1 ORDER BY id",
                &[&account.0],
            )?;
            Ok(rows.iter().map(app_password_row).collect())
        })
    }

    fn delete_app_password(&self, account: AccountId, id: i64) -> Result<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM app_passwords WHERE id = $1 AND account_id = $2",
                &[&id, &account.0],
            )? > 0)
        })
    }

    fn touch_app_password(&self, id: i64, at: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute("UPDATE app_passwords SET last_used_at = $2 WHERE id = $1", &[&id, &at])?;
            Ok(())
        })
    }

    fn scram_keys(&self, account: AccountId) -> Result<Vec<ScramKey>> {
        self.read(|c| {
            // ORDER BY source: SQLite's rows come in primary key order.
            let rows = c.query(
                "SELECT source, salt, iterations, stored_key, server_key FROM scram_keys
                 WHERE account_id = $1 AND (
                     source = (SELECT password_hash FROM accounts WHERE id = $1)
                     OR source IN (SELECT hash FROM app_passwords WHERE account_id = $1))
                 ORDER BY source",
                &[&account.0],
            )?;
            Ok(rows.iter().map(scram_row).collect())
        })
    }

    fn put_scram_key(&self, account: AccountId, key: &ScramKey) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO scram_keys(account_id, source, salt, iterations, stored_key, server_key)
                 VALUES($1, $2, $3, $4, $5, $6)
                 ON CONFLICT(account_id, source) DO UPDATE SET salt = excluded.salt,
                     iterations = excluded.iterations, stored_key = excluded.stored_key,
                     server_key = excluded.server_key",
                &[
                    &account.0,
                    &key.source,
                    &key.salt,
                    &(key.iterations as i64),
                    &key.stored_key,
                    &key.server_key,
                ],
            )?;
            tx.execute(
                "DELETE FROM scram_keys WHERE account_id = $1
                 AND source <> (SELECT password_hash FROM accounts WHERE id = $1)
                 AND source NOT IN (SELECT hash FROM app_passwords WHERE account_id = $1)",
                &[&account.0],
            )?;
            Ok(())
        })
    }

    fn secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>> {
        let kept = self.read(|c| {
            let row = c.query_opt("SELECT value FROM secrets WHERE name = $1", &[&name])?;
            Ok(row.map(|r| r.get::<_, Vec<u8>>(0)))
        })?;
        if let Some(value) = kept {
            return Ok(value);
        }
        // Two nodes drawing at once: the second INSERT waits for the first's commit and does
        // nothing, and its SELECT (a new READ COMMITTED snapshot) reads the first's value.
        self.write(|tx| {
            tx.execute(
                "INSERT INTO secrets(name, value) VALUES($1, $2) ON CONFLICT DO NOTHING",
                &[&name, &fresh],
            )?;
            Ok(tx
                .query_one("SELECT value FROM secrets WHERE name = $1", &[&name])?
                .get(0))
        })
    }

    fn grant_access(&self, account: AccountId, national_id: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO mailbox_access(account_id, national_id) VALUES($1, $2) ON CONFLICT DO NOTHING",
                &[&account.0, &national_id],
            )?;
            Ok(())
        })
    }

    fn revoke_access(&self, account: AccountId, national_id: &str) -> Result<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM mailbox_access WHERE account_id = $1 AND national_id = $2",
                &[&account.0, &national_id],
            )? > 0)
        })
    }

    fn shared_with(&self, national_id: &str) -> Result<Vec<Account>> {
        // Opening a BAL is reading it: members with the send right alone do not see it.
        let memberships = crate::Members::memberships(self, national_id)?;
        Ok(memberships
            .into_iter()
            .filter(|(_, r)| r.read)
            .map(|(a, _)| a)
            .collect())
    }

    fn session_put(&self, key: &str, account: Option<AccountId>, data: &str, at: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO web_sessions(key, account_id, data, last_seen_at) VALUES($1, $2, $3, $4)
                 ON CONFLICT(key) DO UPDATE SET account_id = excluded.account_id, data = excluded.data,
                     last_seen_at = excluded.last_seen_at",
                &[&key, &account.map(|a| a.0), &data, &at],
            )?;
            Ok(())
        })
    }

    fn session_update(&self, key: &str, account: Option<AccountId>, data: &str, at: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE web_sessions SET account_id = $2, data = $3, last_seen_at = $4 WHERE key = $1",
                &[&key, &account.map(|a| a.0), &data, &at],
            )?;
            Ok(())
        })
    }

    fn session_get(&self, key: &str) -> Result<Option<String>> {
        self.read(|c| {
            let row = c.query_opt("SELECT data FROM web_sessions WHERE key = $1", &[&key])?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    fn session_delete(&self, key: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM web_sessions WHERE key = $1", &[&key])?;
            Ok(())
        })
    }

    fn sessions_expire(&self, before: i64) -> Result<usize> {
        self.write(|tx| Ok(tx.execute("DELETE FROM web_sessions WHERE last_seen_at < $1", &[&before])? as usize))
    }

    fn sessions_trim_pending(&self, keep: usize, before: i64) -> Result<usize> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM web_sessions WHERE account_id IS NULL AND (last_seen_at < $2 OR key NOT IN
                     (SELECT key FROM web_sessions WHERE account_id IS NULL ORDER BY last_seen_at DESC LIMIT $1))",
                &[&(keep as i64), &before],
            )? as usize)
        })
    }
}

/// `cols` (a comma-separated list) with each column qualified by the table alias `alias`.
fn qualified(cols: &str, alias: &str) -> String {
    cols.split(',')
        .map(|c| format!("{alias}.{}", c.trim()))
        .collect::<Vec<_>>()
        .join(", ")
}
