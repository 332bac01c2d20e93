//! The BAL side of mailbox state: finding a BAL, and removing one with everything it holds.

use confiance_store::{Account, AccountId};

use crate::{MailService, Result};

impl MailService {
    pub async fn account(&self, id: AccountId) -> Result<Option<Account>> {
        self.run(move |s| s.account(id)).await
    }

    pub async fn account_by_address(&self, address: String) -> Result<Option<Account>> {
        self.run(move |s| s.account_by_address(&address)).await
    }

    pub async fn accounts(&self) -> Result<Vec<Account>> {
        self.run(|s| s.accounts()).await
    }

    /// Removes a BAL, its folders, messages and settings, and releases the message files only
    /// it used (CNIL AU-037 deletion, `confiance account delete`).
    pub async fn delete_account(&self, account: &Account) -> Result<()> {
        let id = account.id;
        let orphans = self.run(move |s| s.delete_account(id)).await?;
        let blobs = orphans.len();
        self.release(orphans).await;
        tracing::info!(target: "audit", event = "account_deleted", account = %account.address, blobs);
        Ok(())
    }
}
