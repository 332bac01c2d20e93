//! The trust space as the operator sees it: certificates (a development PKI shaped like
//! IGC-Santé for `init`) and the TLS configurations every front uses.

pub mod authority;
pub mod dn;
pub mod fetch;
pub mod mta;
pub mod pki;
pub mod revocation;
pub mod tls;
pub mod whitelist;
pub mod whitelist_source;

pub use mta::{MtaTls, subject_dn};
pub use pki::{DevPki, PkiError};
pub use revocation::Revocation;
pub use tls::{TlsError, server_config};
pub use whitelist::Whitelist;
pub use whitelist_source::WhitelistSource;
