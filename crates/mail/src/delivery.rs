//! Delivery: a message's blob written once, then its rows committed with others' in one group
//! commit (see `commit`), and the folders' sessions told before the sender hears `250`.

use std::sync::Arc;

use confiance_store::{Account, Appended, Mailbox, NewMessage, StoreError};
use tokio::sync::oneshot;

use crate::commit::Job;
use crate::service::off_workers;
use crate::{MailError, MailService, Result};

/// A message to store in a folder.
pub struct Incoming {
    pub mailbox: confiance_store::MailboxId,
    pub bytes: Vec<u8>,
    pub flags: Vec<String>,
    /// Seconds since the epoch and UTC offset in minutes (IMAP INTERNALDATE).
    pub internal_date: (i64, i32),
    /// The appending session holds the folder and takes the \Recent mark itself, so no
    /// session clears it after (see `NewMessage::recent`).
    pub taken_by_appender: bool,
}

/// Now as IMAP's INTERNALDATE keeps it (`Incoming::internal_date`): seconds since the epoch
/// and UTC offset in minutes.
pub fn internal_date_now() -> (i64, i32) {
    let now = chrono::Local::now();
    (now.timestamp(), now.offset().local_minus_utc() / 60)
}

impl MailService {
    /// Stores one message in several folders (a mail to several local recipients: one blob).
    /// Returns when the message is durable, or why a folder refused it (quota).
    pub async fn deliver(
        &self,
        mailboxes: Vec<confiance_store::MailboxId>,
        bytes: Arc<Vec<u8>>,
        flags: Vec<String>,
        internal_date: (i64, i32),
    ) -> Result<Vec<std::result::Result<Appended, StoreError>>> {
        let targets = mailboxes.into_iter().map(|m| (m, flags.clone())).collect();
        self.deliver_to(targets, bytes, internal_date).await
    }

    /// `deliver`, each folder with its own flags (what a recipient's filter set, RFC 5232).
    pub async fn deliver_to(
        &self,
        targets: Vec<(confiance_store::MailboxId, Vec<String>)>,
        bytes: Arc<Vec<u8>>,
        internal_date: (i64, i32),
    ) -> Result<Vec<std::result::Result<Appended, StoreError>>> {
        let _in_use = self.blobs.in_use.read().await;
        let files = self.blobs.files.clone();
        let size = bytes.len() as u64;
        let (blob, summary) =
            off_workers(move || files.put(&bytes).map(|blob| (blob, crate::summary::summarize(&bytes))))
                .await?
                .map_err(StoreError::from)?;
        let messages = targets
            .into_iter()
            .map(|(mailbox, flags)| NewMessage {
                mailbox,
                blob: blob.clone(),
                size,
                internal_date: internal_date.0,
                internal_tz_minutes: internal_date.1,
                flags,
                recent: true,
                summary: Some(summary.clone()),
            })
            .collect();
        self.commit(messages, false).await
    }

    /// Stores several messages, each in its folder, all or none (RFC 3502 MULTIAPPEND).
    pub async fn deliver_all(&self, messages: Vec<Incoming>) -> Result<std::result::Result<Vec<Appended>, StoreError>> {
        let _in_use = self.blobs.in_use.read().await;
        let files = self.blobs.files.clone();
        let messages = off_workers(move || {
            messages
                .into_iter()
                .map(|m| {
                    Ok(NewMessage {
                        mailbox: m.mailbox,
                        blob: files.put(&m.bytes)?,
                        size: m.bytes.len() as u64,
                        internal_date: m.internal_date.0,
                        internal_tz_minutes: m.internal_date.1,
                        flags: m.flags,
                        recent: !m.taken_by_appender,
                        summary: Some(crate::summary::summarize(&m.bytes)),
                    })
                })
                .collect::<std::io::Result<Vec<_>>>()
        })
        .await?
        .map_err(StoreError::from)?;
        Ok(self.commit(messages, true).await?.into_iter().collect())
    }

    async fn commit(
        &self,
        messages: Vec<NewMessage>,
        atomic: bool,
    ) -> Result<Vec<std::result::Result<Appended, StoreError>>> {
        let (reply, wait) = oneshot::channel();
        self.commits
            .send(Job {
                messages,
                atomic,
                reply,
            })
            .map_err(|_| MailError::WorkerGone)?;
        wait.await.map_err(|_| MailError::WorkerGone)
    }

    /// The INBOX where mail to `address` is delivered; `fallback` names the BAL that takes the
    /// mail when none has this address (the configured postmaster).
    pub async fn inbox_of(&self, address: String, fallback: Option<String>) -> Result<Option<Mailbox>> {
        Ok(self.recipient(address, fallback).await?.map(|(inbox, _)| inbox))
    }

    /// `inbox_of`, with the BAL that holds it (its status decides whether it takes mail).
    pub async fn recipient(&self, address: String, fallback: Option<String>) -> Result<Option<(Mailbox, Account)>> {
        self.run(move |s| {
            let account = match s.account_by_address(&address)? {
                Some(a) => Some(a),
                None => match fallback {
                    Some(p) => s.account_by_address(&p)?,
                    None => None,
                },
            };
            let Some(account) = account else {
                return Ok(None);
            };
            Ok(s.mailbox(account.id, crate::folders::INBOX)?
                .map(|inbox| (inbox, account)))
        })
        .await
    }
}
