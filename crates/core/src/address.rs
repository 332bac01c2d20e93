//! MSSanté mail addresses (`prenom.nom@medecin.mssante.fr`).
//!
//! An address is stored with its domain in lower case (RFC 5321 §2.4: domains are case-insensitive)
//! and its local part in lower case too: MSSanté operators allocate local parts in lower case
//! (`prenom.nom`), so a professional typing `Jean.Dupont@...` must reach the same mailbox.

use std::fmt;

/// Longest address accepted (RFC 5321 §4.5.3.1.3: a path is at most 256 octets including `<>`).
pub const MAX_ADDRESS_LEN: usize = 254;
/// Longest local part (RFC 5321 §4.5.3.1.1).
pub const MAX_LOCAL_PART_LEN: usize = 64;
/// The domain of patients' mailboxes in Mon Espace Santé (`<matricule INS>@patient.mssante.fr`);
/// the rules are `patient::PatientDomain`'s, whose domain is configurable.
pub const PATIENT_DOMAIN: &str = "patient.mssante.fr";

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    local: String,
    domain: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("l'adresse est vide")]
    Empty,
    #[error("l'adresse n'a pas de @ entre la partie locale et le domaine")]
    NoAt,
    #[error("l'adresse dépasse {MAX_ADDRESS_LEN} caractères")]
    TooLong,
    #[error("la partie avant le @ est vide ou dépasse {MAX_LOCAL_PART_LEN} caractères")]
    BadLocalPartLength,
    #[error("la partie avant le @ contient un caractère interdit : {0:?}")]
    BadLocalPartChar(char),
    #[error("le domaine {0:?} n'est pas un nom d'hôte valable")]
    BadDomain(String),
}

impl Address {
    /// Parses `local@domain` (no angle brackets, no display name).
    pub fn parse(input: &str) -> Result<Self, AddressError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(AddressError::Empty);
        }
        if input.len() > MAX_ADDRESS_LEN {
            return Err(AddressError::TooLong);
        }
        let (local, domain) = input.rsplit_once('@').ok_or(AddressError::NoAt)?;
        if local.is_empty() || local.len() > MAX_LOCAL_PART_LEN {
            return Err(AddressError::BadLocalPartLength);
        }
        // Dot-atom only (RFC 5322 §3.2.3): quoted local parts are legal in mail but never
        // allocated by MSSanté operators, and accepting them would let two spellings name one box.
        if let Some(c) = local.chars().find(|c| !is_atext(*c) && *c != '.') {
            return Err(AddressError::BadLocalPartChar(c));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(AddressError::BadLocalPartChar('.'));
        }
        let domain = domain.trim_end_matches('.').to_ascii_lowercase();
        if !is_hostname(&domain) {
            return Err(AddressError::BadDomain(domain));
        }
        Ok(Address {
            local: local.to_lowercase(),
            domain,
        })
    }

    pub fn local_part(&self) -> &str {
        &self.local
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

impl std::str::FromStr for Address {
    type Err = AddressError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Address::parse(s)
    }
}

/// Whether `local` may name a new BAL here: lowercase ASCII letters and digits in words
/// joined by one `.`, `-` or `_` (`prenom.nom`, `secretariat-cardio`, an INS matricule), at
/// most 64 bytes (RFC 5321 §4.5.3.1.1). Mail is received for any RFC 5322 local part, but an
/// address this operator hands out must be one every operator, directory and practice
/// software of the trust space can carry: no accents (not every peer speaks SMTPUTF8), no
/// upper case, no quoting.
pub fn is_new_local_part(local: &str) -> bool {
    let separator = |b: u8| matches!(b, b'.' | b'-' | b'_');
    let bytes = local.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 64
        && bytes
            .iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || separator(b))
        && !separator(bytes[0])
        && !separator(bytes[bytes.len() - 1])
        && !bytes.windows(2).any(|w| separator(w[0]) && separator(w[1]))
}

/// RFC 5322 §3.2.3 atext, plus UTF-8 letters (RFC 6531 SMTPUTF8 allows them).
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c) || (!c.is_ascii() && c.is_alphanumeric())
}

/// RFC 1123 §2.1 host name: labels of letters, digits and hyphens, at least two labels.
pub fn is_hostname(domain: &str) -> bool {
    domain.contains('.') && is_host_name(domain)
}

/// RFC 1123 §2.1 host name of one label or more (a machine's own name, `poste-12`).
pub fn is_host_name(domain: &str) -> bool {
    if domain.is_empty() || domain.len() > 253 {
        return false;
    }
    domain.split('.').all(|label| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises_case() {
        let a = Address::parse("Jean.Dupont@Medecin.MSSante.fr").unwrap();
        assert_eq!(a.to_string(), "jean.dupont@medecin.mssante.fr");
        assert_eq!(a.domain(), "medecin.mssante.fr");
        assert_eq!(a.local_part(), "jean.dupont");
    }

    #[test]
    fn refuses_bad_addresses_with_a_reason() {
        assert_eq!(Address::parse(""), Err(AddressError::Empty));
        assert_eq!(Address::parse("jean"), Err(AddressError::NoAt));
        assert_eq!(Address::parse("@x.fr"), Err(AddressError::BadLocalPartLength));
        assert_eq!(Address::parse("a b@x.fr"), Err(AddressError::BadLocalPartChar(' ')));
        assert_eq!(Address::parse(".a@x.fr"), Err(AddressError::BadLocalPartChar('.')));
        assert_eq!(Address::parse("a..b@x.fr"), Err(AddressError::BadLocalPartChar('.')));
        assert!(matches!(Address::parse("a@localhost"), Err(AddressError::BadDomain(_))));
        assert!(matches!(Address::parse("a@-x.fr"), Err(AddressError::BadDomain(_))));
        assert!(matches!(Address::parse("a@x_y.fr"), Err(AddressError::BadDomain(_))));
        let long = format!("{}@x.fr", "a".repeat(65));
        assert_eq!(Address::parse(&long), Err(AddressError::BadLocalPartLength));
        let longer = format!("a@{}.fr", "b".repeat(260));
        assert_eq!(Address::parse(&longer), Err(AddressError::TooLong));
    }

    #[test]
    fn accepts_utf8_local_parts() {
        assert!(Address::parse("hélène.martin@pro.mssante.fr").is_ok());
    }

    #[test]
    fn new_local_parts_keep_to_the_national_form() {
        for ok in [
            "jean.dupont",
            "jean-pierre.martin2",
            "secretariat_cardio",
            "279035121518989",
        ] {
            assert!(is_new_local_part(ok), "{ok}");
        }
        for bad in [
            "élodie.dupont",
            "Jean.Dupont",
            ".jean",
            "jean.",
            "jean..dupont",
            "jean+tag",
            "",
            &"a".repeat(65),
        ] {
            assert!(!is_new_local_part(bad), "{bad}");
        }
    }

    #[test]
    fn host_names_with_one_label_or_more() {
        assert!(is_host_name("poste-12") && is_host_name("mx.op-a.test"));
        assert!(!is_hostname("poste-12"), "a domain has two labels at least");
        for bad in ["", "-poste", "poste-", "po_ste", "a..b"] {
            assert!(!is_host_name(bad), "{bad}");
        }
    }
}
