//! Authority mode: stands up a whole trust space for tests or for a region — one test
//! authority shaped like IGC-Santé, a SERV SSL certificate for each operator's MTAs, and the
//! whitelist that binds every operator domain to its MTAs' DNs (the ANS format, so operators
//! read it exactly as they read the national one).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::pki::{PkiError, TestAuthority, write_server};
use crate::whitelist::{self, WhitelistEntry};

/// A trust space to create, as `confiance authority create --spec` reads it (TOML).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrustSpaceSpec {
    /// Name of the authority, in its certificates' O=.
    pub name: String,
    #[serde(rename = "operator")]
    pub operators: Vec<OperatorSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorSpec {
    /// Organisation name (O=).
    pub name: String,
    /// Structure identifier (OU=), as IGC-Santé writes it: `1` + FINESS or `3` + SIRET.
    pub structure_id: String,
    /// Host names of the operator's MTAs: one certificate each.
    pub hosts: Vec<String>,
    /// Mail domains the operator hosts.
    pub domains: Vec<String>,
    /// Whether the whitelist lists the operator (default). `false` issues its certificates
    /// only: an operator being admitted, or one the tests expect to be refused.
    #[serde(default = "listed_by_default")]
    pub listed: bool,
    /// Revoke the operator's certificates in the authority's CRL (`ca/crl.pem`).
    #[serde(default)]
    pub revoked: bool,
}

fn listed_by_default() -> bool {
    true
}

/// Where the files of one MTA are.
#[derive(Debug)]
pub struct MtaFiles {
    pub operator: String,
    pub host: String,
    pub chain: PathBuf,
    pub key: PathBuf,
    pub subject: String,
}

#[derive(Debug)]
pub struct TrustSpace {
    pub root_cert: PathBuf,
    pub whitelist: PathBuf,
    pub mtas: Vec<MtaFiles>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthorityError {
    #[error("invalid trust space: {0}")]
    Spec(String),
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

impl TrustSpaceSpec {
    fn check(&self) -> Result<(), AuthorityError> {
        if self.operators.is_empty() {
            return Err(AuthorityError::Spec("no operator".into()));
        }
        let mut domains = std::collections::BTreeSet::new();
        for op in &self.operators {
            if op.hosts.is_empty() || op.domains.is_empty() {
                return Err(AuthorityError::Spec(format!(
                    "operator {:?} needs hosts and domains",
                    op.name
                )));
            }
            for name in op.hosts.iter().chain(&op.domains) {
                if !confiance_core::address::is_hostname(&name.to_lowercase()) {
                    return Err(AuthorityError::Spec(format!("{name:?} is not a host name")));
                }
            }
            for d in &op.domains {
                if !domains.insert(d.to_lowercase()) {
                    return Err(AuthorityError::Spec(format!("domain {d} is given to two operators")));
                }
            }
        }
        Ok(())
    }
}

/// Creates the trust space under `dir`: `ca/`, `operators/<host>/server.{pem,key}` and
/// `listeblanchemssante.xml`.
pub fn create(dir: &Path, spec: &TrustSpaceSpec, generated: &str) -> Result<TrustSpace, AuthorityError> {
    spec.check()?;
    let authority = TestAuthority::new(&spec.name)?;
    authority.write_ca(dir)?;
    let mut mtas = Vec::new();
    let mut entries = Vec::new();
    let mut revoked = Vec::new();
    for op in &spec.operators {
        for host in &op.hosts {
            let issued = authority.issue_server(&op.name, &op.structure_id, std::slice::from_ref(host))?;
            let folder = dir.join("operators").join(host);
            let (chain, key) = (folder.join("server.pem"), folder.join("server.key"));
            write_server(&issued, &chain, &key)?;
            if op.revoked {
                revoked.push(issued.serial.clone());
            }
            for domain in op.domains.iter().filter(|_| op.listed) {
                entries.push(WhitelistEntry {
                    domain: domain.to_lowercase(),
                    description: op.name.clone(),
                    dn: issued.subject.clone(),
                });
            }
            mtas.push(MtaFiles {
                operator: op.name.clone(),
                host: host.clone(),
                chain,
                key,
                subject: issued.subject,
            });
        }
    }
    // Always published, possibly empty: operators configure it once ([trust] crls).
    let crl = dir.join("ca/crl.pem");
    std::fs::write(&crl, authority.crl(&revoked)?).map_err(|source| AuthorityError::Io {
        path: crl.clone(),
        source,
    })?;
    let path = dir.join("listeblanchemssante.xml");
    std::fs::write(&path, whitelist::to_xml(generated, &entries)).map_err(|source| AuthorityError::Io {
        path: path.clone(),
        source,
    })?;
    Ok(TrustSpace {
        root_cert: dir.join("ca/root.pem"),
        whitelist: path,
        mtas,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Whitelist;
    use crate::dn::Dn;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime, pem::PemObject};

    fn spec() -> TrustSpaceSpec {
        toml::from_str(
            r#"
            name = "ESPACE DE TEST"
            [[operator]]
            name = "OPERATEUR A"
            structure_id = "1750000001"
            hosts = ["mx1.op-a.test", "mx2.op-a.test"]
            domains = ["medecin.op-a.test", "pro.op-a.test"]
            [[operator]]
            name = "OPERATEUR B & FILS"
            structure_id = "33200000000001"
            hosts = ["mx.op-b.test"]
            domains = ["op-b.test"]
            "#,
        )
        .unwrap()
    }

    #[test]
    fn a_trust_space_whose_whitelist_and_chains_agree() {
        let dir = tempfile::tempdir().unwrap();
        let space = create(dir.path(), &spec(), "2026-11-23T00:00:00Z").unwrap();
        let w = Whitelist::parse(&std::fs::read(&space.whitelist).unwrap()).unwrap();
        assert_eq!(w.entries, 5);
        assert_eq!(w.domain_count(), 3);
        assert!(w.problems.is_empty(), "{:?}", w.problems);
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(&space.root_cert).unwrap())
            .unwrap();
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            std::sync::Arc::new(roots),
            std::sync::Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .unwrap();
        for mta in &space.mtas {
            let dn = Dn::parse(&mta.subject).unwrap();
            let op_domains: Vec<&str> = match mta.operator.as_str() {
                "OPERATEUR A" => vec!["medecin.op-a.test", "pro.op-a.test"],
                _ => vec!["op-b.test"],
            };
            for d in ["medecin.op-a.test", "pro.op-a.test", "op-b.test"] {
                assert_eq!(w.allows(d, &dn), op_domains.contains(&d), "{} for {d}", mta.subject);
            }
            // The chain verifies against the authority's root for the MTA's host name.
            let chain: Vec<CertificateDer> = CertificateDer::pem_file_iter(&mta.chain)
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let name = ServerName::try_from(mta.host.clone()).unwrap();
            verifier
                .verify_server_cert(&chain[0], &chain[1..], &name, &[], UnixTime::now())
                .unwrap();
            assert!(crate::tls::server_config(&mta.chain, &mta.key).is_ok());
        }
    }

    #[test]
    fn refuses_inconsistent_specs() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = spec();
        s.operators[1].domains.push("pro.op-a.test".into());
        assert!(matches!(create(dir.path(), &s, "x"), Err(AuthorityError::Spec(_))));
        let mut s = spec();
        s.operators[0].hosts = vec!["not a host".into()];
        assert!(matches!(create(dir.path(), &s, "x"), Err(AuthorityError::Spec(_))));
    }
}
