//! The health directory (annuaire). For now: reading the ANS public extracts by header name,
//! line by line, with every unusable line counted and reported. Storage, search and the FHIR
//! views come next (issue 4).

pub mod activity;
pub mod extract;
pub mod mssante;

pub use extract::{BadLine, Extract, ExtractError};
pub use mssante::{MailboxEntry, read_mailboxes};
