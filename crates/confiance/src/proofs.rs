//! The webmail's proof of exchange (issue 17): a sent message's traces read from the audit
//! trail, and the proof signed with the operator's server key, so that anyone holding the
//! certificate it carries can check it (`openssl dgst -sha256 -verify`).

use std::path::Path;
use std::sync::Arc;

use confiance_store::{TraceQuery, Traces};
use confiance_web::webmail::timeline::{Journal, Seal, Step};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, RsaKeyPair};

/// The operator's key, as its certificate's.
enum Key {
    Ecdsa(EcdsaKeyPair),
    Rsa(RsaKeyPair),
}

pub struct Signer {
    key: Key,
    certificate: String,
}

impl Signer {
    /// The server certificate and its private key (PKCS#8, or PKCS#1 for RSA).
    pub fn load(certificate: &Path, key: &Path) -> anyhow::Result<Signer> {
        // The same reading of the key as the TLS configuration's.
        let der = confiance_trust::tls::load_key(key)?;
        let rng = SystemRandom::new();
        let key = match &der {
            rustls::pki_types::PrivateKeyDer::Pkcs8(k) => {
                let bytes = k.secret_pkcs8_der();
                EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_ASN1_SIGNING, bytes, &rng)
                    .map(Key::Ecdsa)
                    .or_else(|_| RsaKeyPair::from_pkcs8(bytes).map(Key::Rsa))
                    .map_err(|e| anyhow::anyhow!("{} : clé inutilisable pour signer : {e}", key.display()))?
            }
            rustls::pki_types::PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der())
                .map(Key::Rsa)
                .map_err(|e| anyhow::anyhow!("{}: {e}", key.display()))?,
            _ => anyhow::bail!(
                "{} : type de clé non pris en charge pour signer les preuves",
                key.display()
            ),
        };
        let certificate = std::fs::read_to_string(certificate)?;
        // The leaf only: the first certificate of the chain.
        let end = "-----END CERTIFICATE-----";
        let leaf = certificate
            .find(end)
            .map_or(certificate.as_str(), |i| &certificate[..i + end.len()]);
        Ok(Signer {
            key,
            certificate: format!("{}\n", leaf.trim()),
        })
    }

    fn sign(&self, payload: &[u8]) -> Option<Seal> {
        let rng = SystemRandom::new();
        let (algorithm, signature) = match &self.key {
            Key::Ecdsa(k) => ("ES256", k.sign(&rng, payload).ok()?.as_ref().to_vec()),
            Key::Rsa(k) => {
                let mut out = vec![0; k.public().modulus_len()];
                k.sign(&signature::RSA_PKCS1_SHA256, &rng, payload, &mut out).ok()?;
                ("RS256", out)
            }
        };
        Some(Seal {
            algorithm,
            signature,
            certificate: self.certificate.clone(),
        })
    }
}

pub struct Proofs {
    pub traces: Arc<dyn Traces>,
    /// `None` when the key could not be read: timelines are still shown, proofs unsigned.
    pub signer: Option<Signer>,
}

/// Most traces one message's timeline reads (a message to a thousand recipients has a few
/// thousand).
const MAX_STEPS: usize = 20_000;

impl Journal for Proofs {
    fn steps(&self, message_id: &str) -> Vec<Step> {
        let query = TraceQuery {
            message_id: Some(message_id),
            since_ms: 0,
            until_ms: i64::MAX,
            bal: None,
            events: &[],
        };
        let mut out = Vec::new();
        let scanned = self.traces.scan(&query, &mut |t| {
            out.push(Step {
                at_ms: t.at_ms,
                event: t.event,
                bal: t.bal,
                peer: t.peer,
                detail: t.detail,
            });
            out.len() < MAX_STEPS
        });
        if let Err(e) = scanned {
            tracing::error!(error = %e, "timeline: audit trail unreadable");
        }
        out
    }

    fn seal(&self, payload: &[u8]) -> Option<Seal> {
        self.signer.as_ref()?.sign(payload)
    }
}
