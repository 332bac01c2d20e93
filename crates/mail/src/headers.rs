//! The header sections of messages read lately, kept in memory: a mail program lists a folder
//! by fetching a page of header fields (FROM, TO, SUBJECT, DATE…) again and again, and each
//! page opened and read twenty message files (the path walk and the copy were most of the
//! server's time in that phase). Dovecot keeps the same fields in its index cache.
//!
//! A blob never changes (its name is the SHA-256 of its bytes), so an entry is never stale;
//! the cache is bounded in bytes and sheds half of its entries when full.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use confiance_store::BlobId;

/// Bytes of header sections kept at most.
const BUDGET: usize = 16 * 1024 * 1024;

#[derive(Default)]
pub(crate) struct HeaderCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    sections: HashMap<BlobId, Arc<Vec<u8>>>,
    bytes: usize,
}

impl HeaderCache {
    pub(crate) fn get(&self, blob: &BlobId) -> Option<Arc<Vec<u8>>> {
        let inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.sections.get(blob).cloned()
    }

    /// Keeps the header section of `message` (up to and with the blank line) and returns it.
    pub(crate) fn keep(&self, blob: BlobId, message: &[u8]) -> Arc<Vec<u8>> {
        let section = Arc::new(message[..crate::message::mime::header_end(message)].to_vec());
        if section.len() > BUDGET / 64 {
            // A header section this large (hostile, or a mail program's oddity) is not kept.
            return section;
        }
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if inner.bytes + section.len() > BUDGET {
            let mut keep = false;
            inner.sections.retain(|_, _| {
                keep = !keep;
                keep
            });
            inner.bytes = inner.sections.values().map(|s| s.len()).sum();
        }
        if let Some(old) = inner.sections.insert(blob, section.clone()) {
            inner.bytes -= old.len();
        }
        inner.bytes += section.len();
        section
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_header_section_within_its_budget() {
        let cache = HeaderCache::default();
        let id = |n: usize| BlobId(format!("{n:064}"));
        let kept = cache.keep(id(0), b"Subject: a\r\nFrom: b\r\n\r\nbody");
        assert_eq!(kept.as_slice(), b"Subject: a\r\nFrom: b\r\n\r\n");
        assert_eq!(cache.get(&id(0)).unwrap(), kept);
        // Without a blank line, the whole message is its header.
        assert_eq!(cache.keep(id(1), b"Subject: a\r\n").as_slice(), b"Subject: a\r\n");
        let big = vec![b'x'; BUDGET / 32];
        cache.keep(id(2), &big);
        assert!(cache.get(&id(2)).is_none(), "an outsized section is not kept");
        let line = format!("Subject: {}\r\n\r\n", "y".repeat(BUDGET / 128));
        for n in 3..300 {
            cache.keep(id(n), line.as_bytes());
        }
        let inner = cache.inner.lock().unwrap();
        assert!(inner.bytes <= BUDGET, "{} bytes kept", inner.bytes);
        assert_eq!(inner.bytes, inner.sections.values().map(|s| s.len()).sum::<usize>());
    }
}
