//! The mailbox service used by every front (SMTP, IMAP, the webmail): it owns the store and the
//! blob files, serialises deliveries into group commits, and tells open sessions what changed.

pub mod author;
mod commit;
pub mod folders;
mod service;
pub mod summary;

pub use service::{Incoming, MailError, MailService, StoredMessage};
