//! The service's handle: what it holds and the one way it reaches the store (off the async
//! workers). The operations live in their own modules, each the one owner of its invariant.

use std::path::Path;
use std::sync::{Arc, mpsc};

use confiance_store::{BlobStorage, BlobStore, Store, StoreError};

use crate::blobs::Blobs;
use crate::commit::{self, Job};
use crate::notify::Hub;
use crate::views::Views;

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the storage worker stopped")]
    WorkerGone,
    #[error(transparent)]
    Limit(#[from] crate::folders::FolderLimit),
}

impl MailError {
    /// The disk is full (RFC 3463 4.3.1).
    pub fn is_storage_full(&self) -> bool {
        matches!(self, MailError::Store(e) if e.is_storage_full())
    }
}

pub type Result<T> = std::result::Result<T, MailError>;

/// The only door to mailbox state: folders, messages, flags, blobs and change notification.
pub struct MailService {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) blobs: Blobs,
    pub(crate) commits: mpsc::Sender<Job>,
    pub(crate) hub: Arc<Hub>,
    pub(crate) views: Views,
}

impl MailService {
    /// Opens the embedded store and blob directory under `data_dir`.
    pub fn open(data_dir: &Path, fsync: bool) -> Result<Arc<Self>> {
        let store = confiance_store::open(data_dir)?;
        let blobs = BlobStore::open(data_dir.join("blobs"), fsync).map_err(StoreError::from)?;
        Ok(Self::new(store, Arc::new(blobs)))
    }

    /// The service over a store and its blob files. The first service of a blob directory
    /// becomes its owner (it alone removes files); another (a CLI command while the server
    /// runs) leaves removals to it.
    pub fn new(store: Arc<dyn Store>, files: Arc<dyn BlobStorage>) -> Arc<Self> {
        let hub: Arc<Hub> = Arc::default();
        let announce = hub.clone();
        let commits = commit::spawn(store.clone(), files.clone(), move |appended| {
            for a in appended {
                announce.announce(a.account, a.mailbox);
            }
        });
        Arc::new(MailService {
            blobs: Blobs::new(files),
            store,
            commits,
            hub,
            views: Views::default(),
        })
    }

    /// Runs a blocking store call off the async threads.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> std::result::Result<T, StoreError> + Send + 'static,
    ) -> Result<T> {
        let store = self.store.clone();
        off_workers(move || f(&*store)).await?.map_err(MailError::from)
    }
}

/// Blocking work (a store call, file I/O, parsing) on the blocking pool.
pub(crate) async fn off_workers<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(|_| MailError::WorkerGone)
}
