//! The Pro Santé Connect sandbox (`/psc-bac-a-sable`): a small OpenID Connect provider that
//! serves the test identities of the PSC BAS (RPPS in the `99700…` range) with PSC's claims,
//! so that development and tests run the relying party's real code path — discovery, PKCE,
//! signed ID token, userinfo, JWKS, introspection — without the national service.
//! Only in `psc.mode = "sandbox"`; it never vouches for a real professional.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use confiance_auth::jwt::{self, Signer};
use confiance_auth::otp::{random_bytes, same};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::now;
use crate::WebState;
use crate::html::Lang;
use crate::i18n::Tr;
use crate::site::{self, Layout, Section};

/// A test professional: IdNat_PS, given name, family name, TRE_G15 profession, civility, and
/// where they practise (raison sociale, postcode, bureau distributeur) when PSC says it.
pub struct TestIdentity {
    pub national_id: &'static str,
    pub given: &'static str,
    pub family: &'static str,
    pub profession: &'static str,
    pub civility: &'static str,
    pub practice: Option<(&'static str, &'static str, &'static str)>,
}

/// RPPS of ANS test cards and the PSC BAS (all Luhn-valid); names chosen to exercise address
/// proposal: accents, apostrophes, compound names, and two homonym doctors.
pub const IDENTITIES: &[TestIdentity] = &[
    TestIdentity {
        national_id: "899700771191",
        given: "Jean",
        family: "MARTIN",
        profession: "10",
        civility: "M",
        practice: None,
    },
    TestIdentity {
        national_id: "899700252580",
        given: "Jean",
        family: "MARTIN",
        profession: "10",
        civility: "M",
        practice: None,
    },
    TestIdentity {
        national_id: "899700367917",
        given: "Élise-Marie",
        family: "D'ORLÉANS",
        profession: "10",
        civility: "MME",
        practice: Some(("CABINET MEDICAL DES LILAS", "75020", "75020 PARIS")),
    },
    TestIdentity {
        national_id: "899700075122",
        given: "Carole",
        family: "PHARMACH",
        profession: "21",
        civility: "MME",
        practice: None,
    },
    TestIdentity {
        national_id: "899700735741",
        given: "Zoë",
        family: "LE BŒUF",
        profession: "60",
        civility: "MME",
        practice: None,
    },
    TestIdentity {
        national_id: "899700870589",
        given: "Hélène",
        family: "MÜLLER-LÜDENSCHEIDT",
        profession: "50",
        civility: "MME",
        practice: None,
    },
];

/// PSC access tokens live 2 minutes (PSC documentation).
const ACCESS_LIFETIME: i64 = 120;
const CODE_LIFETIME: i64 = 60;

struct Grant {
    identity: usize,
    redirect_uri: String,
    nonce: Option<String>,
    challenge: String,
    expires_at: i64,
}

pub struct Sandbox {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
    signer: Signer,
    codes: Mutex<HashMap<String, Grant>>,
}

impl Sandbox {
    pub fn new(
        issuer: String,
        client_secret: String,
        redirect_uri: String,
        key_pkcs1: &[u8],
    ) -> Result<Sandbox, String> {
        Ok(Sandbox {
            issuer,
            client_id: "confiance-bac-a-sable".into(),
            client_secret,
            redirect_uri,
            signer: Signer::from_rsa_der(key_pkcs1, "bac-a-sable-1")?,
            codes: Mutex::new(HashMap::new()),
        })
    }

