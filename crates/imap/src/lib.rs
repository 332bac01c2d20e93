//! IMAP4rev2 (RFC 9051) and IMAP4rev1 server over the mailbox service, in two layers: `proto`
//! (grammar, framing, rendering: bytes in, types out, no state) and the session modules that
//! run each command family against the mailbox service (`session`, `messages`, `fetch`,
//! `search`, `notify`, `catenate`, `thread`, with the selected folder's `view`).

pub mod proto;
mod section;
mod server;
mod session;

use std::sync::Arc;
use std::time::Duration;

pub use server::serve;

pub struct ImapConfig {
    pub tls: Arc<rustls::ServerConfig>,
    /// Largest APPEND accepted (literal size).
    pub max_message_size: u64,
    /// Idle time after which a connection is closed (RFC 9051 §5.4: at least 30 minutes).
    pub autologout: Duration,
    pub handshake_timeout: Duration,
    /// Idle time allowed before login (at most a minute: anonymous connections cost memory
    /// and descriptors).
    pub login_timeout: Duration,
    /// Connections at once, on each listener and per client address.
    pub limits: confiance_net::Limits,
    /// Passwords, PSC tokens (AUTHENTICATE XOAUTH2/OAUTHBEARER) and CPS cards, with the
    /// throttle shared by every door.
    pub logins: Arc<confiance_auth::Logins>,
}
