//! Application passwords: what practice software and mail clients log in with on IMAP and
//! SMTP. Four groups of four lower-case letters and digits (79 bits), easy to type; the first
//! group names the password, so a login finds the one hash to check instead of trying each in
//! turn (which told by its time how many an account had).

/// No 0/o, 1/l/i: nothing to misread when copying it.
const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// A new random app password.
pub fn generate() -> String {
    let bytes = crate::otp::random_bytes::<16>();
    let chars: Vec<char> = bytes
        .iter()
        .map(|b| ALPHABET[*b as usize % ALPHABET.len()] as char)
        .collect();
    chars
        .chunks(4)
        .map(|c| c.iter().collect::<String>())
        .collect::<Vec<_>>()
        .join("-")
}

/// The identifying first group of `candidate` when it has the shape of an app password. An
/// account password never has it: the password rule asks for an upper-case letter.
pub fn lookup_of(candidate: &str) -> Option<&str> {
    let groups: Vec<&str> = candidate.split('-').collect();
    let shaped = groups.len() == 4
        && groups
            .iter()
            .all(|g| g.len() == 4 && g.bytes().all(|b| ALPHABET.contains(&b)));
    shaped.then_some(groups[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_typeable_and_named_by_their_first_group() {
        let p = generate();
        assert_eq!(p.len(), 19);
        assert_eq!(lookup_of(&p), Some(&p[..4]));
        assert_ne!(p, generate());
        assert_eq!(lookup_of("Motdepasse1"), None);
        assert_eq!(lookup_of("abcd-efgh-jkmn-pqr0"), None, "0 is not in the alphabet");
        assert_eq!(lookup_of("abcd-efgh-jkmn"), None);
    }
}
