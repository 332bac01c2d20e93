//! Application passwords: what practice software and mail clients log in with on IMAP and
//! SMTP. Groups of four lower-case letters and digits, easy to type; the first group names the
//! password, so a login finds the one hash to check instead of trying each in turn (which told
//! by its time how many an account had).
//!
//! They are random, not chosen: six secret groups hold 118 bits, above the 112 bits from which
//! NIST SP 800-63B §5.1.2.2 lets a random secret be kept under a fast one-way function instead
//! of a password hash. So they are kept as HMAC-SHA256 under a salt of their own, and a login
//! with one costs microseconds, not an Argon2id, even the first after a restart (issue 15:
//! practice software logs in every few minutes). Those made before, with three secret groups
//! (59 bits), stay under Argon2id.

use ring::hmac;

/// No 0/o, 1/l/i: nothing to misread when copying it.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// Groups of a password made now: the naming group and six secret ones.
const GROUPS: usize = 7;

/// Groups of the passwords made before the fast hash (kept under Argon2id).
const OLD_GROUPS: usize = 4;

/// The scheme of the stored form: `$hmac-sha256$<salt>$<digest>`, both in hexadecimal.
const SCHEME: &str = "$hmac-sha256$";

/// A new random app password.
pub fn generate() -> String {
    let mut chars = Vec::with_capacity(GROUPS * 4);
    while chars.len() < GROUPS * 4 {
        // Bytes from 248 up are dropped, so that each of the 31 characters is as likely.
        for b in crate::otp::random_bytes::<32>() {
            if (b as usize) < ALPHABET.len() * (256 / ALPHABET.len()) && chars.len() < GROUPS * 4 {
                chars.push(ALPHABET[b as usize % ALPHABET.len()] as char);
            }
        }
    }
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// A new app password whose first group names none of `existing` (the account's): at login,
/// that group finds the one hash to check.
pub fn generate_for(existing: &[confiance_store::AppPassword]) -> String {
    loop {
        let p = generate();
        if !existing.iter().any(|e| e.lookup.as_deref() == lookup_of(&p)) {
            return p;
        }
    }
}

/// The identifying first group of `candidate` when it has the shape of an app password (of
/// now or of before). An account password never has it: the password rule asks for an
/// upper-case letter.
pub fn lookup_of(candidate: &str) -> Option<&str> {
    let groups: Vec<&str> = candidate.split('-').collect();
    let shaped = matches!(groups.len(), GROUPS | OLD_GROUPS)
        && groups
            .iter()
            .all(|g| g.len() == 4 && g.bytes().all(|b| ALPHABET.contains(&b)));
    shaped.then_some(groups[0])
}

/// Whether `candidate` has the shape of the app passwords made now.
pub fn is_current_shape(candidate: &str) -> bool {
    lookup_of(candidate).is_some() && candidate.len() == GROUPS * 5 - 1
}

/// The stored form of a new app password.
pub fn hash(password: &str) -> String {
    let salt = crate::otp::random_bytes::<16>();
    format!("{SCHEME}{}${}", hex::encode(salt), hex::encode(mac(&salt, password)))
}

/// Whether `stored` is kept under the fast scheme (else it is an Argon2id PHC string).
pub fn is_fast(stored: &str) -> bool {
    stored.starts_with(SCHEME)
}

/// True when `password` matches a stored form of the fast scheme; compared in constant time.
/// A malformed stored form never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    let Some((salt, digest)) = stored.strip_prefix(SCHEME).and_then(|rest| rest.split_once('$')) else {
        return false;
    };
    let (Ok(salt), Ok(digest)) = (hex::decode(salt), hex::decode(digest)) else {
        return false;
    };
    hmac::verify(&hmac::Key::new(hmac::HMAC_SHA256, &salt), password.as_bytes(), &digest).is_ok()
}

/// A valid stored form of no password, checked when a login names no app password, so that it
/// takes the time of a real check.
pub fn dummy() -> &'static str {
    "$hmac-sha256$00000000000000000000000000000000$\
     0000000000000000000000000000000000000000000000000000000000000000"
}

fn mac(salt: &[u8], password: &str) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, salt), password.as_bytes())
        .as_ref()
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_typeable_and_named_by_their_first_group() {
        let p = generate();
        assert_eq!(p.len(), GROUPS * 5 - 1);
        assert_eq!(lookup_of(&p), Some(&p[..4]));
        assert_ne!(p, generate());
        assert!(p.bytes().all(|b| b == b'-' || ALPHABET.contains(&b)));
        assert!(is_current_shape(&p));
        assert_eq!(
            lookup_of("abcd-efgh-jkmn-pqrs"),
            Some("abcd"),
            "made before: still named"
        );
        assert!(!is_current_shape("abcd-efgh-jkmn-pqrs"));
        assert_eq!(lookup_of("Motdepasse1"), None);
        assert_eq!(lookup_of("abcd-efgh-jkmn-pqr0"), None, "0 is not in the alphabet");
        assert_eq!(lookup_of("abcd-efgh-jkmn"), None);
        assert_eq!(lookup_of("abcd-efgh-jkmn-pqrs-tuvw"), None);
    }

    #[test]
    fn kept_under_a_salted_fast_hash() {
        let p = generate();
        let stored = hash(&p);
        assert!(is_fast(&stored));
        assert!(verify(&p, &stored));
        assert_ne!(stored, hash(&p), "salted");
        // One character off, another password, a tampered or malformed stored form: no.
        let mut off = p.clone().into_bytes();
        off[10] = if off[10] == b'a' { b'b' } else { b'a' };
        assert!(!verify(std::str::from_utf8(&off).unwrap(), &stored));
        assert!(!verify(&generate(), &stored));
        assert!(!verify(&p, &stored.replace('$', "")));
        assert!(!verify(&p, "$hmac-sha256$zz$zz"));
        assert!(!verify(&p, dummy()));
        assert!(!is_fast("$argon2id$v=19$m=19456,t=2,p=1$c29tZQ$c29tZQ"));
    }
}
