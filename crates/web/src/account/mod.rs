//! Accounts on the web: activation in four steps as the national service shows them
//! (identification, address, settings, summary), login with password + one-time code or with
//! Pro Santé Connect, the account page (settings, app passwords), logout, and — in development
//! — the PSC sandbox and the outbox of codes.

mod activation;
mod console;
pub(crate) mod layout;
mod login;
mod recovery;
pub mod sandbox;
pub(crate) mod session;
mod settings;
mod staff;
mod unknown;

use std::sync::Arc;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use confiance_auth::notify::Notifier;
use confiance_auth::psc::Psc;

pub use crate::site::error_page;
pub use session::Session;

use crate::WebState;

/// The client's address, for the authentication throttle.
#[derive(Clone, Copy, Debug)]
pub struct Client(pub std::net::IpAddr);

/// The CPS card the browser presented in the TLS handshake, if any.
#[derive(Clone, Debug)]
pub struct Card(pub Option<confiance_auth::cps::CpsHolder>);

/// Login rules.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Failures in a row (password or code) before the account locks.
    pub login_attempts: u32,
    pub lock_seconds: i64,
    pub idle_lock_seconds: i64,
}

/// What the account pages need.
pub struct Accounts {
    /// BALs, profiles, sessions, app passwords: everything an account page reads or saves.
    pub registry: confiance_auth::Registry,
    pub psc: Arc<Psc>,
    /// The development PSC, when it is the configured provider.
    pub sandbox: Option<Arc<sandbox::Sandbox>>,
    pub notifier: Arc<Notifier>,
    /// Hosted mail domains, for address proposals.
    pub domains: Vec<String>,
    pub quota: u64,
    pub policy: Policy,
    /// Name shown in authenticator apps.
    pub issuer_label: String,
    /// Authentication failures per client address and account, shared with IMAP and SMTP.
    pub throttle: Arc<confiance_auth::throttle::Throttle>,
    /// Failures on addresses that have no BAL, so that they lock alike.
    pub unknown: unknown::UnknownLocks,
    /// The host and ports the account pages give for mail software.
    pub clients: Arc<crate::MailClients>,
}

pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The account pages' state; their routes are only mounted with it.
pub(crate) fn accounts(state: &WebState) -> Arc<Accounts> {
    state.accounts.clone().expect("account routes exist only with accounts")
}

/// Argon2id off the async workers; `None` if hashing failed (logged).
pub(crate) async fn hash(password: String) -> Option<String> {
    match tokio::task::spawn_blocking(move || confiance_auth::hash_password(&password)).await {
        Ok(Ok(hash)) => Some(hash),
        other => {
            tracing::error!("password hashing failed: {other:?}");
            None
        }
    }
}

/// What a page says when the store or hashing failed under it.
pub(crate) fn save_failed(lang: crate::html::Lang) -> &'static str {
    crate::i18n::Tr(lang).text_of("account.save-failed")
}

/// A 303 to `to`: after a POST the browser GETs the next page.
pub(crate) fn see_other(to: &str) -> Response {
    (StatusCode::SEE_OTHER, [(axum::http::header::LOCATION, to.to_string())]).into_response()
}

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/activation", get(activation::start))
        .route(
            "/activation/adresse",
            get(activation::address_page).post(activation::address_post),
        )
        .route(
            "/activation/parametres",
            get(activation::settings_page).post(activation::settings_post),
        )
        .route("/activation/recapitulatif", get(activation::summary))
        .route("/psc/connexion", get(login::psc_start))
        .route("/psc/retour", get(login::psc_return))
        .route("/cps/connexion", get(login::cps))
        .route("/connexion", get(login::page).post(login::password_post))
        .route("/connexion/code", get(login::code_page).post(login::code_post))
        .route("/connexion/code/renvoyer", post(login::code_resend))
        .route("/deconnexion", post(login::logout))
        .route("/mot-de-passe-oublie", get(recovery::page))
        .route(
            "/mot-de-passe-oublie/personnel",
            get(recovery::staff_page).post(recovery::staff_start),
        )
        .route("/mot-de-passe-oublie/personnel/nouveau", post(recovery::staff_finish))
        .route("/compte", get(settings::page).post(settings::save))
        .route("/compte/mot-de-passe", post(settings::password))
        .route("/compte/confirmer", post(settings::confirm_contact))
        .route("/compte/mots-de-passe-applicatifs", post(settings::app_password_add))
        .route(
            "/compte/mots-de-passe-applicatifs/supprimer",
            post(settings::app_password_delete),
        )
        .route("/structure/connexion", get(staff::login_page).post(staff::login_post))
        .route("/structure", get(staff::page))
        .route("/structure/mots-de-passe-applicatifs", post(staff::app_password))
        .route("/console", get(console::home))
        .route("/console/{finess}", get(console::structure))
        .route("/console/{finess}/bal", post(console::create_bal))
        .route("/console/{finess}/personnel", post(console::create_staff))
        .route("/console/{finess}/bal/{address}", get(console::bal))
        .route("/console/{finess}/bal/{address}/membre", post(console::member))
        .route("/console/{finess}/bal/{address}/etat", post(console::state_change))
        .route("/dev/messages", get(sandbox::outbox))
        .nest("/psc-bac-a-sable", sandbox::routes())
}
