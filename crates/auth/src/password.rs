//! Passwords, stored as Argon2id PHC strings (OWASP's first choice; RFC 9106).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Algorithm, Argon2, Params, Version};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("le mot de passe doit comporter au moins 8 caractères")]
    TooShort,
    #[error("le mot de passe doit comporter une majuscule, une minuscule et un chiffre")]
    MissingClass,
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// Argon2id with 19 MiB, 2 passes, 1 lane: OWASP's recommended minimum, about 20 ms per check
/// on one core, which keeps logins fast and guessing expensive.
fn hasher() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("static Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// The account password policy of the national service: at least 8 characters, with an
/// upper-case letter, a lower-case letter and a digit.
pub fn check_policy(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < 8 {
        return Err(PasswordError::TooShort);
    }
    let upper = password.chars().any(char::is_uppercase);
    let lower = password.chars().any(char::is_lowercase);
    let digit = password.chars().any(|c| c.is_ascii_digit());
    if !(upper && lower && digit) {
        return Err(PasswordError::MissingClass);
    }
    Ok(())
}

pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// True when `password` matches the stored PHC string. A malformed stored hash never matches.
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => hasher().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_and_verify() {
        let h = hash_password("Secret123").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("Secret123", &h));
        assert!(!verify_password("secret123", &h));
        assert!(!verify_password("Secret123", "not a hash"));
        assert_ne!(h, hash_password("Secret123").unwrap(), "salted");
    }

    #[test]
    fn policy() {
        assert_eq!(check_policy("Ab1"), Err(PasswordError::TooShort));
        assert_eq!(check_policy("abcdefgh1"), Err(PasswordError::MissingClass));
        assert_eq!(check_policy("ABCDEFGH1"), Err(PasswordError::MissingClass));
        assert_eq!(check_policy("Abcdefgh"), Err(PasswordError::MissingClass));
        assert_eq!(check_policy("Abcdefg1"), Ok(()));
    }
}
