//! The one accept loop every listener goes through (IMAP, SMTP submission and MX, HTTPS):
//! connection limits per listener, per client address and for the whole process, a refusal
//! the client can read when over them, accept errors backed off and never fatal, and an idle
//! timeout for any stream.

mod accept;
mod files;
mod idle;

pub use accept::{Limits, counted, refuse, serve};
pub use files::raise_file_limit;
pub use idle::Idle;
