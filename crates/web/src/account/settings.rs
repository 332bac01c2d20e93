//! Account settings, shared by activation step 3 and the account page: second factor,
//! personal contacts, notification of new mail, directory choices (liste rouge, mobile),
//! dématérialisation; plus the password and the app passwords of mail clients.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use confiance_auth::model::{AccountId, DirectoryListing, Profile, SecondFactor};
use confiance_auth::otp::{otpauth_uri, totp_verify};

use super::layout::{self, checked, csrf};
use super::session::{Posted, Session};
use super::{Accounts, accounts, hash, now, save_failed, see_other};
use crate::WebState;
use crate::html::{Lang, escape, t};

/// What the settings form says.
pub struct Choices {
    pub second_factor: SecondFactor,
    pub personal_email: Option<String>,
    pub mobile: Option<String>,
    pub notify_new_mail: bool,
    pub publish_mobile: bool,
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
    let on = |k: &str| form.get(k).is_some_and(|v| v == "on" || v == "1");
    let personal_email = match form.get("email").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(e) => Some(email(e).ok_or(t(
            lang,
            "L'adresse e-mail personnelle n'est pas valide.",
            "The personal e-mail address is not valid.",
        ))?),
        None => None,
    };
    let mobile = match form.get("mobile").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(m) => Some(mobile(m).ok_or(t(
            lang,
            "Le numéro de mobile doit être un mobile français (06 ou 07, ou +33 6/7).",
            "The mobile number must be a French mobile (06 or 07, or +33 6/7).",
        ))?),
        None => None,
    };
    let second_factor = form.get("facteur").and_then(|f| SecondFactor::parse(f)).ok_or(t(
        lang,
        "Choisissez comment recevoir vos codes de connexion.",
        "Choose how to receive your login codes.",
    ))?;
    match second_factor {
        SecondFactor::Email if personal_email.is_none() => {
            return Err(t(
                lang,
                "Pour recevoir les codes par e-mail, indiquez votre e-mail personnel.",
                "To get codes by e-mail, give your personal e-mail.",
            )
            .into());
        }
        SecondFactor::Sms if mobile.is_none() => {
            return Err(t(
                lang,
                "Pour recevoir les codes par SMS, indiquez votre mobile.",
                "To get codes by SMS, give your mobile number.",
            )
            .into());
        }
        _ => {}
    }
    if on("notifier") && personal_email.is_none() {
        return Err(t(
            lang,
            "Pour être prévenu des nouveaux messages, indiquez votre e-mail personnel.",
            "To be told of new messages, give your personal e-mail.",
        )
        .into());
    }
    if on("publier_mobile") && mobile.is_none() {
        return Err(t(
            lang,
            "Pour publier votre mobile dans l'annuaire, indiquez-le.",
            "To publish your mobile in the directory, give it.",
        )
        .into());
    }
    Ok(Choices {
        second_factor,
        personal_email,
        mobile,
        notify_new_mail: on("notifier"),
        publish_mobile: on("publier_mobile"),
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
        _ => Err(t(lang, "Le code de l'application d'authentification est incorrect : vérifiez que vous avez bien ajouté le compte, puis saisissez le code affiché.",
            "The authenticator code is wrong: check that you added the account, then enter the code it shows.").into()),
    }
}

