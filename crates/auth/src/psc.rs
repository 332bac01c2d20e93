//! Pro Santé Connect relying party (OpenID Connect authorization code flow with PKCE), and the
//! validation of PSC access tokens presented by mail clients (SASL XOAUTH2/OAUTHBEARER).
//!
//! The same code talks to the real PSC (`auth.esw.esante.gouv.fr`), to its BAS sandbox, to our
//! own development sandbox and to any certified provider configured with PSC's claims.
//! Facts from the PSC documentation: scope `openid scope_all`, `acr_values=eidas1`, the
//! national id in `SubjectNameID` (or `preferred_username`), the professions in `SubjectRefPro`,
//! access tokens valid 2 minutes, never stored (SC.MSS/CONF.28).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::sync::{Mutex, OnceCell};

use crate::jwt::{self, Jwks, JwtError};
use crate::now;
use crate::otp::random_bytes;

#[derive(Debug, thiserror::Error)]
pub enum PscError {
    #[error("Pro Santé Connect cannot be reached: {0}")]
    Unreachable(String),
    #[error("Pro Santé Connect answered something unexpected: {0}")]
    Protocol(String),
    #[error("the login was refused by Pro Santé Connect: {0}")]
    Denied(String),
    #[error("the login request does not match this session (state)")]
    State,
    #[error("the identity token is not valid: {0}")]
    Token(#[from] JwtError),
    #[error("the identity carries no national identifier (SubjectNameID)")]
    NoNationalId,
    #[error("the access token is not active")]
    Inactive,
    #[error("the login's level of assurance is {0:?}, not the one required")]
    Assurance(String),
    #[error("this is not an access token (an ID token?)")]
    NotAnAccessToken,
    #[error("the access token was issued to an application this operator does not accept")]
    ForeignClient,
}

/// How access tokens from mail clients are checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenCheck {
    /// Signature against the provider's JWKS, `iss` and `exp` (JWT access tokens, as PSC's).
    Jwks,
    /// RFC 7662 introspection with our client credentials (opaque tokens too).
    Introspection,
}

#[derive(Clone, Debug)]
pub struct PscSettings {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Our callback, registered with the provider.
    pub redirect_uri: String,
    pub scope: String,
    pub acr_values: Option<String>,
    /// The level of assurance the ID token's `acr` must state (PSC: `eidas1`, a CPS or e-CPS
    /// login); `None` accepts any.
    pub required_acr: Option<String>,
    pub token_check: TokenCheck,
    /// The clients whose access tokens open mailboxes here (our own, and the practice
    /// software registered with PSC): the token's `azp`, `client_id` or `aud` must name one.
    /// A token issued to any other application is refused.
    pub accepted_clients: Vec<String>,
    /// Certificates (DER) trusted for the provider's TLS besides the public web roots.
    pub extra_roots: Vec<Vec<u8>>,
}

#[derive(Clone, Debug, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
    #[serde(default)]
    introspection_endpoint: Option<String>,
}

/// What the session keeps between the redirect to PSC and the callback.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingLogin {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
}

/// The professional PSC vouched for.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct PscIdentity {
    /// IdNat_PS: `8` + RPPS or `0` + ADELI.
    pub national_id: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    /// TRE_G15 code of the first exercise (`10` médecin…).
    pub profession: Option<String>,
    /// The level of assurance PSC reports (`eidas1`).
    pub acr: Option<String>,
    /// Where they practise: the first activity of the first exercise (situation d'exercice).
    #[serde(default)]
    pub practice: Option<Practice>,
}

/// A situation d'exercice from `SubjectRefPro.exercices[].activities[]`, as the directory lists
/// a professional's own BAL: the site's name and its postal place.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Practice {
    /// `raisonSocialeSite`, else `enseigneCommercialeSite`.
    pub organisation: Option<String>,
    pub postcode: Option<String>,
    /// `bureauCedex`: the ligne d'acheminement (`75015 PARIS`).
    pub locality: Option<String>,
    pub departement: Option<String>,
}

