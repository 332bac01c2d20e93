//! Password login shared by IMAP and SMTP: account lookup, Argon2id check with bounded
//! concurrency, the same work for unknown addresses, and the audit trace.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use confiance_store::{Account, Store};
use tokio::sync::Semaphore;

use crate::password::verify_password;

/// A valid Argon2id hash of a random string, checked for unknown addresses so that timing does
/// not tell which addresses exist.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0bbxoYnBBRNV4fZtj5yr1v2vMrL7F7+9gPbD1JROXJY";

/// Each check takes 19 MiB and a core for ~20 ms: at most one per core at a time, so a flood of
/// logins queues instead of exhausting memory.
fn hashing_slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| Semaphore::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2)))
}

async fn check(password: String, hash: String) -> bool {
    let Ok(_slot) = hashing_slots().acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || verify_password(&password, &hash))
        .await
        .unwrap_or(false)
}

/// Who is logging in, for the audit trace.
pub struct Attempt<'a> {
    pub protocol: &'static str,
    pub method: &'a str,
    pub peer: &'a str,
}

/// The account if `password` is right. Failures wait `failure_delay` before answering.
pub async fn login(
    store: Arc<dyn Store>,
    user: &str,
    password: String,
    attempt: Attempt<'_>,
    failure_delay: Duration,
) -> Option<Account> {
    let address = user.trim().to_lowercase();
    let lookup = address.clone();
    let account = tokio::task::spawn_blocking(move || store.account_by_address(&lookup))
        .await
        .ok()
        .and_then(Result::ok)
        .flatten();
    let verified = match account {
        Some(account) => check(password, account.password_hash.clone()).await.then_some(account),
        None => {
            check(password, DUMMY_HASH.to_string()).await;
            None
        }
    };
    let Attempt { protocol, method, peer } = attempt;
    match &verified {
        Some(a) => {
            tracing::info!(target: "audit", event = "login", protocol, method, account = %a.address, peer, outcome = "success")
        }
        None => {
            tracing::warn!(target: "audit", event = "login", protocol, method, account = %address, peer, outcome = "failure");
            tokio::time::sleep(failure_delay).await;
        }
    }
    verified
}
