//! Second factors of the web login: a one-time code sent by e-mail or SMS, or a code from an
//! authenticator app (TOTP, RFC 6238).
//!
//! A sent code is six digits, valid for `CODE_LIFETIME`, and allows `CODE_ATTEMPTS` tries; only
//! its SHA-256 is kept. A TOTP code is accepted in the current 30-second step or the one before
//! or after (clock drift), and never twice in the same step (replay).
//!
//! Why the TOTP check is ours (on ring's HMAC) rather than the `totp-rs` crate's: refusing a
//! replayed code (RFC 6238 §5.2) needs the time step a code matched, which `totp-rs`'s checks
//! do not return (they answer yes or no); what is left once the steps are walked here is the
//! RFC 4226 truncation, five lines tested against the RFC 6238 vectors. Base32 is the
//! `data-encoding` crate's.

use ring::hmac;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a sent code stays valid (seconds).
pub const CODE_LIFETIME: i64 = 10 * 60;
/// Tries allowed on one sent code before a new one must be asked for.
pub const CODE_ATTEMPTS: u32 = 5;
const TOTP_STEP: i64 = 30;
const TOTP_DIGITS: u32 = 6;

pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    SystemRandom::new()
        .fill(&mut b)
        .expect("the system random source works");
    b
}

fn six_digits() -> String {
    // Rejection sampling keeps every code equally likely.
    loop {
        let n = u32::from_be_bytes(random_bytes::<4>());
        if n < u32::MAX - u32::MAX % 1_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

/// Equality whose time does not depend on where the inputs differ.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn digest(code: &str) -> String {
    hex::encode(Sha256::digest(code.trim().as_bytes()))
}

/// A code that was sent, as the session keeps it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SentCode {
    sha256: String,
    pub expires_at: i64,
    pub attempts_left: u32,
}

#[derive(Debug, PartialEq, Eq)]
pub enum CodeCheck {
    Valid,
    /// Wrong code; this many tries remain.
    Wrong(u32),
    Expired,
    /// No tries remain: a new code must be sent.
    Exhausted,
}

impl SentCode {
    /// A fresh code to send, and what to keep of it.
    pub fn new(now: i64) -> (String, SentCode) {
        let code = six_digits();
        let kept = SentCode {
            sha256: digest(&code),
            expires_at: now + CODE_LIFETIME,
            attempts_left: CODE_ATTEMPTS,
        };
        (code, kept)
    }

    pub fn check(&mut self, input: &str, now: i64) -> CodeCheck {
        if self.attempts_left == 0 {
            return CodeCheck::Exhausted;
        }
        if now >= self.expires_at {
            return CodeCheck::Expired;
        }
        self.attempts_left -= 1;
        if same(digest(input).as_bytes(), self.sha256.as_bytes()) {
            self.attempts_left = 0; // used once
            CodeCheck::Valid
        } else if self.attempts_left == 0 {
            CodeCheck::Exhausted
        } else {
            CodeCheck::Wrong(self.attempts_left)
        }
    }
}

/// RFC 4648 base32 without padding, as authenticator apps read secrets.
pub fn base32(bytes: &[u8]) -> String {
    data_encoding::BASE32_NOPAD.encode(bytes)
}

/// A base32 secret as people copy it: any case, spaces between groups, padding or not.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let canonical: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    data_encoding::BASE32_NOPAD.decode(canonical.as_bytes()).ok()
}

/// A new 160-bit TOTP secret (RFC 4226 §4 recommends 160 bits), in base32.
pub fn new_totp_secret() -> String {
    base32(&random_bytes::<20>())
}

/// RFC 6238 code (HMAC-SHA1, 6 digits) for one time step.
fn totp_at_step(secret: &[u8], step: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    let mac = hmac::sign(&key, &(step as u64).to_be_bytes());
    let m = mac.as_ref();
    let offset = (m[m.len() - 1] & 0x0f) as usize;
    let bin = u32::from_be_bytes([m[offset] & 0x7f, m[offset + 1], m[offset + 2], m[offset + 3]]);
    format!("{:0width$}", bin % 10u32.pow(TOTP_DIGITS), width = TOTP_DIGITS as usize)
}

