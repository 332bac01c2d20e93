//! JSON Web Tokens signed with RS256 (RFC 7515/7519), the only algorithm Pro Santé Connect uses:
//! verification against a provider's JWKS (RFC 7517), and signing for the PSC sandbox.
//! Any other `alg`, `none` included, is refused.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use ring::signature::{self, RsaKeyPair};
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

#[derive(Deserialize)]
struct Header {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
}

/// The claims of a token whose signature checked out; nothing else is verified yet.
pub fn verify_signature(token: &str, keys: &Jwks) -> Result<Map<String, Value>, JwtError> {
    let mut parts = token.trim().split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed);
    };
    let header: Header = B64
        .decode(h)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JwtError::Malformed)?;
    if header.alg != "RS256" {
        return Err(JwtError::Algorithm(header.alg));
    }
    let signature = B64.decode(s).map_err(|_| JwtError::Malformed)?;
    let signed = &token.trim().as_bytes()[..h.len() + 1 + p.len()];
    let mut any = false;
    for key in keys.candidates(header.kid.as_deref()) {
        any = true;
        let (Some(n), Some(e)) = (&key.n, &key.e) else { continue };
        let (Ok(n), Ok(e)) = (B64.decode(n), B64.decode(e)) else {
            continue;
        };
        let public = signature::RsaPublicKeyComponents { n: &n, e: &e };
        if public
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, signed, &signature)
            .is_ok()
        {
            return B64
                .decode(p)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok())
                .ok_or(JwtError::Malformed);
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
    pair: RsaKeyPair,
    pub jwk: Jwk,
}

impl Signer {
    /// From a PKCS#8 DER RSA private key and the id to publish it under.
    pub fn from_pkcs8(der: &[u8], kid: &str) -> Result<Signer, String> {
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|e| e.to_string())?;
        let components: signature::RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
        let jwk = Jwk {
            kty: "RSA".into(),
            kid: Some(kid.into()),
            usage: Some("sig".into()),
            alg: Some("RS256".into()),
            n: Some(B64.encode(&components.n)),
            e: Some(B64.encode(&components.e)),
        };
        Ok(Signer { pair, jwk })
    }

    pub fn sign(&self, claims: &Value) -> String {
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "kid": self.jwk.kid});
        let mut out = format!("{}.{}", B64.encode(header.to_string()), B64.encode(claims.to_string()));
        let mut sig = vec![0u8; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                out.as_bytes(),
                &mut sig,
            )
            .expect("RSA signing with a valid key does not fail");
        out.push('.');
        out.push_str(&B64.encode(sig));
        out
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
    use rsa::pkcs8::EncodePrivateKey;
    use serde_json::json;

    pub(crate) fn signer(kid: &str) -> Signer {
        let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).unwrap();
        Signer::from_pkcs8(key.to_pkcs8_der().unwrap().as_bytes(), kid).unwrap()
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
        assert_eq!(
            verify_signature(&none, &s.jwks()),
            Err(JwtError::Algorithm("none".into()))
        );
        assert_eq!(verify_signature("abc", &s.jwks()), Err(JwtError::Malformed));
        let s2 = signer("k2");
        assert_eq!(
            verify_signature(&s2.sign(&json!({})), &s.jwks()),
            Err(JwtError::UnknownKey("k2".into()))
        );
    }
}
