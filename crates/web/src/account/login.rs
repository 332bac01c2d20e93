//! Login: Pro Santé Connect (CPS card or e-CPS), or address + password + one-time code (by
//! e-mail, SMS or authenticator app). Failures count per account; after
//! `policy.login_attempts` in a row the account locks for `policy.lock_seconds`, and the page
//! says until when. Every attempt leaves an audit trace (method, national id, outcome).

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use confiance_auth::model::{Account, AccountId, AccountStatus, LoginFailures, Profile, SecondFactor};
use confiance_auth::otp::{CodeCheck, SentCode, totp_verify};

use askama::Template;

use super::session::{Identity, PendingFactor, Posted, Proof, Purpose, Session};
use super::{Accounts, accounts, layout, now, see_other};
use crate::WebState;
use crate::html::Lang;
use crate::i18n::Tr;
use crate::site::{self, Layout, error_page};

/// `/psc/connexion?pour=activation|connexion`: off to Pro Santé Connect.
pub async fn psc_start(
    State(state): State<WebState>,
    mut session: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let a = accounts(&state);
    let purpose = match q.get("pour").map(String::as_str) {
        Some("activation") => Purpose::Activation,
        Some("mot-de-passe") => Purpose::Recovery,
        _ => Purpose::Login,
    };
    match a.psc.authorization_request().await {
        Ok((url, pending)) => {
            session.data.psc = Some((pending, purpose));
            session.respond(&a, see_other(&url)).await
        }
        Err(e) => {
            tracing::warn!("Pro Santé Connect: {e}");
            let lang = session.lang();
            let msg = Tr(lang).text_of("login.psc-down");
            session
                .respond(&a, error_page(lang, StatusCode::BAD_GATEWAY, msg))
                .await
        }
    }
}

/// `/psc/retour`: the provider sends the browser back with a code.
pub async fn psc_return(
    State(state): State<WebState>,
    mut session: Session,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    let a = accounts(&state);
    let lang = session.lang();
    let Some((pending, purpose)) = session.data.psc.take() else {
        let msg = Tr(lang).text_of("login.psc-expired");
        return session
            .respond(&a, error_page(lang, StatusCode::BAD_REQUEST, msg))
            .await;
    };
    let person = match a.psc.complete(&pending, &q).await {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(target: "audit", event = "login", protocol = "web", method = "psc", outcome = "failure", reason = %e);
            let msg = Tr(lang).fill("login.psc-refused", &[("reason", &e.to_string())]);
            return session.respond(&a, error_page(lang, StatusCode::FORBIDDEN, &msg)).await;
        }
    };
    tracing::info!(target: "audit", event = "identity", protocol = "web", method = "psc", national_id = %person.national_id,
        acr = person.acr.as_deref().unwrap_or(""), outcome = "success");
    proven(
        a,
        session,
        Identity {
            person,
            proof: Proof::Psc,
        },
        purpose,
    )
    .await
}

/// `/cps/connexion?pour=activation|connexion`: the CPS card presented in the TLS handshake
/// (its chain was checked against the persons CA by then).
pub async fn cps(
    State(state): State<WebState>,
    axum::Extension(card): axum::Extension<super::Card>,
    session: Session,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let a = accounts(&state);
    let lang = session.lang();
    let purpose = match q.get("pour").map(String::as_str) {
        Some("activation") => Purpose::Activation,
        Some("mot-de-passe") => Purpose::Recovery,
        _ => Purpose::Login,
    };
    let Some(holder) = card.0 else {
        let msg = Tr(lang).text_of("login.no-card");
        return session
            .respond(&a, error_page(lang, StatusCode::UNAUTHORIZED, msg))
            .await;
    };
    tracing::info!(target: "audit", event = "identity", protocol = "web", method = "cps", national_id = %holder.national_id, outcome = "success");
    let person = confiance_auth::psc::PscIdentity {
        national_id: holder.national_id,
        given_name: holder.given_name,
        family_name: holder.family_name,
        profession: holder
            .title
            .as_deref()
            .and_then(confiance_core::profession_code)
            .map(str::to_string),
        acr: None,
        // The card says who, not where: the situation d'exercice comes with PSC only.
        practice: None,
    };
    proven(
        a,
        session,
        Identity {
            person,
            proof: Proof::Cps,
        },
        purpose,
    )
    .await
}