pub fn totp_now(secret_base32: &str, now: i64) -> Option<String> {
    Some(totp_at_step(&base32_decode(secret_base32)?, now / TOTP_STEP))
}

/// The time step `code` belongs to, if it is valid now, one step before or one after, and
/// later than `last_step` (a code is used once).
pub fn totp_verify(secret_base32: &str, code: &str, now: i64, last_step: Option<i64>) -> Option<i64> {
    let secret = base32_decode(secret_base32).filter(|s| !s.is_empty())?;
    let code = code.trim();
    let current = now / TOTP_STEP;
    (current - 1..=current + 1).find(|step| {
        last_step.is_none_or(|last| *step > last) && same(totp_at_step(&secret, *step).as_bytes(), code.as_bytes())
    })
}

/// The `otpauth://` URI that authenticator apps import (as a QR code or typed).
pub fn otpauth_uri(secret_base32: &str, account: &str, issuer: &str) -> String {
    let enc = |s: &str| {
        form_urlencoded::byte_serialize(s.as_bytes())
            .collect::<String>()
            .replace('+', "%20")
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret_base32}&issuer={}&algorithm=SHA1&digits=6&period=30",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sent_code_expires_and_limits_attempts() {
        let (code, mut kept) = SentCode::new(1000);
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| b.is_ascii_digit()));
        let wrong = if code == "000000" { "000001" } else { "000000" };
        assert_eq!(kept.check(wrong, 1001), CodeCheck::Wrong(4));
        assert_eq!(kept.check(&code, 1000 + CODE_LIFETIME), CodeCheck::Expired);
        assert_eq!(kept.check(&format!(" {code} "), 1002), CodeCheck::Valid);
        // Used once: the same code cannot open a second session.
        assert_eq!(kept.check(&code, 1003), CodeCheck::Exhausted);

        let (code, mut kept) = SentCode::new(0);
        for left in (1..CODE_ATTEMPTS).rev() {
            assert_eq!(kept.check("abcdef", 1), CodeCheck::Wrong(left));
        }
        assert_eq!(kept.check("abcdef", 1), CodeCheck::Exhausted);
        assert_eq!(
            kept.check(&code, 1),
            CodeCheck::Exhausted,
            "no try left, even for the right code"
        );
    }

    #[test]
    fn base32_round_trip() {
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_decode("MZXW6YTBOI").unwrap(), b"foobar");
        assert_eq!(base32_decode("mzxw 6ytb oi======").unwrap(), b"foobar");
        assert_eq!(base32_decode("MZ1"), None);
        let s = new_totp_secret();
        assert_eq!(s.len(), 32);
        assert_eq!(base32_decode(&s).unwrap().len(), 20);
    }

    #[test]
    fn totp_matches_rfc_6238_vectors() {
        // RFC 6238 appendix B, SHA-1 key "12345678901234567890", last 6 of the 8 digits.
        let secret = base32(b"12345678901234567890");
        for (t, code) in [
            (59, "287082"),
            (1111111109, "081804"),
            (1234567890, "005924"),
            (2000000000, "279037"),
        ] {
            assert_eq!(totp_now(&secret, t).unwrap(), code, "t = {t}");
        }
        assert_eq!(totp_verify(&secret, "287082", 59, None), Some(1));
        // One step of drift either way is accepted, two are not.
        assert_eq!(totp_verify(&secret, "287082", 59 + 30, None), Some(1));
        assert_eq!(totp_verify(&secret, "287082", 59 + 60, None), None);
        // Replay in the same step is refused.
        assert_eq!(totp_verify(&secret, "287082", 59, Some(1)), None);
        assert_eq!(totp_verify(&secret, "000000", 59, None), None);
    }

    #[test]
    fn otpauth() {
        assert_eq!(
            otpauth_uri("ABC", "jean.martin@medecin.confiance.test", "Confiance MSSanté"),
            "otpauth://totp/Confiance%20MSSant%C3%A9:jean.martin%40medecin.confiance.test?secret=ABC&issuer=Confiance%20MSSant%C3%A9&algorithm=SHA1&digits=6&period=30"
        );
    }
}
