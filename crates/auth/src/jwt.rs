//! JSON Web Tokens signed with RS256 (RFC 7515/7519), the only algorithm Pro Santé Connect uses:
//! verification against a provider's JWKS (RFC 7517), and signing for the PSC sandbox.
//! Any other `alg`, `none` included, is refused.
//!
//! The token format and the RSA signature are the `jsonwebtoken` crate's (on `ring`); what is
//! ours is the policy PSC needs: the key chosen by `kid` among the provider's (so a rotation
//! can be told from a forgery, see `psc.rs`), and the claims rule of `check_claims`, where the
//! `azp` claim stands for the audience as PSC issues its tokens.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum JwtError {
    #[error("the token is not a signed JWT (three base64url parts)")]
    Malformed,
    #[error("the token is signed with {0:?}; only RS256 is accepted")]
    Algorithm(String),
    #[error("no key of the provider has id {0:?}")]
    UnknownKey(String),
    #[error("the token's signature is wrong")]
    Signature,
    #[error("the token was issued by {0:?}, not by the configured provider")]
    Issuer(String),
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is not meant for this operator (audience)")]
    Audience,
}

/// One RSA public key of a JWKS.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Jwk {
    pub kty: String,
    #[serde(default)]
    pub kid: Option<String>,
    #[serde(default, rename = "use")]
    pub usage: Option<String>,
    #[serde(default)]
    pub alg: Option<String>,
    #[serde(default)]
    pub n: Option<String>,
    #[serde(default)]
    pub e: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Jwks {
    fn candidates<'a>(&'a self, kid: Option<&'a str>) -> impl Iterator<Item = &'a Jwk> + 'a {
        self.keys.iter().filter(move |k| {
            k.kty == "RSA"
                && k.usage.as_deref().is_none_or(|u| u == "sig")
                && (kid.is_none() || k.kid.as_deref() == kid)
        })
    }
}

/// The claims of a token whose signature checked out; nothing else is verified yet.
pub fn verify_signature(token: &str, keys: &Jwks) -> Result<Map<String, Value>, JwtError> {
    let token = token.trim();
    // An `alg` the crate does not know (`none`) fails here, as a malformed token.
    let header = jsonwebtoken::decode_header(token).map_err(|_| JwtError::Malformed)?;
    if header.alg != Algorithm::RS256 {
        return Err(JwtError::Algorithm(format!("{:?}", header.alg)));
    }
    // The signature only: the claims are `check_claims`'s.
    let mut signature_only = Validation::new(Algorithm::RS256);
    signature_only.required_spec_claims.clear();
    signature_only.validate_exp = false;
    signature_only.validate_nbf = false;
    signature_only.validate_aud = false;
    let mut any = false;
    for key in keys.candidates(header.kid.as_deref()) {
        any = true;
        let (Some(n), Some(e)) = (&key.n, &key.e) else { continue };
        let Ok(public) = DecodingKey::from_rsa_components(n, e) else {
            continue;
        };
        match jsonwebtoken::decode::<Map<String, Value>>(token, &public, &signature_only) {
            Ok(data) => return Ok(data.claims),
            Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => continue,
            Err(_) => return Err(JwtError::Malformed),
        }
    }
    match (any, header.kid) {
        (false, Some(kid)) => Err(JwtError::UnknownKey(kid)),
        _ => Err(JwtError::Signature),
    }
}

/// Clock skew tolerated between us and the provider (seconds).
pub const LEEWAY: i64 = 60;

/// Checks `iss`, `exp`, `nbf` and, when `audience` is given, that `aud` (string or array) or
/// `azp` names it.
pub fn check_claims(
    claims: &Map<String, Value>,
    issuer: &str,
    audience: Option<&str>,
    now: i64,
) -> Result<(), JwtError> {
    let iss = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
    if iss != issuer {
        return Err(JwtError::Issuer(iss.to_string()));
    }
    match claims.get("exp").and_then(Value::as_i64) {
        Some(exp) if exp + LEEWAY > now => {}
        _ => return Err(JwtError::Expired),
    }
    if claims
        .get("nbf")
        .and_then(Value::as_i64)
        .is_some_and(|nbf| nbf - LEEWAY > now)
    {
        return Err(JwtError::NotYetValid);
    }
    if let Some(wanted) = audience {
        let in_aud = match claims.get("aud") {
            Some(Value::String(a)) => a == wanted,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(wanted)),
            _ => false,
        };
        let azp = claims.get("azp").and_then(Value::as_str) == Some(wanted);
        if !in_aud && !azp {
            return Err(JwtError::Audience);
        }
    }
    Ok(())
}

