//! On the patients' side (Mon Espace Santé in a box): the professionals who wrote to each
//! patient, and whether the last of their messages closed the exchange. Only deliveries write
//! it, so a patient cannot make it up by appending a message to their own mailbox.

use crate::{AccountId, Result};

/// Where an exchange with a professional stands, for a patient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exchange {
    /// The professional wrote and did not close: the patient may answer.
    Open,
    /// Their last message said `X-MSS-MES: FIN` (or `[FIN]`).
    Closed,
}

pub trait PatientContacts {
    /// A professional's message was delivered to the patient's BAL at `at` (seconds): the
    /// exchange is open, or closed when the message closed it. A later message decides.
    fn note_contact(&self, patient: AccountId, professional: &str, exchange: Exchange, at: i64) -> Result<()>;
    /// Where the exchange with `professional` stands; `None` when they never wrote.
    fn contact(&self, patient: AccountId, professional: &str) -> Result<Option<Exchange>>;
}
