//! Distinguished names as the ANS whitelist writes them (`CN=…,OU=…,O=…,ST=…,C=FR`), compared
//! attribute by attribute after normalisation (reference spec §1.1: the real list mixes `,` and
//! `, ` separators, quotes values, doubles spaces and uses no-break spaces).

use std::fmt;

/// The (attribute type, value) pairs of a DN, as a sorted set, normalised for comparison: types in upper
/// case (`EMAILADDRESS` as `E`), values unquoted, white space (no-break space included) collapsed,
/// case folded as caseIgnoreMatch does (RFC 4517 §4.2.11).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Dn(Vec<(String, String)>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnError {
    #[error("DN vide")]
    Empty,
    #[error("l'attribut {0:?} n'a pas de « = »")]
    NoEquals(String),
    #[error("valeur entre guillemets non terminée")]
    Unterminated,
}

fn normalise_type(t: &str) -> String {
    let t = t.trim().to_ascii_uppercase();
    match t.as_str() {
        "EMAILADDRESS" | "EMAIL" | "1.2.840.113549.1.9.1" => "E".into(),
        "2.5.4.3" => "CN".into(),
        "2.5.4.11" => "OU".into(),
        "2.5.4.10" => "O".into(),
        "2.5.4.8" | "S" => "ST".into(),
        "2.5.4.7" => "L".into(),
        "2.5.4.6" => "C".into(),
        _ => t,
    }
}

fn normalise_value(v: &str) -> String {
    v.split(|c: char| c.is_whitespace() || c == '\u{a0}')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

impl Dn {
    /// Parses the string form (RFC 4514, leniently: `,` or `;` separators, spaces around them,
    /// values quoted or with `\` escapes).
    pub fn parse(input: &str) -> Result<Dn, DnError> {
        let mut parts = Vec::new();
        let mut current = String::new();
        let mut quoted = false;
        let mut chars = input.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(next) = chars.next() {
                        current.push(next);
                    }
                }
                '"' => quoted = !quoted,
                ',' | ';' if !quoted => parts.push(std::mem::take(&mut current)),
                c => current.push(c),
            }
        }
        if quoted {
            return Err(DnError::Unterminated);
        }
        parts.push(current);
        let mut attributes = Vec::new();
        for part in parts {
            if part.trim().is_empty() {
                continue;
            }
            let (t, v) = part
                .split_once('=')
                .ok_or_else(|| DnError::NoEquals(part.trim().to_string()))?;
            attributes.push((normalise_type(t), normalise_value(v)));
        }
        if attributes.is_empty() {
            return Err(DnError::Empty);
        }
        // The whitelist writes CN first (RFC 4514 order), certificate tools often C first: the
        // attributes are compared as a set.
        attributes.sort();
        Ok(Dn(attributes))
    }

    /// A DN from (type, value) pairs, as a certificate's subject holds them; types may be
    /// short names or dotted OIDs.
    pub fn from_attributes<I: IntoIterator<Item = (String, String)>>(pairs: I) -> Result<Dn, DnError> {
        let mut attributes: Vec<(String, String)> = pairs
            .into_iter()
            .map(|(t, v)| (normalise_type(&t), normalise_value(&v)))
            .collect();
        if attributes.is_empty() {
            return Err(DnError::Empty);
        }
        attributes.sort();
        Ok(Dn(attributes))
    }

    /// The value of the first attribute of a type (`CN`, `O`…).
    pub fn get(&self, attribute: &str) -> Option<&str> {
        let t = normalise_type(attribute);
        self.0.iter().find(|(k, _)| *k == t).map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for Dn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        f.write_str(&parts.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_after_normalisation() {
        let a = Dn::parse("CN=mailin.interop-mssante.apicrypt.org, OU=343975235300037, O=APICEM, ST=Nord (59), C=FR");
        let b = Dn::parse("cn=MAILIN.interop-mssante.apicrypt.org,ou=343975235300037,o=Apicem,st=Nord  (59),c=FR");
        assert_eq!(a, b);
        let q = Dn::parse("CN=mss.ch-cadillac.fr,OU=1330781295,O=\"C.H. DE  CADILLAC\",ST=Gironde (33),C=FR").unwrap();
        assert_eq!(q.get("O"), Some("c.h. de cadillac"));
        let nbsp = Dn::parse("O=\"HOPITAL LA\u{a0} MUSSE\",C=FR").unwrap();
        assert_eq!(nbsp.get("o"), Some("hopital la musse"));
        let comma = Dn::parse("O=\"A, B\",C=FR").unwrap();
        assert_eq!(comma.get("O"), Some("a, b"));
        assert_ne!(Dn::parse("CN=a,C=FR"), Dn::parse("CN=b,C=FR"));
        assert_eq!(
            Dn::parse("C=FR, O=OP, CN=mx.op.test"),
            Dn::parse("CN=mx.op.test,O=OP,C=FR")
        );
        assert_eq!(Dn::parse(""), Err(DnError::Empty));
        assert!(matches!(Dn::parse("CN=a,garbage"), Err(DnError::NoEquals(_))));
        assert_eq!(Dn::parse("O=\"open"), Err(DnError::Unterminated));
    }
}
