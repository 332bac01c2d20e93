//! Message files: created by deliveries, read by the fronts, removed only here.
//!
//! One process owns the blob directory (an exclusive lock on it, see `BlobStore::try_own`): it
//! alone removes files, under `in_use` taken exclusively, after checking that no row uses the
//! blob, and it cleans `tmp/` at start. Another process (a CLI command while the server runs)
//! deletes rows only and records the blobs it left; the owner removes them on its next pass.
//! Without this a blob being written by the server could disappear under it.

use std::sync::Arc;

use confiance_store::{BlobId, BlobStorage, MailboxId, Remover, StoreError};

use crate::service::off_workers;
use crate::{MailService, Result};

/// Deferred removals handled per pass, so one pass holds the lock a bounded time.
const REMOVALS_PER_PASS: u32 = 1000;

pub(crate) struct Blobs {
    pub(crate) files: Arc<dyn BlobStorage>,
    remover: Option<Remover>,
    /// Deliveries hold it shared from the moment they find or write their blob until their
    /// rows are committed; removing a blob takes it exclusively and re-checks that no row uses
    /// the blob. Without it, a message with the same bytes as one being expunged could find
    /// the file present, see it deleted, then commit a row that points at nothing. (Between
    /// nodes sharing a database, the database's grace period does this.)
    pub(crate) in_use: tokio::sync::RwLock<()>,
    /// Header sections read lately (see `headers`).
    headers: Arc<crate::headers::HeaderCache>,
}

impl Blobs {
    pub(crate) fn new(files: Arc<dyn BlobStorage>) -> Self {
        let remover = match files.try_remover() {
            Ok(remover) => remover,
            Err(e) => {
                tracing::warn!(error = %e, "cannot lock the blob directory; leaving removals to its owner");
                None
            }
        };
        Blobs {
            files,
            remover,
            in_use: tokio::sync::RwLock::new(()),
            headers: Arc::default(),
        }
    }
}

impl MailService {
    /// Whether this process removes blobs (it owns the blob directory, or shares a database).
    pub fn owns_blobs(&self) -> bool {
        self.blobs.remover.is_some()
    }

    /// Reads a message's bytes.
    pub async fn read(&self, blob: &BlobId) -> Result<Arc<Vec<u8>>> {
        let files = self.blobs.files.clone();
        let blob = blob.clone();
        let bytes = off_workers(move || files.get(&blob)).await?.map_err(StoreError::from)?;
        Ok(Arc::new(bytes))
    }

    /// The bytes of messages a session listed earlier (UID and blob each), read in one trip
    /// to the blocking pool (a FETCH of a page of 20 messages would otherwise cost 20). Each is
    /// `None` when another session expunged it meanwhile (its blob may have gone with it), an
    /// error when it is still there and unreadable (a server fault, not a race).
    ///
    /// With `headers_only`, each is the message's header section (up to and with the blank
    /// line), from the cache when it holds them all, without a trip to the blocking pool.
    pub async fn read_listed(
        &self,
        folder: MailboxId,
        messages: Vec<(u32, BlobId)>,
        headers_only: bool,
    ) -> Result<Vec<Result<Option<Arc<Vec<u8>>>>>> {
        let cache = self.blobs.headers.clone();
        if headers_only {
            let cached: Option<Vec<_>> = messages.iter().map(|(_, blob)| cache.get(blob)).collect();
            if let Some(sections) = cached {
                return Ok(sections.into_iter().map(|s| Ok(Some(s))).collect());
            }
        }
        let files = self.blobs.files.clone();
        let reads = off_workers(move || {
            messages
                .into_iter()
                .map(|(uid, blob)| {
                    let cached = headers_only.then(|| cache.get(&blob)).flatten();
                    let read = match cached {
                        Some(section) => Ok(section),
                        None => files.get(&blob).map(|bytes| match headers_only {
                            true => cache.keep(blob, &bytes),
                            false => Arc::new(bytes),
                        }),
                    };
                    (uid, read)
                })
                .collect::<Vec<_>>()
        })
        .await?;
        let mut out = Vec::with_capacity(reads.len());
        for (uid, read) in reads {
            out.push(match read {
                Ok(bytes) => Ok(Some(bytes)),
                Err(e) => match self.listed(folder, uid).await {
                    Ok(None) => Ok(None),
                    _ => Err(StoreError::from(e).into()),
                },
            });
        }
        Ok(out)
    }

    /// Blobs whose last row went: removed by the owner, recorded for it otherwise.
    pub(crate) async fn release(&self, orphans: Vec<BlobId>) {
        if orphans.is_empty() {
            return;
        }
        if !self.owns_blobs() {
            if let Err(e) = self.run(move |s| s.defer_blob_removals(&orphans)).await {
                tracing::warn!(error = %e, "cannot record blobs to remove; they stay on disk");
            }
            return;
        }
        self.remove_unused(orphans).await;
    }

    /// The owner's pass over the removals other processes recorded. Returns how many blobs
    /// it looked at (0 when this process is not the owner).
    pub async fn collect_blobs(&self) -> Result<usize> {
        if !self.owns_blobs() {
            return Ok(0);
        }
        let mut seen = 0;
        loop {
            let pending = self.run(|s| s.deferred_blob_removals(REMOVALS_PER_PASS)).await?;
            if pending.is_empty() {
                return Ok(seen);
            }
            seen += pending.len();
            self.remove_unused(pending.clone()).await;
            self.run(move |s| s.forget_blob_removals(&pending)).await?;
        }
    }

    /// Removes the blobs no message refers to any more whose grace period is over (a database
    /// shared by nodes; see `BlobStorage::sweep`). Returns how many went.
    pub async fn sweep_blobs(&self) -> Result<u64> {
        let files = self.blobs.files.clone();
        let now = confiance_store::queue::now();
        Ok(off_workers(move || files.sweep(now)).await?.map_err(StoreError::from)?)
    }

    async fn remove_unused(&self, blobs: Vec<BlobId>) {
        let _exclusive = self.blobs.in_use.write().await;
        let files = self.blobs.files.clone();
        let store = self.store.clone();
        let _ = off_workers(move || {
            for b in blobs {
                // A delivery of the same bytes may have committed since the rows went.
                match store.blob_in_use(&b) {
                    Ok(false) => {}
                    Ok(true) => continue,
                    Err(e) => {
                        tracing::warn!(blob = %b.0, error = %e, "cannot check a blob; keeping it");
                        continue;
                    }
                }
                if let Err(e) = files.delete(&b) {
                    tracing::warn!(blob = %b.0, error = %e, "cannot remove an unused blob");
                }
            }
        })
        .await;
    }
}
