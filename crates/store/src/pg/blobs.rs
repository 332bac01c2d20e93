//! Message bodies in PostgreSQL, so that the database is the one state of a cluster of nodes to
//! back up and replicate. As in the file store, a blob is named by the SHA-256 of its bytes
//! (the same message to twenty recipients is kept once). Its bytes are rows of at most
//! `CHUNK` bytes: ordinary rows, deleted in a transaction, carried by every backup and replica
//! (large objects are not carried by logical replication and need their own collector).
//!
//! Any node may remove a blob no message refers to, so there is no owner as with files. What
//! stands in for the owner's lock is a grace period: a node that reuses a stored blob (dedup)
//! moves its `touched_at` forward, and a removal spares any blob touched within `GRACE_SECS`,
//! by far longer than it takes the reusing node to commit the message that refers to it.

use std::io::{self, Write};

use postgres::fallible_iterator::FallibleIterator;
use sha2::{Digest, Sha256};

use super::{Pool, SESSION, migrate};
use crate::blobs::BlobStore;
use crate::{BlobId, StoreError};

const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE blobs(
    hash text COLLATE "C" PRIMARY KEY CHECK (length(hash) = 64),
    size bigint NOT NULL,
    -- Unix seconds of its storing or of its last reuse: removal spares recent ones.
    touched_at bigint NOT NULL
);
CREATE TABLE blob_chunks(
    hash text COLLATE "C" NOT NULL REFERENCES blobs(hash) ON DELETE CASCADE,
    seq integer NOT NULL,
    data bytea NOT NULL,
    PRIMARY KEY (hash, seq)
);
"#];

/// Bytes a row: most messages are one row, and no value nears bytea's 1 GB bound.
pub const CHUNK: usize = 1 << 20;
/// A blob reused or stored within this time is never removed (see the module's comment).
pub const GRACE_SECS: i64 = 3600;

pub struct PgBlobs {
    pool: Pool,
}

fn other(e: impl Into<StoreError>) -> io::Error {
    match e.into() {
        StoreError::Io(e) => e,
        e if e.is_storage_full() => io::Error::new(io::ErrorKind::StorageFull, e.to_string()),
        e => io::Error::other(e.to_string()),
    }
}

fn valid(id: &BlobId) -> io::Result<()> {
    if id.0.len() == 64 && id.0.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(())
    } else {
        Err(io::Error::new(io::ErrorKind::InvalidInput, "malformed blob id"))
    }
}

impl PgBlobs {
    pub fn open(url: &str, pool_size: u32) -> crate::Result<PgBlobs> {
        let pool = Pool::connect(url, pool_size, SESSION)?;
        migrate(&mut *pool.get()?, "blobs", MIGRATIONS)?;
        Ok(PgBlobs { pool })
    }

    /// Stores the bytes if no blob has them yet. Durable once `sync` returns.
    pub fn put(&self, bytes: &[u8]) -> io::Result<BlobId> {
        self.put_at(bytes, crate::queue::now())
    }

    /// `put` as of `now` (Unix seconds): the time it touches the blob with.
    pub fn put_at(&self, bytes: &[u8], now: i64) -> io::Result<BlobId> {
        let id = BlobStore::id_of(bytes);
        let mut client = self.pool.get().map_err(other)?;
        // Retried if a removal takes the blob between the two steps below.
        loop {
            let mut tx = client.transaction().map_err(other)?;
            // Not flushed here: `sync` flushes every earlier commit at once (one WAL).
            tx.batch_execute("SET LOCAL synchronous_commit = off").map_err(other)?;
            // A put of the same bytes on another node waits here until that one commits, then
            // finds the row: a visible row always has all its chunks.
            let inserted = tx
                .execute(
                    "INSERT INTO blobs(hash, size, touched_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                    &[&id.0, &(bytes.len() as i64), &now],
                )
                .map_err(other)?;
            if inserted == 1 {
                let chunk = tx
                    .prepare("INSERT INTO blob_chunks(hash, seq, data) VALUES ($1, $2, $3)")
                    .map_err(other)?;
                for (seq, data) in bytes.chunks(CHUNK).enumerate() {
                    tx.execute(&chunk, &[&id.0, &(seq as i32), &data]).map_err(other)?;
                }
            } else {
                // Reused: moved out of the reach of removals (at most every half grace period,
                // so that a popular blob is not rewritten at every message).
                tx.execute(
                    "UPDATE blobs SET touched_at = $2 WHERE hash = $1 AND touched_at < $3",
                    &[&id.0, &now, &(now - GRACE_SECS / 2)],
                )
                .map_err(other)?;
                if tx
                    .query_opt("SELECT 1 FROM blobs WHERE hash = $1", &[&id.0])
                    .map_err(other)?
                    .is_none()
                {
                    continue;
                }
            }
            tx.commit().map_err(other)?;
            return Ok(id);
        }
    }