/// The fields of the form. `totp_setup` is a new secret to show (with its address).
pub fn fields(lang: Lang, current: &Choices, totp_setup: Option<(&str, &str, &str)>) -> String {
    let factor = |f: SecondFactor| checked(current.second_factor == f);
    let totp = match totp_setup {
        Some((secret, address, issuer)) => format!(
            r#"<div id="totp"><p class="hint">{hint}</p><p>{l_key} <code class="secret" id="cle-totp">{secret}</code></p>
<p class="hint"><a href="{uri}">{l_link}</a></p>
<label for="code_totp">{l_code}</label><input id="code_totp" name="code_totp" type="text" inputmode="numeric" autocomplete="one-time-code"></div>"#,
            hint = t(
                lang,
                "Ajoutez cette clé dans votre application d'authentification (FreeOTP, Aegis, Google Authenticator…), puis saisissez le code qu'elle affiche.",
                "Add this key to your authenticator app (FreeOTP, Aegis, Google Authenticator…), then enter the code it shows."
            ),
            l_key = t(lang, "Clé :", "Key:"),
            uri = escape(&otpauth_uri(secret, address, issuer)),
            l_link = t(
                lang,
                "Ouvrir dans l'application (sur ce téléphone)",
                "Open in the app (on this phone)"
            ),
            l_code = t(lang, "Code affiché par l'application", "Code shown by the app"),
        ),
        None => String::new(),
    };
    format!(
        r#"<fieldset id="second-facteur"><legend>{l_factor}</legend>
<label><input type="radio" name="facteur" value="email"{f_email}> {l_email_f}</label>
<label><input type="radio" name="facteur" value="sms"{f_sms}> {l_sms_f}</label>
<label><input type="radio" name="facteur" value="totp"{f_totp}> {l_totp_f}</label>
{totp}</fieldset>
<label for="email">{l_email}</label><input id="email" name="email" type="email" autocomplete="email" value="{email}">
<label for="mobile">{l_mobile}</label><input id="mobile" name="mobile" type="tel" autocomplete="tel" value="{mobile}" placeholder="06 12 34 56 78">
<fieldset id="notifications"><legend>{l_notif}</legend>
<label><input type="checkbox" name="notifier"{notify}> {l_notify}</label></fieldset>
<fieldset id="annuaire"><legend>{l_dir}</legend>
<label><input type="checkbox" name="liste_rouge"{red}> {l_red}</label>
<label><input type="checkbox" name="publier_mobile"{pub_m}> {l_pub}</label>
<label><input type="checkbox" name="dematerialisation"{demat}> {l_demat}</label></fieldset>"#,
        l_factor = t(lang, "Recevoir les codes de connexion", "Receive login codes"),
        f_email = factor(SecondFactor::Email),
        f_sms = factor(SecondFactor::Sms),
        f_totp = factor(SecondFactor::Totp),
        l_email_f = t(lang, "par e-mail personnel", "by personal e-mail"),
        l_sms_f = t(lang, "par SMS", "by SMS"),
        l_totp_f = t(
            lang,
            "avec une application d'authentification",
            "with an authenticator app"
        ),
        l_email = t(
            lang,
            "E-mail personnel (hors MSSanté)",
            "Personal e-mail (outside MSSanté)"
        ),
        email = escape(current.personal_email.as_deref().unwrap_or("")),
        l_mobile = t(lang, "Téléphone mobile", "Mobile phone"),
        mobile = escape(current.mobile.as_deref().unwrap_or("")),
        l_notif = t(lang, "Notifications", "Notifications"),
        notify = checked(current.notify_new_mail),
        l_notify = t(
            lang,
            "Me prévenir sur mon e-mail personnel à chaque nouveau message (sans son contenu)",
            "Tell me on my personal e-mail of each new message (without its content)"
        ),
        l_dir = t(lang, "Annuaire santé", "Health directory"),
        red = checked(current.red_list),
        l_red = t(
            lang,
            "Liste rouge : ne pas publier ma BAL dans l'annuaire",
            "Liste rouge: do not publish my mailbox in the directory"
        ),
        pub_m = checked(current.publish_mobile),
        l_pub = t(lang, "Publier mon numéro de mobile", "Publish my mobile number"),
        demat = checked(current.dematerialisation),
        l_demat = t(
            lang,
            "J'accepte la dématérialisation : recevoir les documents de santé par MSSanté plutôt que sur papier",
            "I accept dématérialisation: receive health documents by MSSanté rather than on paper"
        ),
    )
}