/// An identity was proven (PSC or CPS): its mailbox opens, or activation goes on.
pub(super) async fn proven(
    a: std::sync::Arc<Accounts>,
    mut session: Session,
    identity: Identity,
    purpose: Purpose,
) -> Response {
    let lang = session.lang();
    let national = identity.person.national_id.clone();
    let method = match identity.proof {
        Proof::Psc => "psc",
        Proof::Cps => "cps",
    };
    session.data.identity = Some(identity);
    let owned = a.registry.accounts_of(national.clone()).await.unwrap_or_default();
    let Some(account) = owned.into_iter().next() else {
        // No BAL of their own, but members of shared ones (a practice's, a service's): they
        // open those (issue 16).
        let shared = a.registry.memberships(national.clone()).await.unwrap_or_default();
        if purpose != Purpose::Activation && shared.iter().any(|(_, r)| r.read) {
            tracing::info!(target: "audit", event = "login", protocol = "web", method, actor = %national,
                outcome = "success", note = "member without a BAL of their own");
            session.rotate(&a).await;
            session.data.member = Some(national);
            return session.respond(&a, see_other("/webmail")).await;
        }
        if purpose != Purpose::Activation {
            session.data.flash = Some(Tr(lang).text_of("login.no-bal-yet").into());
        }
        session.rotate(&a).await;
        return session.respond(&a, see_other("/activation/adresse")).await;
    };
    match purpose {
        // Activation again for an identity that has a BAL: its account page.
        Purpose::Activation => session.data.flash = Some(Tr(lang).text_of("login.already-active").into()),
        Purpose::Recovery => session.data.flash = Some(Tr(lang).text_of("recovery.choose-new").into()),
        Purpose::Login => {}
    }
    // Activation again goes to account modification, a forgotten password to the new one; a
    // login goes to the mail.
    let to = match purpose {
        Purpose::Activation => "/compte",
        Purpose::Recovery => "/compte#mot-de-passe",
        Purpose::Login => "/webmail",
    };
    open(a, session, account, method, to).await
}

/// The account is open in this session.
async fn open(a: std::sync::Arc<Accounts>, mut session: Session, account: Account, method: &str, to: &str) -> Response {
    let lang = session.lang();
    if account.status == AccountStatus::Suspended {
        // Nothing proven stays: the identity cannot go on to activate another BAL.
        session.data.identity = None;
        tracing::warn!(target: "audit", event = "login", protocol = "web", method, account = %account.address, outcome = "failure", reason = "suspended");
        let msg = Tr(lang).text_of("login.suspended");
        return session.respond(&a, error_page(lang, StatusCode::FORBIDDEN, msg)).await;
    }
    let id = account.id;
    a.registry.record_login(id, now()).await;
    let national = session
        .data
        .identity
        .as_ref()
        .map(|i| i.person.national_id.clone())
        .unwrap_or_default();
    tracing::info!(target: "audit", event = "login", protocol = "web", method, account = %account.address, national_id = %national, outcome = "success");
    session.rotate(&a).await;
    session.data.account = Some(id.0);
    session.data.factor = None;
    // A professional logs in to read their mail.
    session.respond(&a, see_other(to)).await
}

#[derive(Template)]
#[template(path = "account/login.html")]
struct LoginPage<'a> {
    l: Layout,
    tr: Tr,
    csrf: &'a str,
    address: &'a str,
}

fn login_form(session: &Session, error: Option<&str>, address: &str) -> Response {
    let page = LoginPage {
        l: layout::of(session, "login.title")
            .flash(session.data.flash.as_deref())
            .error(error),
        tr: Tr(session.lang()),
        csrf: &session.data.csrf,
        address,
    };
    site::form(&page, error.is_some(), StatusCode::UNAUTHORIZED)
}

pub async fn page(State(state): State<WebState>, mut session: Session) -> Response {
    let a = accounts(&state);
    if session.account().is_some() {
        return session.respond(&a, see_other("/webmail")).await;
    }
    let form = login_form(&session, None, "");
    session.data.flash = None;
    session.respond(&a, form).await
}

/// What to tell about a lock that is on.
fn locked_message(lang: Lang, until: i64) -> String {
    let minutes = ((until - now()) as f64 / 60.0).ceil().max(1.0) as i64;
    Tr(lang).fill("login.locked", &[("minutes", &minutes.to_string())])
}

