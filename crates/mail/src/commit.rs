//! Group commit: deliveries queue here; one thread takes every delivery waiting, makes their blobs
//! durable with one flush, and commits their metadata in one transaction. Under load a flush
//! serves many messages; alone, a message waits for nobody.

use std::sync::Arc;
use std::sync::mpsc;

use confiance_store::{Appended, BlobStore, NewMessage, Store, StoreError};
use tokio::sync::oneshot;

/// Most deliveries committed in one transaction, so one huge burst cannot delay its first
/// message's `250` without bound.
const MAX_BATCH: usize = 512;

pub(crate) struct Job {
    pub messages: Vec<NewMessage>,
    /// All the messages or none (MULTIAPPEND); otherwise each on its own (SMTP recipients).
    pub atomic: bool,
    pub reply: oneshot::Sender<Vec<Result<Appended, StoreError>>>,
}

pub(crate) fn spawn(
    store: Arc<dyn Store>,
    blobs: Arc<BlobStore>,
    on_commit: impl Fn(&[Appended]) + Send + 'static,
) -> mpsc::Sender<Job> {
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("group-commit".into())
        .spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(job) => batch.push(job),
                        Err(_) => break,
                    }
                }
                commit(&*store, &blobs, batch, &on_commit);
            }
        })
        .expect("spawn the group-commit thread");
    tx
}

fn commit(store: &dyn Store, blobs: &BlobStore, batch: Vec<Job>, on_commit: &impl Fn(&[Appended])) {
    if let Err(e) = blobs.sync() {
        tracing::error!(error = %e, "cannot flush blobs; refusing the batch");
        for job in batch {
            let n = job.messages.len();
            let _ = job.reply.send(
                (0..n)
                    .map(|_| Err(StoreError::Io(std::io::Error::other(e.to_string()))))
                    .collect(),
            );
        }
        return;
    }
    let (atomic, single): (Vec<Job>, Vec<Job>) = batch.into_iter().partition(|j| j.atomic);
    let all: Vec<NewMessage> = single.iter().flat_map(|j| j.messages.iter().cloned()).collect();
    let mut results = store.append(&all).into_iter();
    let mut appended: Vec<Appended> = Vec::with_capacity(all.len());
    tracing::debug!(messages = all.len(), jobs = single.len(), "group commit");
    for job in single {
        let mine: Vec<_> = results.by_ref().take(job.messages.len()).collect();
        appended.extend(mine.iter().filter_map(|r| r.as_ref().ok().cloned()));
        let _ = job.reply.send(mine);
    }
    for job in atomic {
        let mine = match store.append_all(&job.messages) {
            Ok(done) => {
                appended.extend(done.iter().cloned());
                done.into_iter().map(Ok).collect()
            }
            Err(e) => job.messages.iter().map(|_| Err(e.replicate())).collect(),
        };
        let _ = job.reply.send(mine);
    }
    on_commit(&appended);
}
