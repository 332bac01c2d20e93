//! PostgreSQL side of `Structures`: structures by FINESS, their administrators, and the ORG,
//! APP and CAB BALs they hold.

use postgres::{Row, Transaction};

use super::store::{ACCOUNT_COLS, PgStore, account_row, is_unique_violation, now};
use crate::structures::*;
use crate::{AccountId, Result, StoreError};

const STRUCTURE_COLS: &str = "finess, name, address, created_at";

fn structure_row(r: &Row) -> Structure {
    Structure {
        finess: r.get(0),
        name: r.get(1),
        address: r.get(2),
        created_at: r.get(3),
    }
}

impl Structures for PgStore {
    fn add_structure(&self, finess: &str, name: &str, address: Option<&str>) -> Result<()> {
        self.write(|tx| {
            // ON CONFLICT waits for a concurrent insert of the same FINESS: one of them wins.
            let added = tx.execute(
                "INSERT INTO structures(finess, name, address, created_at) VALUES($1, $2, $3, $4)
                 ON CONFLICT DO NOTHING",
                &[&finess, &name, &address, &now()],
            )?;
            match added {
                0 => Err(StoreError::StructureExists),
                _ => Ok(()),
            }
        })
    }

    fn structure(&self, finess: &str) -> Result<Option<Structure>> {
        self.read(|c| {
            Ok(c.query_opt(
                &format!("SELECT {STRUCTURE_COLS} FROM structures WHERE finess = $1"),
                &[&finess],
            )?
            .map(|r| structure_row(&r)))
        })
    }

    fn structures(&self) -> Result<Vec<Structure>> {
        self.read(|c| {
            let rows = c.query(&format!("SELECT {STRUCTURE_COLS} FROM structures ORDER BY name"), &[])?;
            Ok(rows.iter().map(structure_row).collect())
        })
    }

    fn add_structure_admin(&self, finess: &str, who: &str) -> Result<bool> {
        self.write(|tx| {
            if !exists(tx, finess)? {
                return Err(StoreError::NoSuchStructure);
            }
            Ok(tx.execute(
                "INSERT INTO structure_admins(finess, who) VALUES($1, $2) ON CONFLICT DO NOTHING",
                &[&finess, &who],
            )? > 0)
        })
    }

    fn structure_admins(&self, finess: &str) -> Result<Vec<String>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT who FROM structure_admins WHERE finess = $1 ORDER BY who",
                &[&finess],
            )?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn administered_by(&self, who: &str) -> Result<Vec<Structure>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT s.finess, s.name, s.address, s.created_at FROM structures s
                 JOIN structure_admins a ON a.finess = s.finess WHERE a.who = $1 ORDER BY s.name",
                &[&who],
            )?;
            Ok(rows.iter().map(structure_row).collect())
        })
    }

    fn create_structure_bal(&self, bal: &NewStructureBal<'_>) -> Result<AccountId> {
        self.write(|tx| {
            if !exists(tx, bal.finess)? {
                return Err(StoreError::NoSuchStructure);
            }
            insert_bal(tx, bal).map_err(|e| match is_unique_violation(&e) {
                // Another node created the same address between our check and our insert.
                true => StoreError::AccountExists,
                false => e,
            })
        })
    }

    fn structure_bals(&self, finess: &str) -> Result<Vec<crate::Account>> {
        self.read(|c| {
            let rows = c.query(
                &format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE structure = $1 ORDER BY address"),
                &[&finess],
            )?;
            Ok(rows.iter().map(account_row).collect())
        })
    }
}

fn exists(tx: &mut Transaction, finess: &str) -> Result<bool> {
    Ok(tx
        .query_one("SELECT EXISTS(SELECT 1 FROM structures WHERE finess = $1)", &[&finess])?
        .get(0))
}

/// The BAL's account with its folders, as `create_account` makes them, its type, structure and
/// name set in the same insert. No password opens it: a stored form no password ever matches.
fn insert_bal(tx: &mut Transaction, bal: &NewStructureBal<'_>) -> Result<AccountId> {
    // ON CONFLICT rather than a check first: another node may take the address meanwhile.
    let id = tx
        .query_opt(
            "INSERT INTO accounts(address, password_hash, quota_bytes, created_at, kind, structure, display_name)
             VALUES($1, '!', $2, $3, $4, $5, $6) ON CONFLICT (address) DO NOTHING RETURNING id",
            &[
                &bal.address,
                &(bal.quota_bytes.min(i64::MAX as u64) as i64),
                &now(),
                &bal.kind.code(),
                &bal.finess,
                &bal.display_name,
            ],
        )?
        .ok_or(StoreError::AccountExists)?;
    let id = AccountId(id.get(0));
    super::store::add_special_folders(tx, id)?;
    Ok(id)
}
