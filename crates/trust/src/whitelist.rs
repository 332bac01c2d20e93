//! The ANS whitelist of the MSSanté trust space (liste blanche, reference spec §1.1): which mail
//! domains belong to the trust space, and the certificate DN of every operator MTA allowed to
//! send and receive for each. One domain has one entry per MTA, so the list is kept as
//! domain → set of DNs. Malformed entries are skipped and reported, never fatal: the real file
//! has some, and one bad line must not cut the operator off the trust space.

use std::collections::{BTreeSet, HashMap};

use quick_xml::Reader;
use quick_xml::events::Event;

use crate::dn::Dn;

/// Namespace of the ANS format.
pub const NAMESPACE: &str = "https://listeblanche.mssante.fr/schema";

#[derive(Debug, thiserror::Error)]
pub enum WhitelistError {
    #[error("la liste blanche n'est pas un XML bien formé vers l'octet {position} : {reason}")]
    Xml { position: u64, reason: String },
    #[error("l'élément racine est {0:?}, et non ListeBlancheMSSante")]
    NotAWhitelist(String),
    #[error("la liste blanche utilise l'espace de noms {0:?}, et non {NAMESPACE}")]
    Namespace(String),
    #[error("la liste blanche ne contient aucun domaine utilisable")]
    Empty,
}

/// An entry left out, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based position of the <Domaine> entry in the file.
    pub entry: usize,
    pub domain: String,
    pub reason: String,
}

#[derive(Debug, Default)]
pub struct Whitelist {
    /// `DateDeGeneration` as published.
    pub generated: Option<String>,
    /// Number of <Domaine> entries read.
    pub entries: usize,
    /// Distinct domain names as written (malformed ones included).
    pub names_seen: usize,
    /// Distinct DN strings as written.
    pub dn_strings_seen: usize,
    pub problems: Vec<Problem>,
    domains: HashMap<String, BTreeSet<Dn>>,
}

/// One line of a whitelist to publish.
pub struct WhitelistEntry {
    pub domain: String,
    pub description: String,
    pub dn: String,
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The ANS format, as `Whitelist::parse` reads it (authority mode publishes with it).
pub fn to_xml(generated: &str, entries: &[WhitelistEntry]) -> String {
    let mut xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListeBlancheMSSante xmlns=\"{NAMESPACE}\">\n    \
         <DateDeGeneration>{}</DateDeGeneration>\n    <ListeDomaines>\n",
        escape(generated)
    );
    for e in entries {
        xml.push_str(&format!(
            "        <Domaine>\n            <Nom>{}</Nom>\n            <Description>{}</Description>\n            \
             <DNCertificatOperateur>{}</DNCertificatOperateur>\n            <DateMAJ>{}</DateMAJ>\n        </Domaine>\n",
            escape(&e.domain),
            escape(&e.description),
            escape(&e.dn),
            escape(generated)
        ));
    }
    xml.push_str("    </ListeDomaines>\n</ListeBlancheMSSante>\n");
    xml
}

#[derive(Default)]
struct Entry {
    name: Option<String>,
    dn: Option<String>,
}

impl Whitelist {
    /// Parses the ANS XML (streaming; the 3.7 MB national file takes milliseconds).
    pub fn parse(xml: &[u8]) -> Result<Whitelist, WhitelistError> {
        let mut reader = Reader::from_reader(xml);
        reader.config_mut().trim_text(true);
        let mut buf = Vec::new();
        let mut list = Whitelist::default();
        let mut names = BTreeSet::new();
        let mut dn_strings = BTreeSet::new();
        let mut path: Vec<String> = Vec::new();
        let mut entry: Option<Entry> = None;
        loop {
            let event = reader.read_event_into(&mut buf).map_err(|e| WhitelistError::Xml {
                position: reader.buffer_position(),
                reason: e.to_string(),
            })?;
            match event {
                Event::Start(e) => {
                    let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                    if path.is_empty() {
                        if name != "ListeBlancheMSSante" {
                            return Err(WhitelistError::NotAWhitelist(name));
                        }
                        for attr in e.attributes().flatten() {
                            if attr.key.as_ref() == b"xmlns" {
                                let ns = String::from_utf8_lossy(&attr.value).into_owned();
                                if ns != NAMESPACE {
                                    return Err(WhitelistError::Namespace(ns));
                                }
                            }
                        }
                    }
                    if name == "Domaine" {
                        entry = Some(Entry::default());
                    }
                    path.push(name);
                }
                Event::End(_) => {
                    if path.pop().as_deref() == Some("Domaine")
                        && let Some(e) = entry.take()
                    {
                        list.entries += 1;
                        if let Some(n) = &e.name {
                            names.insert(n.clone());
                        }
                        if let Some(d) = &e.dn {
                            dn_strings.insert(d.clone());
                        }
                        list.add(e);
                    }
                }
                Event::Text(t) => {
                    let text = t
                        .unescape()
                        .map(|c| c.trim().to_string())
                        .unwrap_or_else(|_| String::from_utf8_lossy(&t).trim().to_string());
                    match (path.last().map(String::as_str), entry.as_mut()) {
                        (Some("DateDeGeneration"), _) => list.generated = Some(text),
                        (Some("Nom"), Some(e)) => e.name = Some(text),
                        (Some("DNCertificatOperateur"), Some(e)) => e.dn = Some(text),
                        _ => {}
                    }
                }
                // The published file may lack its closing root tag: what was read stands.
                Event::Eof => break,
                _ => {}
            }
            buf.clear();
        }
        list.names_seen = names.len();
        list.dn_strings_seen = dn_strings.len();
        if list.domains.is_empty() {
            return Err(WhitelistError::Empty);
        }
        Ok(list)
    }

