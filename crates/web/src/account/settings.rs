//! Account settings, shared by activation step 3 and the account page: second factor,
//! personal contacts, notification of new mail, directory choices (liste rouge, mobile),
//! dématérialisation; plus the password and the app passwords of mail clients.

use std::collections::HashMap;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use confiance_auth::model::{AccountId, DirectoryListing, Profile, SecondFactor};
use confiance_auth::otp::{otpauth_uri, totp_verify};

use super::session::{Posted, Session, address_of};
use super::{Accounts, accounts, hash, layout, now, save_failed, see_other};
use crate::WebState;
use crate::html::Lang;
use crate::i18n::Tr;
use crate::site::{self, Layout};

/// What the settings form says.
pub struct Choices {
    pub second_factor: SecondFactor,
    pub personal_email: Option<String>,
    pub mobile: Option<String>,
    pub notify_new_mail: bool,
    pub red_list: bool,
    pub dematerialisation: bool,
}

/// French mobile numbers to E.164: `06 12 34 56 78`, `+33 6…`, `0033 6…` → `+336…`.
pub fn mobile(input: &str) -> Option<String> {
    let digits: String = input.chars().filter(|c| !matches!(c, ' ' | '.' | '-')).collect();
    let national = digits
        .strip_prefix("+33")
        .or_else(|| digits.strip_prefix("0033"))
        .map(|r| r.trim_start_matches('0').to_string())
        .or_else(|| digits.strip_prefix('0').map(str::to_string))?;
    let ok = national.len() == 9
        && national.bytes().all(|b| b.is_ascii_digit())
        && matches!(national.as_bytes()[0], b'6' | b'7');
    ok.then(|| format!("+33{national}"))
}

fn email(input: &str) -> Option<String> {
    let e = input.trim().to_lowercase();
    let (user, domain) = e.split_once('@')?;
    let ok = !user.is_empty()
        && domain.contains('.')
        && !e.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
        && e.len() <= 254;
    ok.then_some(e)
}

/// Reads the settings part of a form; the error is the sentence to show.
pub fn parse(form: &HashMap<String, String>, lang: Lang) -> Result<Choices, String> {
    let tr = Tr(lang);
    let on = |k: &str| form.get(k).is_some_and(|v| v == "on" || v == "1");
    let personal_email = match form.get("email").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(e) => Some(email(e).ok_or(tr.text_of("profile.bad-email"))?),
        None => None,
    };
    let mobile = match form.get("mobile").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(m) => Some(mobile(m).ok_or(tr.text_of("profile.bad-mobile"))?),
        None => None,
    };
    let second_factor = form
        .get("facteur")
        .and_then(|f| SecondFactor::parse(f))
        .ok_or(tr.text_of("profile.choose-factor"))?;
    match second_factor {
        SecondFactor::Email if personal_email.is_none() => {
            return Err(tr.text_of("profile.email-needed").into());
        }
        SecondFactor::Sms if mobile.is_none() => {
            return Err(tr.text_of("profile.mobile-needed").into());
        }
        _ => {}
    }
    if on("notifier") && personal_email.is_none() {
        return Err(tr.text_of("profile.notify-needs-email").into());
    }
    Ok(Choices {
        second_factor,
        personal_email,
        mobile,
        notify_new_mail: on("notifier"),
        red_list: on("liste_rouge"),
        dematerialisation: on("dematerialisation"),
    })
}

/// Checks the authenticator code when the app is chosen with a new secret.
pub fn confirm_totp(
    choices: &Choices,
    form: &HashMap<String, String>,
    secret: Option<&str>,
    lang: Lang,
) -> Result<(), String> {
    if choices.second_factor != SecondFactor::Totp {
        return Ok(());
    }
    let code = form.get("code_totp").map(|c| c.replace(' ', "")).unwrap_or_default();
    match secret {
        Some(secret) if totp_verify(secret, &code, now(), None).is_some() => Ok(()),
        _ => Err(Tr(lang).text_of("profile.totp-wrong").into()),
    }
}

