//! Authentication shared by every front: password hashing (Argon2id) and SASL messages.

pub mod login;
pub mod password;
pub mod sasl;

pub use login::{Attempt, login};
pub use password::{PasswordError, check_policy, hash_password, verify_password};
pub use sasl::{SaslError, decode_plain};
