//! Group commit: deliveries queue here; one thread takes every delivery waiting, makes their blobs
//! durable with one flush, and commits their metadata in one transaction. Under load a flush
//! serves many messages; alone, a message waits for nobody.

use std::sync::Arc;
use std::sync::mpsc;

use confiance_store::{AppendGroup, Appended, BlobStorage, NewMessage, Store, StoreError};
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
    blobs: Arc<dyn BlobStorage>,
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
                commit(&*store, &*blobs, batch, &on_commit);
            }
        })
        .expect("spawn the group-commit thread");
    tx
}

fn commit(store: &dyn Store, blobs: &dyn BlobStorage, batch: Vec<Job>, on_commit: &impl Fn(&[Appended])) {
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
    tracing::debug!(jobs = batch.len(), "group commit");
    let (groups, replies): (Vec<AppendGroup>, Vec<_>) = batch
        .into_iter()
        .map(|j| {
            let group = AppendGroup {
                messages: j.messages,
                atomic: j.atomic,
            };
            (group, j.reply)
        })
        .unzip();
    let results = store.append_groups(&groups);
    // Sessions hear of the change before any client is told its message is stored: a client
    // that APPENDs on one connection then NOOPs on another must see the message announced.
    let appended: Vec<Appended> = results
        .iter()
        .flatten()
        .filter_map(|r| r.as_ref().ok().cloned())
        .collect();
    on_commit(&appended);
    for (reply, mine) in replies.into_iter().zip(results) {
        let _ = reply.send(mine);
    }
}
