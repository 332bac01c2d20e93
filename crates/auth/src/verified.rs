//! Passwords verified lately, so that a login does not cost an Argon2id each time: practice
//! software polls its BAL every few minutes with a fresh LOGIN, and one Argon2id takes 20 ms
//! of a core and 19 MiB (hundreds of ms under load). Dovecot's auth cache does the same.
//!
//! What is kept is a keyed digest (HMAC-SHA256, under a key drawn at start and never stored)
//! of the stored hash and the password that matched it, for `LIFETIME`. The stored hash is in
//! the key, so a changed password, a revoked app password or an account password no longer
//! allowed on the mail protocols has another hash (or none) and misses by itself, on every
//! node. Only successes are kept: each wrong guess still costs a whole Argon2id, and the
//! throttle counts it before. Suspension and locks are checked outside, at every login.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use ring::hmac;

/// How long a verified password is taken on trust.
pub const LIFETIME: Duration = Duration::from_secs(600);

/// Entries kept at most (a BAL polled by several programs has one per program).
const CAPACITY: usize = 50_000;

struct Verified {
    key: hmac::Key,
    seen: Mutex<HashMap<[u8; 32], Instant>>,
}

fn verified() -> &'static Verified {
    static VERIFIED: OnceLock<Verified> = OnceLock::new();
    VERIFIED.get_or_init(|| Verified {
        key: hmac::Key::new(hmac::HMAC_SHA256, &crate::otp::random_bytes::<32>()),
        seen: Mutex::new(HashMap::new()),
    })
}

fn digest(v: &Verified, password: &str, hash: &str) -> [u8; 32] {
    let mut ctx = hmac::Context::with_key(&v.key);
    // Lengths first, so that no two (hash, password) pairs give the same input.
    ctx.update(&(hash.len() as u64).to_be_bytes());
    ctx.update(hash.as_bytes());
    ctx.update(password.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

/// Whether `password` was found to match `hash` less than `LIFETIME` ago.
pub fn recently(password: &str, hash: &str) -> bool {
    let v = verified();
    let d = digest(v, password, hash);
    let seen = v.seen.lock().unwrap_or_else(|p| p.into_inner());
    seen.get(&d).is_some_and(|at| at.elapsed() < LIFETIME)
}

/// `password` was just found to match `hash`.
pub fn remember(password: &str, hash: &str) {
    let v = verified();
    let d = digest(v, password, hash);
    let mut seen = v.seen.lock().unwrap_or_else(|p| p.into_inner());
    if seen.len() >= CAPACITY {
        seen.retain(|_, at| at.elapsed() < LIFETIME);
        if seen.len() >= CAPACITY {
            seen.clear();
        }
    }
    seen.insert(d, Instant::now());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_known_once_remembered_and_only_with_the_same_hash() {
        assert!(!recently("Secret123", "$argon2id$one"));
        remember("Secret123", "$argon2id$one");
        assert!(recently("Secret123", "$argon2id$one"));
        assert!(!recently("Secret124", "$argon2id$one"), "another password");
        assert!(!recently("Secret123", "$argon2id$two"), "the password changed");
        // The lengths keep ("ab", "c") and ("a", "bc") apart.
        remember("c", "ab");
        assert!(!recently("bc", "a"));
    }
}