    /// PSC's claims for one identity (`SubjectNameID`, `SubjectRefPro`…).
    fn claims(&self, who: &TestIdentity) -> serde_json::Map<String, Value> {
        let v = json!({
            "sub": format!("f:bac-a-sable:{}", who.national_id),
            "SubjectNameID": who.national_id,
            "preferred_username": who.national_id,
            "given_name": who.given,
            "family_name": who.family,
            "acr": "eidas1",
            "SubjectOrganization": "",
            "SubjectRefPro": {
                "codeCivilite": who.civility,
                "exercices": [{
                    "codeProfession": who.profession,
                    "codeCategorieProfessionnelle": "C",
                    "nomDExercice": who.family,
                    "prenomDExercice": who.given,
                    "activities": who.practice.map_or(json!([]), |(name, postcode, bureau)| json!([{
                        "codeModeExercice": "L",
                        "raisonSocialeSite": name,
                        "codePostal": postcode,
                        "bureauCedex": bureau,
                        "codePays": "99000"
                    }]))
                }]
            }
        });
        v.as_object().cloned().unwrap_or_default()
    }

    fn token(&self, who: &TestIdentity, extra: Value) -> String {
        let mut claims = self.claims(who);
        let t = now();
        claims.insert("iss".into(), self.issuer.clone().into());
        claims.insert("iat".into(), t.into());
        if let Value::Object(extra) = extra {
            claims.extend(extra);
        }
        self.signer.sign(&Value::Object(claims))
    }

    fn client_ok(&self, headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
        let basic = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|b| STANDARD.decode(b).ok())
            .and_then(|b| String::from_utf8(b).ok());
        let (id, secret) = match basic.as_deref().and_then(|b| b.split_once(':')) {
            Some((id, secret)) => (id.to_string(), secret.to_string()),
            None => (
                form.get("client_id").cloned().unwrap_or_default(),
                form.get("client_secret").cloned().unwrap_or_default(),
            ),
        };
        id == self.client_id && same(secret.as_bytes(), self.client_secret.as_bytes())
    }

    fn bearer_identity(&self, token: &str) -> Option<&'static TestIdentity> {
        let claims = jwt::verify_signature(token, &self.signer.jwks()).ok()?;
        jwt::check_claims(&claims, &self.issuer, None, now()).ok()?;
        let id = claims.get("SubjectNameID")?.as_str()?;
        IDENTITIES.iter().find(|i| i.national_id == id)
    }
}

fn sandbox(state: &WebState) -> Option<Arc<Sandbox>> {
    state.accounts.as_ref()?.sandbox.clone()
}

/// The sandbox, for a request that authenticates as its client (token and introspection
/// endpoints); a 404 without the sandbox, a 401 for an unknown client or a wrong secret.
fn client(
    state: &WebState,
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<Arc<Sandbox>, Box<Response>> {
    let s = sandbox(state).ok_or_else(|| Box::new(StatusCode::NOT_FOUND.into_response()))?;
    if !s.client_ok(headers, form) {
        return Err(Box::new(oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "unknown client or wrong secret",
        )));
    }
    Ok(s)
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (status, Json(json!({"error": error, "error_description": description}))).into_response()
}

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/authorize", get(authorize).post(choose))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo))
        .route("/jwks", get(jwks))
        .route("/introspect", post(introspect))
}

