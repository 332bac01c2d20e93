//! Web sessions: an opaque random cookie (`__Host-` prefixed, Secure, HttpOnly, SameSite=Lax),
//! whose SHA-256 keys the session's state in the store, so a stolen database does not yield
//! live cookies. Every form carries the session's CSRF token; a session locks after
//! `idle_lock` without activity (Ségur SC.SSI/IE.58) and changes key at each login (fixation).
//!
//! A visitor who has proven nothing has no row: their CSRF token is derived from their cookie
//! and their language is a cookie of its own, so a crawler's GETs write nothing. Rows of nobody
//! yet (a Pro Santé Connect login under way) are few and short-lived (`MAX_PENDING`).

use std::collections::HashMap;

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use confiance_auth::model::AccountId;
use confiance_auth::otp::{SentCode, random_bytes, same};
use confiance_auth::psc::{PendingLogin, PscIdentity};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error_page;
use super::{Accounts, now};
use crate::WebState;
use crate::html::Lang;

pub const COOKIE: &str = "__Host-confiance";
/// The language a visitor without a session row chose.
const LANG_COOKIE: &str = "__Host-confiance-langue";
/// Sessions of nobody yet kept at most, and for how long.
const MAX_PENDING: usize = 10_000;
const PENDING_SECONDS: i64 = 30 * 60;
/// Header of the requests a page makes by itself (see `Session::background`).
pub const BACKGROUND: &str = "x-confiance-fond";

/// Why the browser went to Pro Santé Connect.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Purpose {
    Activation,
    Login,
    /// A forgotten password: the identity proven again lets a new one be chosen.
    Recovery,
}

/// How the identity was proven.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Proof {
    Psc,
    Cps,
}

/// A professional whose identity is proven (step 1 of activation, or a PSC/CPS login).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Identity {
    pub person: PscIdentity,
    pub proof: Proof,
}

/// The choices of activation steps 2 and 3 before the account exists.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Draft {
    pub address: Option<String>,
    pub terms_accepted: bool,
    /// TOTP secret shown at step 3, confirmed by a code before it is kept.
    pub totp_secret: Option<String>,
}

/// A password that was right, waiting for its second factor.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingFactor {
    pub account: i64,
    pub sent: Option<SentCode>,
    pub sent_at: i64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct SessionData {
    pub csrf: String,
    pub lang: Lang,
    pub last_seen: i64,
    pub psc: Option<(PendingLogin, Purpose)>,
    pub identity: Option<Identity>,
    pub draft: Option<Draft>,
    pub factor: Option<PendingFactor>,
    pub account: Option<i64>,
    /// A message for the next page (once).
    pub flash: Option<String>,
    /// The BAL the webmail shows, when the professional may open several (their own when `None`).
    #[serde(default)]
    pub mailbox: Option<i64>,
    /// A problem to announce on the next page (once).
    #[serde(default)]
    pub alert: Option<String>,
    /// An app password just made, shown once.
    pub new_app_password: Option<(String, String)>,
    /// A staff member logged in (their e-mail): no BAL of their own, the BALs they belong to.
    #[serde(default)]
    pub staff: Option<String>,
    /// A professional proven by PSC or CPS who holds no BAL of their own but is a member of
    /// shared ones (their IdNat_PS).
    #[serde(default)]
    pub member: Option<String>,
    /// A staff account the console just made (e-mail, password, authenticator key), shown once.
    #[serde(default)]
    pub new_staff: Option<(String, String, String)>,
    /// A staff member's forgotten password, while the code sent is awaited.
    #[serde(default)]
    pub recovery: Option<super::recovery::StaffRecovery>,
    /// A new personal e-mail or mobile, used only once the code sent there comes back.
    #[serde(default)]
    pub contact: Option<PendingContact>,
}

/// Contact details awaiting their proof: each new one with the code sent to it, and the
/// choices that depend on them (codes by that channel, notices of new mail).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PendingContact {
    pub email: Option<(String, SentCode)>,
    pub mobile: Option<(String, SentCode)>,
    /// Which of the two came back already: a right code is good once, and stays proven while
    /// the other is typed again.
    #[serde(default)]
    pub email_proven: bool,
    #[serde(default)]
    pub mobile_proven: bool,
    /// When the codes were sent: another change waits a minute, so that nobody's mailbox or
    /// phone is flooded from an account.
    #[serde(default)]
    pub sent_at: i64,
    /// `email`, `sms` or `totp` (`SecondFactor::as_str`).
    pub second_factor: String,
    pub notify_new_mail: bool,
}

impl PendingContact {
    /// The e-mail and the mobile still awaiting their code.
    pub fn awaited(&self) -> (Option<String>, Option<String>) {
        let email = self.email.as_ref().filter(|_| !self.email_proven).map(|e| e.0.clone());
        let mobile = self
            .mobile
            .as_ref()
            .filter(|_| !self.mobile_proven)
            .map(|m| m.0.clone());
        (email, mobile)
    }

