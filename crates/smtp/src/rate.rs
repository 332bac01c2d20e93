//! How fast a structure's applicative BALs may send (issue 16): a structure's software that
//! loops must not flood the trust space, nor hold the queue for everyone else. One token
//! bucket per FINESS, shared by all the structure's APP BALs and all their connections.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub struct StructureRate {
    /// Messages a minute, and the burst a quiet structure may send at once.
    per_minute: u32,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl StructureRate {
    pub fn new(per_minute: u32) -> StructureRate {
        StructureRate {
            per_minute,
            buckets: Mutex::default(),
        }
    }

    pub fn per_minute(&self) -> u32 {
        self.per_minute
    }

    /// Takes one message from the structure's allowance; false when it is spent.
    pub fn take(&self, finess: &str) -> bool {
        self.take_at(finess, Instant::now())
    }

    fn take_at(&self, finess: &str, now: Instant) -> bool {
        let capacity = f64::from(self.per_minute.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = buckets.entry(finess.to_string()).or_insert((capacity, now));
        let refill = now.saturating_duration_since(*last).as_secs_f64() * capacity / 60.0;
        *tokens = (*tokens + refill).min(capacity);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_structure_spends_its_minute_then_waits_and_others_are_untouched() {
        let rate = StructureRate::new(3);
        let t = Instant::now();
        assert!((0..3).all(|_| rate.take_at("750712184", t)));
        assert!(!rate.take_at("750712184", t));
        assert!(rate.take_at("130786049", t), "another structure has its own allowance");
        assert!(!rate.take_at("750712184", t + Duration::from_secs(10)));
        assert!(
            rate.take_at("750712184", t + Duration::from_secs(21)),
            "one message back after 20 s"
        );
    }
}
