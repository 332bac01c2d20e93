//! Authentication shared by every front: password hashing (Argon2id), one-time codes and TOTP,
//! Pro Santé Connect, CPS certificates, app passwords and SASL messages.

pub mod address;
pub mod app_password;
pub mod certificate;
pub mod cps;
pub mod exchange;
pub mod http;
pub mod jwt;
pub mod login;
pub mod login_scram;
mod logins;
pub mod notify;
pub mod otp;
pub mod password;
pub mod psc;
pub mod registry;
pub mod sasl;
pub mod scram;
pub mod throttle;
mod verified;

pub use login::{Attempt, login};
pub use logins::Logins;
pub use registry::Registry;

/// The identity model the fronts work with (defined with the store, which persists it).
pub mod model {
    pub use confiance_store::{
        Account, AccountId, AccountStatus, AppPassword, DirectoryListing, LoginFailures, Member, Profile, Rights,
        SecondFactor, StaffAccount, StoreError, Structure,
    };
}
pub use password::{PasswordError, check_policy, hash_password, verify_password};
pub use sasl::{SaslError, decode_plain};

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}
