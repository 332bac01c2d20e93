//! Change notification: every operation that changes a folder announces it here itself, so no
//! caller can forget to. Changes are announced per account: a session of that account learns
//! which folder changed and asks the store what changed in it (RFC 9051 §7, RFC 5465 NOTIFY).
//! Sessions of other accounts hear nothing.

use std::collections::HashMap;
use std::sync::Mutex;

use confiance_store::{AccountId, MailboxId};
use tokio::sync::{broadcast, watch};

use crate::MailService;

#[derive(Default)]
pub(crate) struct Hub(
    Mutex<HashMap<AccountId, broadcast::Sender<MailboxId>>>,
    /// Per account, the signal that ends its open sessions (suspension, deletion).
    Mutex<HashMap<AccountId, watch::Sender<bool>>>,
);

impl Hub {
    pub(crate) fn announce(&self, account: AccountId, mailbox: MailboxId) {
        let hub = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = hub.get(&account) {
            let _ = tx.send(mailbox);
        }
    }
}

impl MailService {
    /// Notifications for one account's folders.
    pub fn subscribe(&self, account: AccountId) -> broadcast::Receiver<MailboxId> {
        let mut hub = self.hub.0.lock().unwrap_or_else(|e| e.into_inner());
        hub.entry(account)
            .or_insert_with(|| broadcast::channel(256).0)
            .subscribe()
    }

    /// What a session of `account` waits on, beside its client: it turns true when the account
    /// is suspended or deleted, and the session then ends.
    pub fn ending(&self, account: AccountId) -> watch::Receiver<bool> {
        let mut ending = self.hub.1.lock().unwrap_or_else(|e| e.into_inner());
        ending
            .entry(account)
            .or_insert_with(|| watch::channel(false).0)
            .subscribe()
    }

    /// Ends every open session of `account` (IMAP, SMTP) in this process. Sessions opened after
    /// get a fresh signal: whether they may log in is the store's to say.
    pub fn end_sessions(&self, account: AccountId) {
        let mut ending = self.hub.1.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = ending.remove(&account) {
            let _ = tx.send(true);
        }
    }

    /// A change another node made to a folder (heard from the database the nodes share):
    /// this node's sessions of the account learn it as they learn this node's own.
    pub fn changed_elsewhere(&self, account: AccountId, mailbox: MailboxId) {
        self.hub.announce(account, mailbox);
    }

    /// The accounts that some session of this node follows: after a gap in what other nodes
    /// said, their folders are announced again so that the sessions look for themselves.
    pub fn watched_accounts(&self) -> Vec<AccountId> {
        let hub = self.hub.0.lock().unwrap_or_else(|e| e.into_inner());
        hub.keys().copied().collect()
    }

    pub(crate) fn changed(&self, account: AccountId, mailbox: MailboxId) {
        self.hub.announce(account, mailbox);
    }
}
