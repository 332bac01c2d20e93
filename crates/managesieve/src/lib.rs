//! ManageSieve (RFC 5804): mail clients (Thunderbird's filter add-ons, Roundcube, sieve-connect)
//! list, read, check, write and activate a BAL's Sieve scripts. The scripts are the webmail's
//! filters too: both write them through `confiance_mail::filters`, which refuses a script that
//! does not parse, so what a client stores is what runs at delivery.
//!
//! `proto` reads commands (no state, no I/O), `session` answers them, `server` is the
//! connection loop with STARTTLS and the limits.

use std::sync::Arc;
use std::time::Duration;

mod proto;
mod server;
mod session;

pub use server::serve;

pub struct SieveConfig {
    pub tls: Arc<rustls::ServerConfig>,
    pub handshake_timeout: Duration,
    /// Idle time allowed before login (a minute at most: anonymous connections cost memory).
    pub login_timeout: Duration,
    /// Idle time after login.
    pub idle_timeout: Duration,
    pub limits: confiance_net::Limits,
    /// Passwords and application passwords, with the throttle shared by every door.
    pub logins: Arc<confiance_auth::Logins>,
}
