//! Unknown addresses lock as accounts do: after `login_attempts` failures the login page says
//! « verrouillé » for them too, for the same time, so its wording never tells which addresses
//! exist (a BAL on the liste rouge included). Kept in memory, bounded.

use std::collections::HashMap;
use std::sync::Mutex;

/// Names followed at most; beyond, the table starts afresh (a spray of made-up names must not
/// grow memory; the cost is that some unknown names unlock early).
const MAX_NAMES: usize = 100_000;

#[derive(Default)]
pub struct UnknownLocks(Mutex<HashMap<String, (u32, Option<i64>)>>);

impl UnknownLocks {
    /// The end of the lock on the unknown `name`, if one is in force at `now`.
    pub fn locked(&self, name: &str, now: i64) -> Option<i64> {
        let t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        t.get(name).and_then(|(_, until)| *until).filter(|u| *u > now)
    }

    /// One more failure for the unknown `name` at `now`; the end of its lock if it is locked,
    /// by the same rule as `Store::record_failure`.
    pub fn failure(&self, name: &str, limit: u32, lock_seconds: i64, now: i64) -> Option<i64> {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if t.len() >= MAX_NAMES {
            t.retain(|_, (_, until)| until.is_some_and(|u| u > now));
            if t.len() >= MAX_NAMES {
                t.clear();
            }
        }
        let (count, until) = t.entry(name.to_string()).or_insert((0, None));
        if until.is_some_and(|u| u <= now) {
            (*count, *until) = (0, None);
        }
        *count += 1;
        if *count >= limit && until.is_none() {
            *until = Some(now + lock_seconds);
        }
        until.filter(|u| *u > now)
    }
}

#[cfg(test)]
mod tests {
    use super::UnknownLocks;

    #[test]
    fn unknown_names_lock_like_accounts() {
        let u = UnknownLocks::default();
        for _ in 0..4 {
            assert_eq!(u.failure("personne@x.fr", 5, 900, 1000), None);
        }
        assert_eq!(u.locked("personne@x.fr", 1000), None);
        assert_eq!(u.failure("personne@x.fr", 5, 900, 1000), Some(1900));
        assert_eq!(u.locked("personne@x.fr", 1000), Some(1900));
        assert_eq!(u.failure("personne@x.fr", 5, 900, 1500), Some(1900));
        assert_eq!(u.failure("personne@x.fr", 5, 900, 1900), None, "the lock ran out");
        assert_eq!(u.failure("autre@x.fr", 5, 900, 1000), None);
    }
}
