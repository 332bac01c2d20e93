//! TLS between the MTAs of the trust space (reference spec §1.3): both ends present their
//! IGC-Santé SERV SSL certificate, both verify the other's chain against the trust anchors and
//! the CRLs (Réf. #2 ECO.1.1.5, ECO.1.1.6), and the DN of the certificate must be one the
//! whitelist lists for the domain at stake. The DN check is the caller's: it needs the domain.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, client::WebPkiServerVerifier};

use crate::dn::Dn;
use crate::revocation::{LiveClientVerifier, LiveServerVerifier, Revocation};
use crate::tls::{TlsError, load_chain, load_key, mssante_provider};

/// The certificates an MTA trusts and presents.
pub struct MtaTls {
    /// Chain (leaf first) and key presented both as server (inbound) and as client (outbound).
    pub chain: PathBuf,
    pub key: PathBuf,
    /// Trust anchors: IGC-Santé roots (Réf. #2 ECO.1.1.10: the only authorised CA).
    pub anchors: PathBuf,
    /// Certificate revocation lists in force, possibly none, kept fresh. Only the peer's own
    /// certificate is checked, and a certificate whose issuer has no CRL here passes: list the
    /// CRL of every CA that issues peers' certificates (IGC-Santé's organisations CA). A list
    /// past its nextUpdate refuses the certificates it covers.
    pub crls: Arc<Revocation>,
}

fn roots(path: &Path) -> Result<Arc<RootCertStore>, TlsError> {
    let mut store = RootCertStore::empty();
    for cert in load_chain(path)? {
        store.add(cert).map_err(|e| TlsError::Chain {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    Ok(Arc::new(store))
}

impl MtaTls {
    /// Server side of port 25. A client without a certificate still completes the handshake so
    /// that it can be told why it is refused, with an SMTP code, at MAIL FROM; a client with a
    /// certificate that does not chain to the anchors, is expired or revoked, or whose CRL is
    /// past its nextUpdate, fails the handshake.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let provider = Arc::new(mssante_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .with_client_cert_verifier(self.peer_verifier()?)
            .with_single_cert(load_chain(&self.chain)?, load_key(&self.key)?)?;
        Ok(Arc::new(config))
    }

    /// How port 25 checks a peer operator's certificate: the anchors, and the CRLs in force.
    pub fn peer_verifier(&self) -> Result<Arc<LiveClientVerifier>, TlsError> {
        let (anchors, p) = (roots(&self.anchors)?, Arc::new(mssante_provider()));
        LiveClientVerifier::new(
            self.crls.clone(),
            Box::new(move |crls| {
                WebPkiClientVerifier::builder_with_provider(anchors.clone(), p.clone())
                    .with_crls(crls)
                    .only_check_end_entity_revocation()
                    .allow_unknown_revocation_status()
                    .enforce_revocation_expiration()
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| e.to_string())
            }),
        )
        .map_err(|e| TlsError::Config(rustls::Error::General(e)))
    }

    /// Client side of relaying: our certificate, and the peer's chain verified for the MX host
    /// name against the anchors and CRLs.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let provider = Arc::new(mssante_provider());
        let (anchors, p) = (roots(&self.anchors)?, provider.clone());
        let verifier = LiveServerVerifier::new(
            self.crls.clone(),
            Box::new(move |crls| {
                WebPkiServerVerifier::builder_with_provider(anchors.clone(), p.clone())
                    .with_crls(crls)
                    .only_check_end_entity_revocation()
                    .allow_unknown_revocation_status()
                    .enforce_revocation_expiration()
                    .build()
                    .map(|v| v as Arc<dyn rustls::client::danger::ServerCertVerifier>)
                    .map_err(|e| e.to_string())
            }),
        )
        .map_err(|e| TlsError::Config(rustls::Error::General(e)))?;
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_client_auth_cert(load_chain(&self.chain)?, load_key(&self.key)?)?;
        Ok(Arc::new(config))
    }
}

/// The subject DN of a peer's end-entity certificate, for the whitelist check.
pub fn subject_dn(cert: &CertificateDer<'_>) -> Result<Dn, String> {
    let (_, parsed) =
        x509_parser::parse_x509_certificate(cert.as_ref()).map_err(|e| format!("unreadable certificate: {e}"))?;
    let mut pairs = Vec::new();
    for rdn in parsed.subject().iter_rdn() {
        for attribute in rdn.iter() {
            let value = attribute
                .as_str()
                .map_err(|e| format!("subject attribute {} unreadable: {e}", attribute.attr_type()))?;
            pairs.push((attribute.attr_type().to_id_string(), value.to_string()));
        }
    }
    Dn::from_attributes(pairs).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{TestAuthority, write_server};

    #[test]
    fn subject_dn_matches_the_whitelist_form() {
        let authority = TestAuthority::new("TEST").unwrap();
        let issued = authority
            .issue_server("OPERATEUR A", "1750000000", &["mx.a.test".into()])
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (chain, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
        write_server(&issued, &chain, &key).unwrap();
        let leaf = &load_chain(&chain).unwrap()[0];
        assert_eq!(subject_dn(leaf).unwrap(), Dn::parse(&issued.subject).unwrap());
        std::fs::write(dir.path().join("root.pem"), &authority.root_pem).unwrap();
        let tls = MtaTls {
            chain,
            key,
            anchors: dir.path().join("root.pem"),
            crls: Revocation::none(),
        };
        tls.server_config().unwrap();
        tls.client_config().unwrap();
    }
}
