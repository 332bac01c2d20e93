//! A forgotten password (`/mot-de-passe-oublie`). A professional proves who they are again
//! with Pro Santé Connect or the CPS card, stronger than the password, then chooses a new one
//! on their account page. A structure's staff member gets a code at their e-mail, the address
//! the structure's administrator created their account with, and gives it with their
//! authenticator's code: two factors, as at login. Every answer is the same whether the
//! account exists or not, and every try is counted by the login throttle before it is checked.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use confiance_auth::otp::{CodeCheck, SentCode, totp_verify};
use serde::{Deserialize, Serialize};

use super::session::{Posted, Session};
use super::{accounts, hash, layout, now, see_other};
use crate::WebState;
use crate::i18n::Tr;
use crate::site::{self, Layout};

/// A staff member's recovery under way: who, and the code sent (kept hashed).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StaffRecovery {
    pub email: String,
    /// `None` when no staff account has that e-mail: the page goes on the same.
    pub sent: Option<SentCode>,
    /// The e-mailed code came back right (it is good once): only the authenticator's is
    /// asked again.
    #[serde(default)]
    pub code_proven: bool,
}

#[derive(Template)]
#[template(path = "account/recovery.html")]
struct RecoveryPage<'a> {
    l: Layout,
    tr: Tr,
    csrf: &'a str,
}

/// `GET /mot-de-passe-oublie`.
pub async fn page(State(state): State<WebState>, mut session: Session) -> Response {
    let a = accounts(&state);
    let page = RecoveryPage {
        l: layout::of(&session, "recovery.title").flash(session.data.flash.as_deref()),
        tr: Tr(session.lang()),
        csrf: &session.data.csrf,
    };
    let r = site::render(&page);
    session.data.flash = None;
    session.respond(&a, r).await
}

#[derive(Template)]
#[template(path = "account/recovery_staff.html")]
struct StaffPage<'a> {
    l: Layout,
    tr: Tr,
    csrf: &'a str,
    email: &'a str,
}

fn staff_form(session: &Session, error: Option<&str>) -> Response {
    let email = session.data.recovery.as_ref().map_or("", |r| r.email.as_str());
    let page = StaffPage {
        l: layout::of(session, "recovery.staff-title")
            .flash(session.data.flash.as_deref())
            .error(error),
        tr: Tr(session.lang()),
        csrf: &session.data.csrf,
        email,
    };
    site::form(&page, error.is_some(), StatusCode::UNPROCESSABLE_ENTITY)
}

/// `POST /mot-de-passe-oublie/personnel`: a code to the staff member's e-mail, if they exist.
pub async fn staff_start(
    State(state): State<WebState>,
    axum::Extension(client): axum::Extension<super::Client>,
    Posted { mut session, form: f }: Posted,
) -> Response {
    let a = accounts(&state);
    let tr = Tr(session.lang());
    let email = f
        .get("identifiant")
        .map(|s| s.trim().to_lowercase())
        .unwrap_or_default();
    if email.is_empty() || email.len() > 254 || !email.contains('@') {
        session.data.flash = Some(tr.text_of("recovery.give-email").into());
        return session.respond(&a, see_other("/mot-de-passe-oublie")).await;
    }
    // Counted like a failed login, so that codes cannot be asked for without end.
    let sent = match a.throttle.begin(client.0, &email) {
        Err(refused) => {
            tracing::warn!(target: "audit", event = "recovery", method = "staff", actor = %email, peer = %client.0,
                outcome = "failure", reason = refused.reason());
            None
        }
        Ok(_counted) => match a.registry.staff(email.clone()).await.flatten() {
            Some(staff) if !staff.suspended => {
                let (code, kept) = SentCode::new(now());
                let text = tr.fill("recovery.code-message", &[("code", &code)]);
                // Sent apart, so that the answer takes the same time for anyone: the relay's
                // delay would tell who is staff.
                let notifier = a.notifier.clone();
                let subject = tr.text_of("recovery.code-subject");
                tokio::spawn(async move {
                    if let Err(e) = notifier.email(&staff.email, subject, &text).await {
                        tracing::warn!("recovery code not sent: {e}");
                    }
                });
                Some(kept)
            }
            _ => None,
        },
    };
    tracing::info!(target: "audit", event = "recovery", method = "staff", actor = %email, peer = %client.0,
        outcome = if sent.is_some() { "code_sent" } else { "nothing_sent" });
    // The same page whatever happened: it does not tell who is staff here.
    session.data.recovery = Some(StaffRecovery {
        email,
        sent,
        code_proven: false,
    });
    session.data.flash = Some(tr.text_of("recovery.code-sent-if").into());
    session.respond(&a, see_other("/mot-de-passe-oublie/personnel")).await
}

