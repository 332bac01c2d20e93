//! Authentication throttling, one mechanism for every door that checks a secret (web login and
//! codes, IMAP LOGIN and AUTHENTICATE PLAIN, SMTP AUTH, application passwords), in the spirit of
//! Dovecot's auth_penalty. An attempt is counted *before* its secret is checked, so a parallel
//! burst gets no more checks than the limit; it is forgiven when the secret was right.
//!
//! - Per (client address, account): after `per_account` failures within the penalty time, that
//!   address is refused for that account, even with the right password, while the holder from
//!   another address still gets in.
//! - Per client address: after `per_address` failures on any accounts, the address is refused
//!   altogether (a password-spraying client).
//!
//! The account is counted by the name the client gave, whether it exists or not, so the
//! answers and the work are the same for both.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Entries kept at most; beyond, the expired ones are dropped, and if that is not enough the
/// oldest half (a flood of made-up names must not grow memory without bound).
const MAX_ENTRIES: usize = 100_000;

#[derive(Clone, Copy, Debug)]
pub struct ThrottleLimits {
    pub per_account: u32,
    pub per_address: u32,
    pub penalty: Duration,
}

impl Default for ThrottleLimits {
    fn default() -> Self {
        ThrottleLimits {
            per_account: 10,
            per_address: 100,
            penalty: Duration::from_secs(15 * 60),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Pair(IpAddr, String),
    Address(IpAddr),
}

#[derive(Clone, Copy, Debug)]
struct Count {
    attempts: u32,
    since: Instant,
}

pub struct Throttle {
    limits: ThrottleLimits,
    counts: Mutex<HashMap<Key, Count>>,
}

/// Why an attempt was refused before its secret was looked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Too many failures from this address for this account.
    Account,
    /// Too many failures from this address.
    Address,
}

impl Refused {
    pub fn reason(self) -> &'static str {
        match self {
            Refused::Account => "throttled: too many failures from this address for this account",
            Refused::Address => "throttled: too many failures from this address",
        }
    }
}

/// One attempt, counted as a failure unless `succeeded` is called.
#[must_use]
pub struct Attempting {
    throttle: Arc<Throttle>,
    pair: Key,
    address: Key,
}

impl Attempting {
    /// The secret was right: this attempt and the address's earlier failures for this account
    /// are forgiven (the holder mistyped, then got it right).
    pub fn succeeded(self) {
        let mut counts = self.throttle.lock();
        counts.remove(&self.pair);
        if let Some(c) = counts.get_mut(&self.address) {
            c.attempts = c.attempts.saturating_sub(1);
        }
    }
}

/// The client address of a peer written `ip:port` (or a bare IP); loopback for what is not
/// an address (the webmail's in-process submission).
pub fn client_ip(peer: &str) -> IpAddr {
    peer.parse::<std::net::SocketAddr>()
        .map(|s| s.ip())
        .or_else(|_| peer.parse::<IpAddr>())
        .unwrap_or(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST))
}

impl Throttle {
    pub fn new(limits: ThrottleLimits) -> Arc<Throttle> {
        Arc::new(Throttle {
            limits,
            counts: Mutex::new(HashMap::new()),
        })
    }

    /// How long failures count (and an address stays refused).
    pub fn penalty(&self) -> Duration {
        self.limits.penalty
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Count>> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts an attempt of `ip` on `account` (as the client named it) and says whether its
    /// secret may be checked.
    pub fn begin(self: &Arc<Self>, ip: IpAddr, account: &str) -> Result<Attempting, Refused> {
        // An IPv6 client holds a whole /64: it is one address here.
        let ip = confiance_net::counted(ip);
        let pair = Key::Pair(ip, account.trim().to_lowercase());
        let address = Key::Address(ip);
        let now = Instant::now();
        let penalty = self.limits.penalty;
        let mut counts = self.lock();
        if counts.len() >= MAX_ENTRIES {
            counts.retain(|_, c| now.duration_since(c.since) < penalty);
            if counts.len() >= MAX_ENTRIES {
                let mut ages: Vec<Instant> = counts.values().map(|c| c.since).collect();
                ages.sort_unstable();
                let cut = ages[ages.len() / 2];
                counts.retain(|_, c| c.since > cut);
            }
        }
        let mut bump = |key: &Key| {
            let c = counts.entry(key.clone()).or_insert(Count {
                attempts: 0,
                since: now,
            });
            if now.duration_since(c.since) >= penalty {
                *c = Count {
                    attempts: 0,
                    since: now,
                };
            }
            c.attempts += 1;
            c.attempts
        };
        let on_address = bump(&address);
        let on_pair = bump(&pair);
        if on_address > self.limits.per_address {
            return Err(Refused::Address);
        }
        if on_pair > self.limits.per_account {
            return Err(Refused::Account);
        }
        Ok(Attempting {
            throttle: self.clone(),
            pair,
            address,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ThrottleLimits {
        ThrottleLimits {
            per_account: 3,
            per_address: 5,
            penalty: Duration::from_secs(60),
        }
    }

    #[test]
    fn a_burst_gets_no_more_checks_than_the_limit_and_the_owner_elsewhere_still_gets_in() {
        let t = Throttle::new(limits());
        let attacker: IpAddr = "192.0.2.1".parse().unwrap();
        let owner: IpAddr = "192.0.2.2".parse().unwrap();
        // Thirty attempts in flight at once: three may check their secret.
        let tries: Vec<_> = (0..30).map(|_| t.begin(attacker, "a@x.fr")).collect();
        assert_eq!(tries.iter().filter(|r| r.is_ok()).count(), 3);
        drop(tries);
        // The right password from the same address is not even checked.
        assert!(t.begin(attacker, "a@x.fr").is_err());
        // The holder, from elsewhere, logs in.
        t.begin(owner, "A@x.fr ").unwrap().succeeded();
    }

    #[test]
    fn an_ipv6_client_does_not_escape_by_changing_address() {
        let t = Throttle::new(limits());
        for i in 1..=3 {
            drop(
                t.begin(format!("2001:db8:0:1::{i}").parse().unwrap(), "a@x.fr")
                    .unwrap(),
            );
        }
        assert!(t.begin("2001:db8:0:1:ffff::9".parse().unwrap(), "a@x.fr").is_err());
        assert!(t.begin("2001:db8:0:2::1".parse().unwrap(), "a@x.fr").is_ok());
    }

    #[test]
    fn success_forgives_and_spraying_closes_the_address() {
        let t = Throttle::new(limits());
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        for _ in 0..2 {
            drop(t.begin(ip, "a@x.fr").unwrap());
        }
        t.begin(ip, "a@x.fr").unwrap().succeeded();
        // Forgiven: three more tries for that account.
        for _ in 0..3 {
            drop(t.begin(ip, "a@x.fr").unwrap());
        }
        // Spraying other names: the address as a whole runs out.
        assert_eq!(t.begin(ip, "b@x.fr").err(), Some(Refused::Address));
        assert_eq!(t.begin(ip, "c@x.fr").err(), Some(Refused::Address));
        assert_eq!(client_ip("127.0.0.2:4567"), "127.0.0.2".parse::<IpAddr>().unwrap());
        assert_eq!(client_ip("webmail"), IpAddr::V6(std::net::Ipv6Addr::LOCALHOST));
    }
}
