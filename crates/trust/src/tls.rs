//! TLS server configuration shared by SMTP and IMAP.
//!
//! Réf. #2 ECO.1.1.3 (reference spec §2.2): MSSanté clients use TLS 1.2 with ECDHE-RSA and AES;
//! we offer exactly the AES-GCM suites of that list, and TLS 1.3. The two AES-CBC suites of the
//! list (0xC027, 0xC028) are not offered: rustls implements no CBC suite, and every client that
//! follows ECO.1.1.3 may pick a GCM one. Nothing older than TLS 1.2 is accepted.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::ring as provider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read the certificate chain {path}: {reason}")]
    Chain { path: PathBuf, reason: String },
    #[error("cannot read the private key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("invalid TLS configuration: {0}")]
    Config(#[from] rustls::Error),
}

/// The crypto provider with only the suites MSSanté allows.
pub fn mssante_provider() -> rustls::crypto::CryptoProvider {
    let suites = vec![
        provider::cipher_suite::TLS13_AES_256_GCM_SHA384,
        provider::cipher_suite::TLS13_AES_128_GCM_SHA256,
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, // 0xC030
        provider::cipher_suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, // 0xC02F
    ];
    rustls::crypto::CryptoProvider {
        cipher_suites: suites,
        ..provider::default_provider()
    }
}

pub fn load_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |reason: String| TlsError::Chain {
        path: path.to_path_buf(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if chain.is_empty() {
        return Err(err("no certificate in the file".into()));
    }
    Ok(chain)
}

pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError::Key {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Server configuration for the client-facing ports (submission, IMAP).
pub fn server_config(chain: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(mssante_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_single_cert(load_chain(chain)?, load_key(key)?)?;
    Ok(Arc::new(config))
}

/// A throw-away configuration with a self-signed certificate, for what never shows it to a
/// peer: the in-process dialogue tests hand it to a session that speaks no TLS.
pub fn self_signed(hostname: &str) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let key = rcgen::generate_simple_self_signed(vec![hostname.to_string()]).map_err(|e| TlsError::Key {
        path: PathBuf::new(),
        reason: e.to_string(),
    })?;
    let der = PrivateKeyDer::Pkcs8(key.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(mssante_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(vec![key.cert.der().clone()], der)?;
    Ok(Arc::new(config))
}

/// The client-facing configuration that also asks for a client certificate, without requiring
/// one: a professional's card (CPS) or a structure's application certificate chaining to one
/// of `client_cas` proves who the client is (web login, SASL EXTERNAL); anything else, or a
/// certificate revoked by one of `crls`, fails the handshake; no certificate is fine.
pub fn server_config_with_cards(
    chain: &Path,
    key: &Path,
    client_cas: &[std::path::PathBuf],
    crls: Arc<crate::revocation::Revocation>,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = Arc::new(mssante_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in client_cas {
        for cert in load_chain(ca)? {
            roots.add(cert).map_err(|e| TlsError::Chain {
                path: ca.clone(),
                reason: e.to_string(),
            })?;
        }
    }
    // A verifier that cannot be built is reported against the first CA file.
    let named = client_cas.first().map(|p| p.as_path()).unwrap_or(chain);
    let (roots, p) = (Arc::new(roots), provider.clone());
    let verifier = crate::revocation::LiveClientVerifier::new(
        crls,
        Box::new(move |crls| {
            rustls::server::WebPkiClientVerifier::builder_with_provider(roots.clone(), p.clone())
                .with_crls(crls)
                .enforce_revocation_expiration()
                .allow_unauthenticated()
                .build()
                .map_err(|e| e.to_string())
        }),
    )
    .map_err(|reason| TlsError::Chain {
        path: named.to_path_buf(),
        reason,
    })?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(load_chain(chain)?, load_key(key)?)?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DevPki;

    #[test]
    fn dev_pki_loads_into_a_server_config() {
        let dir = tempfile::tempdir().unwrap();
        let pki = DevPki::create(dir.path(), "CONFIANCE DEV", &["mail.confiance.test".into()]).unwrap();
        let config = server_config(&pki.server_chain, &pki.server_key).unwrap();
        assert_eq!(load_chain(&pki.server_chain).unwrap().len(), 2);
        assert!(config.alpn_protocols.is_empty());
        let missing = server_config(&dir.path().join("nope.pem"), &pki.server_key);
        assert!(matches!(missing, Err(TlsError::Chain { .. })));
    }
}