/// A new authenticator key to show, with the link that adds it to an app on this phone.
pub struct TotpSetup {
    pub secret: String,
    pub uri: String,
}

impl TotpSetup {
    pub fn new(secret: &str, address: &str, issuer: &str) -> TotpSetup {
        TotpSetup {
            secret: secret.to_string(),
            uri: otpauth_uri(secret, address, issuer),
        }
    }
}

/// The profile and listing for these choices.
pub fn apply(choices: &Choices, profile: &mut Profile, listing: &mut DirectoryListing, totp_secret: Option<String>) {
    profile.second_factor = choices.second_factor;
    profile.personal_email = choices.personal_email.clone();
    profile.mobile = choices.mobile.clone();
    profile.notify_new_mail = choices.notify_new_mail;
    // The MSSanté directory carries no telephone (the national extract has no such field, and
    // our listing feeds it): a mobile is kept for codes by SMS, never published.
    profile.publish_mobile = false;
    if choices.second_factor == SecondFactor::Totp {
        if totp_secret.is_some() {
            profile.totp_secret = totp_secret;
        }
    } else {
        profile.totp_secret = None;
    }
    listing.red_list = choices.red_list;
    listing.dematerialisation = Some(choices.dematerialisation);
}

async fn own_listing(a: &Accounts, address: String) -> Option<DirectoryListing> {
    a.registry
        .listings()
        .await?
        .into_iter()
        .find(|(addr, _)| *addr == address)
        .map(|(_, l)| l)
}

fn choices_of(profile: &Profile, listing: Option<&DirectoryListing>) -> Choices {
    Choices {
        second_factor: profile.second_factor,
        personal_email: profile.personal_email.clone(),
        mobile: profile.mobile.clone(),
        notify_new_mail: profile.notify_new_mail,
        red_list: listing.is_some_and(|l| l.red_list),
        dematerialisation: listing.and_then(|l| l.dematerialisation).unwrap_or(false),
    }
}

/// `GET /compte`: modify my account.
pub async fn page(State(state): State<WebState>, mut session: Session) -> Response {
    let a = accounts(&state);
    if session.account().is_none() {
        // Keeps any message for the login page (a session just locked says why).
        return session.respond(&a, see_other("/connexion")).await;
    }
    let draft = session.data.draft.get_or_insert_default();
    if draft.totp_secret.is_none() {
        draft.totp_secret = Some(confiance_auth::otp::new_totp_secret());
    }
    again(&a, session, None, None).await
}

/// An app password as the account page lists it.
struct AppRow {
    id: i64,
    label: String,
    last_used: String,
}

#[derive(Template)]
#[template(path = "account/account.html")]
struct AccountPage<'a> {
    l: Layout,
    tr: Tr,
    csrf: &'a str,
    address: String,
    choices: &'a Choices,
    totp: Option<TotpSetup>,
    /// Just created: its label and the password, shown this once.
    new_app: Option<(String, String)>,
    apps: Vec<AppRow>,
    clients: &'a crate::MailClients,
    /// The login password also opens mail software (demo and patients' BALs).
    mail_password: bool,
    /// Identified by PSC or CPS in this session: a new password without the current one.
    reidentified: bool,
    /// The new e-mail and mobile waiting for their code.
    pending_email: Option<String>,
    pending_mobile: Option<String>,
}

