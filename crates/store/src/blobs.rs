//! Content-addressed blob files: a message's bytes live in `blobs/ab/cd/<sha256>`, written once,
//! shared by every copy of the message (COPY, a mail to several local recipients).
//!
//! Durability is batched: `put` writes and renames without syncing, and `sync` makes every
//! pending write durable with one `syncfs(2)` before the metadata transaction commits. That is the
//! group commit: a burst of SMTP deliveries costs one flush, not one per message and directory.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest, Sha256};

use crate::BlobId;

pub struct BlobStore {
    root: PathBuf,
    fsync: bool,
    counter: AtomicU64,
}

impl BlobStore {
    /// Opens (and creates) the blob directory. With `fsync` false nothing is flushed: only for
    /// throw-away data such as benchmarks of the non-durable path.
    pub fn open(root: impl Into<PathBuf>, fsync: bool) -> io::Result<Self> {
        let root = root.into();
        fs::create_dir_all(root.join("tmp"))?;
        // Leftovers of a crash between write and rename are garbage: no metadata refers to them.
        for entry in fs::read_dir(root.join("tmp"))? {
            let _ = fs::remove_file(entry?.path());
        }
        Ok(BlobStore {
            root,
            fsync,
            counter: AtomicU64::new(0),
        })
    }

    pub fn id_of(bytes: &[u8]) -> BlobId {
        BlobId(hex::encode(Sha256::digest(bytes)))
    }

    fn path(&self, id: &BlobId) -> PathBuf {
        let h = &id.0;
        self.root.join(&h[0..2]).join(&h[2..4]).join(h)
    }

    /// Writes the bytes if no blob has them yet. Not durable until `sync`.
    pub fn put(&self, bytes: &[u8]) -> io::Result<BlobId> {
        let id = Self::id_of(bytes);
        let path = self.path(&id);
        // Same bytes already stored: reuse the file, unless a crash between its rename and the
        // flush left it short or damaged (delayed allocation); then it is written again.
        if let Ok(existing) = fs::read(&path)
            && existing.len() == bytes.len()
            && Self::id_of(&existing) == id
        {
            return Ok(id);
        }
        fs::create_dir_all(path.parent().expect("blob path has a parent"))?;
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = self.root.join("tmp").join(format!("{}-{n}", std::process::id()));
        let written = File::create(&tmp)
            .and_then(|mut f| f.write_all(bytes))
            .and_then(|()| fs::rename(&tmp, &path));
        if let Err(e) = written {
            // A full disk leaves no partial file behind: the message was refused, not kept.
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(id)
    }

    /// Makes every blob written so far durable (data and directory entries).
    pub fn sync(&self) -> io::Result<()> {
        if !self.fsync {
            return Ok(());
        }
        sync_filesystem(&self.root)
    }

    pub fn get(&self, id: &BlobId) -> io::Result<Vec<u8>> {
        if !is_valid_id(id) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "malformed blob id"));
        }
        fs::read(self.path(id))
    }

    pub fn delete(&self, id: &BlobId) -> io::Result<()> {
        if !is_valid_id(id) {
            return Ok(());
        }
        match fs::remove_file(self.path(id)) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

fn is_valid_id(id: &BlobId) -> bool {
    id.0.len() == 64 && id.0.bytes().all(|b| b.is_ascii_hexdigit())
}

/// One `syncfs(2)` flushes the whole file system holding `path`: all pending blob data, their
/// directory entries and renames, whatever their number.
fn sync_filesystem(path: &Path) -> io::Result<()> {
    let dir = File::open(path)?;
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: the descriptor is valid for the duration of the call.
        if unsafe { libc::syncfs(dir.as_raw_fd()) } != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        dir.sync_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn put_is_content_addressed_and_idempotent() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), true).unwrap();
        let a = store.put(b"hello").unwrap();
        let b = store.put(b"hello").unwrap();
        assert_eq!(a, b);
        store.sync().unwrap();
        assert_eq!(store.get(&a).unwrap(), b"hello");
        // A damaged file with the right name is repaired by the next put of the same bytes.
        std::fs::write(store.path(&a), b"").unwrap();
        store.put(b"hello").unwrap();
        assert_eq!(store.get(&a).unwrap(), b"hello");
        store.delete(&a).unwrap();
        assert!(store.get(&a).is_err());
        assert!(store.get(&BlobId("../../etc/passwd".into())).is_err());
    }
}