/// The profile and listing for these choices.
pub fn apply(choices: &Choices, profile: &mut Profile, listing: &mut DirectoryListing, totp_secret: Option<String>) {
    profile.second_factor = choices.second_factor;
    profile.personal_email = choices.personal_email.clone();
    profile.mobile = choices.mobile.clone();
    profile.notify_new_mail = choices.notify_new_mail;
    profile.publish_mobile = choices.publish_mobile;
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
        publish_mobile: profile.publish_mobile,
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

async fn render(a: &Accounts, session: &Session, error: Option<&str>, shown: Option<&Choices>) -> Response {
    let lang = session.lang();
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
    let shown = shown.unwrap_or(&current);
    // A new authenticator key is offered each time the page shows, kept only once confirmed.
    let setup = session.data.draft.as_ref().and_then(|d| d.totp_secret.clone());
    let totp = setup
        .as_deref()
        .filter(|_| profile.second_factor != SecondFactor::Totp)
        .map(|s| (s, account.address.as_str(), a.issuer_label.as_str()));
    let new_app = session
        .data
        .new_app_password
        .as_ref()
        .map(|(label, pw)| format!(r#"<p class="flash" role="status">{} « {} » : <code class="secret" id="nouveau-mot-de-passe">{}</code><br>{}</p>"#,
            t(lang, "Mot de passe pour", "Password for"), escape(label), escape(pw),
            t(lang, "Copiez-le maintenant dans votre logiciel : il ne sera plus affiché.", "Copy it into your software now: it will not be shown again.")))
        .unwrap_or_default();
    let rows: String = apps
        .iter()
        .map(|p| {
            format!(
                r#"<tr><td>{}</td><td>{}</td><td><form method="post" action="/compte/mots-de-passe-applicatifs/supprimer">{}<input type="hidden" name="id" value="{}"><button type="submit" class="secondary">{}</button></form></td></tr>"#,
                escape(&p.label),
                p.last_used_at.and_then(|t| chrono::DateTime::from_timestamp(t, 0)).map(|d| d.format("%d/%m/%Y").to_string()).unwrap_or_else(|| "—".into()),
                csrf(&session.data.csrf),
                p.id,
                t(lang, "Révoquer", "Revoke")
            )
        })
        .collect();
    let body = format!(
        r#"<p>{l_addr} <strong id="adresse-bal">{address}</strong> · <a href="/webmail">Webmail</a></p>
<form method="post" action="/compte">{csrf}{fields}<button type="submit">{l_save}</button></form>
<h2 id="mot-de-passe">{l_pw}</h2>
<form method="post" action="/compte/mot-de-passe">{csrf}
<label for="actuel">{l_current}</label><input id="actuel" name="actuel" type="password" autocomplete="current-password" required>
<label for="nouveau">{l_new}</label><input id="nouveau" name="nouveau" type="password" autocomplete="new-password" required aria-describedby="regle">
<p class="hint" id="regle">{l_rule}</p>
<label for="confirmation">{l_confirm}</label><input id="confirmation" name="confirmation" type="password" autocomplete="new-password" required>
<button type="submit">{l_change}</button></form>
<h2 id="appareils">{l_apps}</h2>
<p class="hint">{l_apps_hint}</p>{new_app}
<table><thead><tr><th>{l_label}</th><th>{l_used}</th><th><span class="sr">{l_action}</span></th></tr></thead><tbody>{rows}</tbody></table>
<form method="post" action="/compte/mots-de-passe-applicatifs">{csrf}
<label for="libelle">{l_label}</label><input id="libelle" name="libelle" type="text" required maxlength="60" placeholder="{l_example}">
<button type="submit">{l_create}</button></form>
<h2>{l_client}</h2>
<p class="hint">{l_client_hint}</p>
<form method="post" action="/deconnexion">{csrf}<button type="submit" class="secondary">{l_logout}</button></form>"#,
        l_addr = t(lang, "Votre BAL :", "Your mailbox:"),
        address = escape(&account.address),
        csrf = csrf(&session.data.csrf),
        fields = fields(lang, shown, totp),
        l_save = t(lang, "Enregistrer", "Save"),
        l_pw = t(lang, "Mot de passe", "Password"),
        l_current = t(lang, "Mot de passe actuel", "Current password"),
        l_new = t(lang, "Nouveau mot de passe", "New password"),
        l_rule = layout::password_rule(lang),
        l_confirm = t(lang, "Confirmation", "Confirm"),
        l_change = t(lang, "Changer le mot de passe", "Change the password"),
        l_apps = t(lang, "Mots de passe d'application", "App passwords"),
        l_apps_hint = t(
            lang,
            "Votre logiciel métier ou votre client de messagerie (IMAP/SMTP) se connecte avec un mot de passe qui lui est propre, révocable à tout moment. Votre mot de passe personnel reste réservé au webmail, avec le code de vérification.",
            "Your practice software or mail client (IMAP/SMTP) logs in with a password of its own, revocable at any time. Your own password stays for the webmail, with the verification code."
        ),
        l_label = t(lang, "Logiciel", "Software"),
        l_used = t(lang, "Dernière utilisation", "Last used"),
        l_example = t(lang, "ex. Thunderbird du cabinet", "e.g. the practice's Thunderbird"),
        l_create = t(lang, "Créer un mot de passe", "Create a password"),
        l_action = t(lang, "Action", "Action"),
        l_client = t(lang, "Messagerie", "Mail"),
        l_client_hint = t(
            lang,
            "Logiciels : IMAP sur le port 993 (TLS) ou 143 (STARTTLS), SMTP sur le port 465 (TLS) ou 587 (STARTTLS), avec Pro Santé Connect (XOAUTH2) ou un mot de passe d'application.",
            "Software: IMAP on port 993 (TLS) or 143 (STARTTLS), SMTP on port 465 (TLS) or 587 (STARTTLS), with Pro Santé Connect (XOAUTH2) or an app password."
        ),
        l_logout = t(lang, "Se déconnecter", "Log out"),
    );
    let flash = session.data.flash.clone();
    layout::form_page(
        lang,
        t(lang, "Mon compte", "My account"),
        flash.as_deref(),
        error,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
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
        .unwrap_or_else(|| super::activation::listing_for(&profile, None));
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
    session.data.flash = Some(t(lang, "Vos choix sont enregistrés.", "Your choices are saved.").into());
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
    if !confiance_auth::login::check_password(current, account.password_hash.clone()).await {
        return again(
            &a,
            session,
            Some(t(
                lang,
                "Le mot de passe actuel est incorrect.",
                "The current password is wrong.",
            )),
            None,
        )
        .await;
    }
    if f.get("confirmation") != Some(&new) {
        return again(
            &a,
            session,
            Some(t(
                lang,
                "Les deux nouveaux mots de passe diffèrent.",
                "The two new passwords differ.",
            )),
            None,
        )
        .await;
    }
    if let Err(e) = confiance_auth::check_policy(&new) {
        return again(&a, session, Some(&policy_message(&e, lang)), None).await;
    }
    let Some(hash) = hash(new).await else {
        return again(&a, session, Some(save_failed(lang)), None).await;
    };
    a.registry.set_password(id, hash).await;
    tracing::info!(target: "audit", event = "password_changed", account = %account.address);
    let mut session = session;
    session.data.flash = Some(t(lang, "Votre mot de passe est changé.", "Your password is changed.").into());
    session.respond(&a, see_other("/compte")).await
}

pub fn policy_message(e: &confiance_auth::PasswordError, lang: Lang) -> String {
    match (e, lang) {
        (confiance_auth::PasswordError::TooShort, Lang::En) => "The password must have at least 8 characters.".into(),
        (confiance_auth::PasswordError::MissingClass, Lang::En) => {
            "The password must have an upper-case letter, a lower-case letter and a digit.".into()
        }
        (e, _) => {
            let s = e.to_string();
            let mut c = s.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>() + ".")
                .unwrap_or_default()
        }
    }
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
        return again(
            &a,
            session,
            Some(t(
                lang,
                "Donnez un nom au logiciel qui utilisera ce mot de passe.",
                "Name the software that will use this password.",
            )),
            None,
        )
        .await;
    }
    let existing = a.registry.app_passwords(id).await.unwrap_or_default();
    if existing.len() >= confiance_auth::login::MAX_APP_PASSWORDS {
        return again(
            &a,
            session,
            Some(t(
                lang,
                "Vous avez déjà 10 mots de passe d'application : révoquez-en un d'abord.",
                "You already have 10 app passwords: revoke one first.",
            )),
            None,
        )
        .await;
    }
    // Each of the account's app passwords has its own first group, which names it at login.
    let password = loop {
        let p = confiance_auth::app_password::generate();
        let taken = existing
            .iter()
            .any(|e| e.lookup.as_deref() == confiance_auth::app_password::lookup_of(&p));
        if !taken {
            break p;
        }
    };
    let Some(hash) = hash(password.clone()).await else {
        return again(&a, session, Some(save_failed(lang)), None).await;
    };
    let (l, lookup) = (
        label.clone(),
        confiance_auth::app_password::lookup_of(&password).map(str::to_string),
    );
    a.registry.add_app_password(id, l, hash, lookup).await;
    tracing::info!(target: "audit", event = "app_password_created", account = id.0, label = %label);
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
        tracing::info!(target: "audit", event = "app_password_revoked", account = id.0, app);
        session.data.flash = Some(t(lang, "Mot de passe d'application révoqué.", "App password revoked.").into());
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
