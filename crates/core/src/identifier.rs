//! National identifiers of professionals, structures and patients, with their check keys
//! (reference: directory-and-identifiers §1). Every parser says precisely what is wrong.
//!
//! - RPPS: 11 digits, Luhn key. `997…` numbers are the ANS test range (test CPS, PSC sandbox).
//! - ADELI: 9 characters; its key is not documented reliably, so it is not checked.
//! - IdNat_PS: the TRE_G08 type prefix then the identifier (`8` + RPPS, `0` + ADELI, …).
//! - FINESS: 9 characters, département first (`2A`/`2B` for Corsica), Luhn key.
//! - SIREN (9) and SIRET (14): Luhn; La Poste's establishments use a digit sum modulo 5.
//! - NIR / NIA, the matricule INS: 15 characters, key = 97 − (first 13 mod 97), Corsica's
//!   `2A`/`2B` read as 19/18.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdentifierError {
    #[error("{kind} doit avoir {expected} caractères, et non {found}")]
    Length {
        kind: &'static str,
        expected: usize,
        found: usize,
    },
    #[error("{kind} ne peut contenir que {allowed} : {value:?}")]
    Characters {
        kind: &'static str,
        allowed: &'static str,
        value: String,
    },
    #[error("{kind} {value} : clé de contrôle fausse (un chiffre mal saisi, ou deux inversés)")]
    Key { kind: &'static str, value: String },
    #[error("préfixe de type d'identifiant national inconnu dans {0:?} (8 + RPPS ou 0 + ADELI attendu)")]
    Prefix(String),
}

/// Luhn over ASCII digits (ISO/IEC 7812): from the right, every second digit doubled.
pub fn luhn_valid(digits: &str) -> bool {
    luhn_sum(digits).is_some_and(|s| s % 10 == 0)
}

fn luhn_sum(digits: &str) -> Option<u32> {
    let mut sum = 0;
    for (i, c) in digits.bytes().rev().enumerate() {
        let d = (c as char).to_digit(10)?;
        sum += if i % 2 == 1 {
            let x = d * 2;
            if x > 9 { x - 9 } else { x }
        } else {
            d
        };
    }
    Some(sum)
}

/// The Luhn key digit to append to `body`.
pub fn luhn_key(body: &str) -> Option<char> {
    let sum = luhn_sum(&format!("{body}0"))?;
    char::from_digit((10 - sum % 10) % 10, 10)
}

/// The length every parser checks first, and the gate to what follows: national identifiers
/// are ASCII (digits, `2A`/`2B`), and the parsers cut them by position, which a multi-byte
/// character would make panic.
fn check_len(kind: &'static str, value: &str, expected: usize) -> Result<(), IdentifierError> {
    let found = value.chars().count();
    if found != expected {
        return Err(IdentifierError::Length { kind, expected, found });
    }
    if !value.is_ascii() {
        return Err(IdentifierError::Characters {
            kind,
            allowed: "des chiffres ASCII",
            value: value.into(),
        });
    }
    Ok(())
}

fn digits_only(kind: &'static str, value: &str) -> Result<(), IdentifierError> {
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(IdentifierError::Characters {
            kind,
            allowed: "des chiffres",
            value: value.into(),
        });
    }
    Ok(())
}

macro_rules! identifier {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

identifier!(
    /// Répertoire Partagé des Professionnels de Santé number.
    Rpps
);
identifier!(
    /// ADELI number (professions not yet in RPPS).
    Adeli
);
identifier!(
    /// FINESS number of a legal entity (EJ) or an establishment (EG).
    Finess
);
identifier!(
    /// SIREN: a company.
    Siren
);
identifier!(
    /// SIRET: an establishment of a company.
    Siret
);
identifier!(
    /// NIR or NIA: the matricule of the INS (Identité Nationale de Santé).
    Nir
);

impl Rpps {
    pub fn parse(value: &str) -> Result<Rpps, IdentifierError> {
        let v = value.trim();
        check_len("RPPS", v, 11)?;
        digits_only("RPPS", v)?;
        if !luhn_valid(v) {
            return Err(IdentifierError::Key {
                kind: "RPPS",
                value: v.into(),
            });
        }
        Ok(Rpps(v.into()))
    }

    /// The ANS test range (test CPS cards, the Pro Santé Connect sandbox).
    pub fn is_test(&self) -> bool {
        self.0.starts_with("997")
    }

    /// IdNat_PS: `8` + RPPS.
    pub fn national_id(&self) -> String {
        format!("8{}", self.0)
    }
}

impl Adeli {
    pub fn parse(value: &str) -> Result<Adeli, IdentifierError> {
        let v = value.trim().to_ascii_uppercase();
        check_len("ADELI", &v, 9)?;
        if !v.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()) {
            return Err(IdentifierError::Characters {
                kind: "ADELI",
                allowed: "des chiffres et des lettres",
                value: v,
            });
        }
        Ok(Adeli(v))
    }

    /// IdNat_PS: `0` + ADELI.
    pub fn national_id(&self) -> String {
        format!("0{}", self.0)
    }
}

