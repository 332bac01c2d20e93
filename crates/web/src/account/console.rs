//! The structure administrators' console (issue 16): an administrator named with `confiance
//! structure admin add` (a professional by PSC or CPS, or a staff account) creates the
//! structure's ORG, APP and CAB BALs, creates staff accounts, gives members their rights,
//! suspends a BAL or a staff member who left. Every request checks again that the session's
//! identity administers the structure, and every change is traced with who made it.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use confiance_auth::model::{Account, AccountStatus, Rights, StaffAccount, StoreError, Structure};
use confiance_core::MailboxKind;

use super::session::{Posted, Session};
use super::{Accounts, accounts, layout, now, see_other};
use crate::WebState;
use crate::i18n::Tr;
use crate::site;

/// Who the session is, as structures name their administrators: a staff e-mail, or the
/// professional's IdNat_PS.
async fn identity(a: &Accounts, session: &Session) -> Option<String> {
    if let Some(member) = session.member() {
        return Some(member);
    }
    let id = session.account()?;
    a.registry.profile(id).await.flatten()?.national_id
}

/// The structure if the session administers it; else the answer to give.
async fn guard(a: &Accounts, session: &Session, finess: &str) -> Result<(String, Structure), Response> {
    let Some(who) = identity(a, session).await else {
        return Err(see_other("/structure/connexion"));
    };
    match a
        .registry
        .structure_of_admin(finess.to_string(), who.clone())
        .await
        .flatten()
    {
        Some(s) => Ok((who, s)),
        None => {
            let lang = session.lang();
            Err(site::error_page(
                lang,
                StatusCode::FORBIDDEN,
                Tr(lang).text_of("console.not-admin"),
            ))
        }
    }
}

pub async fn home(State(state): State<WebState>, session: Session) -> Response {
    let a = accounts(&state);
    let Some(who) = identity(&a, &session).await else {
        return session.respond(&a, see_other("/structure/connexion")).await;
    };
    let structures = a.registry.administered_by(who).await.unwrap_or_default();
    let to = match structures.as_slice() {
        [one] => format!("/console/{}", one.finess),
        _ => "/structure".to_string(),
    };
    session.respond(&a, see_other(&to)).await
}

/// One line of the month's chart: what is counted, and its value for the structure, its
/// département and the nation (the bar of each is drawn against the nation's).
struct FigureRow {
    label: &'static str,
    values: [u64; 3],
    max: u64,
}

/// What the console draws, in this order: (catalogue key, indicator, details summed; none
/// sums every detail).
const DRAWN: &[(&str, &str, &[&str])] = &[
    ("console.ind-sent", "messages_envoyes", &["total"]),
    ("console.ind-received", "messages_recus", &["total"]),
    ("console.ind-segur", "messages_segur", &[]),
    ("console.ind-patients", "messages_envoyes", &["patients"]),
    ("console.ind-active", "bal_actives", &[]),
    ("console.ind-logins", "connexions", &[]),
];

/// The month's figures of the structure, its département and the nation, off the workers.
async fn figures(state: &WebState, tr: Tr, finess: &str) -> (String, Vec<FigureRow>) {
    let month = chrono::Local::now().format("%Y-%m").to_string();
    let Some(source) = state.indicators.clone() else {
        return (month, Vec::new());
    };
    let (f, m) = (finess.to_string(), month.clone());
    let Ok(Some(scopes)) = tokio::task::spawn_blocking(move || source.figures(&f, &m)).await else {
        return (month, Vec::new());
    };
    let rows = DRAWN
        .iter()
        .map(|(label, indicator, details)| {
            let values = [0, 1, 2].map(|i| {
                scopes[i]
                    .iter()
                    .filter(|((ind, detail), _)| {
                        ind == indicator && (details.is_empty() || details.contains(&detail.as_str()))
                    })
                    .map(|(_, v)| *v)
                    .sum()
            });
            FigureRow {
                label: tr.text_of(label),
                max: values.iter().copied().max().unwrap_or(0).max(1),
                values,
            }
        })
        .collect();
    (month, rows)
}