async fn render(a: &Accounts, session: &Session, error: Option<&str>, shown: Option<&Choices>) -> Response {
    let Some(id) = session.account() else {
        return see_other("/connexion");
    };
    let (Some(account), Some(profile)) = (
        a.registry.account(id).await.flatten(),
        a.registry.profile(id).await.flatten(),
    ) else {
        return see_other("/connexion");
    };
    let listing = own_listing(a, account.address.clone()).await;
    let apps = a.registry.app_passwords(id).await.unwrap_or_default();
    let current = choices_of(&profile, listing.as_ref());
    let (pending_email, pending_mobile) = session.data.contact.as_ref().map(|c| c.awaited()).unwrap_or_default();
    // A new authenticator key is offered each time the page shows, kept only once confirmed.
    let setup = session.data.draft.as_ref().and_then(|d| d.totp_secret.clone());
    let totp = setup
        .as_deref()
        .filter(|_| profile.second_factor != SecondFactor::Totp)
        .map(|s| TotpSetup::new(s, &account.address, &a.issuer_label));
    let apps = apps
        .into_iter()
        .map(|p| AppRow {
            id: p.id,
            label: p.label,
            last_used: p
                .last_used_at
                .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
                .map(|d| d.format("%d/%m/%Y").to_string())
                .unwrap_or_else(|| "—".into()),
        })
        .collect();
    let page = AccountPage {
        l: layout::of(session, "account.title")
            .flash(session.data.flash.as_deref())
            .error(error),
        tr: Tr(session.lang()),
        csrf: &session.data.csrf,
        address: account.address.clone(),
        choices: shown.unwrap_or(&current),
        totp,
        new_app: session.data.new_app_password.clone(),
        apps,
        clients: &a.clients,
        mail_password: profile.mail_password,
        reidentified: proven_holder(session, Some(&profile)),
        pending_email,
        pending_mobile,
    };
    site::form(&page, error.is_some(), StatusCode::UNPROCESSABLE_ENTITY)
}

/// Shows the page once more with `error` (or the flash) and clears the one-time messages.
async fn again(a: &Accounts, mut session: Session, error: Option<&str>, shown: Option<&Choices>) -> Response {
    let r = render(a, &session, error, shown).await;
    session.data.flash = None;
    session.data.new_app_password = None;
    session.respond(a, r).await
}

pub async fn save(State(state): State<WebState>, Posted { mut session, form: f }: Posted) -> Response {
    let a = accounts(&state);
    let lang = session.lang();
    let Some(id) = session.account() else {
        return session.respond(&a, see_other("/connexion")).await;
    };
    let choices = match parse(&f, lang) {
        Ok(c) => c,
        Err(e) => return again(&a, session, Some(&e), None).await,
    };
    let (Some(account), Some(mut profile)) = (
        a.registry.account(id).await.flatten(),
        a.registry.profile(id).await.flatten(),
    ) else {
        return session.respond(&a, see_other("/connexion")).await;
    };
    // A new authenticator key only when the app is chosen now and its code proves it was
    // added; a holder already on TOTP keeps the key their app has.
    let offered = session.data.draft.as_ref().and_then(|d| d.totp_secret.clone());
    let switching = profile.second_factor != SecondFactor::Totp && choices.second_factor == SecondFactor::Totp;
    if switching && let Err(e) = confirm_totp(&choices, &f, offered.as_deref(), lang) {
        return again(&a, session, Some(&e), Some(&choices)).await;
    }
    let new_secret = offered.filter(|_| switching);
    let mut listing = own_listing(&a, account.address.clone())
        .await
        .unwrap_or_else(|| super::activation::listing_for(&profile, None, None));
    // A new e-mail or mobile is used once the code sent there comes back; until then the
    // others choices are saved with the contact details already proven.
    let recent = session.data.contact.as_ref().is_some_and(|c| now() - c.sent_at < 60);
    let pending = match pending_contact(&a, lang, &profile, &choices, recent).await {
        Ok(p) => p,
        Err(e) => return again(&a, session, Some(&e), Some(&choices)).await,
    };
    let mut choices = choices;
    if let Some(p) = &pending {
        hold_back(p, &mut choices, &profile);
    }
    apply(&choices, &mut profile, &mut listing, new_secret);
    let (p, l) = (profile.clone(), listing.clone());
    if a.registry.update_profile(id, p, l).await.is_none() {
        return again(&a, session, Some(save_failed(lang)), Some(&choices)).await;
    }
    tracing::info!(target: "audit", event = "account_settings", account = %account.address, second_factor = profile.second_factor.as_str(),
        red_list = listing.red_list);
    if let Some(d) = session.data.draft.as_mut() {
        d.totp_secret = None;
    }
    let to = match pending {
        Some(p) => {
            session.data.flash = Some(Tr(lang).fill("contact.code-sent", &[("to", &p.sent_to())]));
            session.data.contact = Some(p);
            "/compte#confirmer"
        }
        None => {
            // A confirmation left waiting would bring back older choices: it goes.
            session.data.contact = None;
            session.data.flash = Some(Tr(lang).text_of("account.saved").into());
            "/compte"
        }
    };
    session.respond(&a, see_other(to)).await
}

