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

/// Where message bodies live: files under the data directory (one node, `BlobStore`), or the
/// database that several nodes share (`pg::blobs::PgBlobs`). Calls block.
pub trait BlobStorage: Send + Sync + 'static {
    /// Stores the bytes if no blob has them yet; not durable until `sync`.
    fn put(&self, bytes: &[u8]) -> io::Result<BlobId>;
    /// Makes every blob stored so far durable.
    fn sync(&self) -> io::Result<()>;
    fn get(&self, id: &BlobId) -> io::Result<Vec<u8>>;
    /// Removes a blob the caller found unused (only a remover, see `try_remover`).
    fn delete(&self, id: &BlobId) -> io::Result<()>;
    /// Becomes a process that removes blobs, for as long as the guard lives; `None` when
    /// another process does. Files have one such process (the directory's owner, which first
    /// clears unfinished writes); the database lets every node remove (its grace period stands
    /// in for the owner's lock).
    fn try_remover(&self) -> io::Result<Option<Remover>>;
    /// Removes the blobs no message refers to any more whose grace period is over (a database
    /// shared by nodes spares recently used blobs, so their removal is tried again here).
    /// Files go with their last message: nothing to do. Returns how many went.
    fn sweep(&self, _now: i64) -> io::Result<u64> {
        Ok(0)
    }
}

/// Proof that this process may remove blobs (see `BlobStorage::try_remover`).
pub struct Remover {
    _owner: Option<OwnerLock>,
}

impl Remover {
    /// For stores where every process may remove.
    pub fn shared() -> Remover {
        Remover { _owner: None }
    }
}

impl BlobStorage for BlobStore {
    fn put(&self, bytes: &[u8]) -> io::Result<BlobId> {
        BlobStore::put(self, bytes)
    }

    fn sync(&self) -> io::Result<()> {
        BlobStore::sync(self)
    }

    fn get(&self, id: &BlobId) -> io::Result<Vec<u8>> {
        BlobStore::get(self, id)
    }

    fn delete(&self, id: &BlobId) -> io::Result<()> {
        BlobStore::delete(self, id)
    }

    fn try_remover(&self) -> io::Result<Option<Remover>> {
        let Some(owner) = self.try_own()? else {
            return Ok(None);
        };
        match self.clean_tmp(&owner) {
            Ok(0) => {}
            Ok(n) => tracing::info!(files = n, "unfinished blob writes removed"),
            Err(e) => tracing::warn!(error = %e, "cannot clean the blobs' tmp directory"),
        }
        Ok(Some(Remover { _owner: Some(owner) }))
    }
}

pub struct BlobStore {
    root: PathBuf,
    fsync: bool,
    counter: AtomicU64,
}

impl BlobStore {
    /// Opens (and creates) the blob directory. With `fsync` false nothing is flushed: only for
    /// throw-away data such as benchmarks of the non-durable path.
    ///
    /// Opening touches nothing: another process (the server, while a CLI command runs) may be
    /// writing here. Removing files is for the directory's owner (`try_own`).
    pub fn open(root: impl Into<PathBuf>, fsync: bool) -> io::Result<Self> {
        let root = root.into();
        fs::create_dir_all(root.join("tmp"))?;
        Ok(BlobStore {
            root,
            fsync,
            counter: AtomicU64::new(0),
        })
    }

    /// Becomes the directory's one owner for as long as the returned lock lives (an exclusive
    /// `flock(2)` on `owner.lock`, released by the kernel when the process ends, however it
    /// ends); `None` when another process owns it.
    pub fn try_own(&self) -> io::Result<Option<OwnerLock>> {
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join("owner.lock"))?;
        #[cfg(unix)]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: the descriptor is valid for the duration of the call.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
                let e = io::Error::last_os_error();
                return match e.raw_os_error() {
                    Some(libc::EWOULDBLOCK) => Ok(None),
                    _ => Err(e),
                };
            }
        }
        Ok(Some(OwnerLock { _file: file }))
    }

    /// Removes what a crash between write and rename left in `tmp/` (no row refers to it). A
    /// file is named after the process that writes it, and one of a live process is kept.
    pub fn clean_tmp(&self, _owner: &OwnerLock) -> io::Result<usize> {
        let mut removed = 0;
        for entry in fs::read_dir(self.root.join("tmp"))? {
            let path = entry?.path();
            let writer = path
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.split('-').next())
                .and_then(|pid| pid.parse::<u32>().ok());
            if writer.is_some_and(|pid| pid == std::process::id() || process_alive(pid)) {
                continue;
            }
            if fs::remove_file(&path).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
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
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let tmp = self.root.join("tmp").join(format!("{}-{n}", std::process::id()));
        // The directories are made when the rename finds them missing, not tried at every put
        // (two mkdir calls a message otherwise).
        let rename = || match fs::rename(&tmp, &path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(path.parent().expect("blob path has a parent"))?;
                fs::rename(&tmp, &path)
            }
            done => done,
        };
        let written = File::create(&tmp)
            .and_then(|mut f| f.write_all(bytes))
            .and_then(|()| rename());
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

/// Proof that this process owns the blob directory (see `BlobStore::try_own`).
pub struct OwnerLock {
    _file: File,
}

fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks that the process exists; nothing is sent.
        unsafe { libc::kill(pid, 0) == 0 || *libc::__errno_location() == libc::EPERM }
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
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

    #[test]
    fn one_owner_and_tmp_files_of_live_writers_survive_cleaning() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path(), false).unwrap();
        // A second open (a CLI command beside the server) removes nothing.
        let leftover = dir.path().join("tmp").join("4000000000-1");
        let ours = dir.path().join("tmp").join(format!("{}-9", std::process::id()));
        std::fs::write(&leftover, b"crash").unwrap();
        std::fs::write(&ours, b"in flight").unwrap();
        let _again = BlobStore::open(dir.path(), false).unwrap();
        assert!(leftover.exists());
        let owner = store.try_own().unwrap().expect("first owner");
        // flock is per open file description: a second claim fails even in one process.
        assert!(store.try_own().unwrap().is_none());
        assert_eq!(store.clean_tmp(&owner).unwrap(), 1);
        assert!(!leftover.exists());
        assert!(ours.exists());
        drop(owner);
        assert!(store.try_own().unwrap().is_some());
    }
}