/// IdNat_PS of a professional (TRE_G08 prefix + identifier).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NationalId {
    Rpps(Rpps),
    Adeli(Adeli),
}

impl NationalId {
    pub fn parse(value: &str) -> Result<NationalId, IdentifierError> {
        let v = value.trim();
        if let Some(rest) = v.strip_prefix('8') {
            return Rpps::parse(rest).map(NationalId::Rpps);
        }
        if let Some(rest) = v.strip_prefix('0') {
            return Adeli::parse(rest).map(NationalId::Adeli);
        }
        Err(IdentifierError::Prefix(v.into()))
    }
}

impl fmt::Display for NationalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NationalId::Rpps(r) => f.write_str(&r.national_id()),
            NationalId::Adeli(a) => f.write_str(&a.national_id()),
        }
    }
}

impl Finess {
    pub fn parse(value: &str) -> Result<Finess, IdentifierError> {
        let v = value.trim().to_ascii_uppercase();
        check_len("FINESS", &v, 9)?;
        let (dept, rest) = v.split_at(2);
        let dept_ok = dept.bytes().all(|b| b.is_ascii_digit()) || dept == "2A" || dept == "2B";
        if !dept_ok || !rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdentifierError::Characters {
                kind: "FINESS",
                allowed: "des chiffres (2A ou 2B en tête pour la Corse)",
                value: v,
            });
        }
        if !luhn_valid(&Self::numeric(&v)) {
            return Err(IdentifierError::Key {
                kind: "FINESS",
                value: v,
            });
        }
        Ok(Finess(v))
    }

    /// The digits the key is computed on. How the ANS computes it for Corsica is not published;
    /// `2A`/`2B` are read as `20`, the département's number before 1976 [inferred].
    fn numeric(v: &str) -> String {
        match v.get(..2) {
            Some("2A") | Some("2B") => format!("20{}", &v[2..]),
            _ => v.to_string(),
        }
    }

    /// The key digit for 8 leading characters (for generators).
    pub fn key_for(body: &str) -> Option<char> {
        luhn_key(&Self::numeric(body))
    }

    /// The code of the structure's département (MOS `numFINESS`): its first two characters
    /// (`2A`/`2B` in Corsica); overseas, `97` and the territory digit in position 4 (`971`
    /// Guadeloupe … `975` Saint-Pierre-et-Miquelon), and `976` for Mayotte's `98`.
    pub fn departement(&self) -> String {
        match &self.0[..2] {
            "97" => format!("97{}", &self.0[3..4]),
            "98" => "976".to_string(),
            d => d.to_string(),
        }
    }
}

impl Siren {
    pub fn parse(value: &str) -> Result<Siren, IdentifierError> {
        let v: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        check_len("SIREN", &v, 9)?;
        digits_only("SIREN", &v)?;
        if !luhn_valid(&v) {
            return Err(IdentifierError::Key {
                kind: "SIREN",
                value: v,
            });
        }
        Ok(Siren(v))
    }
}

/// La Poste's SIREN: its establishments follow another key rule.
const LA_POSTE: &str = "356000000";

impl Siret {
    pub fn parse(value: &str) -> Result<Siret, IdentifierError> {
        let v: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        check_len("SIRET", &v, 14)?;
        digits_only("SIRET", &v)?;
        let valid = if v.starts_with(LA_POSTE) && v != "35600000000048" {
            v.bytes().map(|b| (b - b'0') as u32).sum::<u32>() % 5 == 0
        } else {
            luhn_valid(&v)
        };
        if !valid {
            return Err(IdentifierError::Key {
                kind: "SIRET",
                value: v,
            });
        }
        Ok(Siret(v))
    }

