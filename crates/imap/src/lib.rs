//! IMAP4rev2 (RFC 9051) and IMAP4rev1 server over the mailbox service.

mod catenate;
pub mod command;
mod context;
mod encoded;
mod fetch;
pub mod framing;
mod messages;
pub mod mime;
mod notify;
pub mod render;
mod search;
mod section;
mod server;
mod session;
mod thread;
mod view;

use std::sync::Arc;
use std::time::Duration;

pub use server::serve;

pub struct ImapConfig {
    pub tls: Arc<rustls::ServerConfig>,
    /// Largest APPEND accepted (literal size).
    pub max_message_size: u64,
    /// Pause after a failed login, to slow password guessing.
    pub auth_failure_delay: Duration,
    /// Idle time after which a connection is closed (RFC 9051 §5.4: at least 30 minutes).
    pub autologout: Duration,
    pub handshake_timeout: Duration,
    /// Idle time allowed before login (at most a minute: anonymous connections cost memory
    /// and descriptors).
    pub login_timeout: Duration,
    /// Connections at once, on each listener and per client address.
    pub limits: confiance_net::Limits,
    /// Authentication failures counted per client address and account (shared by every door).
    pub throttle: Arc<confiance_auth::throttle::Throttle>,
    /// Pro Santé Connect, which vouches for the tokens of AUTHENTICATE XOAUTH2/OAUTHBEARER.
    pub psc: Option<Arc<confiance_auth::psc::Psc>>,
}
