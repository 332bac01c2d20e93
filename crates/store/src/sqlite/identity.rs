//! SQLite side of `Identities`: profiles, login failures, lifecycle, app passwords, sessions.

use rusqlite::{OptionalExtension, params};

use super::{ACCOUNT_COLS, SqliteStore, account_row};
use crate::identity::*;
use crate::{Account, AccountId, BlobId, Result, StoreError};

fn profile_row(r: &rusqlite::Row) -> rusqlite::Result<Profile> {
    let factor: String = r.get(5)?;
    Ok(Profile {
        national_id: r.get(0)?,
        given_name: r.get(1)?,
        family_name: r.get(2)?,
        personal_email: r.get(3)?,
        mobile: r.get(4)?,
        second_factor: SecondFactor::parse(&factor).unwrap_or(SecondFactor::Email),
        totp_secret: r.get(6)?,
        notify_new_mail: r.get(7)?,
        publish_mobile: r.get(8)?,
        mail_password: r.get(9)?,
        terms_accepted_at: r.get(10)?,
    })
}

fn changed(rows: usize) -> Result<()> {
    match rows {
        0 => Err(StoreError::NoSuchAccount),
        _ => Ok(()),
    }
}

impl Identities for SqliteStore {
    fn profile(&self, account: AccountId) -> Result<Option<Profile>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT national_id, given_name, family_name, personal_email, mobile, second_factor,
                        totp_secret, notify_new_mail, publish_mobile, mail_password, terms_accepted_at
                 FROM account_profiles WHERE account_id = ?1",
                [account.0],
                profile_row,
            )
            .optional()?)
        })
    }

    fn set_profile(&self, account: AccountId, p: &Profile) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO account_profiles(account_id, national_id, given_name, family_name, personal_email,
                     mobile, second_factor, totp_secret, notify_new_mail, publish_mobile, mail_password,
                     terms_accepted_at)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                 ON CONFLICT(account_id) DO UPDATE SET national_id = ?2, given_name = ?3, family_name = ?4,
                     personal_email = ?5, mobile = ?6, second_factor = ?7, totp_secret = ?8,
                     notify_new_mail = ?9, publish_mobile = ?10, mail_password = ?11, terms_accepted_at = ?12",
                params![
                    account.0,
                    p.national_id,
                    p.given_name,
                    p.family_name,
                    p.personal_email,
                    p.mobile,
                    p.second_factor.as_str(),
                    p.totp_secret,
                    p.notify_new_mail,
                    p.publish_mobile,
                    p.mail_password,
                    p.terms_accepted_at
                ],
            )?;
            Ok(())
        })
    }

    fn claim_totp_step(&self, account: AccountId, step: i64) -> Result<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE account_profiles SET totp_step = ?2
                 WHERE account_id = ?1 AND (totp_step IS NULL OR totp_step < ?2)",
                params![account.0, step],
            )? == 1)
        })
    }

    fn accounts_of(&self, national_id: &str) -> Result<Vec<Account>> {
        self.read(|c| accounts_by_national_id(c, "account_profiles", national_id))
    }

    fn set_status(&self, account: AccountId, status: AccountStatus) -> Result<()> {
        self.write(|tx| {
            changed(tx.execute(
                "UPDATE accounts SET status = ?2 WHERE id = ?1",
                params![account.0, status.as_str()],
            )?)?;
            if status == AccountStatus::Suspended {
                tx.execute("DELETE FROM web_sessions WHERE account_id = ?1", [account.0])?;
                revoke(tx, account)?;
            }
            Ok(())
        })
    }

    fn revocations_since(&self, after: i64) -> Result<Vec<(i64, AccountId)>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT seq, account_id FROM revocations WHERE seq > ?1 ORDER BY seq")?;
            let rows = stmt
                .query_map([after], |r| Ok((r.get(0)?, AccountId(r.get(1)?))))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn last_revocation(&self) -> Result<i64> {
        self.read(|c| Ok(c.query_row("SELECT COALESCE(MAX(seq), 0) FROM revocations", [], |r| r.get(0))?))
    }

    fn record_login(&self, account: AccountId, at: i64) -> Result<()> {
        self.write(|tx| {
            changed(tx.execute(
                "UPDATE accounts SET last_login_at = ?2, failed_logins = 0, locked_until = NULL,
                     inactivity_notices = 0, inactivity_notice_at = NULL WHERE id = ?1",
                params![account.0, at],
            )?)
        })
    }

    fn record_activity(&self, account: AccountId, at: i64) -> Result<()> {
        self.write(|tx| {
            changed(tx.execute(
                "UPDATE accounts SET last_login_at = ?2, inactivity_notices = 0, inactivity_notice_at = NULL
                 WHERE id = ?1",
                params![account.0, at],
            )?)
        })
    }

    fn record_failure(&self, account: AccountId, at: i64, limit: u32, lock_seconds: i64) -> Result<LoginFailures> {
        self.write(|tx| {
            // A lock that has run out starts a fresh count.
            tx.execute(
                "UPDATE accounts SET failed_logins = 0, locked_until = NULL
                 WHERE id = ?1 AND locked_until IS NOT NULL AND locked_until <= ?2",
                params![account.0, at],
            )?;
            changed(tx.execute(
                "UPDATE accounts SET failed_logins = failed_logins + 1,
                     locked_until = CASE WHEN failed_logins + 1 >= ?3 THEN ?2 + ?4 ELSE locked_until END
                 WHERE id = ?1",
                params![account.0, at, limit, lock_seconds],
            )?)?;
            failures(tx, account)
        })
    }

    fn forgive_failure(&self, account: AccountId, limit: u32) -> Result<()> {
        self.write(|tx| {
            changed(tx.execute(
                "UPDATE accounts SET failed_logins = MAX(failed_logins - 1, 0),
                     locked_until = CASE WHEN failed_logins - 1 < ?2 THEN NULL ELSE locked_until END
                 WHERE id = ?1",
                params![account.0, limit],
            )?)
        })
    }

    fn login_failures(&self, account: AccountId) -> Result<LoginFailures> {
        self.read(|c| failures(c, account))
    }

    fn set_inactivity_notices(&self, account: AccountId, sent: u32, at: i64) -> Result<()> {
        self.write(|tx| {
            changed(tx.execute(
                "UPDATE accounts SET inactivity_notices = ?2, inactivity_notice_at = ?3 WHERE id = ?1",
                params![account.0, sent, at],
            )?)
        })
    }

    fn delete_account(&self, account: AccountId) -> Result<Vec<BlobId>> {
        self.write(|tx| {
            let mut stmt = tx.prepare(
                "SELECT DISTINCT blob FROM messages WHERE mailbox_id IN
                     (SELECT id FROM mailboxes WHERE account_id = ?1)",
            )?;
            let blobs: Vec<String> = stmt
                .query_map([account.0], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            drop(stmt);
            // Folders, messages, subscriptions, listing, profile, app passwords and sessions
            // follow by ON DELETE CASCADE.
            changed(tx.execute("DELETE FROM accounts WHERE id = ?1", [account.0])?)?;
            revoke(tx, account)?;
            let mut orphans = Vec::new();
            for blob in blobs {
                let used: bool =
                    tx.query_row("SELECT EXISTS(SELECT 1 FROM messages WHERE blob = ?1)", [&blob], |r| {
                        r.get(0)
                    })?;
                if !used {
                    tx.execute("DELETE FROM message_summaries WHERE blob = ?1", [&blob])?;
                    orphans.push(BlobId(blob));
                }
            }
            Ok(orphans)
        })
    }

    fn add_app_password(&self, account: AccountId, label: &str, hash: &str, lookup: Option<&str>) -> Result<i64> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO app_passwords(account_id, label, hash, created_at, lookup) VALUES(?1, ?2, ?3, ?4, ?5)",
                params![account.0, label, hash, super::now(), lookup],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    fn app_passwords(&self, account: AccountId) -> Result<Vec<AppPassword>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT id, account_id, label, hash, created_at, last_used_at, lookup, member FROM app_passwords
                 WHERE account_id = ?1 ORDER BY id",
            )?;
            let rows = stmt
                .query_map([account.0], |r| {
                    Ok(AppPassword {
                        id: r.get(0)?,
                        account: AccountId(r.get(1)?),
                        label: r.get(2)?,
                        hash: r.get(3)?,
                        created_at: r.get(4)?,
                        last_used_at: r.get(5)?,
                        lookup: r.get(6)?,
                        member: r.get(7)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn delete_app_password(&self, account: AccountId, id: i64) -> Result<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM app_passwords WHERE id = ?1 AND account_id = ?2",
                params![id, account.0],
            )? > 0)
        })
    }

    fn scram_keys(&self, account: AccountId) -> Result<Vec<ScramKey>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT source, salt, iterations, stored_key, server_key FROM scram_keys k
                 WHERE account_id = ?1 AND (
                     source = (SELECT password_hash FROM accounts WHERE id = ?1)
                     OR source IN (SELECT hash FROM app_passwords WHERE account_id = ?1))",
            )?;
            let rows = stmt
                .query_map([account.0], |r| {
                    Ok(ScramKey {
                        source: r.get(0)?,
                        salt: r.get(1)?,
                        iterations: r.get(2)?,
                        stored_key: r.get(3)?,
                        server_key: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn put_scram_key(&self, account: AccountId, key: &ScramKey) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR REPLACE INTO scram_keys(account_id, source, salt, iterations, stored_key, server_key)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    account.0,
                    key.source,
                    key.salt,
                    key.iterations,
                    key.stored_key,
                    key.server_key
                ],
            )?;
            tx.execute(
                "DELETE FROM scram_keys WHERE account_id = ?1
                 AND source <> (SELECT password_hash FROM accounts WHERE id = ?1)
                 AND source NOT IN (SELECT hash FROM app_passwords WHERE account_id = ?1)",
                [account.0],
            )?;
            Ok(())
        })
    }

    fn secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>> {
        let kept = self.read(|c| {
            Ok(c.prepare_cached("SELECT value FROM secrets WHERE name = ?1")?
                .query_row([name], |r| r.get(0))
                .optional()?)
        })?;
        if let Some(value) = kept {
            return Ok(value);
        }
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO secrets(name, value) VALUES(?1, ?2)",
                params![name, fresh],
            )?;
            Ok(tx.query_row("SELECT value FROM secrets WHERE name = ?1", [name], |r| r.get(0))?)
        })
    }

    fn touch_app_password(&self, id: i64, at: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE app_passwords SET last_used_at = ?2 WHERE id = ?1",
                params![id, at],
            )?;
            Ok(())
        })
    }

    fn session_put(&self, key: &str, account: Option<AccountId>, data: &str, at: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO web_sessions(key, account_id, data, last_seen_at) VALUES(?1, ?2, ?3, ?4)
                 ON CONFLICT(key) DO UPDATE SET account_id = ?2, data = ?3, last_seen_at = ?4",
                params![key, account.map(|a| a.0), data, at],
            )?;
            Ok(())
        })
    }

    fn grant_access(&self, account: AccountId, national_id: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT OR IGNORE INTO mailbox_access(account_id, national_id) VALUES(?1, ?2)",
                params![account.0, national_id],
            )?;
            Ok(())
        })
    }

    fn revoke_access(&self, account: AccountId, national_id: &str) -> Result<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM mailbox_access WHERE account_id = ?1 AND national_id = ?2",
                params![account.0, national_id],
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

    fn session_update(&self, key: &str, account: Option<AccountId>, data: &str, at: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE web_sessions SET account_id = ?2, data = ?3, last_seen_at = ?4 WHERE key = ?1",
                params![key, account.map(|a| a.0), data, at],
            )?;
            Ok(())
        })
    }

    fn session_get(&self, key: &str) -> Result<Option<String>> {
        self.read(|c| {
            Ok(
                c.query_row("SELECT data FROM web_sessions WHERE key = ?1", [key], |r| r.get(0))
                    .optional()?,
            )
        })
    }

    fn session_delete(&self, key: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM web_sessions WHERE key = ?1", [key])?;
            Ok(())
        })
    }

    fn sessions_expire(&self, before: i64) -> Result<usize> {
        self.write(|tx| Ok(tx.execute("DELETE FROM web_sessions WHERE last_seen_at < ?1", [before])?))
    }

    fn sessions_trim_pending(&self, keep: usize, before: i64) -> Result<usize> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM web_sessions WHERE account_id IS NULL AND (last_seen_at < ?2 OR key NOT IN
                     (SELECT key FROM web_sessions WHERE account_id IS NULL ORDER BY last_seen_at DESC LIMIT ?1))",
                params![keep as i64, before],
            )?)
        })
    }
}

