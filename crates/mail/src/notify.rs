//! Change notification: every operation that changes a folder announces it here itself, so no
//! caller can forget to. Changes are announced per account: a session of that account learns
//! which folder changed and asks the store what changed in it (RFC 9051 §7, RFC 5465 NOTIFY).
//! Sessions of other accounts hear nothing.

use std::collections::HashMap;
use std::sync::Mutex;

use confiance_store::{AccountId, MailboxId};
use tokio::sync::broadcast;

use crate::MailService;

#[derive(Default)]
pub(crate) struct Hub(Mutex<HashMap<AccountId, broadcast::Sender<MailboxId>>>);

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

    pub(crate) fn changed(&self, account: AccountId, mailbox: MailboxId) {
        self.hub.announce(account, mailbox);
    }
}