/// The choices as they are saved while `pending` waits for its codes: only what is new waits
/// (the details already proven stay, a detail removed is removed at once), and codes and
/// notices keep to proven details.
pub(super) fn hold_back(pending: &super::session::PendingContact, choices: &mut Choices, profile: &Profile) {
    if pending.email.is_some() {
        choices.personal_email = profile.personal_email.clone();
    }
    if pending.mobile.is_some() {
        choices.mobile = profile.mobile.clone();
    }
    choices.notify_new_mail &= choices.personal_email.is_some();
    // The authenticator's key was checked before (`confirm_totp`).
    if !reaches(choices.second_factor, &choices.personal_email, &choices.mobile, true) {
        choices.second_factor = profile.second_factor;
    }
}

/// Whether codes by `factor` reach the holder with these contact details (`app`: an
/// authenticator's key is held).
fn reaches(factor: SecondFactor, email: &Option<String>, mobile: &Option<String>, app: bool) -> bool {
    match factor {
        SecondFactor::Email => email.is_some(),
        SecondFactor::Sms => mobile.is_some(),
        SecondFactor::Totp => app,
    }
}

/// Codes to the new e-mail and mobile of `choices`, if they are new: `None` when nothing
/// waits for a proof.
pub(super) async fn pending_contact(
    a: &Accounts,
    lang: Lang,
    profile: &Profile,
    choices: &Choices,
    recent: bool,
) -> Result<Option<super::session::PendingContact>, String> {
    let tr = Tr(lang);
    let new_email = choices
        .personal_email
        .clone()
        .filter(|e| profile.personal_email.as_ref() != Some(e));
    let new_mobile = choices.mobile.clone().filter(|m| profile.mobile.as_ref() != Some(m));
    if new_email.is_none() && new_mobile.is_none() {
        return Ok(None);
    }
    if recent {
        return Err(tr.text_of("contact.wait").into());
    }
    // A fresh code to one new e-mail (or, `by_sms`, mobile), and what to keep of it.
    let prove = |to: String, by_sms: bool| async move {
        let (code, kept) = confiance_auth::otp::SentCode::new(now());
        let text = tr.fill("contact.code-message", &[("code", &code)]);
        let sent = match by_sms {
            true => a.notifier.sms(&to, &text).await,
            false => a.notifier.email(&to, tr.text_of("contact.code-subject"), &text).await,
        };
        match sent {
            Ok(()) => Ok((to, kept)),
            Err(e) => {
                tracing::warn!("contact code not sent: {e}");
                Err(tr.text_of("contact.not-sent").to_string())
            }
        }
    };
    let mut pending = super::session::PendingContact {
        email: None,
        mobile: None,
        second_factor: choices.second_factor.as_str().to_string(),
        notify_new_mail: choices.notify_new_mail,
        email_proven: false,
        mobile_proven: false,
        sent_at: now(),
    };
    if let Some(to) = new_email {
        pending.email = Some(prove(to, false).await?);
    }
    if let Some(to) = new_mobile {
        pending.mobile = Some(prove(to, true).await?);
    }
    Ok(Some(pending))
}