impl Practice {
    fn from_activity(activity: &Value) -> Option<Practice> {
        let field = |k: &str| {
            activity
                .get(k)
                .and_then(Value::as_str)
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty() && s.len() <= 200)
        };
        let postcode = field("codePostal").filter(|p| p.len() == 5 && p.bytes().all(|b| b.is_ascii_digit()));
        // The département of a postcode: overseas (97x) keep three digits, Corsica (20) is
        // told by its number (2A below 20200, 2B from it).
        let departement = field("codeDepartement").or_else(|| {
            postcode.as_deref().map(|p| match &p[..2] {
                "97" => p[..3].to_string(),
                "20" if p < "20200" => "2A".into(),
                "20" => "2B".into(),
                d => d.to_string(),
            })
        });
        let practice = Practice {
            organisation: field("raisonSocialeSite").or_else(|| field("enseigneCommercialeSite")),
            postcode,
            locality: field("bureauCedex"),
            departement,
        };
        (practice != Practice::default()).then_some(practice)
    }
}

/// Reads PSC's claims (from the ID token, userinfo or introspection).
pub fn identity_from_claims(claims: &Map<String, Value>) -> Result<PscIdentity, PscError> {
    let text = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .map(str::to_string)
            .filter(|s| !s.is_empty())
    };
    // Only PSC's own claim: a provider's `preferred_username` may be chosen by its user.
    let national_id = text("SubjectNameID").ok_or(PscError::NoNationalId)?;
    if !national_id.bytes().all(|b| b.is_ascii_alphanumeric()) || national_id.len() > 20 {
        return Err(PscError::NoNationalId);
    }
    let exercise = claims
        .get("SubjectRefPro")
        .and_then(|r| r.get("exercices"))
        .and_then(Value::as_array)
        .and_then(|list| list.first());
    let from_exercise = |k: &str| {
        exercise
            .and_then(|e| e.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    Ok(PscIdentity {
        national_id,
        given_name: text("given_name").or_else(|| from_exercise("prenomDExercice")),
        family_name: text("family_name").or_else(|| from_exercise("nomDExercice")),
        profession: from_exercise("codeProfession"),
        acr: text("acr"),
        practice: exercise
            .and_then(|e| e.get("activities"))
            .and_then(Value::as_array)
            .and_then(|list| list.first())
            .and_then(Practice::from_activity),
    })
}

/// A relying party of one provider. Discovery runs at first use, so the operator starts even
/// when PSC is away, and keys are fetched again when a token names an unknown one.
pub struct Psc {
    pub settings: PscSettings,
    http: reqwest::Client,
    discovery: OnceCell<Discovery>,
    jwks: Mutex<Option<(Jwks, std::time::Instant)>>,
}

/// An error with its causes (`error sending request: … : certificate not valid`), so the
/// admin sees why, not only that, the provider could not be reached.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn random_token() -> String {
    B64.encode(random_bytes::<32>())
}

impl Psc {
    pub fn new(settings: PscSettings) -> Result<Arc<Psc>, PscError> {
        let http = crate::http::client(&settings.extra_roots).map_err(PscError::Protocol)?;
        Ok(Arc::new(Psc {
            settings,
            http,
            discovery: OnceCell::new(),
            jwks: Mutex::new(None),
        }))
    }

