//! What the fronts read: a folder's messages and what changed in it, the webmail's pages of
//! summaries, searches, counts and usage. Nothing here changes state.

use confiance_store::{AccountId, Changes, FolderCount, ListQuery, Listed, MailboxId, MessageMeta, SearchQuery};

use crate::{MailService, Result};

impl MailService {
    /// Every message of a folder, in UID order.
    pub async fn messages(&self, folder: MailboxId) -> Result<Vec<MessageMeta>> {
        self.run(move |s| s.messages(folder)).await.map(|f| f.messages)
    }

    /// What changed in a folder after `modseq` (RFC 7162).
    pub async fn changes_since(&self, folder: MailboxId, modseq: u64) -> Result<Changes> {
        self.run(move |s| s.changes_since(folder, modseq)).await
    }

    /// One page of a folder's summaries, sorted and filtered, and how many match in all.
    pub async fn list(&self, folder: MailboxId, query: ListQuery) -> Result<(u64, Vec<Listed>)> {
        let (total, mut rows) = self.run(move |s| s.list_messages(folder, &query)).await?;
        self.complete_summaries(&mut rows).await;
        Ok((total, rows))
    }

    /// One message's row and summary.
    pub async fn listed(&self, folder: MailboxId, uid: u32) -> Result<Option<Listed>> {
        self.run(move |s| s.listed(folder, uid)).await
    }

    /// The messages of a conversation (its `thread`, else its `subject`) in all the account's
    /// folders, newest first.
    pub async fn conversation(
        &self,
        account: AccountId,
        thread: String,
        subject: String,
        limit: u32,
    ) -> Result<Vec<(MailboxId, Listed)>> {
        self.run(move |s| s.conversation(account, &thread, &subject, limit))
            .await
    }

    /// Messages of every folder of an account that match the query's summary fields.
    pub async fn search(&self, account: AccountId, query: SearchQuery) -> Result<Vec<(MailboxId, Listed)>> {
        self.run(move |s| s.search_messages(account, &query)).await
    }

    /// Messages and unread messages per folder.
    pub async fn folder_counts(&self, account: AccountId) -> Result<Vec<FolderCount>> {
        self.run(move |s| s.folder_counts(account)).await
    }

    /// Bytes used by the account's messages (RFC 9208 STORAGE).
    pub async fn usage(&self, account: AccountId) -> Result<u64> {
        self.run(move |s| s.usage(account)).await
    }
}