struct BalRow {
    address: String,
    name: String,
    kind: &'static str,
    suspended: bool,
}

#[derive(Template)]
#[template(path = "account/console.html")]
struct StructurePage<'a> {
    l: site::Layout,
    tr: Tr,
    csrf: &'a str,
    finess: String,
    address: String,
    bals: Vec<BalRow>,
    domains: &'a [String],
    /// A staff account just made: e-mail, password, authenticator key; shown once.
    new_staff: Option<(String, String, String)>,
    month: String,
    departement: String,
    figures: Vec<FigureRow>,
}

async fn structure_page(
    state: &WebState,
    a: &Accounts,
    session: &Session,
    s: &Structure,
    error: Option<&str>,
) -> Response {
    let (month, figures) = figures(state, Tr(session.lang()), &s.finess).await;
    let departement = confiance_core::Finess::parse(&s.finess)
        .map(|f| f.departement())
        .unwrap_or_default();
    let bals = a
        .registry
        .structure_bals(s.finess.clone())
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|b| BalRow {
            name: b.display_name.clone().unwrap_or_default(),
            kind: b.kind.code(),
            suspended: b.status == AccountStatus::Suspended,
            address: b.address,
        })
        .collect();
    let mut l = layout::of(session, "console.title")
        .flash(session.data.flash.as_deref())
        .error(error);
    l.title = format!("{} — {}", l.title, s.name);
    let page = StructurePage {
        l,
        tr: Tr(session.lang()),
        csrf: &session.data.csrf,
        finess: s.finess.clone(),
        address: s.address.clone().unwrap_or_default(),
        bals,
        domains: &a.domains,
        new_staff: session.data.new_staff.clone(),
        month,
        departement,
        figures,
    };
    site::form(&page, error.is_some(), StatusCode::UNPROCESSABLE_ENTITY)
}

pub async fn structure(State(state): State<WebState>, mut session: Session, Path(finess): Path<String>) -> Response {
    let a = accounts(&state);
    let s = match guard(&a, &session, &finess).await {
        Ok((_, s)) => s,
        Err(r) => return session.respond(&a, r).await,
    };
    let r = structure_page(&state, &a, &session, &s, None).await;
    session.data.flash = None;
    session.data.new_staff = None;
    session.respond(&a, r).await
}

/// Longest name of a BAL or a staff member, as the forms say (`maxlength`), checked again here.
const MAX_NAME: usize = 80;

/// Creates an ORG, APP or CAB BAL of the structure.
pub async fn create_bal(
    State(state): State<WebState>,
    Path(finess): Path<String>,
    Posted { mut session, form: f }: Posted,
) -> Response {
    let a = accounts(&state);
    let (who, s) = match guard(&a, &session, &finess).await {
        Ok(found) => found,
        Err(r) => return session.respond(&a, r).await,
    };
    let tr = Tr(session.lang());
    let local = f.get("local").map(|l| l.trim().to_lowercase()).unwrap_or_default();
    let domain = f.get("domaine").cloned().unwrap_or_default();
    let name = f.get("nom").map(|n| n.trim().to_string()).unwrap_or_default();
    let kind = match f.get("type").map(String::as_str) {
        Some("ORG") => MailboxKind::Organisational,
        Some("APP") => MailboxKind::Applicative,
        Some("CAB") => MailboxKind::Practice,
        _ => MailboxKind::Personal,
    };
    let address = format!("{local}@{domain}");
    let problem = if kind == MailboxKind::Personal {
        Some("console.choose-type")
    } else if name.is_empty() {
        Some("console.name-the-bal")
    } else if name.chars().count() > MAX_NAME {
        Some("console.name-too-long")
    } else if !a.domains.contains(&domain)
        || confiance_core::Address::parse(&address).is_err()
        || !confiance_core::address::is_new_local_part(&local)
    {
        Some("console.bad-address")
    } else {
        None
    };
    if let Some(key) = problem {
        let r = structure_page(&state, &a, &session, &s, Some(tr.text_of(key))).await;
        return session.respond(&a, r).await;
    }
    let made = a
        .registry
        .create_structure_bal(address.clone(), kind, s.finess.clone(), name.clone(), a.quota)
        .await;
    match made {
        Ok(_) => {
            tracing::info!(target: "audit", event = "bal_created", account = %address, actor = %who, kind = kind.code(),
                finess = %s.finess);
            session.data.flash = Some(tr.fill("console.bal-created", &[("address", &address)]));
            session
                .respond(&a, see_other(&format!("/console/{}/bal/{address}", s.finess)))
                .await
        }
        Err(e) => {
            let key = match e {
                StoreError::AccountExists => "console.address-taken",
                _ => "account.save-failed",
            };
            let r = structure_page(&state, &a, &session, &s, Some(tr.text_of(key))).await;
            session.respond(&a, r).await
        }
    }
}

