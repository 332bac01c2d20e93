//! Who holds an account and how they prove it: the holder's national identity, the second
//! factor, the personal contact details chosen at activation, app passwords for plain mail
//! clients, web sessions, and the account's lifecycle (active, suspended, inactivity notices).

use crate::{AccountId, Result};

/// Lifecycle of a BAL. A suspended account keeps its mail but nobody can log in; deletion
/// removes it (CNIL AU-037: after 12 months without login, once the holder was notified).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountStatus {
    Active,
    Suspended,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Active => "active",
            AccountStatus::Suspended => "suspended",
        }
    }

    pub fn parse(s: &str) -> AccountStatus {
        match s {
            "active" => AccountStatus::Active,
            // Anything unknown is treated as the safer state.
            _ => AccountStatus::Suspended,
        }
    }
}

/// How the one-time code of a web login reaches the holder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondFactor {
    Email,
    Sms,
    Totp,
}

impl SecondFactor {
    pub fn as_str(self) -> &'static str {
        match self {
            SecondFactor::Email => "email",
            SecondFactor::Sms => "sms",
            SecondFactor::Totp => "totp",
        }
    }

    pub fn parse(s: &str) -> Option<SecondFactor> {
        match s {
            "email" => Some(SecondFactor::Email),
            "sms" => Some(SecondFactor::Sms),
            "totp" => Some(SecondFactor::Totp),
            _ => None,
        }
    }
}

/// What the holder chose at activation (step 3), kept beside the account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Profile {
    /// IdNat_PS of the holder (`8` + RPPS, `0` + ADELI) as Pro Santé Connect or the CPS gives it.
    pub national_id: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub personal_email: Option<String>,
    /// E.164 form, `+33…`.
    pub mobile: Option<String>,
    pub second_factor: SecondFactor,
    /// RFC 6238 shared secret, base32, when the second factor is an authenticator app.
    pub totp_secret: Option<String>,
    /// Send a notice (never the content) to the personal e-mail for each new message.
    pub notify_new_mail: bool,
    /// Publish the mobile number in the directory.
    pub publish_mobile: bool,
    /// Whether the account password alone opens IMAP/SMTP. Accounts activated on the web say
    /// no: the password is half of a two-factor login, so mail clients get app passwords.
    pub mail_password: bool,
    /// When the terms of use were accepted (seconds since the epoch).
    pub terms_accepted_at: i64,
}

/// A password for one mail client, shown once, stored as Argon2id.
#[derive(Clone, Debug)]
pub struct AppPassword {
    pub id: i64,
    pub account: AccountId,
    pub label: String,
    pub hash: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// The password's first group, which names it at login (none for those made before).
    pub lookup: Option<String>,
    /// The member it was made for (a staff e-mail or an IdNat_PS), on a shared BAL; `None`
    /// for the holder's own.
    pub member: Option<String>,
}

/// The SCRAM-SHA-256 keys (RFC 5802 §3) of one credential of an account.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScramKey {
    /// The stored hash of the credential they were derived for: the account's password hash
    /// or an app password's. Keys whose source is no longer current are never returned.
    pub source: String,
    /// The account's salt, the same for all its credentials.
    pub salt: Vec<u8>,
    pub iterations: u32,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

/// Failed logins and the lock they lead to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoginFailures {
    pub count: u32,
    pub locked_until: Option<i64>,
}

/// Identity, second factor, sessions and lifecycle, as every backend stores them.
pub trait Identities {
    fn profile(&self, account: AccountId) -> Result<Option<Profile>>;
    fn set_profile(&self, account: AccountId, profile: &Profile) -> Result<()>;
    /// Records that the TOTP code of `step` was used; false when this step or a later one
    /// already was (a replayed code).
    fn claim_totp_step(&self, account: AccountId, step: i64) -> Result<bool>;
    /// Accounts whose holder has this national identity.
    fn accounts_of(&self, national_id: &str) -> Result<Vec<crate::Account>>;

