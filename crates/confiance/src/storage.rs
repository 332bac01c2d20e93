//! Where the operator keeps its state: the embedded default (SQLite files and message files
//! under `data_dir`, one node), or one PostgreSQL database that several identical nodes share
//! (`[storage] url`, issue 19). Every command opens its storage here and nowhere else.

use std::sync::Arc;

use anyhow::Context;
use confiance_store::pg::blobs::PgBlobs;
use confiance_store::pg::changes::{self, Heard, Listener};
use confiance_store::pg::queue::PgQueue;
use confiance_store::pg::store::PgStore;
use confiance_store::pg::traces::PgTraces;
use confiance_store::{BlobStorage, BlobStore, Queue, SqliteQueue, Store, Traces};

use crate::config::Config;

/// The variable that gives the database URL without writing it (and its password) in the
/// configuration file; it wins over `[storage] url`.
pub const URL_VARIABLE: &str = "CONFIANCE_STORAGE_URL";

/// The storage a configuration names.
pub enum Location {
    Embedded,
    Postgres { url: String, pool_size: u32, node: String },
}

impl Location {
    pub fn of(config: &Config) -> anyhow::Result<Location> {
        let url = std::env::var(URL_VARIABLE)
            .ok()
            .filter(|u| !u.is_empty())
            .or_else(|| config.storage.url.clone().filter(|u| !u.is_empty()));
        let Some(url) = url else {
            return Ok(Location::Embedded);
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            anyhow::bail!(
                "[storage] url : seules les adresses postgres://… sont prises en charge \
                 (sans url, l'opérateur garde ses données dans {})",
                config.data_dir.display()
            );
        }
        Ok(Location::Postgres {
            url,
            pool_size: config.storage.pool_size.max(1),
            node: node(config),
        })
    }

    pub fn is_shared(&self) -> bool {
        matches!(self, Location::Postgres { .. })
    }
}

/// The name this node takes its queue leases in: `[storage] node`, or the host's name.
pub fn node(config: &Config) -> String {
    config
        .storage
        .node
        .clone()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(confiance_store::queue::host_name)
}

/// Why a database cannot be opened, in the admin's words (the URL is never repeated: it may
/// hold a password).
fn unreachable(e: confiance_store::StoreError) -> anyhow::Error {
    anyhow::anyhow!("base PostgreSQL inaccessible ([storage] url) : {e}")
}

pub fn store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match Location::of(config)? {
        Location::Embedded => confiance_store::open(&config.data_dir)?,
        Location::Postgres { url, pool_size, .. } => Arc::new(PgStore::open(&url, pool_size).map_err(unreachable)?),
    })
}

pub fn blobs(config: &Config) -> anyhow::Result<Arc<dyn BlobStorage>> {
    Ok(match Location::of(config)? {
        Location::Embedded => Arc::new(
            BlobStore::open(config.data_dir.join("blobs"), config.storage.fsync)
                .with_context(|| format!("impossible d'ouvrir {}", config.data_dir.join("blobs").display()))?,
        ),
        Location::Postgres { url, pool_size, .. } => Arc::new(PgBlobs::open(&url, pool_size).map_err(unreachable)?),
    })
}

pub fn queue(config: &Config) -> anyhow::Result<Arc<dyn Queue>> {
    Ok(match Location::of(config)? {
        Location::Embedded => Arc::new(SqliteQueue::open(&config.data_dir.join("queue.sqlite"), &node(config))?),
        // The queue is light: a few connections whatever the pool size.
        Location::Postgres { url, node, .. } => Arc::new(PgQueue::open(&url, 4, &node).map_err(unreachable)?),
    })
}

pub fn traces(config: &Config) -> anyhow::Result<Arc<dyn Traces>> {
    Ok(match Location::of(config)? {
        Location::Embedded => confiance_store::open_traces(&config.data_dir)?,
        Location::Postgres { url, .. } => Arc::new(PgTraces::open(&url, 2).map_err(unreachable)?),
    })
}

/// Several nodes: what the others change in the mailboxes reaches this node's sessions (IMAP
/// IDLE and NOTIFY, the webmail's live updates) as soon as their transaction commits. Listens
/// until the returned value is dropped.
pub fn listen(url: &str, svc: Arc<confiance_mail::MailService>, store: Arc<dyn Store>) -> anyhow::Result<Listener> {
    use confiance_store::{AccountId, MailboxId};
    Listener::start(url, &[changes::MAIL], move |heard| match heard {
        Heard::Notification { payload, .. } => {
            let ids = payload
                .split_once(':')
                .and_then(|(a, m)| Some((a.parse().ok()?, m.parse().ok()?)));
            match ids {
                Some((account, mailbox)) => svc.changed_elsewhere(AccountId(account), MailboxId(mailbox)),
                None => tracing::warn!(payload, "change notification not understood"),
            }
        }
        Heard::Resync => {
            // What the other nodes said meanwhile is lost: every followed folder looks again.
            // (On the listener's own thread, where blocking on the store is fine.)
            let accounts = svc.watched_accounts();
            tracing::warn!(
                accounts = accounts.len(),
                "change notifications were interrupted: the followed folders look again"
            );
            for account in accounts {
                for folder in store.mailboxes(account).unwrap_or_default() {
                    svc.changed_elsewhere(account, folder.id);
                }
            }
        }
    })
    .map_err(unreachable)
}

/// Whether this node runs the jobs that must run once for the whole operator (new-mail
/// notices, the inactivity sweep and its notices): a lone node always does; on a shared
/// database, the node that holds their lock (`pg::lead`).
#[derive(Clone)]
pub struct Lead(Option<Arc<confiance_store::pg::lead::Leadership>>);

impl Lead {
    pub fn of(location: &Location) -> anyhow::Result<Lead> {
        Ok(Lead(match location {
            Location::Embedded => None,
            Location::Postgres { url, .. } => Some(Arc::new(
                confiance_store::pg::lead::Leadership::new(url, "confiance-singleton-jobs").map_err(unreachable)?,
            )),
        }))
    }

    pub async fn holds(&self) -> bool {
        match &self.0 {
            None => true,
            Some(lead) => {
                let lead = lead.clone();
                tokio::task::spawn_blocking(move || lead.holds()).await.unwrap_or(false)
            }
        }
    }
}
