//! Operations that change a folder's messages: flags, copy and move, expunge. Each announces
//! the folders it changed itself (see `notify`), and hands the blobs it orphaned to `blobs`.

use confiance_store::{AccountId, CopyOutcome, FlagOp, FlagOutcome, FlagUpdate, MailboxId};

use crate::{MailService, Result};

impl MailService {
    /// Adds, removes or replaces flags (RFC 9051 §6.4.6, RFC 7162 UNCHANGEDSINCE).
    pub async fn set_flags(&self, account: AccountId, folder: MailboxId, update: FlagUpdate) -> Result<FlagOutcome> {
        let outcome = self.run(move |s| s.store_flags(folder, &update)).await?;
        if !outcome.updated.is_empty() {
            self.changed(account, folder);
        }
        Ok(outcome)
    }

    /// Sets or clears one flag on one message (the webmail's read, flag and answered marks).
    pub async fn flag_one(&self, account: AccountId, folder: MailboxId, uid: u32, flag: &str, on: bool) -> Result<()> {
        let update = FlagUpdate {
            uids: vec![uid],
            op: if on { FlagOp::Add } else { FlagOp::Remove },
            flags: vec![flag.to_string()],
            unchanged_since: None,
        };
        self.set_flags(account, folder, update).await.map(|_| ())
    }

    /// Copies messages, or moves them when `remove_source` (RFC 6851), within one account.
    pub async fn copy(
        &self,
        account: AccountId,
        from: MailboxId,
        uids: Vec<u32>,
        to: MailboxId,
        remove_source: bool,
    ) -> Result<CopyOutcome> {
        let outcome = self.run(move |s| s.copy(from, &uids, to, remove_source)).await?;
        self.changed(account, to);
        if remove_source {
            self.changed(account, from);
        }
        Ok(outcome)
    }

    /// Expunges the messages flagged \Deleted (only `uids` when given) and releases the blobs
    /// nothing refers to any more.
    pub async fn expunge(&self, account: AccountId, folder: MailboxId, uids: Option<Vec<u32>>) -> Result<Vec<u32>> {
        let (expunged, orphans) = self.run(move |s| s.expunge(folder, uids.as_deref())).await?;
        self.release(orphans).await;
        if !expunged.is_empty() {
            self.changed(account, folder);
        }
        Ok(expunged)
    }

    /// Forgets \Recent for the session that selected the folder read-write (RFC 3501 §2.3.2).
    pub async fn clear_recent(&self, folder: MailboxId) -> Result<()> {
        self.run(move |s| s.clear_recent(folder)).await
    }
}
