//! The registry of BALs and of the people who hold them, as the web pages see it: accounts,
//! profiles and second factors, lockout counts, web sessions, app passwords, signatures and
//! directory listings. Every call runs off the async workers; a failure is logged and read as
//! `None`, so a page says that saving or reading failed without showing the error.
//!
//! Operations that must hold together (an activation, a profile and its listing) are one
//! method each, so no page can do half of them.

use std::sync::Arc;

use confiance_store::{
    Account, AccountId, AccountStatus, AppPassword, DirectoryListing, LoginFailures, Profile, Store, StoreError,
};

pub struct Registry {
    store: Arc<dyn Store>,
}

/// A BAL being activated: its address, password hash, quota, holder and listing.
pub struct Activation {
    pub address: String,
    pub password_hash: String,
    pub quota: u64,
    pub profile: Profile,
    pub listing: DirectoryListing,
    pub at: i64,
}

/// Whether a shared BAL opens to its members now: active, and not applicative (an APP BAL is
/// its software's, nobody reads it in the webmail, issue 16).
fn opens_to_members(bal: &Account) -> bool {
    bal.status == AccountStatus::Active && bal.kind != confiance_core::MailboxKind::Applicative
}

impl Registry {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Registry { store }
    }

    async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Store) -> confiance_store::Result<T> + Send + 'static,
    ) -> Option<T> {
        let s = self.store.clone();
        match tokio::task::spawn_blocking(move || f(&*s)).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                tracing::error!("store: {e}");
                None
            }
            Err(e) => {
                tracing::error!("store task: {e}");
                None
            }
        }
    }

    // BALs

    pub async fn account(&self, id: AccountId) -> Option<Option<Account>> {
        self.call(move |s| s.account(id)).await
    }

    pub async fn account_by_address(&self, address: String) -> Option<Option<Account>> {
        self.call(move |s| s.account_by_address(&address)).await
    }

    /// The BALs whose holder has this national id (IdNat_PS).
    pub async fn accounts_of(&self, national_id: String) -> Option<Vec<Account>> {
        self.call(move |s| s.accounts_of(&national_id)).await
    }

    /// What the webmail may open for a professional, with their rights: their own BAL (every
    /// right) first, then the active shared BALs they may read (not applicative ones).
    pub async fn bals_with_rights(&self, own: AccountId) -> Option<Option<Vec<(Account, confiance_store::Rights)>>> {
        self.call(move |s| {
            let Some(me) = s.account(own)? else {
                return Ok(None);
            };
            let all = confiance_store::Rights {
                read: true,
                send: true,
                manage: true,
            };
            let mut bals = vec![(me, all)];
            if let Some(n) = s.profile(own)?.and_then(|p| p.national_id) {
                bals.extend(
                    s.memberships(&n)?
                        .into_iter()
                        .filter(|(a, r)| r.read && a.id != own && opens_to_members(a)),
                );
            }
            Ok(Some(bals))
        })
        .await
    }

    /// Creates the BAL with its profile and listing, all or nothing: one BAL per identity
    /// (unique national id), so a second activation running at the same time fails here, and
    /// its account goes.
    pub async fn activate(&self, a: Activation) -> Result<AccountId, StoreError> {
        let s = self.store.clone();
        tokio::task::spawn_blocking(move || {
            let id = s.create_account(&a.address, &a.password_hash, a.quota)?;
            let finished = s
                .set_profile(id, &a.profile)
                .and_then(|_| s.set_listing(id, Some(&a.listing)))
                .and_then(|_| s.record_login(id, a.at));
            if let Err(e) = finished {
                let _ = s.delete_account(id);
                return Err(e);
            }
            Ok(id)
        })
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
    }

    /// The addresses `address::propose` offers a person that no BAL holds yet.
    pub async fn free_addresses(
        &self,
        given: String,
        family: String,
        profession: Option<String>,
        hosted: Vec<String>,
    ) -> Option<Vec<String>> {
        self.call(move |s| {
            Ok(crate::address::propose(
                &given,
                &family,
                profession.as_deref(),
                &hosted,
                |candidate| s.account_by_address(candidate).ok().flatten().is_some(),
            ))
        })
        .await
    }

    pub async fn set_password(&self, id: AccountId, hash: String) -> Option<()> {
        self.call(move |s| s.set_password(id, &hash)).await
    }

    pub async fn record_login(&self, id: AccountId, at: i64) -> Option<()> {
        self.call(move |s| s.record_login(id, at)).await
    }

    // Profiles and listings

    pub async fn profile(&self, id: AccountId) -> Option<Option<Profile>> {
        self.call(move |s| s.profile(id)).await
    }

    /// Saves the profile and the directory listing that follows from it, together.
    pub async fn update_profile(&self, id: AccountId, profile: Profile, listing: DirectoryListing) -> Option<()> {
        self.call(move |s| {
            s.set_profile(id, &profile)
                .and_then(|_| s.set_listing(id, Some(&listing)))
        })
        .await
    }

    /// Every BAL's directory listing, red-listed ones included.
    pub async fn listings(&self) -> Option<Vec<(String, DirectoryListing)>> {
        self.call(|s| s.listings()).await
    }

    pub async fn signature(&self, id: AccountId) -> Option<String> {
        self.call(move |s| s.signature(id)).await
    }

    pub async fn set_signature(&self, id: AccountId, signature: String) -> Option<()> {
        self.call(move |s| s.set_signature(id, &signature)).await
    }

    // Second factor and lockout

    /// Takes a TOTP time step once (RFC 6238 §5.2: a code is good once).
    pub async fn claim_totp_step(&self, id: AccountId, step: i64) -> Option<bool> {
        self.call(move |s| s.claim_totp_step(id, step)).await
    }

    pub async fn record_failure(&self, id: AccountId, at: i64, limit: u32, lock_seconds: i64) -> Option<LoginFailures> {
        self.call(move |s| s.record_failure(id, at, limit, lock_seconds)).await
    }

    pub async fn forgive_failure(&self, id: AccountId, limit: u32) -> Option<()> {
        self.call(move |s| s.forgive_failure(id, limit)).await
    }

    pub async fn login_failures(&self, id: AccountId) -> Option<LoginFailures> {
        self.call(move |s| s.login_failures(id)).await
    }

    // App passwords

    pub async fn app_passwords(&self, id: AccountId) -> Option<Vec<AppPassword>> {
        self.call(move |s| s.app_passwords(id)).await
    }

    pub async fn add_app_password(
        &self,
        id: AccountId,
        label: String,
        hash: String,
        lookup: Option<String>,
    ) -> Option<i64> {
        self.call(move |s| s.add_app_password(id, &label, &hash, lookup.as_deref()))
            .await
    }

    /// Derives the SCRAM keys of a credential just set (`source` is its stored hash), after the
    /// page has answered (see `login_scram`).
    pub async fn keep_scram_keys(&self, id: AccountId, source: String, password: String) {
        if let Some(Some(account)) = self.account(id).await {
            crate::login_scram::store_keys_later(self.store.clone(), account, source, password);
        }
    }

    pub async fn delete_app_password(&self, id: AccountId, app: i64) -> Option<bool> {
        self.call(move |s| s.delete_app_password(id, app)).await
    }

    // Staff and members of shared BALs

    pub async fn staff(&self, email: String) -> Option<Option<confiance_store::StaffAccount>> {
        self.call(move |s| s.staff(&email)).await
    }

    pub async fn claim_staff_totp_step(&self, email: String, step: i64) -> Option<bool> {
        self.call(move |s| s.claim_staff_totp_step(&email, step)).await
    }

    /// The active BALs someone is a member of, with their rights (applicative ones excepted:
    /// their software's).
    pub async fn memberships(&self, who: String) -> Option<Vec<(Account, confiance_store::Rights)>> {
        let all = self.call(move |s| s.memberships(&who)).await?;
        Some(all.into_iter().filter(|(a, _)| opens_to_members(a)).collect())
    }

    pub async fn add_member_app_password(
        &self,
        id: AccountId,
        member: String,
        label: String,
        hash: String,
        lookup: String,
    ) -> Option<i64> {
        self.call(move |s| s.add_member_app_password(id, &member, &label, &hash, &lookup))
            .await
    }

    // Structures, for their administrators' console

    pub async fn administered_by(&self, who: String) -> Option<Vec<confiance_store::Structure>> {
        self.call(move |s| s.administered_by(&who)).await
    }

    /// The structure, if `who` administers it (the console's check at every request).
    pub async fn structure_of_admin(&self, finess: String, who: String) -> Option<Option<confiance_store::Structure>> {
        self.call(move |s| {
            if !s.structure_admins(&finess)?.contains(&who) {
                return Ok(None);
            }
            s.structure(&finess)
        })
        .await
    }

    pub async fn structure_bals(&self, finess: String) -> Option<Vec<Account>> {
        self.call(move |s| s.structure_bals(&finess)).await
    }

    pub async fn create_structure_bal(
        &self,
        address: String,
        kind: confiance_core::MailboxKind,
        finess: String,
        name: String,
        quota: u64,
    ) -> Result<AccountId, StoreError> {
        let s = self.store.clone();
        tokio::task::spawn_blocking(move || {
            confiance_store::create_published_bal(
                &*s,
                &confiance_store::NewStructureBal {
                    address: &address,
                    kind,
                    finess: &finess,
                    display_name: &name,
                    quota_bytes: quota,
                },
            )
        })
        .await
        .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
    }

    pub async fn members(&self, id: AccountId) -> Option<Vec<confiance_store::Member>> {
        self.call(move |s| s.members(id)).await
    }

    pub async fn set_member(&self, id: AccountId, who: String, rights: confiance_store::Rights) -> Option<()> {
        self.call(move |s| s.set_member(id, &who, rights)).await
    }

    pub async fn remove_member(&self, id: AccountId, who: String) -> Option<bool> {
        self.call(move |s| s.revoke_access(id, &who)).await
    }

    pub async fn add_staff(&self, staff: confiance_store::StaffAccount) -> Result<(), StoreError> {
        let s = self.store.clone();
        tokio::task::spawn_blocking(move || s.add_staff(&staff))
            .await
            .map_err(|e| StoreError::Io(std::io::Error::other(e)))?
    }

    pub async fn set_staff_password(&self, email: String, password_hash: String) -> Option<()> {
        self.call(move |s| s.set_staff_password(&email, &password_hash)).await
    }

    pub async fn set_staff_suspended(&self, email: String, suspended: bool) -> Option<()> {
        self.call(move |s| s.set_staff_suspended(&email, suspended)).await
    }

    pub async fn set_status(&self, id: AccountId, status: AccountStatus) -> Option<()> {
        self.call(move |s| s.set_status(id, status)).await
    }

    // Web sessions

    pub async fn session_get(&self, key: String) -> Option<Option<String>> {
        self.call(move |s| s.session_get(&key)).await
    }

    pub async fn session_delete(&self, key: String) -> Option<()> {
        self.call(move |s| s.session_delete(&key)).await
    }

    /// Saves a session: a new one is inserted (then, for a visitor's, the oldest pending
    /// ones beyond `keep` are dropped), a known one only updated, so a request still running
    /// when the professional logged out cannot bring it back.
    pub async fn session_save(&self, save: SessionSave) -> Option<()> {
        self.call(move |s| match save.fresh {
            true => {
                s.session_put(&save.key, save.account, &save.data, save.seen)?;
                if save.account.is_none() {
                    s.sessions_trim_pending(save.keep_pending, save.pending_before)?;
                }
                Ok(())
            }
            false => s.session_update(&save.key, save.account, &save.data, save.seen),
        })
        .await
    }
}

/// What `Registry::session_save` writes.
pub struct SessionSave {
    pub key: String,
    pub account: Option<AccountId>,
    pub data: String,
    pub seen: i64,
    pub fresh: bool,
    pub keep_pending: usize,
    pub pending_before: i64,
}