    async fn discovery(&self) -> Result<&Discovery, PscError> {
        self.discovery
            .get_or_try_init(|| async {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    self.settings.issuer.trim_end_matches('/')
                );
                let d: Discovery = self.get_json(&url).await?;
                // OpenID Connect Discovery §4.3: the issuer must be exactly the one configured.
                if d.issuer != self.settings.issuer {
                    return Err(PscError::Protocol(format!("discovery names issuer {:?}", d.issuer)));
                }
                Ok(d)
            })
            .await
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, PscError> {
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| PscError::Unreachable(chain(&e)))?;
        if !resp.status().is_success() {
            return Err(PscError::Protocol(format!("{url}: HTTP {}", resp.status())));
        }
        resp.json().await.map_err(|e| PscError::Protocol(format!("{url}: {e}")))
    }

    async fn keys(&self, refresh: bool) -> Result<Jwks, PscError> {
        let mut cached = self.jwks.lock().await;
        // A refresh at most every 10 s, so forged `kid`s cannot make us hammer the provider.
        let fresh = cached
            .as_ref()
            .is_some_and(|(_, at)| !refresh || at.elapsed() < Duration::from_secs(10));
        if !fresh {
            let url = self.discovery().await?.jwks_uri.clone();
            *cached = Some((self.get_json(&url).await?, std::time::Instant::now()));
        }
        Ok(cached.as_ref().map(|(k, _)| k.clone()).unwrap_or_default())
    }

    /// A signed token's claims, fetching the keys again once if the signing key is new.
    async fn verified(&self, token: &str) -> Result<Map<String, Value>, PscError> {
        match jwt::verify_signature(token, &self.keys(false).await?) {
            Err(JwtError::UnknownKey(_) | JwtError::Signature) => {
                Ok(jwt::verify_signature(token, &self.keys(true).await?)?)
            }
            other => Ok(other?),
        }
    }

    /// Where to send the browser, and what to keep until it comes back.
    pub async fn authorization_request(&self) -> Result<(String, PendingLogin), PscError> {
        let d = self.discovery().await?;
        let pending = PendingLogin {
            state: random_token(),
            nonce: random_token(),
            verifier: random_token(),
        };
        let challenge = B64.encode(Sha256::digest(pending.verifier.as_bytes()));
        let s = &self.settings;
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &s.client_id)
            .append_pair("redirect_uri", &s.redirect_uri)
            .append_pair("scope", &s.scope)
            .append_pair("state", &pending.state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        if let Some(acr) = &s.acr_values {
            query.append_pair("acr_values", acr);
        }
        let sep = if d.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok((format!("{}{sep}{}", d.authorization_endpoint, query.finish()), pending))
    }

    /// The callback: checks `state`, redeems the code, verifies the ID token and reads the
    /// identity (userinfo when the provider has one).
    pub async fn complete(&self, pending: &PendingLogin, query: &[(String, String)]) -> Result<PscIdentity, PscError> {
        let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        if get("state") != Some(pending.state.as_str()) {
            return Err(PscError::State);
        }
        if let Some(error) = get("error") {
            return Err(PscError::Denied(get("error_description").unwrap_or(error).to_string()));
        }
        let code = get("code").ok_or_else(|| PscError::Protocol("the callback has no code".into()))?;
        let d = self.discovery().await?;
        let s = &self.settings;
        let resp = self
            .http
            .post(&d.token_endpoint)
            .basic_auth(&s.client_id, Some(&s.client_secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &s.redirect_uri),
                ("code_verifier", &pending.verifier),
            ])
            .send()
            .await
            .map_err(|e| PscError::Unreachable(chain(&e)))?;
        let status = resp.status();
        let body: Value = resp.json().await.map_err(|e| PscError::Protocol(e.to_string()))?;
        if !status.is_success() {
            let why = body
                .get("error_description")
                .or(body.get("error"))
                .and_then(Value::as_str)
                .unwrap_or("");
            return Err(PscError::Denied(format!("token endpoint: HTTP {status} {why}")));
        }
        let id_token = body
            .get("id_token")
            .and_then(Value::as_str)
            .ok_or_else(|| PscError::Protocol("no id_token".into()))?;
        let claims = self.verified(id_token).await?;
        jwt::check_claims(&claims, &s.issuer, Some(&s.client_id), now())?;
        if claims.get("nonce").and_then(Value::as_str) != Some(pending.nonce.as_str()) {
            return Err(PscError::State);
        }
        let acr = claims.get("acr").and_then(Value::as_str);
        if let Some(required) = &s.required_acr
            && acr != Some(required.as_str())
        {
            return Err(PscError::Assurance(acr.unwrap_or("").to_string()));
        }
        let mut identity = identity_from_claims(&claims);
        if let (Some(url), Some(access)) = (&d.userinfo_endpoint, body.get("access_token").and_then(Value::as_str)) {
            let info = self.userinfo(url, access).await?;
            // OpenID Connect Core §5.3.2: userinfo must be about the same subject.
            if info.get("sub") != claims.get("sub") {
                return Err(PscError::Protocol("userinfo is about another subject".into()));
            }
            identity = identity_from_claims(&info).or(identity);
        }
        let mut identity = identity?;
        identity.acr = identity
            .acr
            .or_else(|| claims.get("acr").and_then(Value::as_str).map(str::to_string));
        Ok(identity)
    }

    async fn userinfo(&self, url: &str, access: &str) -> Result<Map<String, Value>, PscError> {
        let resp = self
            .http
            .get(url)
            .bearer_auth(access)
            .send()
            .await
            .map_err(|e| PscError::Unreachable(chain(&e)))?;
        if !resp.status().is_success() {
            return Err(PscError::Protocol(format!("userinfo: HTTP {}", resp.status())));
        }
        let jwt = resp
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/jwt"));
        let text = resp.text().await.map_err(|e| PscError::Protocol(e.to_string()))?;
        if jwt {
            // PSC may sign its userinfo answer.
            self.verified(&text).await
        } else {
            serde_json::from_str(&text).map_err(|e| PscError::Protocol(format!("userinfo: {e}")))
        }
    }

    /// The identity behind an access token a mail client presents (SASL XOAUTH2/OAUTHBEARER).
    /// The token is checked now and never kept (SC.MSS/CONF.28).
    pub async fn check_access_token(&self, token: &str) -> Result<PscIdentity, PscError> {
        let s = &self.settings;
        match s.token_check {
            TokenCheck::Jwks => {
                let claims = self.verified(token).await?;
                jwt::check_claims(&claims, &s.issuer, None, now())?;
                self.check_token_client(&claims)?;
                identity_from_claims(&claims)
            }
            TokenCheck::Introspection => {
                let d = self.discovery().await?;
                let url = d
                    .introspection_endpoint
                    .as_ref()
                    .ok_or_else(|| PscError::Protocol("the provider has no introspection endpoint".into()))?;
                let resp = self
                    .http
                    .post(url)
                    .basic_auth(&s.client_id, Some(&s.client_secret))
                    .form(&[("token", token), ("token_type_hint", "access_token")])
                    .send()
                    .await
                    .map_err(|e| PscError::Unreachable(chain(&e)))?;
                if !resp.status().is_success() {
                    return Err(PscError::Protocol(format!("introspection: HTTP {}", resp.status())));
                }
                let claims: Map<String, Value> = resp.json().await.map_err(|e| PscError::Protocol(e.to_string()))?;
                if claims.get("active") != Some(&Value::Bool(true)) {
                    return Err(PscError::Inactive);
                }
                if let Some(iss) = claims.get("iss").and_then(Value::as_str)
                    && iss != s.issuer
                {
                    return Err(JwtError::Issuer(iss.to_string()).into());
                }
                self.check_token_client(&claims)?;
                identity_from_claims(&claims)
            }
        }
    }

    /// An access token, issued to one of the accepted clients: an ID token (`typ` `ID`, or a
    /// `nonce`) or a token of another application is refused.
    fn check_token_client(&self, claims: &Map<String, Value>) -> Result<(), PscError> {
        let typ = claims.get("typ").and_then(Value::as_str);
        if typ.is_some_and(|t| !t.eq_ignore_ascii_case("Bearer")) || claims.contains_key("nonce") {
            return Err(PscError::NotAnAccessToken);
        }
        let named = |v: Option<&Value>| match v {
            Some(Value::String(c)) => self.settings.accepted_clients.contains(c),
            Some(Value::Array(list)) => list.iter().any(|c| {
                c.as_str()
                    .is_some_and(|c| self.settings.accepted_clients.iter().any(|a| a == c))
            }),
            _ => false,
        };
        if named(claims.get("azp")) || named(claims.get("client_id")) || named(claims.get("aud")) {
            Ok(())
        } else {
            Err(PscError::ForeignClient)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rp(accepted: &[&str]) -> Arc<Psc> {
        Psc::new(PscSettings {
            issuer: "https://psc".into(),
            client_id: "confiance".into(),
            client_secret: String::new(),
            redirect_uri: String::new(),
            scope: String::new(),
            acr_values: None,
            required_acr: None,
            token_check: TokenCheck::Jwks,
            accepted_clients: accepted.iter().map(|s| s.to_string()).collect(),
            extra_roots: Vec::new(),
        })
        .unwrap()
    }

    #[test]
    fn access_tokens_of_accepted_clients_only() {
        let psc = rp(&["confiance", "logiciel-cabinet"]);
        let ok = |v: serde_json::Value| psc.check_token_client(v.as_object().unwrap()).is_ok();
        assert!(ok(
            json!({"typ": "Bearer", "azp": "logiciel-cabinet", "aud": "account"})
        ));
        assert!(ok(json!({"client_id": "confiance"})));
        assert!(ok(json!({"aud": ["x", "confiance"]})));
        assert!(
            !ok(json!({"typ": "Bearer", "azp": "autre-service", "aud": "account"})),
            "another application's token"
        );
        assert!(!ok(json!({})), "a token naming no client");
        assert!(
            !ok(json!({"typ": "ID", "azp": "confiance", "aud": "confiance"})),
            "an ID token"
        );
        assert!(
            !ok(json!({"azp": "confiance", "nonce": "n"})),
            "an ID token without typ"
        );
    }

    #[test]
    fn reads_psc_claims() {
        let claims = json!({
            "sub": "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:899700771191",
            "SubjectNameID": "899700771191",
            "preferred_username": "899700771191",
            "given_name": "Jean", "family_name": "MARTIN", "acr": "eidas1",
            "SubjectRefPro": {"codeCivilite": "M", "exercices": [{"codeProfession": "10", "nomDExercice": "MARTIN"}]}
        });
        let id = identity_from_claims(claims.as_object().unwrap()).unwrap();
        assert_eq!(id.national_id, "899700771191");
        assert_eq!(id.profession.as_deref(), Some("10"));
        assert_eq!(id.given_name.as_deref(), Some("Jean"));

        let fallback = json!({"SubjectNameID": "899700367917",
            "SubjectRefPro": {"exercices": [{"codeProfession": "21", "prenomDExercice": "Carole", "nomDExercice": "PHARM"}]}});
        let id = identity_from_claims(fallback.as_object().unwrap()).unwrap();
        assert_eq!(
            (id.given_name.as_deref(), id.family_name.as_deref()),
            (Some("Carole"), Some("PHARM"))
        );

        for bad in [
            json!({}),
            json!({"SubjectNameID": ""}),
            json!({"SubjectNameID": "8997/../x"}),
            json!({"preferred_username": "899700367917"}),
        ] {
            assert!(matches!(
                identity_from_claims(bad.as_object().unwrap()),
                Err(PscError::NoNationalId)
            ));
        }
    }

    #[test]
    fn the_situation_d_exercice_comes_from_the_first_activity() {
        let claims = json!({"SubjectNameID": "899700237045",
            "SubjectRefPro": {"exercices": [{"codeProfession": "80", "activities": [{
                "raisonSocialeSite": "CABINET INDIVIDUEL PEDI PODO0023704", "enseigneCommercialeSite": "",
                "bureauCedex": "75015 PARIS", "codePostal": "75015", "codeDepartement": ""}]}]}});
        let who = identity_from_claims(claims.as_object().unwrap()).unwrap();
        let p = who.practice.unwrap();
        assert_eq!(p.organisation.as_deref(), Some("CABINET INDIVIDUEL PEDI PODO0023704"));
        assert_eq!(
            (p.postcode.as_deref(), p.departement.as_deref()),
            (Some("75015"), Some("75"))
        );
        assert_eq!(p.locality.as_deref(), Some("75015 PARIS"));
        let corsica = Practice::from_activity(&json!({"codePostal": "20090"})).unwrap();
        assert_eq!(corsica.departement.as_deref(), Some("2A"));
        let empty = json!({"SubjectNameID": "899700237045", "SubjectRefPro": {"exercices": [{"activities": [{}]}]}});
        assert_eq!(identity_from_claims(empty.as_object().unwrap()).unwrap().practice, None);
    }
}