/// A password for a new staff account that meets the national rule (upper and lower case,
/// digits, at least 8): four random groups, two upper-case and two lower-case, drawn again
/// until it has a digit. The authenticator app is the second factor.
fn temporary_password() -> String {
    loop {
        let upper = confiance_auth::app_password::generate().to_uppercase();
        let lower = confiance_auth::app_password::generate();
        let password = format!("{}-{}", &upper[..9], &lower[..9]);
        if confiance_auth::check_policy(&password).is_ok() {
            return password;
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_staff_password_meets_the_national_rule() {
        for _ in 0..200 {
            let p = super::temporary_password();
            assert!(confiance_auth::check_policy(&p).is_ok(), "{p}");
            assert_eq!(p.len(), 19, "{p}");
        }
    }
}

/// Creates a staff account; its password and authenticator key are shown once.
pub async fn create_staff(
    State(state): State<WebState>,
    Path(finess): Path<String>,
    Posted { mut session, form: f }: Posted,
) -> Response {
    let a = accounts(&state);
    let (who, s) = match guard(&a, &session, &finess).await {
        Ok(found) => found,
        Err(r) => return session.respond(&a, r).await,
    };
    let tr = Tr(session.lang());
    let email =
        confiance_core::Address::parse(f.get("email").map(String::as_str).unwrap_or_default()).map(|e| e.to_string());
    let name = f.get("nom_personnel").map(|n| n.trim().to_string()).unwrap_or_default();
    let (Ok(email), false) = (email, name.is_empty() || name.chars().count() > MAX_NAME) else {
        let r = structure_page(&state, &a, &session, &s, Some(tr.text_of("console.staff-incomplete"))).await;
        return session.respond(&a, r).await;
    };
    let password = temporary_password();
    let Some(hash) = super::hash(password.clone()).await else {
        let r = structure_page(&state, &a, &session, &s, Some(super::save_failed(session.lang()))).await;
        return session.respond(&a, r).await;
    };
    let secret = confiance_auth::otp::new_totp_secret();
    let staff = StaffAccount {
        email: email.clone(),
        name,
        password_hash: hash,
        totp_secret: secret.clone(),
        suspended: false,
        created_at: now(),
    };
    match a.registry.add_staff(staff).await {
        Ok(()) => {
            tracing::info!(target: "audit", event = "staff_added", staff = %email, actor = %who, finess = %s.finess);
            let uri = confiance_auth::otp::otpauth_uri(&secret, &email, &a.issuer_label);
            session.data.new_staff = Some((email, password, uri));
            session.respond(&a, see_other(&format!("/console/{}", s.finess))).await
        }
        Err(e) => {
            let key = match e {
                StoreError::AccountExists => "console.staff-exists",
                _ => "account.save-failed",
            };
            let r = structure_page(&state, &a, &session, &s, Some(tr.text_of(key))).await;
            session.respond(&a, r).await
        }
    }
}

struct MemberRow {
    who: String,
    read: bool,
    send: bool,
    manage: bool,
    /// A staff e-mail (they can be suspended here), not a professional's IdNat_PS.
    staff: bool,
}

#[derive(Template)]
#[template(path = "account/console_bal.html")]
struct BalPage<'a> {
    l: site::Layout,
    tr: Tr,
    csrf: &'a str,
    finess: String,
    bal: BalRow,
    members: Vec<MemberRow>,
}

/// The structure's BAL named in the path, or the answer to give.
async fn bal_of(a: &Accounts, session: &Session, s: &Structure, address: &str) -> Result<Account, Response> {
    let bals = a.registry.structure_bals(s.finess.clone()).await.unwrap_or_default();
    match bals.into_iter().find(|b| b.address == address) {
        Some(b) => Ok(b),
        None => {
            let lang = session.lang();
            Err(site::error_page(
                lang,
                StatusCode::NOT_FOUND,
                Tr(lang).text_of("console.no-such-bal"),
            ))
        }
    }
}

/// Who administers, the structure and its BAL named in the path; or the answer to give.
async fn guarded_bal(
    a: &Accounts,
    session: &Session,
    finess: &str,
    address: &str,
) -> Result<(String, Structure, Account), Response> {
    let (who, s) = guard(a, session, finess).await?;
    let b = bal_of(a, session, &s, address).await?;
    Ok((who, s, b))
}

async fn bal_page(a: &Accounts, session: &Session, s: &Structure, bal: Account, error: Option<&str>) -> Response {
    let members = a
        .registry
        .members(bal.id)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|m| MemberRow {
            staff: m.who.contains('@'),
            read: m.rights.read,
            send: m.rights.send,
            manage: m.rights.manage,
            who: m.who,
        })
        .collect();
    let mut l = layout::of(session, "console.bal-title")
        .flash(session.data.flash.as_deref())
        .error(error);
    let shown = bal.display_name.clone().unwrap_or_else(|| bal.address.clone());
    l.title = format!("{} — {shown}", l.title);
    let page = BalPage {
        l,
        tr: Tr(session.lang()),
        csrf: &session.data.csrf,
        finess: s.finess.clone(),
        bal: BalRow {
            name: shown,
            kind: bal.kind.code(),
            suspended: bal.status == AccountStatus::Suspended,
            address: bal.address,
        },
        members,
    };
    site::form(&page, error.is_some(), StatusCode::UNPROCESSABLE_ENTITY)
}