/// An RSA key that signs tokens (the PSC sandbox's), with its public JWK.
pub struct Signer {
    key: EncodingKey,
    pub jwk: Jwk,
}

impl Signer {
    /// From a PKCS#1 DER RSA private key and the id to publish it under.
    pub fn from_rsa_der(der: &[u8], kid: &str) -> Result<Signer, String> {
        use base64::Engine;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
        use ring::signature::{KeyPair, RsaKeyPair, RsaPublicKeyComponents};
        let pair = RsaKeyPair::from_der(der).map_err(|e| e.to_string())?;
        let public: RsaPublicKeyComponents<Vec<u8>> = pair.public_key().into();
        let jwk = Jwk {
            kty: "RSA".into(),
            kid: Some(kid.into()),
            usage: Some("sig".into()),
            alg: Some("RS256".into()),
            n: Some(B64.encode(&public.n)),
            e: Some(B64.encode(&public.e)),
        };
        Ok(Signer {
            key: EncodingKey::from_rsa_der(der),
            jwk,
        })
    }

    pub fn sign(&self, claims: &Value) -> String {
        let mut header = jsonwebtoken::Header::new(Algorithm::RS256);
        header.kid = self.jwk.kid.clone();
        jsonwebtoken::encode(&header, claims, &self.key).expect("RSA signing with a key that parsed does not fail")
    }

    pub fn jwks(&self) -> Jwks {
        Jwks {
            keys: vec![self.jwk.clone()],
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use rsa::pkcs1::EncodeRsaPrivateKey;
    use serde_json::json;

    pub(crate) fn signer(kid: &str) -> Signer {
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        Signer::from_rsa_der(key.to_pkcs1_der().unwrap().as_bytes(), kid).unwrap()
    }

    #[test]
    fn sign_verify_and_claims() {
        let s = signer("k1");
        let token = s.sign(&json!({"iss": "https://psc", "exp": 2000, "aud": ["a", "b"], "sub": "x"}));
        let claims = verify_signature(&token, &s.jwks()).unwrap();
        assert_eq!(claims["sub"], "x");
        assert_eq!(check_claims(&claims, "https://psc", Some("b"), 1000), Ok(()));
        assert_eq!(
            check_claims(&claims, "https://psc", Some("c"), 1000),
            Err(JwtError::Audience)
        );
        assert_eq!(
            check_claims(&claims, "https://other", None, 1000),
            Err(JwtError::Issuer("https://psc".into()))
        );
        assert_eq!(
            check_claims(&claims, "https://psc", None, 2000 + LEEWAY),
            Err(JwtError::Expired)
        );

        // Another key, a changed payload, alg none, and garbage are all refused.
        let other = signer("k1");
        assert_eq!(verify_signature(&token, &other.jwks()), Err(JwtError::Signature));
        let parts: Vec<&str> = token.split('.').collect();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            B64.encode(r#"{"iss":"https://psc","exp":9999999999}"#),
            parts[2]
        );
        assert_eq!(verify_signature(&forged, &s.jwks()), Err(JwtError::Signature));
        let none = format!("{}.{}.", B64.encode(r#"{"alg":"none"}"#), parts[1]);
        assert_eq!(verify_signature(&none, &s.jwks()), Err(JwtError::Malformed));
        // HS256 keyed with the provider's public key (the algorithm confusion) is refused.
        let hs = format!("{}.{}.{}", B64.encode(r#"{"alg":"HS256"}"#), parts[1], parts[2]);
        assert_eq!(
            verify_signature(&hs, &s.jwks()),
            Err(JwtError::Algorithm("HS256".into()))
        );
        assert_eq!(verify_signature("abc", &s.jwks()), Err(JwtError::Malformed));
        let s2 = signer("k2");
        assert_eq!(
            verify_signature(&s2.sign(&json!({})), &s.jwks()),
            Err(JwtError::UnknownKey("k2".into()))
        );
    }
}
