//! Staff of a structure (issue 16): a secretary or a care home's administration, without an
//! RPPS nor a BAL of their own. They log in on their own page with their e-mail, password and
//! the code of their authenticator app (TOTP, RFC 6238), see the shared BALs they belong to
//! with their rights, and make app passwords to reach them over IMAP and SMTP, where those
//! rights are checked at every login (read for IMAP, send for SMTP).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use confiance_auth::otp::totp_verify;

use super::layout;
use super::session::{Posted, Session};
use super::{Accounts, accounts, now, see_other};
use crate::WebState;
use crate::i18n::Tr;
use crate::site;

#[derive(Template)]
#[template(path = "account/staff_login.html")]
struct LoginPage<'a> {
    l: site::Layout,
    tr: Tr,
    csrf: &'a str,
    email: &'a str,
}

fn login_form(session: &Session, error: Option<&str>, email: &str) -> Response {
    let page = LoginPage {
        l: layout::of(session, "staff.title")
            .flash(session.data.flash.as_deref())
            .error(error),
        tr: Tr(session.lang()),
        csrf: &session.data.csrf,
        email,
    };
    site::form(&page, error.is_some(), StatusCode::UNAUTHORIZED)
}

pub async fn login_page(State(state): State<WebState>, mut session: Session) -> Response {
    let a = accounts(&state);
    if session.data.staff.is_some() {
        return session.respond(&a, see_other("/structure")).await;
    }
    let form = login_form(&session, None, "");
    session.data.flash = None;
    session.respond(&a, form).await
}

pub async fn login_post(
    State(state): State<WebState>,
    axum::Extension(client): axum::Extension<super::Client>,
    Posted { mut session, form: f }: Posted,
) -> Response {
    let a = accounts(&state);
    let lang = session.lang();
    let email = f
        .get("identifiant")
        .map(|s| s.trim().to_lowercase())
        .unwrap_or_default();
    let password = f.get("mot_de_passe").cloned().unwrap_or_default();
    let code = f.get("code").cloned().unwrap_or_default();
    // One answer whatever was wrong (identifier, password, code, suspension), after the same
    // work: the page does not tell who is staff here.
    let wrong = Tr(lang).text_of("staff.wrong").to_string();
    let refuse = |reason: &str| {
        tracing::warn!(target: "audit", event = "login", protocol = "web", method = "password+totp", actor = %email,
            peer = %client.0, outcome = "failure", reason);
    };
    // Counted before anything is checked, with the throttle IMAP and SMTP share.
    let counted = match a.throttle.begin(client.0, &email) {
        Ok(c) => c,
        Err(refused) => {
            refuse(refused.reason());
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let r = login_form(&session, Some(&wrong), &email);
            return session.respond(&a, r).await;
        }
    };
    let staff = a.registry.staff(email.clone()).await.flatten();
    let hash = staff
        .as_ref()
        .map_or(confiance_auth::login::DUMMY_HASH.to_string(), |s| {
            s.password_hash.clone()
        });
    let password_right = confiance_auth::login::check_password(password, hash).await;
    let outcome = match staff {
        None => Err("unknown staff"),
        Some(_) if !password_right => Err("wrong password"),
        Some(s) if s.suspended => Err("suspended"),
        Some(s) => match totp_verify(&s.totp_secret, &code, now(), None) {
            Some(step) if a.registry.claim_staff_totp_step(email.clone(), step).await == Some(true) => Ok(s),
            _ => Err("wrong code"),
        },
    };
    match outcome {
        Err(reason) => {
            refuse(reason);
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            let r = login_form(&session, Some(&wrong), &email);
            session.respond(&a, r).await
        }
        Ok(s) => {
            counted.succeeded();
            tracing::info!(target: "audit", event = "login", protocol = "web", method = "password+totp", actor = %s.email,
                peer = %client.0, outcome = "success");
            session.rotate(&a).await;
            session.data.staff = Some(s.email);
            session.respond(&a, see_other("/structure")).await
        }
    }
}

/// A BAL the staff member belongs to, as the page lists it.
struct BalRow {
    address: String,
    name: String,
    rights: String,
    /// Whether an app password may be made for it (read or send).
    usable: bool,
    /// Whether the webmail opens it (read).
    readable: bool,
}