async fn discovery(State(state): State<WebState>) -> Response {
    let Some(s) = sandbox(&state) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let i = &s.issuer;
    Json(json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "jwks_uri": format!("{i}/jwks"),
        "introspection_endpoint": format!("{i}/introspect"),
        "response_types_supported": ["code"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": ["eidas1"],
        "scopes_supported": ["openid", "scope_all"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
    .into_response()
}

/// The login page of the sandbox: pick a test identity (PSC would ask for the CPS or e-CPS).
async fn authorize(State(state): State<WebState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(s) = sandbox(&state) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Err(why) = check_request(&s, &q) {
        // Never redirect to an unchecked URI (RFC 6749 §4.1.2.1): say it here.
        return refused(why);
    }
    let hidden = ["client_id", "redirect_uri", "state", "nonce", "code_challenge", "scope"]
        .iter()
        .filter_map(|k| q.get(*k).map(|v| (*k, v.clone())))
        .collect();
    let identities = IDENTITIES
        .iter()
        .map(|who| {
            let label = confiance_core::profession_label(who.profession).unwrap_or("");
            format!(
                "{} {} — {label} — RPPS {}",
                who.given,
                who.family,
                &who.national_id[1..]
            )
        })
        .collect();
    let tr = Tr(Lang::Fr);
    site::render(&AuthorizePage {
        l: Layout::new(Lang::Fr, tr.text_of("sandbox.title"), Section::Account),
        tr,
        hidden,
        identities,
    })
    .into_response()
}

/// The sandbox's login page: the test identities to pick from.
#[derive(Template)]
#[template(path = "sandbox/authorize.html")]
struct AuthorizePage {
    l: Layout,
    tr: Tr,
    /// The authorization request, carried to the choice.
    hidden: Vec<(&'static str, String)>,
    identities: Vec<String>,
}

/// A request the sandbox does not serve; `why` is a catalogue key.
fn refused(why: &str) -> Response {
    site::error_titled(
        Lang::Fr,
        StatusCode::BAD_REQUEST,
        "sandbox.refused",
        Tr(Lang::Fr).text_of(why),
    )
}

fn check_request(s: &Sandbox, q: &HashMap<String, String>) -> Result<(), &'static str> {
    if q.get("client_id") != Some(&s.client_id) {
        return Err("sandbox.unknown-client");
    }
    if q.get("redirect_uri") != Some(&s.redirect_uri) {
        return Err("sandbox.wrong-redirect");
    }
    if q.get("response_type").is_some_and(|r| r != "code") {
        return Err("sandbox.only-code");
    }
    if !q.get("scope").is_some_and(|sc| sc.split(' ').any(|x| x == "openid")) {
        return Err("sandbox.needs-openid");
    }
    if q.get("code_challenge").is_none_or(|c| c.len() < 43)
        || q.get("code_challenge_method").is_some_and(|m| m != "S256")
    {
        return Err("sandbox.needs-pkce");
    }
    Ok(())
}

async fn choose(State(state): State<WebState>, Form(f): Form<HashMap<String, String>>) -> Response {
    let Some(s) = sandbox(&state) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let mut q = f.clone();
    q.insert("code_challenge_method".into(), "S256".into());
    if let Err(why) = check_request(&s, &q) {
        return refused(why);
    }
    let Some(identity) = f
        .get("identite")
        .and_then(|i| i.parse::<usize>().ok())
        .filter(|i| *i < IDENTITIES.len())
    else {
        return refused("sandbox.choose-identity");
    };
    let code = B64.encode(random_bytes::<24>());
    let mut codes = s.codes.lock().unwrap_or_else(|e| e.into_inner());
    codes.retain(|_, g| g.expires_at > now());
    // Codes live a minute; a flood of unredeemed ones is refused, not stored.
    if codes.len() >= 10_000 {
        return (StatusCode::SERVICE_UNAVAILABLE, "trop de demandes en cours").into_response();
    }
    codes.insert(
        code.clone(),
        Grant {
            identity,
            redirect_uri: s.redirect_uri.clone(),
            nonce: f.get("nonce").cloned(),
            challenge: f.get("code_challenge").cloned().unwrap_or_default(),
            expires_at: now() + CODE_LIFETIME,
        },
    );
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("code", &code);
    if let Some(st) = f.get("state") {
        query.append_pair("state", st);
    }
    super::see_other(&format!("{}?{}", s.redirect_uri, query.finish()))
}

async fn token(State(state): State<WebState>, headers: HeaderMap, Form(f): Form<HashMap<String, String>>) -> Response {
    let s = match client(&state, &headers, &f) {
        Ok(s) => s,
        Err(refused) => return *refused,
    };
    if f.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "authorization_code only",
        );
    }
    // A code is used once, whatever happens next.
    let grant = f
        .get("code")
        .and_then(|c| s.codes.lock().unwrap_or_else(|e| e.into_inner()).remove(c));
    let Some(grant) = grant.filter(|g| g.expires_at > now()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "unknown, used or expired code",
        );
    };
    if f.get("redirect_uri") != Some(&grant.redirect_uri) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "redirect_uri differs");
    }
    let verifier = f.get("code_verifier").cloned().unwrap_or_default();
    if !same(
        B64.encode(Sha256::digest(verifier.as_bytes())).as_bytes(),
        grant.challenge.as_bytes(),
    ) {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "PKCE verification failed");
    }
    let who = &IDENTITIES[grant.identity];
    let t = now();
    let access = s.token(
        who,
        json!({"exp": t + ACCESS_LIFETIME, "aud": [s.client_id], "azp": s.client_id,
        "typ": "Bearer", "scope": "openid scope_all", "jti": B64.encode(random_bytes::<16>())}),
    );
    let id_token = s.token(
        who,
        json!({"exp": t + 300, "aud": s.client_id, "azp": s.client_id,
        "nonce": grant.nonce, "auth_time": t, "typ": "ID"}),
    );
    Json(
        json!({"access_token": access, "id_token": id_token, "token_type": "Bearer",
        "expires_in": ACCESS_LIFETIME, "scope": "openid scope_all"}),
    )
    .into_response()
}

