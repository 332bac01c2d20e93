use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};

use confiance_store::*;
use tokio::sync::{broadcast, oneshot};

use crate::commit::{self, Job};

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

/// A message to store in a folder.
pub struct Incoming {
    pub mailbox: MailboxId,
    pub bytes: Vec<u8>,
    pub flags: Vec<String>,
    /// Seconds since the epoch and UTC offset in minutes (IMAP INTERNALDATE).
    pub internal_date: (i64, i32),
}

/// A message's bytes and metadata, as read for FETCH or the webmail.
pub struct StoredMessage {
    pub meta: MessageMeta,
    pub bytes: Arc<Vec<u8>>,
}

/// Changes are announced per account: a session of that account learns which folder changed and
/// asks the store what changed in it. Sessions of other accounts hear nothing.
type Hub = Mutex<HashMap<AccountId, broadcast::Sender<MailboxId>>>;

pub struct MailService {
    store: Arc<dyn Store>,
    blobs: Arc<BlobStore>,
    commits: mpsc::Sender<Job>,
    hub: Arc<Hub>,
    /// Deliveries hold it shared from the moment they find or write their blob until their
    /// rows are committed; removing a blob takes it exclusively and re-checks that no row uses
    /// the blob. Without it, a message with the same bytes as one being expunged could find
    /// the file present, see it deleted, then commit a row that points at nothing.
    blob_use: tokio::sync::RwLock<()>,
}