/// `POST /compte/confirmer`: the codes sent to the new e-mail and mobile. Each must be right;
/// then they are the account's, with the choices that waited for them.
pub async fn confirm_contact(State(state): State<WebState>, Posted { mut session, form: f }: Posted) -> Response {
    let a = accounts(&state);
    let lang = session.lang();
    let tr = Tr(lang);
    let (Some(id), Some(mut pending)) = (session.account(), session.data.contact.clone()) else {
        return session.respond(&a, see_other("/compte")).await;
    };
    let (Some(account), Some(mut profile)) = (
        a.registry.account(id).await.flatten(),
        a.registry.profile(id).await.flatten(),
    ) else {
        return session.respond(&a, see_other("/connexion")).await;
    };
    use confiance_auth::otp::CodeCheck;
    let mut outcome = CodeCheck::Valid;
    let checks = [
        ("code_email", pending.email.as_mut(), &mut pending.email_proven),
        ("code_sms", pending.mobile.as_mut(), &mut pending.mobile_proven),
    ];
    for (field, sent, proven) in checks {
        if let Some((_, kept)) = sent
            && !*proven
        {
            let check = kept.check(f.get(field).map_or("", |c| c.as_str()), now());
            *proven = check == CodeCheck::Valid;
            if !*proven && outcome == CodeCheck::Valid {
                outcome = check;
            }
        }
    }
    match outcome {
        CodeCheck::Valid => {}
        CodeCheck::Wrong(_) => {
            session.data.contact = Some(pending);
            return again(&a, session, Some(tr.text_of("contact.wrong")), None).await;
        }
        CodeCheck::Expired | CodeCheck::Exhausted => {
            session.data.contact = None;
            return again(&a, session, Some(tr.text_of("contact.expired")), None).await;
        }
    }
    if let Some((email, _)) = pending.email {
        profile.personal_email = Some(email);
    }
    if let Some((mobile, _)) = pending.mobile {
        profile.mobile = Some(mobile);
    }
    let wanted = SecondFactor::parse(&pending.second_factor).unwrap_or(profile.second_factor);
    if reaches(
        wanted,
        &profile.personal_email,
        &profile.mobile,
        profile.totp_secret.is_some(),
    ) {
        profile.second_factor = wanted;
    }
    profile.notify_new_mail = pending.notify_new_mail && profile.personal_email.is_some();
    let listing = own_listing(&a, account.address.clone())
        .await
        .unwrap_or_else(|| super::activation::listing_for(&profile, None, None));
    if a.registry.update_profile(id, profile.clone(), listing).await.is_none() {
        return again(&a, session, Some(save_failed(lang)), None).await;
    }
    tracing::info!(target: "audit", event = "contact_confirmed", account = %account.address,
        second_factor = profile.second_factor.as_str());
    session.data.contact = None;
    session.data.flash = Some(tr.text_of("contact.confirmed").into());
    session.respond(&a, see_other("/compte")).await
}

pub async fn password(State(state): State<WebState>, Posted { session, form: f }: Posted) -> Response {
    let a = accounts(&state);
    let lang = session.lang();
    let Some(id) = session.account() else {
        return session.respond(&a, see_other("/connexion")).await;
    };
    let Some(account) = a.registry.account(id).await.flatten() else {
        return session.respond(&a, see_other("/connexion")).await;
    };
    let current = f.get("actuel").cloned().unwrap_or_default();
    let new = f.get("nouveau").cloned().unwrap_or_default();
    let profile = a.registry.profile(id).await.flatten();
    let reidentified = proven_holder(&session, profile.as_ref());
    if !reidentified && !confiance_auth::login::check_password(current, account.password_hash.clone()).await {
        return again(&a, session, Some(Tr(lang).text_of("account.current-wrong")), None).await;
    }
    if f.get("confirmation") != Some(&new) {
        return again(
            &a,
            session,
            Some(Tr(lang).text_of("account.new-passwords-differ")),
            None,
        )
        .await;
    }
    if let Err(e) = confiance_auth::check_policy(&new) {
        return again(&a, session, Some(&policy_message(&e, lang)), None).await;
    }
    let Some(hash) = hash(new.clone()).await else {
        return again(&a, session, Some(save_failed(lang)), None).await;
    };
    a.registry.set_password(id, hash.clone()).await;
    a.registry.keep_scram_keys(id, hash, new).await;
    tracing::info!(target: "audit", event = "password_changed", account = %account.address,
        method = if reidentified { "psc_or_cps" } else { "current_password" });
    let mut session = session;
    session.data.flash = Some(Tr(lang).text_of("account.password-changed").into());
    session.respond(&a, see_other("/compte")).await
}