    pub fn siren(&self) -> &str {
        &self.0[..9]
    }
}

impl Nir {
    pub fn parse(value: &str) -> Result<Nir, IdentifierError> {
        let v: String = value
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_ascii_uppercase();
        check_len("NIR", &v, 15)?;
        let Some(number) = Self::numeric(&v[..13]) else {
            return Err(IdentifierError::Characters {
                kind: "NIR",
                allowed: "des chiffres (2A ou 2B comme département pour la Corse)",
                value: v,
            });
        };
        digits_only("NIR", &v[13..])?;
        let key: u64 = v[13..].parse().unwrap_or(100);
        if 97 - number % 97 != key {
            return Err(IdentifierError::Key { kind: "NIR", value: v });
        }
        Ok(Nir(v))
    }

    /// The first 13 characters as a number, Corsica's `2A` read as 19 and `2B` as 18.
    fn numeric(body: &str) -> Option<u64> {
        let replaced = match body.get(5..7) {
            Some("2A") => format!("{}19{}", &body[..5], &body[7..]),
            Some("2B") => format!("{}18{}", &body[..5], &body[7..]),
            _ => body.to_string(),
        };
        if !replaced.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        replaced.parse().ok()
    }

    /// The two key digits for 13 leading characters (for generators).
    pub fn key_for(body: &str) -> Option<String> {
        Self::numeric(body).map(|n| format!("{:02}", 97 - n % 97))
    }

