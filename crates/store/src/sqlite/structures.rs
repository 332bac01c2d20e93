//! SQLite side of `Structures`.

use rusqlite::{OptionalExtension, params};

use super::{ACCOUNT_COLS, SqliteStore, account_row, now};
use crate::structures::*;
use crate::{AccountId, Result, StoreError};

fn structure_row(r: &rusqlite::Row) -> rusqlite::Result<Structure> {
    Ok(Structure {
        finess: r.get(0)?,
        name: r.get(1)?,
        address: r.get(2)?,
        created_at: r.get(3)?,
    })
}

impl Structures for SqliteStore {
    fn add_structure(&self, finess: &str, name: &str, address: Option<&str>) -> Result<()> {
        self.write(|tx| {
            let added = tx.execute(
                "INSERT OR IGNORE INTO structures(finess, name, address, created_at) VALUES(?1, ?2, ?3, ?4)",
                params![finess, name, address, now()],
            )?;
            match added {
                0 => Err(StoreError::StructureExists),
                _ => Ok(()),
            }
        })
    }

    fn structure(&self, finess: &str) -> Result<Option<Structure>> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT finess, name, address, created_at FROM structures WHERE finess = ?1",
                [finess],
                structure_row,
            )
            .optional()?)
        })
    }

    fn structures(&self) -> Result<Vec<Structure>> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT finess, name, address, created_at FROM structures ORDER BY name")?;
            let rows = stmt
                .query_map([], structure_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn add_structure_admin(&self, finess: &str, who: &str) -> Result<bool> {
        self.write(|tx| {
            if !exists(tx, finess)? {
                return Err(StoreError::NoSuchStructure);
            }
            Ok(tx.execute(
                "INSERT OR IGNORE INTO structure_admins(finess, who) VALUES(?1, ?2)",
                params![finess, who],
            )? > 0)
        })
    }

    fn structure_admins(&self, finess: &str) -> Result<Vec<String>> {
        self.read(|c| {
            let mut stmt = c.prepare("SELECT who FROM structure_admins WHERE finess = ?1 ORDER BY who")?;
            let rows = stmt
                .query_map([finess], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn administered_by(&self, who: &str) -> Result<Vec<Structure>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT s.finess, s.name, s.address, s.created_at FROM structures s
                 JOIN structure_admins a ON a.finess = s.finess WHERE a.who = ?1 ORDER BY s.name",
            )?;
            let rows = stmt
                .query_map([who], structure_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn create_structure_bal(&self, bal: &NewStructureBal<'_>) -> Result<AccountId> {
        self.write(|tx| {
            if !exists(tx, bal.finess)? {
                return Err(StoreError::NoSuchStructure);
            }
            // No password opens it: a stored form that no password ever matches.
            let id = super::insert_account(tx, bal.address, "!", bal.quota_bytes)?;
            tx.execute(
                "UPDATE accounts SET kind = ?2, structure = ?3, display_name = ?4 WHERE id = ?1",
                params![id.0, bal.kind.code(), bal.finess, bal.display_name],
            )?;
            Ok(id)
        })
    }

    fn structure_bals(&self, finess: &str) -> Result<Vec<crate::Account>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLS} FROM accounts WHERE structure = ?1 ORDER BY address"
            ))?;
            let rows = stmt
                .query_map([finess], account_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}

fn exists(tx: &rusqlite::Connection, finess: &str) -> Result<bool> {
    Ok(tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM structures WHERE finess = ?1)",
        [finess],
        |r| r.get(0),
    )?)
}