#[derive(Template)]
#[template(path = "account/staff.html")]
struct StaffPage<'a> {
    l: site::Layout,
    tr: Tr,
    csrf: &'a str,
    name: String,
    bals: Vec<BalRow>,
    new_app: Option<(String, String)>,
    /// The structures they administer: (FINESS, name), links to the console.
    administered: Vec<(String, String)>,
    /// They may read one of their BALs: the webmail is open to them.
    readable: bool,
    clients: &'a crate::MailClients,
}

async fn render(a: &Accounts, session: &Session, email: &str, error: Option<&str>) -> Response {
    let tr = Tr(session.lang());
    let name = a
        .registry
        .staff(email.to_string())
        .await
        .flatten()
        .map(|s| s.name)
        .unwrap_or_default();
    let bals: Vec<BalRow> = a
        .registry
        .memberships(email.to_string())
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|(account, r)| {
            let rights: Vec<&str> = [
                (r.read, "staff.read"),
                (r.send, "staff.send"),
                (r.manage, "staff.manage"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, key)| tr.text_of(key))
            .collect();
            BalRow {
                name: account.display_name.clone().unwrap_or_else(|| account.address.clone()),
                address: account.address,
                rights: rights.join(", "),
                usable: r.read || r.send,
                readable: r.read,
            }
        })
        .collect();
    let administered = a
        .registry
        .administered_by(email.to_string())
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|s| (s.finess, s.name))
        .collect();
    let readable = bals.iter().any(|b: &BalRow| b.readable);
    let page = StaffPage {
        administered,
        readable,
        l: layout::of(session, "staff.bals-title")
            .flash(session.data.flash.as_deref())
            .error(error),
        tr,
        csrf: &session.data.csrf,
        name,
        bals,
        new_app: session.data.new_app_password.clone(),
        clients: &a.clients,
    };
    site::form(&page, error.is_some(), StatusCode::UNPROCESSABLE_ENTITY)
}

pub async fn page(State(state): State<WebState>, mut session: Session) -> Response {
    let a = accounts(&state);
    let Some(email) = session.data.staff.clone() else {
        return session.respond(&a, see_other("/structure/connexion")).await;
    };
    let r = render(&a, &session, &email, None).await;
    session.data.flash = None;
    session.data.new_app_password = None;
    session.respond(&a, r).await
}

/// An app password of one BAL for this staff member, shown once.
pub async fn app_password(State(state): State<WebState>, Posted { mut session, form: f }: Posted) -> Response {
    let a = accounts(&state);
    let tr = Tr(session.lang());
    let Some(email) = session.data.staff.clone() else {
        return session.respond(&a, see_other("/structure/connexion")).await;
    };
    let bal = f.get("bal").map(|b| b.trim().to_lowercase()).unwrap_or_default();
    let label: String = f
        .get("libelle")
        .map(|l| l.trim().chars().take(60).collect())
        .unwrap_or_default();
    if label.is_empty() {
        let r = render(&a, &session, &email, Some(tr.text_of("account.name-the-software"))).await;
        return session.respond(&a, r).await;
    }
    // Only a BAL they belong to with a right to use it: another address changes nothing.
    let memberships = a.registry.memberships(email.clone()).await.unwrap_or_default();
    let Some((account, _)) = memberships
        .into_iter()
        .find(|(m, r)| m.address == bal && (r.read || r.send))
    else {
        let r = render(&a, &session, &email, Some(tr.text_of("staff.not-member"))).await;
        return session.respond(&a, r).await;
    };
    let existing = a.registry.app_passwords(account.id).await.unwrap_or_default();
    let mine = existing
        .iter()
        .filter(|p| p.member.as_deref() == Some(email.as_str()))
        .count();
    if mine >= confiance_auth::login::MAX_APP_PASSWORDS {
        let r = render(&a, &session, &email, Some(tr.text_of("account.too-many-apps"))).await;
        return session.respond(&a, r).await;
    }
    let password = confiance_auth::app_password::generate_for(&existing);
    let hash = confiance_auth::app_password::hash(&password);
    let lookup = confiance_auth::app_password::lookup_of(&password)
        .unwrap_or_default()
        .to_string();
    if a.registry
        .add_member_app_password(account.id, email.clone(), label.clone(), hash, lookup)
        .await
        .is_none()
    {
        let r = render(&a, &session, &email, Some(super::save_failed(session.lang()))).await;
        return session.respond(&a, r).await;
    }
    tracing::info!(target: "audit", event = "app_password_created", bal = %account.address, actor = %email, label = %label);
    session.data.new_app_password = Some((format!("{label} — {}", account.address), password));
    session.respond(&a, see_other("/structure")).await
}