/// The answer to a failed attempt whose failure was already counted (`counted`).
fn failed(lang: Lang, limit: u32, counted: LoginFailures, what: &str) -> String {
    match counted.locked_until {
        Some(until) if until > now() => locked_message(lang, until),
        _ => {
            let left = limit.saturating_sub(counted.count);
            format!("{what} {}", Tr(lang).n("login.attempts-left", u64::from(left)).0)
        }
    }
}

/// Counts an attempt on `account` *before* its secret is checked, so that parallel attempts
/// cannot check more secrets than `login_attempts`: the count, or the end of the lock that
/// forbids checking.
async fn count_attempt(a: &Accounts, account: AccountId) -> Result<LoginFailures, i64> {
    let (limit, lock) = (a.policy.login_attempts, a.policy.lock_seconds);
    let counted = a
        .registry
        .record_failure(account, now(), limit, lock)
        .await
        .unwrap_or(LoginFailures {
            count: u32::MAX,
            locked_until: None,
        });
    if counted.count > limit {
        return Err(counted.locked_until.unwrap_or(now() + lock));
    }
    Ok(counted)
}

/// The secret was right: the attempt counted before it is taken back.
async fn forgive(a: &Accounts, account: AccountId) {
    let limit = a.policy.login_attempts;
    a.registry.forgive_failure(account, limit).await;
}

async fn lock_in_force(a: &Accounts, account: AccountId) -> Option<i64> {
    a.registry
        .login_failures(account)
        .await?
        .locked_until
        .filter(|u| *u > now())
}

pub async fn password_post(
    State(state): State<WebState>,
    axum::Extension(client): axum::Extension<super::Client>,
    Posted { mut session, form: f }: Posted,
) -> Response {
    let a = accounts(&state);
    let lang = session.lang();
    let address = f.get("adresse").map(|s| s.trim().to_lowercase()).unwrap_or_default();
    let password = f.get("mot_de_passe").cloned().unwrap_or_default();
    // One answer for an unknown address and a wrong password, after the same work and the
    // same pause, so the page does not tell which addresses exist (liste rouge included).
    let (limit, minutes) = (a.policy.login_attempts, a.policy.lock_seconds / 60);
    let wrong = Tr(lang).fill(
        "login.wrong",
        &[("limit", &limit.to_string()), ("minutes", &minutes.to_string())],
    );
    let pause = || tokio::time::sleep(std::time::Duration::from_millis(300));
    let audit = |reason: &str| {
        tracing::warn!(target: "audit", event = "login", protocol = "web", method = "password", account = %address,
            peer = %client.0, outcome = "failure", reason);
    };
    // The address's penalty for this account, shared with IMAP and SMTP, before anything else.
    let counted_here = match a.throttle.begin(client.0, &address) {
        Ok(c) => c,
        Err(refused) => {
            // From this address, this account is locked: said as the lock is, whether the
            // account exists or not.
            audit(refused.reason());
            pause().await;
            let until = now() + a.throttle.penalty().as_secs() as i64;
            let r = login_form(&session, Some(&locked_message(lang, until)), &address);
            return session.respond(&a, r).await;
        }
    };
    let lookup = address.clone();
    let account = a.registry.account_by_address(lookup).await.flatten();
    let Some(account) = account else {
        // An unknown address locks as an account would, by the same steps below, so neither
        // the wording nor the time tells anything either.
        if let Some(until) = a.unknown.locked(&address, now()) {
            audit("locked");
            let r = login_form(&session, Some(&locked_message(lang, until)), &address);
            return session.respond(&a, r).await;
        }
        let locked = a.unknown.failure(&address, limit, a.policy.lock_seconds, now());
        confiance_auth::login::check_password(password, confiance_auth::login::DUMMY_HASH.to_string()).await;
        audit("unknown address");
        pause().await;
        let msg = locked.map(|until| locked_message(lang, until)).unwrap_or(wrong);
        let r = login_form(&session, Some(&msg), &address);
        return session.respond(&a, r).await;
    };
    if let Some(until) = lock_in_force(&a, account.id).await {
        audit("locked");
        let r = login_form(&session, Some(&locked_message(lang, until)), &address);
        return session.respond(&a, r).await;
    }
    let counted = match count_attempt(&a, account.id).await {
        Ok(c) => c,
        Err(until) => {
            audit("locked");
            let r = login_form(&session, Some(&locked_message(lang, until)), &address);
            return session.respond(&a, r).await;
        }
    };
    if !confiance_auth::login::check_password(password, account.password_hash.clone()).await {
        audit("wrong password");
        pause().await;
        let msg = counted
            .locked_until
            .filter(|until| *until > now())
            .map(|until| locked_message(lang, until))
            .unwrap_or(wrong);
        let r = login_form(&session, Some(&msg), &address);
        return session.respond(&a, r).await;
    }
    forgive(&a, account.id).await;
    counted_here.succeeded();
    let id = account.id;
    let Some(profile) = a.registry.profile(id).await.flatten() else {
        let msg = Tr(lang).text_of("login.not-activated");
        let r = login_form(&session, Some(msg), &address);
        return session.respond(&a, r).await;
    };
    let mut pending = PendingFactor {
        account: id.0,
        sent: None,
        sent_at: 0,
    };
    if let Err(msg) = send_code(&a, lang, &profile, &mut pending).await {
        let r = login_form(&session, Some(&msg), &address);
        return session.respond(&a, r).await;
    }
    session.data.factor = Some(pending);
    session.respond(&a, see_other("/connexion/code")).await
}