    /// Where the codes went, for the sentence that says so.
    pub fn sent_to(&self) -> String {
        [self.email.as_ref(), self.mobile.as_ref()]
            .into_iter()
            .flatten()
            .map(|(to, _)| to.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub struct Session {
    cookie: String,
    set_cookie: bool,
    /// The store has a row for this cookie.
    stored: bool,
    /// The language cookie the browser sent.
    lang_cookie: Option<Lang>,
    /// A request the page made by itself (live update): not activity of the professional, so
    /// it does not push back the idle lock.
    background: bool,
    pub data: SessionData,
}

fn random_key() -> String {
    B64.encode(random_bytes::<32>())
}

fn storage_key(cookie: &str) -> String {
    hex::encode(Sha256::digest(cookie.as_bytes()))
}

/// The CSRF token of a visitor without a row: bound to their cookie, which another site can
/// neither read (HttpOnly) nor set (`__Host-`), so it cannot forge the token either.
fn derived_csrf(cookie: &str) -> String {
    B64.encode(Sha256::digest(format!("confiance-csrf\0{cookie}").as_bytes()))
}

fn cookie_named(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(name)?.strip_prefix('=').map(str::to_string))
}

fn cookie_value(parts: &Parts) -> Option<String> {
    cookie_named(parts, COOKIE)
        .filter(|v| v.len() == 43 && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

impl SessionData {
    /// Anything proven or under way that must outlive the request.
    fn worth_storing(&self) -> bool {
        self.psc.is_some()
            || self.identity.is_some()
            || self.draft.is_some()
            || self.factor.is_some()
            || self.account.is_some()
            || self.flash.is_some()
            || self.alert.is_some()
            || self.new_app_password.is_some()
            || self.staff.is_some()
            || self.new_staff.is_some()
            || self.member.is_some()
    }
}

impl Session {
    pub fn account(&self) -> Option<AccountId> {
        self.data.account.map(AccountId)
    }

    pub fn lang(&self) -> Lang {
        self.data.lang
    }

    /// Someone logged in without a BAL of their own, who opens the shared BALs they belong
    /// to: a structure's staff member (e-mail) or a professional (IdNat_PS).
    pub fn member(&self) -> Option<String> {
        self.data.staff.clone().or_else(|| self.data.member.clone())
    }

    /// A new key for the same state: at every login, so a key planted before it is worthless.
    pub async fn rotate(&mut self, accounts: &Accounts) {
        // Deleting the old row is best effort; it also expires on its own.
        let old = storage_key(&self.cookie);
        accounts.registry.session_delete(old).await;
        self.cookie = random_key();
        self.set_cookie = true;
        self.stored = false;
        self.data.csrf = random_key();
    }

    /// Logs out: nothing of the session is kept.
    pub async fn clear(&mut self, accounts: &Accounts) {
        let lang = self.data.lang;
        let old = storage_key(&self.cookie);
        accounts.registry.session_delete(old).await;
        self.cookie = random_key();
        self.set_cookie = true;
        self.stored = false;
        self.data = SessionData {
            csrf: derived_csrf(&self.cookie),
            lang,
            last_seen: now(),
            ..Default::default()
        };
    }

    /// The form's CSRF token is this session's.
    pub(crate) fn csrf_ok(&self, form: &HashMap<String, String>) -> bool {
        form.get("csrf")
            .is_some_and(|token| same(token.as_bytes(), self.data.csrf.as_bytes()))
    }

    /// Saves the state and answers `response`, setting the cookie when it is new.
    pub async fn respond(mut self, accounts: &Accounts, response: impl IntoResponse) -> Response {
        if !self.background {
            self.data.last_seen = now();
        }
        let mut response = response.into_response();
        let write = self.stored || self.data.worth_storing();
        let data = serde_json::to_string(&self.data).unwrap_or_default();
        let key = storage_key(&self.cookie);
        let account = self.account();
        let (fresh, seen) = (!self.stored, self.data.last_seen);
        // A request still running when the professional logged out must not bring the
        // session back: only a new session is inserted.
        let saved = match write {
            false => Some(()),
            true => {
                accounts
                    .registry
                    .session_save(confiance_auth::registry::SessionSave {
                        key,
                        account,
                        data,
                        seen,
                        fresh,
                        keep_pending: MAX_PENDING,
                        pending_before: seen - PENDING_SECONDS,
                    })
                    .await
            }
        };
        if !write && self.lang_cookie.unwrap_or_default() != self.data.lang {
            let lang = self.data.lang.code();
            let cookie = format!("{LANG_COOKIE}={lang}; Path=/; Secure; SameSite=Lax; Max-Age=31536000");
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        if saved.is_none() {
            return error_page(
                self.lang(),
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                crate::i18n::Tr(self.lang()).text_of("session.not-saved"),
            );
        }
        if self.set_cookie {
            let cookie = format!("{COOKIE}={}; Path=/; Secure; HttpOnly; SameSite=Lax", self.cookie);
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                response.headers_mut().append(header::SET_COOKIE, v);
            }
        }
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// A form POSTed to an account page, with its session; its CSRF token was checked.
pub struct Posted {
    pub session: Session,
    pub form: HashMap<String, String>,
}

impl FromRequest<WebState> for Posted {
    type Rejection = Response;

    async fn from_request(request: Request, state: &WebState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let Form(form) = Form::<HashMap<String, String>>::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(IntoResponse::into_response)?;
        if !session.csrf_ok(&form) {
            let lang = session.lang();
            let msg = crate::i18n::Tr(lang).text_of("session.form-expired");
            return Err(error_page(lang, axum::http::StatusCode::FORBIDDEN, msg));
        }
        Ok(Posted { session, form })
    }
}

impl FromRequestParts<WebState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Self::Rejection> {
        let Some(accounts) = state.accounts.clone() else {
            return Err(error_page(
                Lang::Fr,
                axum::http::StatusCode::NOT_FOUND,
                crate::i18n::Tr(Lang::Fr).text_of("session.no-accounts"),
            ));
        };
        let lang_asked = parts.uri.query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "lang")
                .map(|(_, v)| match v.as_ref() {
                    "en" => Lang::En,
                    _ => Lang::Fr,
                })
        });
        let background = parts.headers.contains_key(BACKGROUND);
        let existing = match cookie_value(parts) {
            Some(cookie) => {
                let key = storage_key(&cookie);
                accounts
                    .registry
                    .session_get(key)
                    .await
                    .flatten()
                    .and_then(|d| serde_json::from_str::<SessionData>(&d).ok())
                    .map(|data| (cookie, data))
            }
            None => None,
        };
        let lang_cookie = cookie_named(parts, LANG_COOKIE).map(|l| match l.as_str() {
            "en" => Lang::En,
            _ => Lang::Fr,
        });
        let mut session = match existing {
            Some((cookie, data)) => Session {
                cookie,
                set_cookie: false,
                stored: true,
                lang_cookie,
                background,
                data,
            },
            None => {
                // A visitor: their cookie if they have one (it keys their CSRF token), else a
                // new one; no row until they prove something.
                let (cookie, set_cookie) = match cookie_value(parts) {
                    Some(c) => (c, false),
                    None => (random_key(), true),
                };
                Session {
                    data: SessionData {
                        csrf: derived_csrf(&cookie),
                        lang: lang_cookie.unwrap_or_default(),
                        last_seen: now(),
                        ..Default::default()
                    },
                    cookie,
                    set_cookie,
                    stored: false,
                    lang_cookie,
                    background,
                }
            }
        };
        if let Some(lang) = lang_asked {
            session.data.lang = lang;
        }
        // Ségur SC.SSI/IE.58: after the idle time, everything proven is forgotten.
        let proven = session.data.account.is_some()
            || session.data.identity.is_some()
            || session.data.factor.is_some()
            || session.data.staff.is_some()
            || session.data.member.is_some();
        if proven && now() - session.data.last_seen > accounts.policy.idle_lock_seconds {
            if let Some(account) = session.data.account {
                let address = address_of(&accounts, AccountId(account)).await;
                tracing::info!(target: "audit", event = "session_locked", account = %address, reason = "inactivity");
            }
            session.clear(&accounts).await;
            let minutes = accounts.policy.idle_lock_seconds / 60;
            let (h, m) = (minutes / 60, minutes % 60);
            let tr = crate::i18n::Tr(session.data.lang);
            session.data.flash = Some(match m {
                0 => tr.fill("session.idle-locked-hours", &[("hours", &h.to_string())]),
                _ => tr.fill("session.idle-locked-minutes", &[("minutes", &minutes.to_string())]),
            });
        }
        // A suspended or deleted account's session ends at its next request, whatever was saved.
        if let Some(id) = session.account() {
            let active = accounts
                .registry
                .account(id)
                .await
                .flatten()
                .is_some_and(|a| a.status == confiance_auth::model::AccountStatus::Active);
            if !active {
                let address = address_of(&accounts, id).await;
                tracing::info!(target: "audit", event = "session_ended", account = %address, reason = "account not active");
                session.clear(&accounts).await;
            }
        }
        // So does a suspended staff member's.
        if let Some(email) = session.data.staff.clone() {
            let active = accounts
                .registry
                .staff(email.clone())
                .await
                .flatten()
                .is_some_and(|s| !s.suspended);
            if !active {
                tracing::info!(target: "audit", event = "session_ended", actor = %email, reason = "staff account not active");
                session.clear(&accounts).await;
            }
        }
        Ok(session)
    }
}

/// The address of an account, for an audit trace that knows only its id.
pub async fn address_of(accounts: &Accounts, id: AccountId) -> String {
    match accounts.registry.account(id).await.flatten() {
        Some(account) => account.address,
        None => format!("#{}", id.0),
    }
}
