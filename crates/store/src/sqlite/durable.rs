//! Group commit of the write-ahead log. The writer commits with `synchronous = NORMAL` (the
//! frames reach the WAL file, not yet the disk) and releases the writer; then each writer waits
//! until an fsync of the WAL that started after its commit has returned. One fsync serves every
//! commit made before it, and the next transaction runs while the disk flushes: concurrent
//! STOREs, APPENDs and deliveries share their flushes instead of queueing behind one each.
//!
//! This is the durability of `synchronous = FULL` (a commit is on disk before the caller hears of
//! it): SQLite recovers every WAL frame that is on disk with a valid checksum chain, and it
//! syncs the WAL header itself when it restarts the log and before every checkpoint.

use std::fs::File;
use std::io;
use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

pub(crate) struct Wal {
    path: PathBuf,
    /// Commits made (numbered from 1), counted under the writer's lock.
    committed: AtomicU64,
    /// The highest commit number known to be on disk; held while a flush runs.
    synced: Mutex<u64>,
}

impl Wal {
    pub(crate) fn new(database: &std::path::Path) -> Wal {
        let mut path = database.as_os_str().to_owned();
        path.push("-wal");
        Wal {
            path: PathBuf::from(path),
            committed: AtomicU64::new(0),
            synced: Mutex::new(0),
        }
    }

    /// Numbers a commit that wrote something; called under the writer's lock, right after it.
    pub(crate) fn committed(&self) -> u64 {
        self.committed.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Returns once commit `n` is on disk: at once if a flush that covers it already returned,
    /// else after the next flush (made here, or by the writer that holds the lock meanwhile).
    pub(crate) fn durable(&self, n: u64) -> io::Result<()> {
        let mut synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
        if *synced >= n {
            return Ok(());
        }
        // Every commit numbered so far has written its frames: this flush covers them all.
        let upto = self.committed.load(Ordering::SeqCst);
        match File::open(&self.path) {
            Ok(wal) => wal.sync_data()?,
            // No log: the last checkpoint moved everything into the database and synced it.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        *synced = upto;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_flush_covers_every_commit_before_it() {
        let dir = std::env::temp_dir().join(format!("confiance-wal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("x.db");
        std::fs::write(dir.join("x.db-wal"), b"frames").unwrap();
        let wal = Wal::new(&db);
        let (a, b) = (wal.committed(), wal.committed());
        assert_eq!((a, b), (1, 2));
        wal.durable(a).unwrap();
        // The flush for the first commit found the second one made: it is on disk too.
        assert_eq!(*wal.synced.lock().unwrap(), 2);
        wal.durable(b).unwrap();
        let c = wal.committed();
        assert_eq!(*wal.synced.lock().unwrap(), 2, "a later commit waits for its own flush");
        wal.durable(c).unwrap();
        assert_eq!(*wal.synced.lock().unwrap(), 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
