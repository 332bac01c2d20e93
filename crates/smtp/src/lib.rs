//! SMTP of the operator: message submission (RFC 6409) by authenticated professionals and their
//! software, the inbound MX where the other operators of the trust space hand over mail (mutual
//! TLS, whitelist), and the durable outbound queue that relays to them, with delivery status
//! notifications (RFC 3461, RFC 3464).

mod command;
#[cfg(test)]
mod dialogue_tests;
mod dsn;
pub mod filtering;
mod network;
pub mod patients;
pub mod policy;
pub mod rate;
pub mod relay;
mod report;
pub mod routing;
mod server;
mod session;
mod submit;
mod traced;
mod transaction;

use std::sync::Arc;
use std::time::Duration;

use confiance_mail::queue::Queue;
use confiance_trust::WhitelistSource;

pub use command::{Command, parse_command};
pub use network::Network;
pub use server::{Role, serve};
pub use submit::{Kind as Submission, NotSent, Submitted, new_message_id, submit};

pub struct SmtpConfig {
    /// Submission ports: the server certificate, no client certificate.
    pub tls: Arc<rustls::ServerConfig>,
    /// Port 25: the same certificate, and the peer operator's certificate asked for.
    pub mx_tls: Arc<rustls::ServerConfig>,
    /// Name in the greeting and in Received: fields.
    pub hostname: String,
    /// Domains whose mailboxes this operator hosts.
    pub domains: Vec<String>,
    /// The BAL that receives mail for `postmaster` of every hosted domain (RFC 5321 §4.5.1),
    /// unless a BAL of that name exists.
    pub postmaster: Option<String>,
    /// SIZE (RFC 1870): the largest message accepted, in bytes.
    pub max_message_size: u64,
    pub max_recipients: usize,
    /// Clients that may submit without TLS or AUTH, with any sender (a local application
    /// server, a benchmark). Empty by default.
    pub trusted_networks: Vec<Network>,
    /// RFC 5321 §4.5.3.2: the server waits at least 5 minutes for a command.
    pub command_timeout: Duration,
    pub handshake_timeout: Duration,
    /// Connections at once, on each listener and per client address.
    pub limits: confiance_net::Limits,
    /// Passwords, PSC tokens (AUTH XOAUTH2/OAUTHBEARER) and CPS cards, with the throttle
    /// shared by every door.
    pub logins: Arc<confiance_auth::Logins>,
    /// The ANS whitelist in force: who belongs to the trust space.
    pub whitelist: Arc<WhitelistSource>,
    /// Where mail for other operators waits.
    pub outbound: Arc<Outbound>,
    /// Messages a minute a structure's applicative BALs may send, together.
    pub app_rate: Arc<rate::StructureRate>,
    /// The patients' domain (Mon Espace Santé) and its service addresses.
    pub patients: confiance_core::PatientDomain,
    /// This operator is the patients' side (`[patients] serve_domain`): its patients only
    /// answer professionals who wrote to them.
    pub patient_side: bool,
}

/// The outbound queue and the bell that wakes its relay when something is queued.
pub struct Outbound {
    pub queue: Arc<dyn Queue>,
    pub wake: tokio::sync::Notify,
}

impl SmtpConfig {
    /// Whether this operator hosts the mailboxes of `domain`.
    pub fn hosts(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }
}