    /// The Mon Espace Santé mailbox of the patient: `<matricule INS>@patient.mssante.fr`.
    pub fn patient_mailbox(&self) -> String {
        format!("{}@patient.mssante.fr", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_and_test_numbers() {
        for r in [
            "10000005479",
            "10106917841",
            "99700771191",
            "99700367917",
            "99700870589",
        ] {
            Rpps::parse(r).unwrap();
        }
        assert!(Rpps::parse("99700771191").unwrap().is_test());
        assert!(!Rpps::parse("10000005479").unwrap().is_test());
        // Illustrative numbers of the ANS guides that are not Luhn-valid.
        assert!(matches!(Rpps::parse("10102727017"), Err(IdentifierError::Key { .. })));
        assert!(matches!(
            Rpps::parse("1000000547"),
            Err(IdentifierError::Length { found: 10, .. })
        ));
        assert!(matches!(
            Rpps::parse("1000000547X"),
            Err(IdentifierError::Characters { .. })
        ));
        for f in ["540002698", "760021832", "750712184", "130786049", "300017985"] {
            Finess::parse(f).unwrap();
        }
        assert!(Finess::parse("540002699").is_err());
        assert_eq!(Finess::parse("760021832").unwrap().departement(), "76");
        for (body, dept) in [
            ("97020001", "972"),
            ("97040123", "974"),
            ("98000012", "976"),
            ("2B000123", "2B"),
        ] {
            let key = Finess::key_for(body).unwrap();
            assert_eq!(Finess::parse(&format!("{body}{key}")).unwrap().departement(), dept);
        }
        let corsica = format!("2A0001234{}", "");
        let key = Finess::key_for(&corsica[..8]).unwrap();
        Finess::parse(&format!("{}{key}", &corsica[..8])).unwrap();
        Siren::parse("732829320").unwrap();
        Siret::parse("73282932000074").unwrap();
        Siret::parse("35600000000048").unwrap();
        Siret::parse("35600000049837").unwrap();
        assert!(Siret::parse("73282932000075").is_err());
        for n in [
            "253072A07300443",
            "253072B07300470",
            "295109912611193",
            "279035121518989",
        ] {
            Nir::parse(n).unwrap();
        }
        assert!(matches!(
            Nir::parse("279035121518988"),
            Err(IdentifierError::Key { .. })
        ));
        assert_eq!(
            Nir::parse("279035121518989").unwrap().patient_mailbox(),
            "279035121518989@patient.mssante.fr"
        );
        assert_eq!(
            NationalId::parse("899700771191").unwrap(),
            NationalId::Rpps(Rpps::parse("99700771191").unwrap())
        );
        assert_eq!(NationalId::parse("0012800736").unwrap().to_string(), "0012800736");
        assert!(matches!(
            NationalId::parse("3760021832/1"),
            Err(IdentifierError::Prefix(_))
        ));
        assert!(
            IdentifierError::Key {
                kind: "RPPS",
                value: "1".into()
            }
            .to_string()
            .contains("clé de contrôle")
        );
    }

    #[test]
    fn non_ascii_input_is_refused_not_cut_in_a_character() {
        // Found by fuzzing: a metadata patientId with non-UTF-8 bytes made Nir::parse slice
        // inside a character.
        assert!(matches!(
            Nir::parse("162018885\u{FFFD}\u{FFFD}5327"),
            Err(IdentifierError::Characters { .. })
        ));
        assert!(matches!(
            Finess::parse("aé3456789"),
            Err(IdentifierError::Characters { .. })
        ));
        for hostile in ["1000000547é", "é00000054", "7603é0003", "73282932000é7"] {
            assert!(Rpps::parse(hostile).is_err() && Adeli::parse(hostile).is_err());
            assert!(Siren::parse(hostile).is_err() && Siret::parse(hostile).is_err());
        }
    }

    #[test]
    fn generated_keys_validate() {
        assert_eq!(luhn_key("1000000547"), Some('9'));
        assert_eq!(Nir::key_for("2790351215189").as_deref(), Some("89"));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // Luhn catches every single mistyped digit and every swap of two different adjacent
        // digits except 0↔9: the two errors a person copying a number makes.
        #[test]
        fn rpps_key_catches_typos(body in "[0-9]{10}", pos in 0usize..11, delta in 1u32..10) {
            let valid = format!("{body}{}", luhn_key(&body).unwrap());
            prop_assert!(Rpps::parse(&valid).is_ok());
            let mut typo: Vec<u8> = valid.clone().into_bytes();
            typo[pos] = b'0' + ((typo[pos] - b'0') as u32 + delta) as u8 % 10;
            prop_assert!(Rpps::parse(std::str::from_utf8(&typo).unwrap()).is_err());
        }

        #[test]
        fn swapped_digits_are_caught(body in "[0-9]{10}", pos in 0usize..10) {
            let valid = format!("{body}{}", luhn_key(&body).unwrap());
            let mut swapped = valid.clone().into_bytes();
            swapped.swap(pos, pos + 1);
            let pair = (valid.as_bytes()[pos], valid.as_bytes()[pos + 1]);
            prop_assume!(pair.0 != pair.1 && pair != (b'0', b'9') && pair != (b'9', b'0'));
            prop_assert!(Rpps::parse(std::str::from_utf8(&swapped).unwrap()).is_err());
        }

        #[test]
        fn finess_and_siret_round_trip(dept in "(0[1-9]|[1-8][0-9]|9[0-5]|2A|2B)", rest in "[0-9]{6}", siren in "[0-9]{8}", nic in "[0-9]{4}") {
            let body = format!("{dept}{rest}");
            let finess = format!("{body}{}", Finess::key_for(&body).unwrap());
            prop_assert!(Finess::parse(&finess).is_ok());
            let siren = format!("{siren}{}", luhn_key(&siren).unwrap());
            prop_assume!(!siren.starts_with(LA_POSTE));
            prop_assert!(Siren::parse(&siren).is_ok());
            let siret_body = format!("{siren}{nic}");
            let siret = format!("{siret_body}{}", luhn_key(&siret_body).unwrap());
            let parsed = Siret::parse(&siret).unwrap();
            prop_assert_eq!(parsed.siren(), siren.as_str());
        }

        #[test]
        fn nir_round_trip_and_typos(sex in "[12]", yy in "[0-9]{2}", mm in "(0[1-9]|1[0-2])", dept in "(0[1-9]|[1-9][0-9]|2A|2B)", rest in "[0-9]{6}", pos in 7usize..13, delta in 1u8..10) {
            let body = format!("{sex}{yy}{mm}{dept}{rest}");
            let nir = format!("{body}{}", Nir::key_for(&body).unwrap());
            prop_assert!(Nir::parse(&nir).is_ok());
            let mut typo = nir.clone().into_bytes();
            typo[pos] = b'0' + (typo[pos] - b'0' + delta) % 10;
            prop_assert!(Nir::parse(std::str::from_utf8(&typo).unwrap()).is_err());
        }
    }
}
