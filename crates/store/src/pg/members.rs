//! PostgreSQL side of `Members`: rights live in `mailbox_access` beside the member's
//! identifier; staff accounts in `staff`.

use postgres::Row;

use super::store::{ACCOUNT_COLS, PgStore, account_row, now, revoke};
use crate::members::*;
use crate::{Account, AccountId, Result, StoreError};

fn rights(text: &str) -> Rights {
    Rights::parse(text).unwrap_or_default()
}

const STAFF_COLS: &str = "email, name, password_hash, totp_secret, suspended, created_at";

fn staff_row(r: &Row) -> StaffAccount {
    StaffAccount {
        email: r.get(0),
        name: r.get(1),
        password_hash: r.get(2),
        totp_secret: r.get(3),
        suspended: r.get(4),
        created_at: r.get(5),
    }
}

impl Members for PgStore {
    fn set_member(&self, account: AccountId, who: &str, r: Rights) -> Result<()> {
        let text = r.as_text();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO mailbox_access(account_id, national_id, rights) VALUES($1, $2, $3)
                 ON CONFLICT(account_id, national_id) DO UPDATE SET rights = excluded.rights",
                &[&account.0, &who, &text],
            )?;
            Ok(())
        })
    }

    fn members(&self, account: AccountId) -> Result<Vec<Member>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT national_id, rights FROM mailbox_access WHERE account_id = $1 ORDER BY national_id",
                &[&account.0],
            )?;
            Ok(rows
                .iter()
                .map(|r| Member {
                    who: r.get(0),
                    rights: rights(r.get(1)),
                })
                .collect())
        })
    }

    fn rights_of(&self, account: AccountId, who: &str) -> Result<Option<Rights>> {
        self.read(|c| {
            Ok(c.query_opt(
                "SELECT rights FROM mailbox_access WHERE account_id = $1 AND national_id = $2",
                &[&account.0, &who],
            )?
            .map(|r| rights(r.get(0))))
        })
    }

    fn memberships(&self, who: &str) -> Result<Vec<(Account, Rights)>> {
        self.read(|c| {
            let cols = ACCOUNT_COLS.replace("id,", "a.id,");
            let rows = c.query(
                &format!(
                    "SELECT {cols}, t.rights FROM accounts a JOIN mailbox_access t ON t.account_id = a.id
                     WHERE t.national_id = $1 ORDER BY a.address"
                ),
                &[&who],
            )?;
            let width = ACCOUNT_COLS.split(',').count();
            Ok(rows.iter().map(|r| (account_row(r), rights(r.get(width)))).collect())
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
            Ok(tx
                .query_one(
                    "INSERT INTO app_passwords(account_id, label, hash, created_at, lookup, member)
                     VALUES($1, $2, $3, $4, $5, $6) RETURNING id",
                    &[&account.0, &label, &hash, &now(), &lookup, &member],
                )?
                .get(0))
        })
    }

    fn add_staff(&self, s: &StaffAccount) -> Result<()> {
        self.write(|tx| {
            // ON CONFLICT waits for a concurrent insert of the same e-mail: one of them wins.
            let added = tx.execute(
                "INSERT INTO staff(email, name, password_hash, totp_secret, created_at) VALUES($1, $2, $3, $4, $5)
                 ON CONFLICT DO NOTHING",
                &[&s.email, &s.name, &s.password_hash, &s.totp_secret, &s.created_at],
            )?;
            match added {
                0 => Err(StoreError::AccountExists),
                _ => Ok(()),
            }
        })
    }

    fn staff(&self, email: &str) -> Result<Option<StaffAccount>> {
        self.read(|c| {
            Ok(
                c.query_opt(&format!("SELECT {STAFF_COLS} FROM staff WHERE email = $1"), &[&email])?
                    .map(|r| staff_row(&r)),
            )
        })
    }

    fn set_staff_password(&self, email: &str, password_hash: &str) -> Result<()> {
        self.write(|tx| {
            match tx.execute(
                "UPDATE staff SET password_hash = $2 WHERE email = $1",
                &[&email, &password_hash],
            )? {
                0 => Err(StoreError::NoSuchAccount),
                _ => Ok(()),
            }
        })
    }

    fn set_staff_suspended(&self, email: &str, suspended: bool) -> Result<()> {
        self.write(|tx| {
            if tx.execute(
                "UPDATE staff SET suspended = $2 WHERE email = $1",
                &[&email, &suspended],
            )? == 0
            {
                return Err(StoreError::NoSuchAccount);
            }
            if suspended {
                tx.execute("DELETE FROM app_passwords WHERE member = $1", &[&email])?;
                // Their IMAP and SMTP sessions were sessions of the BALs they belong to.
                let bals: Vec<i64> = tx
                    .query(
                        "SELECT account_id FROM mailbox_access WHERE national_id = $1 ORDER BY account_id",
                        &[&email],
                    )?
                    .iter()
                    .map(|r| r.get(0))
                    .collect();
                for bal in bals {
                    revoke(tx, AccountId(bal))?;
                }
            }
            Ok(())
        })
    }

    fn claim_staff_totp_step(&self, email: &str, step: i64) -> Result<bool> {
        self.write(|tx| {
            // One statement: a concurrent claim of the same step re-reads `totp_step` after
            // waiting for the row, so only one of them succeeds.
            Ok(tx.execute(
                "UPDATE staff SET totp_step = $2 WHERE email = $1 AND totp_step < $2",
                &[&email, &step],
            )? == 1)
        })
    }
}