pub async fn bal(
    State(state): State<WebState>,
    mut session: Session,
    Path((finess, address)): Path<(String, String)>,
) -> Response {
    let a = accounts(&state);
    let (_, s, b) = match guarded_bal(&a, &session, &finess, &address).await {
        Ok(found) => found,
        Err(r) => return session.respond(&a, r).await,
    };
    let r = bal_page(&a, &session, &s, b, None).await;
    session.data.flash = None;
    session.respond(&a, r).await
}

/// Adds a member, changes their rights, or removes them (`action=retirer`).
pub async fn member(
    State(state): State<WebState>,
    Path((finess, address)): Path<(String, String)>,
    Posted { mut session, form: f }: Posted,
) -> Response {
    let a = accounts(&state);
    let tr = Tr(session.lang());
    let (who, s, b) = match guarded_bal(&a, &session, &finess, &address).await {
        Ok(found) => found,
        Err(r) => return session.respond(&a, r).await,
    };
    let member = f.get("membre").map(|m| m.trim().to_lowercase()).unwrap_or_default();
    // A professional by RPPS (11 digits, key checked) or a staff member by e-mail.
    let member = match member.bytes().all(|c| c.is_ascii_digit()) && !member.is_empty() {
        true => confiance_core::Rpps::parse(&member)
            .map(|r| r.national_id())
            .map_err(|_| ()),
        false if member.starts_with('8') && confiance_auth::cps::is_national_id(&member) => Ok(member),
        false => confiance_core::Address::parse(&member)
            .map(|m| m.to_string())
            .map_err(|_| ()),
    };
    let Ok(member) = member else {
        let r = bal_page(&a, &session, &s, b, Some(tr.text_of("console.bad-member"))).await;
        return session.respond(&a, r).await;
    };
    if b.kind == MailboxKind::Applicative {
        let r = bal_page(&a, &session, &s, b, Some(tr.text_of("console.app-no-members"))).await;
        return session.respond(&a, r).await;
    }
    if f.get("action").map(String::as_str) == Some("retirer") {
        a.registry.remove_member(b.id, member.clone()).await;
        tracing::info!(target: "audit", event = "member_removed", account = %b.address, actor = %who, member = %member);
        session.data.flash = Some(tr.fill("console.member-removed", &[("who", &member)]));
    } else {
        let rights = Rights {
            read: f.contains_key("lecture"),
            send: f.contains_key("envoi"),
            manage: f.contains_key("gestion"),
        };
        if rights == Rights::default() {
            let r = bal_page(&a, &session, &s, b, Some(tr.text_of("console.no-rights"))).await;
            return session.respond(&a, r).await;
        }
        if a.registry.set_member(b.id, member.clone(), rights).await.is_none() {
            let r = bal_page(&a, &session, &s, b, Some(super::save_failed(session.lang()))).await;
            return session.respond(&a, r).await;
        }
        tracing::info!(target: "audit", event = "member_set", account = %b.address, actor = %who, member = %member,
            rights = %rights.as_text());
        session.data.flash = Some(tr.fill("console.member-saved", &[("who", &member)]));
    }
    session
        .respond(&a, see_other(&format!("/console/{}/bal/{}", s.finess, b.address)))
        .await
}

