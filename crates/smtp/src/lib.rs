//! SMTP of the operator. For now: message submission (RFC 6409) by authenticated professionals
//! and their software, delivered to the mailboxes this operator hosts. Relaying to the other
//! operators of the trust space comes with the whitelist and the outbound queue.

mod command;
mod dsn;
mod network;
mod server;
mod session;

use std::sync::Arc;
use std::time::Duration;

pub use command::{Command, parse_command};
pub use network::Network;
pub use server::serve;

pub struct SmtpConfig {
    pub tls: Arc<rustls::ServerConfig>,
    /// Name in the greeting and in Received: fields.
    pub hostname: String,
    /// Domains whose mailboxes this operator hosts.
    pub domains: Vec<String>,
    /// SIZE (RFC 1870): the largest message accepted, in bytes.
    pub max_message_size: u64,
    pub max_recipients: usize,
    /// Clients that may submit without TLS or AUTH, with any sender (a local application
    /// server, a benchmark). Empty by default.
    pub trusted_networks: Vec<Network>,
    pub auth_failure_delay: Duration,
    pub command_timeout: Duration,
    pub handshake_timeout: Duration,
}