impl MailService {
    /// Opens the SQLite store and blob directory under `data_dir`.
    pub fn open(data_dir: &Path, fsync: bool) -> Result<Arc<Self>> {
        std::fs::create_dir_all(data_dir).map_err(StoreError::from)?;
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&data_dir.join("confiance.db"))?);
        let blobs = Arc::new(BlobStore::open(data_dir.join("blobs"), fsync).map_err(StoreError::from)?);
        Ok(Self::new(store, blobs))
    }

    pub fn new(store: Arc<dyn Store>, blobs: Arc<BlobStore>) -> Arc<Self> {
        let hub: Arc<Hub> = Arc::default();
        let hub2 = hub.clone();
        let commits = commit::spawn(store.clone(), blobs.clone(), move |appended| {
            for a in appended {
                announce(&hub2, a.account, a.mailbox);
            }
        });
        Arc::new(MailService {
            store,
            blobs,
            commits,
            hub,
            blob_use: tokio::sync::RwLock::new(()),
        })
    }

    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Runs a blocking store call off the async threads.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> std::result::Result<T, StoreError> + Send + 'static,
    ) -> Result<T> {
        let store = self.store.clone();
        tokio::task::spawn_blocking(move || f(&*store))
            .await
            .map_err(|_| MailError::WorkerGone)?
            .map_err(MailError::from)
    }

    /// Notifications for one account's folders.
    pub fn subscribe(&self, account: AccountId) -> broadcast::Receiver<MailboxId> {
        let mut hub = self.hub.lock().unwrap_or_else(|e| e.into_inner());
        hub.entry(account)
            .or_insert_with(|| broadcast::channel(256).0)
            .subscribe()
    }

    /// Tells the account's sessions that a folder changed.
    pub fn changed(&self, account: AccountId, mailbox: MailboxId) {
        announce(&self.hub, account, mailbox);
    }

    /// Stores one message in several folders (a mail to several local recipients: one blob).
    /// Returns when the message is durable, or why a folder refused it (quota).
    pub async fn deliver(
        &self,
        mailboxes: Vec<MailboxId>,
        bytes: Arc<Vec<u8>>,
        flags: Vec<String>,
        internal_date: (i64, i32),
    ) -> Result<Vec<std::result::Result<Appended, StoreError>>> {
        let _in_use = self.blob_use.read().await;
        let blobs = self.blobs.clone();
        let size = bytes.len() as u64;
        let (blob, summary) = tokio::task::spawn_blocking(move || {
            blobs.put(&bytes).map(|blob| (blob, crate::summary::summarize(&bytes)))
        })
        .await
        .map_err(|_| MailError::WorkerGone)?
        .map_err(StoreError::from)?;
        let messages = mailboxes
            .into_iter()
            .map(|mailbox| NewMessage {
                mailbox,
                blob: blob.clone(),
                size,
                internal_date: internal_date.0,
                internal_tz_minutes: internal_date.1,
                flags: flags.clone(),
                summary: Some(summary.clone()),
            })
            .collect();
        let (reply, wait) = oneshot::channel();
        self.commits
            .send(Job {
                messages,
                atomic: false,
                reply,
            })
            .map_err(|_| MailError::WorkerGone)?;
        wait.await.map_err(|_| MailError::WorkerGone)
    }

    /// Stores several messages, each in its folder, all or none (RFC 3502 MULTIAPPEND).
    pub async fn deliver_all(&self, messages: Vec<Incoming>) -> Result<std::result::Result<Vec<Appended>, StoreError>> {
        let _in_use = self.blob_use.read().await;
        let blobs = self.blobs.clone();
        let messages = tokio::task::spawn_blocking(move || {
            messages
                .into_iter()
                .map(|m| {
                    Ok(NewMessage {
                        mailbox: m.mailbox,
                        blob: blobs.put(&m.bytes)?,
                        size: m.bytes.len() as u64,
                        internal_date: m.internal_date.0,
                        internal_tz_minutes: m.internal_date.1,
                        flags: m.flags,
                        summary: Some(crate::summary::summarize(&m.bytes)),
                    })
                })
                .collect::<std::io::Result<Vec<_>>>()
        })
        .await
        .map_err(|_| MailError::WorkerGone)?
        .map_err(StoreError::from)?;
        let (reply, wait) = oneshot::channel();
        self.commits
            .send(Job {
                messages,
                atomic: true,
                reply,
            })
            .map_err(|_| MailError::WorkerGone)?;
        let results = wait.await.map_err(|_| MailError::WorkerGone)?;
        Ok(results.into_iter().collect())
    }

    /// Summarises the messages stored before summaries existed (schema migration 4), account by
    /// account, so their folders sort and filter like the others. Returns how many it did.
    pub async fn summarise_missing(&self) -> Result<usize> {
        let mut done = 0;
        for account in self.run(|s| s.accounts()).await? {
            done += self.summarise_account(account.id, usize::MAX).await?;
        }
        Ok(done)
    }

    /// Summarises at most `limit` of one account's messages that have none yet.
    pub async fn summarise_account(&self, account: AccountId, limit: usize) -> Result<usize> {
        let mut done = 0;
        while done < limit {
            let batch = (limit - done).min(500) as u32;
            let missing = self.run(move |s| s.unsummarised(account, batch)).await?;
            if missing.is_empty() {
                break;
            }
            for blob in missing {
                let blobs = self.blobs.clone();
                let store = self.store.clone();
                // A blob that cannot be read gets an empty summary, so it is not tried again.
                tokio::task::spawn_blocking(move || {
                    let summary = blobs
                        .get(&blob)
                        .map(|b| crate::summary::summarize(&b))
                        .unwrap_or_default();
                    store.put_summary(&blob, &summary)
                })
                .await
                .map_err(|_| MailError::WorkerGone)??;
                done += 1;
            }
        }
        Ok(done)
    }

    /// Reads a message's bytes.
    pub async fn read(&self, blob: &BlobId) -> Result<Arc<Vec<u8>>> {
        let blobs = self.blobs.clone();
        let blob = blob.clone();
        let bytes = tokio::task::spawn_blocking(move || blobs.get(&blob))
            .await
            .map_err(|_| MailError::WorkerGone)?
            .map_err(StoreError::from)?;
        Ok(Arc::new(bytes))
    }

    /// Expunges and removes the blobs nothing refers to any more.
    pub async fn expunge(&self, account: AccountId, mailbox: MailboxId, uids: Option<Vec<u32>>) -> Result<Vec<u32>> {
        let (expunged, orphans) = self.run(move |s| s.expunge(mailbox, uids.as_deref())).await?;
        self.drop_blobs(orphans).await;
        if !expunged.is_empty() {
            self.changed(account, mailbox);
        }
        Ok(expunged)
    }

    pub async fn delete_mailbox(&self, account: AccountId, name: String) -> Result<()> {
        let orphans = self.run(move |s| s.delete_mailbox(account, &name)).await?;
        self.drop_blobs(orphans).await;
        Ok(())
    }

    async fn drop_blobs(&self, orphans: Vec<BlobId>) {
        if orphans.is_empty() {
            return;
        }
        let _exclusive = self.blob_use.write().await;
        let blobs = self.blobs.clone();
        let store = self.store.clone();
        let _ = tokio::task::spawn_blocking(move || {
            for b in orphans {
                // A delivery of the same bytes may have committed since the expunge.
                match store.blob_in_use(&b) {
                    Ok(false) => {}
                    Ok(true) => continue,
                    Err(e) => {
                        tracing::warn!(blob = %b.0, error = %e, "cannot check a blob; keeping it");
                        continue;
                    }
                }
                if let Err(e) = blobs.delete(&b) {
                    tracing::warn!(blob = %b.0, error = %e, "cannot remove an unused blob");
                }
            }
        })
        .await;
    }
}

fn announce(hub: &Hub, account: AccountId, mailbox: MailboxId) {
    let hub = hub.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(tx) = hub.get(&account) {
        let _ = tx.send(mailbox);
    }
}