    fn add(&mut self, e: Entry) {
        let position = self.entries;
        let name = e.name.unwrap_or_default();
        let problem = |reason: String| Problem {
            entry: position,
            domain: name.clone(),
            reason,
        };
        let domain = name.trim().trim_end_matches('.').to_lowercase();
        if !confiance_core::address::is_hostname(&domain) {
            self.problems
                .push(problem("le nom de domaine n'est pas un nom d'hôte valide".into()));
            return;
        }
        let dn = match e.dn.as_deref().map(Dn::parse) {
            Some(Ok(dn)) => dn,
            Some(Err(err)) => {
                self.problems
                    .push(problem(format!("DN de certificat inutilisable : {err}")));
                return;
            }
            None => {
                self.problems.push(problem("pas de DNCertificatOperateur".into()));
                return;
            }
        };
        self.domains.entry(domain).or_default().insert(dn);
    }

    /// Whether `domain` belongs to the trust space.
    pub fn contains(&self, domain: &str) -> bool {
        self.domains.contains_key(&domain.trim_end_matches('.').to_lowercase())
    }

    /// Whether the MTA with certificate `dn` may speak for `domain` (reference spec §1.3).
    pub fn allows(&self, domain: &str, dn: &Dn) -> bool {
        self.domains
            .get(&domain.trim_end_matches('.').to_lowercase())
            .is_some_and(|dns| dns.contains(dn))
    }

    /// Whether `dn` is the certificate of some MTA of the trust space, whatever the domain.
    pub fn lists_dn(&self, dn: &Dn) -> bool {
        self.domains.values().any(|dns| dns.contains(dn))
    }

    /// The MTA certificate DNs listed for a domain.
    pub fn dns_for(&self, domain: &str) -> impl Iterator<Item = &Dn> {
        self.domains
            .get(&domain.trim_end_matches('.').to_lowercase())
            .into_iter()
            .flatten()
    }

    /// Usable domains.
    pub fn domain_count(&self) -> usize {
        self.domains.len()
    }

    /// Distinct certificate DNs after normalisation.
    pub fn dn_count(&self) -> usize {
        self.domains.values().flatten().collect::<BTreeSet<_>>().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ListeBlancheMSSante xmlns="https://listeblanche.mssante.fr/schema">
  <DateDeGeneration>2026-11-23T10:00:00Z</DateDeGeneration>
  <ListeDomaines>
    <Domaine><Nom>Medecin.Op-A.test</Nom><DNCertificatOperateur>CN=mx1.op-a.test,OU=1,O=OP A,C=FR</DNCertificatOperateur></Domaine>
    <Domaine><Nom>medecin.op-a.test</Nom><DNCertificatOperateur>CN=mx2.op-a.test, OU=1, O=OP A, C=FR</DNCertificatOperateur></Domaine>
    <Domaine><Nom>bad@name.test</Nom><DNCertificatOperateur>CN=x,C=FR</DNCertificatOperateur></Domaine>
    <Domaine><Nom>nodn.test</Nom></Domaine>
    <Domaine><Nom>ok.test</Nom><DNCertificatOperateur>CN=a &amp; b,C=FR</DNCertificatOperateur></Domaine>
  </ListeDomaines>"#;

    #[test]
    fn parses_merges_and_reports() {
        let w = Whitelist::parse(SMALL.as_bytes()).unwrap();
        assert_eq!(w.generated.as_deref(), Some("2026-11-23T10:00:00Z"));
        assert_eq!(w.entries, 5);
        assert_eq!(w.domain_count(), 2);
        assert_eq!(w.dns_for("medecin.op-a.test").count(), 2);
        assert!(w.allows(
            "MEDECIN.op-a.test",
            &Dn::parse("cn=MX2.op-a.test,ou=1,o=op a,c=fr").unwrap()
        ));
        assert!(!w.allows(
            "medecin.op-a.test",
            &Dn::parse("CN=evil.test,OU=1,O=OP A,C=FR").unwrap()
        ));
        assert!(w.allows("ok.test", &Dn::parse("CN=a & b,C=FR").unwrap()));
        assert_eq!(w.problems.len(), 2);
        assert_eq!(w.problems[0].entry, 3);
        assert!(!w.contains("bad@name.test"));
    }

    #[test]
    fn refuses_what_is_not_a_whitelist() {
        assert!(matches!(
            Whitelist::parse(b"<html></html>"),
            Err(WhitelistError::NotAWhitelist(_))
        ));
        assert!(matches!(
            Whitelist::parse(b"<ListeBlancheMSSante xmlns=\"urn:other\"></ListeBlancheMSSante>"),
            Err(WhitelistError::Namespace(_))
        ));
        assert!(matches!(
            Whitelist::parse(format!("<ListeBlancheMSSante xmlns=\"{NAMESPACE}\"></ListeBlancheMSSante>").as_bytes()),
            Err(WhitelistError::Empty)
        ));
        assert!(Whitelist::parse(b"<ListeBlancheMSSante><a></b></ListeBlancheMSSante>").is_err());
    }
}
