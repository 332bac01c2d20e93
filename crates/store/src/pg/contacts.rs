//! PostgreSQL side of `PatientContacts`: one row per patient and professional, the address
//! lower-cased in ASCII as SQLite's `lower()` does.

use super::store::PgStore;
use crate::contacts::{Exchange, PatientContacts};
use crate::{AccountId, Result};

impl PatientContacts for PgStore {
    fn note_contact(&self, patient: AccountId, professional: &str, exchange: Exchange, at: i64) -> Result<()> {
        let closed = exchange == Exchange::Closed;
        // Lower-cased here: PostgreSQL's lower() follows the locale, SQLite's only ASCII.
        let address = professional.to_ascii_lowercase();
        self.write(|tx| {
            // Messages may be delivered out of order: the latest one decides. One statement:
            // the upsert re-checks `at` on the row as another delivery left it.
            tx.execute(
                "INSERT INTO patient_contacts(account_id, address, closed, at) VALUES($1, $2, $3, $4)
                 ON CONFLICT(account_id, address) DO UPDATE SET closed = excluded.closed, at = excluded.at
                 WHERE excluded.at >= patient_contacts.at",
                &[&patient.0, &address, &closed, &at],
            )?;
            Ok(())
        })
    }

    fn contact(&self, patient: AccountId, professional: &str) -> Result<Option<Exchange>> {
        let address = professional.to_ascii_lowercase();
        self.read(|c| {
            let closed: Option<bool> = c
                .query_opt(
                    "SELECT closed FROM patient_contacts WHERE account_id = $1 AND address = $2",
                    &[&patient.0, &address],
                )?
                .map(|r| r.get(0));
            Ok(closed.map(|c| if c { Exchange::Closed } else { Exchange::Open }))
        })
    }
}