/// This session proved, by Pro Santé Connect or the CPS card, the identity of the BAL's holder:
/// a stronger proof than the password, so a forgotten one need not be typed to choose another.
fn proven_holder(session: &Session, profile: Option<&Profile>) -> bool {
    let proven = session.data.identity.as_ref().map(|i| i.person.national_id.as_str());
    let holder = profile.and_then(|p| p.national_id.as_deref());
    proven.is_some() && proven == holder
}

/// The national password rule a password breaks, in the page's language.
pub fn policy_message(e: &confiance_auth::PasswordError, lang: Lang) -> String {
    let key = match e {
        confiance_auth::PasswordError::TooShort => "account.password-too-short",
        confiance_auth::PasswordError::MissingClass => "account.password-missing-class",
        _ => "account.save-failed",
    };
    Tr(lang).text_of(key).to_string()
}

pub async fn app_password_add(State(state): State<WebState>, Posted { mut session, form: f }: Posted) -> Response {
    let a = accounts(&state);
    let lang = session.lang();
    let Some(id) = session.account() else {
        return session.respond(&a, see_other("/connexion")).await;
    };
    let label: String = f
        .get("libelle")
        .map(|l| l.trim().chars().take(60).collect())
        .unwrap_or_default();
    if label.is_empty() {
        return again(&a, session, Some(Tr(lang).text_of("account.name-the-software")), None).await;
    }
    let existing = a.registry.app_passwords(id).await.unwrap_or_default();
    if existing.len() >= confiance_auth::login::MAX_APP_PASSWORDS {
        return again(&a, session, Some(Tr(lang).text_of("account.too-many-apps")), None).await;
    }
    // Each of the account's app passwords has its own first group, which names it at login.
    let password = confiance_auth::app_password::generate_for(&existing);
    let hash = confiance_auth::app_password::hash(&password);
    let (l, lookup) = (
        label.clone(),
        confiance_auth::app_password::lookup_of(&password).map(str::to_string),
    );
    a.registry.add_app_password(id, l, hash.clone(), lookup).await;
    a.registry.keep_scram_keys(id, hash, password.clone()).await;
    let address = address_of(&a, id).await;
    tracing::info!(target: "audit", event = "app_password_created", account = %address, label = %label);
    session.data.new_app_password = Some((label, password));
    session.respond(&a, see_other("/compte")).await
}

pub async fn app_password_delete(State(state): State<WebState>, Posted { mut session, form: f }: Posted) -> Response {
    let a = accounts(&state);
    let lang = session.lang();
    let Some(id) = session.account() else {
        return session.respond(&a, see_other("/connexion")).await;
    };
    let Some(app) = f.get("id").and_then(|i| i.parse::<i64>().ok()) else {
        return again(&a, session, Some("?"), None).await;
    };
    // Only this account's: another account's id deletes nothing.
    if a.registry.delete_app_password(AccountId(id.0), app).await == Some(true) {
        let address = address_of(&a, id).await;
        tracing::info!(target: "audit", event = "app_password_revoked", account = %address, app);
        session.data.flash = Some(Tr(lang).text_of("account.app-revoked").into());
    }
    session.respond(&a, see_other("/compte")).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mobiles() {
        assert_eq!(mobile("06 12 34 56 78").as_deref(), Some("+33612345678"));
        assert_eq!(mobile("+33 7 12 34 56 78").as_deref(), Some("+33712345678"));
        assert_eq!(mobile("0033612345678").as_deref(), Some("+33612345678"));
        assert_eq!(mobile("+33 (0)6 12 34 56 78"), None);
        assert_eq!(mobile("01 23 45 67 89"), None, "a landline gets no SMS");
        assert_eq!(mobile("06 12 34"), None);
    }
}