/// `GET /mot-de-passe-oublie/personnel`.
pub async fn staff_page(State(state): State<WebState>, mut session: Session) -> Response {
    let a = accounts(&state);
    if session.data.recovery.is_none() {
        return session.respond(&a, see_other("/mot-de-passe-oublie")).await;
    }
    let r = staff_form(&session, None);
    session.data.flash = None;
    session.respond(&a, r).await
}

/// `POST /mot-de-passe-oublie/personnel/nouveau`: the code, the authenticator's code and the
/// new password.
pub async fn staff_finish(
    State(state): State<WebState>,
    axum::Extension(client): axum::Extension<super::Client>,
    Posted { mut session, form: f }: Posted,
) -> Response {
    let a = accounts(&state);
    let lang = session.lang();
    let tr = Tr(lang);
    let Some(mut recovery) = session.data.recovery.clone() else {
        return session.respond(&a, see_other("/mot-de-passe-oublie")).await;
    };
    let field = |k: &str| f.get(k).cloned().unwrap_or_default();
    let new = field("nouveau");
    if field("confirmation") != new {
        let r = staff_form(&session, Some(tr.text_of("account.new-passwords-differ")));
        return session.respond(&a, r).await;
    }
    if let Err(e) = confiance_auth::check_policy(&new) {
        let r = staff_form(&session, Some(&super::settings::policy_message(&e, lang)));
        return session.respond(&a, r).await;
    }
    let wrong = tr.text_of("recovery.wrong");
    let counted = match a.throttle.begin(client.0, &recovery.email) {
        Ok(c) => c,
        Err(_) => {
            let r = staff_form(&session, Some(wrong));
            return session.respond(&a, r).await;
        }
    };
    let code_right = recovery.code_proven
        || match recovery.sent.as_mut() {
            Some(sent) => sent.check(&field("code"), now()) == CodeCheck::Valid,
            None => false,
        };
    recovery.code_proven = code_right;
    session.data.recovery = Some(recovery.clone());
    let staff = a.registry.staff(recovery.email.clone()).await.flatten();
    let second = match &staff {
        Some(s) if code_right && !s.suspended => match totp_verify(&s.totp_secret, &field("code_totp"), now(), None) {
            Some(step) => a.registry.claim_staff_totp_step(s.email.clone(), step).await == Some(true),
            None => false,
        },
        _ => false,
    };
    let Some(staff) = staff.filter(|_| second) else {
        tracing::warn!(target: "audit", event = "recovery", method = "staff", actor = %recovery.email, peer = %client.0,
            outcome = "failure", reason = if code_right { "wrong authenticator code" } else { "wrong code" });
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let r = staff_form(&session, Some(wrong));
        return session.respond(&a, r).await;
    };
    let Some(hash) = hash(new).await else {
        let r = staff_form(&session, Some(super::save_failed(lang)));
        return session.respond(&a, r).await;
    };
    if a.registry.set_staff_password(staff.email.clone(), hash).await.is_none() {
        let r = staff_form(&session, Some(super::save_failed(lang)));
        return session.respond(&a, r).await;
    }
    counted.succeeded();
    tracing::info!(target: "audit", event = "password_changed", actor = %staff.email, peer = %client.0, method = "recovery");
    session.data.recovery = None;
    session.rotate(&a).await;
    session.data.flash = Some(tr.text_of("recovery.staff-done").into());
    session.respond(&a, see_other("/structure/connexion")).await
}