    fn set_status(&self, account: AccountId, status: AccountStatus) -> Result<()>;
    /// A successful web login: clears failures and restarts the inactivity clock.
    /// Accounts whose open sessions must end (suspended or deleted since), after `after`, with
    /// their sequence numbers; suspending and deleting add to them in the same transaction.
    fn revocations_since(&self, after: i64) -> Result<Vec<(i64, crate::AccountId)>>;
    /// The sequence number of the last revocation (0 without one).
    fn last_revocation(&self) -> Result<i64>;
    fn record_login(&self, account: AccountId, at: i64) -> Result<()>;
    /// A mail client logged in: restarts the inactivity clock, leaves the web's failure count
    /// and lock alone (a polling client must not reset them).
    fn record_activity(&self, account: AccountId, at: i64) -> Result<()>;
    /// One more failure; after `limit` in a row the account is locked for `lock_seconds`.
    fn record_failure(&self, account: AccountId, at: i64, limit: u32, lock_seconds: i64) -> Result<LoginFailures>;
    /// Takes back one failure counted before a check that then succeeded (attempts are counted
    /// before the secret is checked, so that parallel tries cannot outrun the limit); the lock
    /// goes when the count falls below `limit`.
    fn forgive_failure(&self, account: AccountId, limit: u32) -> Result<()>;
    fn login_failures(&self, account: AccountId) -> Result<LoginFailures>;
    /// How many inactivity notices were sent since the last login, the last one at `at`.
    fn set_inactivity_notices(&self, account: AccountId, sent: u32, at: i64) -> Result<()>;
    /// Removes the account, its folders, messages, listing and sessions; returns the blobs no
    /// other message uses any more, for the caller to delete.
    fn delete_account(&self, account: AccountId) -> Result<Vec<crate::BlobId>>;

    fn add_app_password(&self, account: AccountId, label: &str, hash: &str, lookup: Option<&str>) -> Result<i64>;
    fn app_passwords(&self, account: AccountId) -> Result<Vec<AppPassword>>;
    fn delete_app_password(&self, account: AccountId, id: i64) -> Result<bool>;
    fn touch_app_password(&self, id: i64, at: i64) -> Result<()>;

    /// The SCRAM keys of the account's current credentials (its password, its app passwords).
    fn scram_keys(&self, account: AccountId) -> Result<Vec<ScramKey>>;
    /// Keeps the keys of one credential, and drops those of credentials gone or changed.
    fn put_scram_key(&self, account: AccountId, key: &ScramKey) -> Result<()>;
    /// A random value kept for the installation's life under `name`: `fresh` the first time.
    fn secret(&self, name: &str, fresh: &[u8]) -> Result<Vec<u8>>;

    /// Lets a professional (by national id) open another BAL, such as an organisational one.
    fn grant_access(&self, account: AccountId, national_id: &str) -> Result<()>;
    /// Withdraws it; false when there was nothing to withdraw.
    fn revoke_access(&self, account: AccountId, national_id: &str) -> Result<bool>;
    /// The BALs a professional may open (read) besides their own, by address.
    fn shared_with(&self, national_id: &str) -> Result<Vec<crate::Account>>;

    /// Web sessions, keyed by the SHA-256 of their cookie; `data` is the web layer's own.
    fn session_put(&self, key: &str, account: Option<AccountId>, data: &str, at: i64) -> Result<()>;
    /// Saves a session that already exists; one deleted meanwhile (logout) stays deleted.
    fn session_update(&self, key: &str, account: Option<AccountId>, data: &str, at: i64) -> Result<()>;
    fn session_get(&self, key: &str) -> Result<Option<String>>;
    fn session_delete(&self, key: &str) -> Result<()>;
    /// Drops sessions not seen since `before`; returns how many.
    fn sessions_expire(&self, before: i64) -> Result<usize>;
    /// Sessions of nobody yet (a Pro Santé Connect login under way): those last seen before
    /// `before`, and all but the `keep` most recent, are dropped. Returns how many.
    fn sessions_trim_pending(&self, keep: usize, before: i64) -> Result<usize>;
}