/// Accounts tied to a national id by `table` (holders' profiles, or shared access), by address.
fn accounts_by_national_id(c: &rusqlite::Connection, table: &str, national_id: &str) -> Result<Vec<Account>> {
    let cols = ACCOUNT_COLS.replace("id,", "a.id,");
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {cols} FROM accounts a JOIN {table} t ON t.account_id = a.id
         WHERE t.national_id = ?1 ORDER BY a.address"
    ))?;
    let rows = stmt
        .query_map([national_id], account_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

fn failures(c: &rusqlite::Connection, account: AccountId) -> Result<LoginFailures> {
    c.query_row(
        "SELECT failed_logins, locked_until FROM accounts WHERE id = ?1",
        [account.0],
        |r| {
            Ok(LoginFailures {
                count: r.get(0)?,
                locked_until: r.get(1)?,
            })
        },
    )
    .optional()?
    .ok_or(StoreError::NoSuchAccount)
}

/// Asks every server to end the account's open sessions (see `Identities::revocations_since`).
pub(super) fn revoke(tx: &rusqlite::Transaction, account: AccountId) -> rusqlite::Result<usize> {
    tx.execute(
        "INSERT INTO revocations(account_id, at) VALUES(?1, ?2)",
        params![account.0, super::now()],
    )
}