    /// Makes every blob stored so far durable: one flushed commit flushes the write-ahead log
    /// up to it, and with it every unflushed commit before (the counterpart of `syncfs`).
    pub fn sync(&self) -> io::Result<()> {
        let mut client = self.pool.get().map_err(other)?;
        let mut tx = client.transaction().map_err(other)?;
        // A transaction id makes the commit write (and flush) a record.
        tx.batch_execute("SET LOCAL synchronous_commit = on; SELECT pg_current_xact_id()")
            .map_err(other)?;
        tx.commit().map_err(other)
    }

    pub fn get(&self, id: &BlobId) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.copy_to(id, &mut out)?;
        Ok(out)
    }

    /// Writes the blob's bytes to `out` a chunk at a time (a large message is never held whole);
    /// returns how many.
    pub fn copy_to(&self, id: &BlobId, out: &mut dyn Write) -> io::Result<u64> {
        valid(id)?;
        let mut client = self.pool.get().map_err(other)?;
        // One snapshot for the size and the chunks: a removal meanwhile reads as absent, not
        // as damaged.
        let mut tx = client
            .build_transaction()
            .isolation_level(postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .map_err(other)?;
        let size: i64 = match tx
            .query_opt("SELECT size FROM blobs WHERE hash = $1", &[&id.0])
            .map_err(other)?
        {
            Some(row) => row.get(0),
            None => return Err(io::Error::new(io::ErrorKind::NotFound, "no such blob")),
        };
        let params: [&(dyn postgres::types::ToSql + Sync); 1] = [&id.0];
        let mut rows = tx
            .query_raw("SELECT data FROM blob_chunks WHERE hash = $1 ORDER BY seq", params)
            .map_err(other)?;
        let mut written = 0u64;
        while let Some(row) = rows.next().map_err(other)? {
            let data: &[u8] = row.get(0);
            out.write_all(data)?;
            written += data.len() as u64;
        }
        if written != size as u64 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("blob {} has {written} of its {size} bytes", id.0),
            ));
        }
        Ok(written)
    }

    /// Reads the blob back and checks that its bytes still hash to its name.
    pub fn verify(&self, id: &BlobId) -> io::Result<bool> {
        struct Hashing(Sha256);
        impl Write for Hashing {
            fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
                self.0.update(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let mut hashing = Hashing(Sha256::new());
        match self.copy_to(id, &mut hashing) {
            Ok(_) => Ok(hex::encode(hashing.0.finalize()) == id.0),
            Err(e) if e.kind() == io::ErrorKind::InvalidData => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes, a thousand at a time, the blobs no message refers to that no one touched within
    /// `GRACE_SECS` before `now`. Needs the metadata store's tables in the same database.
    pub fn sweep(&self, now: i64) -> io::Result<u64> {
        let mut gone = 0;
        loop {
            // The time condition is on the deleted row itself, so that a reuse committed while
            // this runs is seen (re-checked on the row's newest version) and the blob spared.
            let n = self
                .pool
                .get()
                .map_err(other)?
                .execute(
                    "DELETE FROM blobs b WHERE b.touched_at < $1
                       AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob = b.hash)
                       AND b.hash IN (SELECT hash FROM blobs WHERE touched_at < $1 LIMIT 1000)",
                    &[&(now - GRACE_SECS)],
                )
                .map_err(other)?;
            gone += n;
            if n == 0 {
                return Ok(gone);
            }
        }
    }

    /// Removes the blobs among `ids` that no one touched within `GRACE_SECS` before `now`.
    /// The caller has made sure that no message refers to them. Returns how many went.
    pub fn remove_unused(&self, ids: &[BlobId], now: i64) -> io::Result<u64> {
        let hashes: Vec<&str> = ids.iter().map(|id| id.0.as_str()).collect();
        self.pool
            .get()
            .map_err(other)?
            .execute(
                "DELETE FROM blobs WHERE hash = ANY($1) AND touched_at < $2",
                &[&hashes, &(now - GRACE_SECS)],
            )
            .map_err(other)
    }
}

impl crate::BlobStorage for PgBlobs {
    fn put(&self, bytes: &[u8]) -> io::Result<BlobId> {
        PgBlobs::put(self, bytes)
    }

    fn sync(&self) -> io::Result<()> {
        PgBlobs::sync(self)
    }

    fn get(&self, id: &BlobId) -> io::Result<Vec<u8>> {
        PgBlobs::get(self, id)
    }

    fn delete(&self, id: &BlobId) -> io::Result<()> {
        self.remove_unused(std::slice::from_ref(id), crate::queue::now())
            .map(|_| ())
    }

    fn try_remover(&self) -> io::Result<Option<crate::Remover>> {
        Ok(Some(crate::Remover::shared()))
    }

    fn sweep(&self, now: i64) -> io::Result<u64> {
        PgBlobs::sweep(self, now)
    }
}