/// Suspends or resumes the BAL, or suspends one of its staff members who left.
pub async fn state_change(
    State(state): State<WebState>,
    Path((finess, address)): Path<(String, String)>,
    Posted { mut session, form: f }: Posted,
) -> Response {
    let a = accounts(&state);
    let tr = Tr(session.lang());
    let (who, s, b) = match guarded_bal(&a, &session, &finess, &address).await {
        Ok(found) => found,
        Err(r) => return session.respond(&a, r).await,
    };
    match f.get("action").map(String::as_str) {
        Some(action @ ("suspendre" | "reprendre")) => {
            let status = match action {
                "suspendre" => AccountStatus::Suspended,
                _ => AccountStatus::Active,
            };
            a.registry.set_status(b.id, status).await;
            tracing::info!(target: "audit", event = if action == "suspendre" { "bal_suspended" } else { "bal_resumed" },
                account = %b.address, actor = %who);
            session.data.flash = Some(
                tr.text_of(if action == "suspendre" {
                    "console.bal-suspended"
                } else {
                    "console.bal-resumed"
                })
                .into(),
            );
        }
        Some("suspendre-personnel") => {
            // Only a staff member of this BAL: the console of one structure reaches no other's.
            let staff = f.get("membre").map(|m| m.trim().to_lowercase()).unwrap_or_default();
            let members = a.registry.members(b.id).await.unwrap_or_default();
            if !staff.contains('@') || !members.iter().any(|m| m.who == staff) {
                let r = bal_page(&a, &session, &s, b, Some(tr.text_of("console.bad-member"))).await;
                return session.respond(&a, r).await;
            }
            a.registry.set_staff_suspended(staff.clone(), true).await;
            tracing::info!(target: "audit", event = "staff_suspended", staff = %staff, actor = %who, finess = %s.finess);
            session.data.flash = Some(tr.fill("console.staff-suspended", &[("who", &staff)]));
        }
        _ => {
            let r = bal_page(&a, &session, &s, b, Some("?")).await;
            return session.respond(&a, r).await;
        }
    }
    session
        .respond(&a, see_other(&format!("/console/{}/bal/{}", s.finess, b.address)))
        .await
}