async fn userinfo(State(state): State<WebState>, headers: HeaderMap) -> Response {
    let Some(s) = sandbox(&state) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    match token.and_then(|t| s.bearer_identity(t)) {
        Some(who) => Json(Value::Object(s.claims(who))).into_response(),
        None => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "missing, expired or foreign token",
        ),
    }
}

async fn jwks(State(state): State<WebState>) -> Response {
    match sandbox(&state) {
        Some(s) => Json(s.signer.jwks()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// RFC 7662: whether a token is active, and whose it is.
async fn introspect(
    State(state): State<WebState>,
    headers: HeaderMap,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let s = match client(&state, &headers, &f) {
        Ok(s) => s,
        Err(refused) => return *refused,
    };
    let token = f.get("token").map(String::as_str).unwrap_or_default();
    let Ok(claims) = jwt::verify_signature(token, &s.signer.jwks()) else {
        return Json(json!({"active": false})).into_response();
    };
    if jwt::check_claims(&claims, &s.issuer, None, now()).is_err() {
        return Json(json!({"active": false})).into_response();
    }
    let mut out = claims;
    out.insert("active".into(), true.into());
    out.insert("client_id".into(), s.client_id.clone().into());
    Json(Value::Object(out)).into_response()
}

/// One code or notice as `/dev/messages` lists it.
struct Sent {
    time: String,
    channel: String,
    to: String,
    subject: String,
    text: String,
}

#[derive(Template)]
#[template(path = "sandbox/outbox.html")]
struct OutboxPage {
    l: Layout,
    tr: Tr,
    sent: Vec<Sent>,
}

/// `/dev/messages`: codes and notices that would have gone to personal e-mail or SMS, shown in
/// sandbox mode only (there is no relay or gateway in development).
pub async fn outbox(State(state): State<WebState>) -> Response {
    let Some(accounts) = state.accounts.as_ref().filter(|a| a.sandbox.is_some()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let sent = accounts
        .notifier
        .outbox()
        .iter()
        .map(|m| Sent {
            time: chrono::DateTime::from_timestamp(m.at, 0)
                .map(|d| d.format("%H:%M:%S").to_string())
                .unwrap_or_default(),
            channel: m.channel.to_string(),
            to: m.to.clone(),
            subject: m.subject.clone(),
            text: m.text.clone(),
        })
        .collect();
    let tr = Tr(Lang::Fr);
    site::render(&OutboxPage {
        l: Layout::new(Lang::Fr, tr.text_of("sandbox.outbox-title"), Section::Account),
        tr,
        sent,
    })
    .into_response()
}
