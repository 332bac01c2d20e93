//! SQLite side of `PatientContacts`: one row per patient and professional.

use rusqlite::{OptionalExtension, params};

use super::SqliteStore;
use crate::contacts::{Exchange, PatientContacts};
use crate::{AccountId, Result};

impl PatientContacts for SqliteStore {
    fn note_contact(&self, patient: AccountId, professional: &str, exchange: Exchange, at: i64) -> Result<()> {
        let closed = exchange == Exchange::Closed;
        self.write(|tx| {
            // Messages may be delivered out of order: the latest one decides.
            tx.execute(
                "INSERT INTO patient_contacts(account_id, address, closed, at) VALUES(?1, lower(?2), ?3, ?4)
                 ON CONFLICT(account_id, address) DO UPDATE SET closed = excluded.closed, at = excluded.at
                 WHERE excluded.at >= patient_contacts.at",
                params![patient.0, professional, closed, at],
            )?;
            Ok(())
        })
    }

    fn contact(&self, patient: AccountId, professional: &str) -> Result<Option<Exchange>> {
        self.read(|c| {
            let closed: Option<bool> = c
                .prepare_cached("SELECT closed FROM patient_contacts WHERE account_id = ?1 AND address = lower(?2)")?
                .query_row(params![patient.0, professional], |r| r.get(0))
                .optional()?;
            Ok(closed.map(|c| if c { Exchange::Closed } else { Exchange::Open }))
        })
    }
}