/// Sends a fresh code by the holder's channel (nothing to send for an authenticator app).
async fn send_code(a: &Accounts, lang: Lang, profile: &Profile, pending: &mut PendingFactor) -> Result<(), String> {
    let (code, kept) = SentCode::new(now());
    let tr = Tr(lang);
    let text = tr.fill("login.code-message", &[("code", &code)]);
    let sent = match profile.second_factor {
        SecondFactor::Totp => return Ok(()),
        SecondFactor::Email => match &profile.personal_email {
            Some(to) => a
                .notifier
                .email(to, tr.text_of("login.code-subject"), &text)
                .await
                .map_err(|e| e.to_string()),
            None => Err("no personal e-mail".into()),
        },
        SecondFactor::Sms => match &profile.mobile {
            Some(to) => a.notifier.sms(to, &text).await.map_err(|e| e.to_string()),
            None => Err("no mobile".into()),
        },
    };
    match sent {
        Ok(()) => {
            pending.sent = Some(kept);
            pending.sent_at = now();
            Ok(())
        }
        Err(e) => {
            tracing::warn!("one-time code not sent: {e}");
            Err(tr.text_of("login.code-not-sent").into())
        }
    }
}

/// How the code reaches the holder, without showing the whole e-mail or number.
fn mask(profile: &Profile, lang: Lang) -> String {
    let tr = Tr(lang);
    match profile.second_factor {
        SecondFactor::Totp => tr.text_of("login.code-from-app").into(),
        SecondFactor::Email => {
            let e = profile.personal_email.as_deref().unwrap_or("");
            let (user, domain) = e.split_once('@').unwrap_or((e, ""));
            let first: String = user.chars().take(1).collect();
            tr.fill("login.code-sent-email", &[("first", &first), ("domain", domain)])
        }
        SecondFactor::Sms => {
            let m = profile.mobile.as_deref().unwrap_or("");
            let last: String = m.chars().rev().take(2).collect::<Vec<_>>().into_iter().rev().collect();
            tr.fill("login.code-sent-sms", &[("last", &last)])
        }
    }
}

#[derive(Template)]
#[template(path = "account/code.html")]
struct CodePage<'a> {
    l: Layout,
    tr: Tr,
    csrf: &'a str,
    hint: String,
    /// A code that was sent can be sent again; an authenticator's cannot.
    resend: bool,
}

async fn code_form(a: &Accounts, session: &Session, error: Option<&str>) -> Response {
    let lang = session.lang();
    let Some(pending) = &session.data.factor else {
        return see_other("/connexion");
    };
    let id = AccountId(pending.account);
    let profile = a.registry.profile(id).await.flatten();
    let Some(profile) = profile else {
        return see_other("/connexion");
    };
    let page = CodePage {
        l: layout::of(session, "login.code-title").error(error),
        tr: Tr(lang),
        csrf: &session.data.csrf,
        hint: mask(&profile, lang),
        resend: profile.second_factor != SecondFactor::Totp,
    };
    site::form(&page, error.is_some(), StatusCode::UNAUTHORIZED)
}

