//! SQLite side of `Members`: rights live in `mailbox_access` beside the member's identifier.

use rusqlite::{OptionalExtension, params};

use super::identity::revoke;
use super::{ACCOUNT_COLS, SqliteStore, account_row, now};
use crate::members::*;
use crate::{Account, AccountId, Result, StoreError};

fn rights(text: &str) -> Rights {
    Rights::parse(text).unwrap_or_default()
}

fn staff_row(r: &rusqlite::Row) -> rusqlite::Result<StaffAccount> {
    Ok(StaffAccount {
        email: r.get(0)?,
        name: r.get(1)?,
        password_hash: r.get(2)?,
        totp_secret: r.get(3)?,
        suspended: r.get(4)?,
        created_at: r.get(5)?,
    })
}

impl Members for SqliteStore {
    fn set_member(&self, account: AccountId, who: &str, r: Rights) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO mailbox_access(account_id, national_id, rights) VALUES(?1, ?2, ?3)
                 ON CONFLICT(account_id, national_id) DO UPDATE SET rights = excluded.rights",
                params![account.0, who, r.as_text()],
            )?;
            Ok(())
        })
    }

    fn members(&self, account: AccountId) -> Result<Vec<Member>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT national_id, rights FROM mailbox_access WHERE account_id = ?1 ORDER BY national_id",
            )?;
            let rows = stmt
                .query_map([account.0], |r| {
                    Ok(Member {
                        who: r.get(0)?,
                        rights: rights(&r.get::<_, String>(1)?),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn rights_of(&self, account: AccountId, who: &str) -> Result<Option<Rights>> {
        self.read(|c| {
            Ok(
                c.prepare_cached("SELECT rights FROM mailbox_access WHERE account_id = ?1 AND national_id = ?2")?
                    .query_row(params![account.0, who], |r| r.get::<_, String>(0))
                    .optional()?
                    .map(|t| rights(&t)),
            )
        })
    }

    fn memberships(&self, who: &str) -> Result<Vec<(Account, Rights)>> {
        self.read(|c| {
            let cols = ACCOUNT_COLS.replace("id,", "a.id,");
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {cols}, t.rights FROM accounts a JOIN mailbox_access t ON t.account_id = a.id
                 WHERE t.national_id = ?1 ORDER BY a.address"
            ))?;
            let width = ACCOUNT_COLS.split(',').count();
            let rows = stmt
                .query_map([who], |r| Ok((account_row(r)?, rights(&r.get::<_, String>(width)?))))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn add_member_app_password(
        &self,
        account: AccountId,
        member: &str,
        label: &str,
        hash: &str,
        lookup: &str,
    ) -> Result<i64> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO app_passwords(account_id, label, hash, created_at, lookup, member)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                params![account.0, label, hash, now(), lookup, member],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    fn add_staff(&self, s: &StaffAccount) -> Result<()> {
        self.write(|tx| {
            let added = tx.execute(
                "INSERT OR IGNORE INTO staff(email, name, password_hash, totp_secret, created_at) VALUES(?1, ?2, ?3, ?4, ?5)",
                params![s.email, s.name, s.password_hash, s.totp_secret, s.created_at],
            )?;
            match added {
                0 => Err(StoreError::AccountExists),
                _ => Ok(()),
            }
        })
    }

    fn staff(&self, email: &str) -> Result<Option<StaffAccount>> {
        self.read(|c| {
            Ok(c.prepare_cached(
                "SELECT email, name, password_hash, totp_secret, suspended, created_at FROM staff WHERE email = ?1",
            )?
            .query_row([email], staff_row)
            .optional()?)
        })
    }

    fn set_staff_password(&self, email: &str, password_hash: &str) -> Result<()> {
        self.write(|tx| {
            match tx.execute(
                "UPDATE staff SET password_hash = ?2 WHERE email = ?1",
                params![email, password_hash],
            )? {
                0 => Err(StoreError::NoSuchAccount),
                _ => Ok(()),
            }
        })
    }

    fn set_staff_suspended(&self, email: &str, suspended: bool) -> Result<()> {
        self.write(|tx| {
            if tx.execute(
                "UPDATE staff SET suspended = ?2 WHERE email = ?1",
                params![email, suspended],
            )? == 0
            {
                return Err(StoreError::NoSuchAccount);
            }
            if suspended {
                tx.execute("DELETE FROM app_passwords WHERE member = ?1", [email])?;
                // Their IMAP and SMTP sessions were sessions of the BALs they belong to.
                let mut stmt = tx.prepare("SELECT account_id FROM mailbox_access WHERE national_id = ?1")?;
                let bals: Vec<i64> = stmt
                    .query_map([email], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                drop(stmt);
                for bal in bals {
                    revoke(tx, AccountId(bal))?;
                }
            }
            Ok(())
        })
    }

    fn claim_staff_totp_step(&self, email: &str, step: i64) -> Result<bool> {
        self.write(|tx| {
            Ok(tx.execute(
                "UPDATE staff SET totp_step = ?2 WHERE email = ?1 AND totp_step < ?2",
                params![email, step],
            )? == 1)
        })
    }
}
