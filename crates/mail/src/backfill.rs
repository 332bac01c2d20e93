//! Summaries for messages stored before summaries existed (schema migration 4): the pass at
//! start, the catch-up before a search, and rows a page shows without one. One code path, so
//! that every summary is made and saved the same way.

use confiance_store::{AccountId, BlobId, Listed, MessageSummary};

use crate::service::off_workers;
use crate::{MailService, Result};

impl MailService {
    /// Summarises the messages of every account that have none, so their folders sort and
    /// filter like the others. Returns how many it did.
    pub async fn summarise_missing(&self) -> Result<usize> {
        let mut done = 0;
        for account in self.accounts().await? {
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
                self.summarise(blob).await?;
                done += 1;
            }
        }
        Ok(done)
    }

    /// Fills in the summaries of rows that have none, from their bytes, and saves them.
    pub async fn complete_summaries(&self, rows: &mut [Listed]) {
        for row in rows.iter_mut().filter(|r| r.summary.is_none()) {
            match self.summarise(row.meta.blob.clone()).await {
                Ok(summary) => row.summary = Some(summary),
                Err(e) => tracing::warn!(error = %e, "cannot summarise a message"),
            }
        }
    }

    /// A blob that cannot be read gets an empty summary, so it is not tried again.
    async fn summarise(&self, blob: BlobId) -> Result<MessageSummary> {
        let files = self.blobs.files.clone();
        let store = self.store.clone();
        off_workers(move || {
            let summary = files
                .get(&blob)
                .map(|b| crate::summary::summarize(&b))
                .unwrap_or_default();
            store.put_summary(&blob, &summary).map(|()| summary)
        })
        .await?
        .map_err(Into::into)
    }
}