pub async fn code_page(State(state): State<WebState>, session: Session) -> Response {
    let a = accounts(&state);
    let r = code_form(&a, &session, None).await;
    session.respond(&a, r).await
}

pub async fn code_post(State(state): State<WebState>, Posted { mut session, form: f }: Posted) -> Response {
    let a = accounts(&state);
    let lang = session.lang();
    let Some(mut pending) = session.data.factor.clone() else {
        return session.respond(&a, see_other("/connexion")).await;
    };
    let id = AccountId(pending.account);
    let lock = match lock_in_force(&a, id).await {
        Some(until) => Err(until),
        None => count_attempt(&a, id).await,
    };
    let counted = match lock {
        Ok(counted) => counted,
        Err(until) => {
            session.data.factor = None;
            let r = error_page(lang, StatusCode::FORBIDDEN, &locked_message(lang, until));
            return session.respond(&a, r).await;
        }
    };
    let (Some(account), Some(profile)) = (
        a.registry.account(id).await.flatten(),
        a.registry.profile(id).await.flatten(),
    ) else {
        session.data.factor = None;
        return session.respond(&a, see_other("/connexion")).await;
    };
    let input = f.get("code").map(|c| c.replace(' ', "")).unwrap_or_default();
    let tr = Tr(lang);
    let method = format!("password+{}", profile.second_factor.as_str());
    let error = if profile.second_factor == SecondFactor::Totp {
        // No key, no code: an empty key would make every code computable.
        let secret = profile
            .totp_secret
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "!".into());
        match totp_verify(&secret, &input, now(), None) {
            Some(step) if a.registry.claim_totp_step(id, step).await == Some(true) => None,
            Some(_) => Some(tr.text_of("login.code-used")),
            None => Some(tr.text_of("login.code-wrong")),
        }
    } else {
        let check = pending
            .sent
            .as_mut()
            .map(|c| c.check(&input, now()))
            .unwrap_or(CodeCheck::Exhausted);
        session.data.factor = Some(pending.clone());
        match check {
            CodeCheck::Valid => None,
            CodeCheck::Wrong(_) => Some(tr.text_of("login.code-wrong")),
            CodeCheck::Expired => {
                let r = code_form(&a, &session, Some(tr.text_of("login.code-expired"))).await;
                return session.respond(&a, r).await;
            }
            CodeCheck::Exhausted => Some(tr.text_of("login.code-exhausted")),
        }
    };
    match error {
        None => open(a.clone(), session, account, &method, "/webmail").await,
        Some(what) => {
            tracing::warn!(target: "audit", event = "login", protocol = "web", method = %method, account = %account.address, outcome = "failure", reason = "wrong code");
            let msg = failed(lang, a.policy.login_attempts, counted, what);
            let r = code_form(&a, &session, Some(&msg)).await;
            session.respond(&a, r).await
        }
    }
}

pub async fn code_resend(State(state): State<WebState>, Posted { mut session, .. }: Posted) -> Response {
    let a = accounts(&state);
    let lang = session.lang();
    let Some(mut pending) = session.data.factor.clone() else {
        return session.respond(&a, see_other("/connexion")).await;
    };
    // At most one code every 30 seconds, so the channel cannot be flooded from here.
    if now() - pending.sent_at < 30 {
        let r = code_form(&a, &session, Some(Tr(lang).text_of("login.code-wait"))).await;
        return session.respond(&a, r).await;
    }
    let id = AccountId(pending.account);
    let Some(profile) = a.registry.profile(id).await.flatten() else {
        return session.respond(&a, see_other("/connexion")).await;
    };
    let error = send_code(&a, lang, &profile, &mut pending).await.err();
    session.data.factor = Some(pending);
    let r = code_form(&a, &session, error.as_deref()).await;
    session.respond(&a, r).await
}

pub async fn logout(State(state): State<WebState>, Posted { mut session, .. }: Posted) -> Response {
    let a = accounts(&state);
    if let Some(account) = session.data.account {
        tracing::info!(target: "audit", event = "logout", protocol = "web", account);
    }
    let lang = session.lang();
    session.clear(&a).await;
    session.data.flash = Some(Tr(lang).text_of("login.logged-out").into());
    session.respond(&a, see_other("/connexion")).await
}
