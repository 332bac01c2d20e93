//! Activation in four steps, as the national service shows them: (1) identification with Pro
//! Santé Connect, (2) choice of the address and acceptance of the terms of use, (3) account
//! settings, (4) summary. An identity that already has a BAL goes to its account page instead.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use confiance_auth::model::{DirectoryListing, Profile, SecondFactor, StoreError};
use confiance_auth::otp::new_totp_secret;
use confiance_core::MailboxKind;

use super::layout::{self, checked, csrf, page, steps};
use super::session::{Draft, Posted, Session};
use super::settings::{self, Choices};
use super::{Accounts, accounts, hash, now, see_other};
use crate::WebState;
use crate::html::{escape, t};

/// The directory entry of a professional's own BAL (type PER).
pub fn listing_for(profile: &Profile, profession: Option<&str>) -> DirectoryListing {
    DirectoryListing {
        kind: MailboxKind::Personal,
        national_id: profile.national_id.clone(),
        structure_id: None,
        civility: None,
        family_name: profile.family_name.clone(),
        given_name: profile.given_name.clone(),
        profession: profession
            .and_then(|c| confiance_core::profession_label(c).map(|l| (c.to_string(), l.to_string()))),
        specialty: None,
        service: None,
        organisation: None,
        postcode: None,
        locality: None,
        departement: None,
        dematerialisation: None,
        red_list: false,
    }
}

/// An identity that already holds a BAL (a suspended one included) does not activate another:
/// it is sent to the login. A store failure counts as holding one.
async fn already_holds(a: &Accounts, session: &mut Session) -> bool {
    let Some(identity) = &session.data.identity else {
        return false;
    };
    let national = identity.person.national_id.clone();
    let holds = a.registry.accounts_of(national).await.is_none_or(|v| !v.is_empty());
    if holds {
        let lang = session.lang();
        session.data.identity = None;
        session.data.draft = None;
        session.data.flash = Some(
            t(
                lang,
                "Vous avez déjà une BAL : connectez-vous pour la retrouver.",
                "You already have a mailbox: log in to reach it.",
            )
            .into(),
        );
    }
    holds
}

/// Where a session that must not activate goes instead: the login for an identity that holds
/// a BAL, the account page for a session already logged in.
async fn not_for_activation(a: &Accounts, session: &mut Session) -> Option<&'static str> {
    if already_holds(a, session).await {
        Some("/connexion")
    } else if session.account().is_some() {
        Some("/compte")
    } else {
        None
    }
}

/// Step 1.
pub async fn start(State(state): State<WebState>, session: Session) -> Response {
    let a = accounts(&state);
    if session.account().is_some() {
        return session.respond(&a, see_other("/compte")).await;
    }
    if session.data.identity.is_some() {
        return session.respond(&a, see_other("/activation/adresse")).await;
    }
    let lang = session.lang();
    let body = format!(
        r#"{steps}<p>{intro}</p>
<p><a href="/psc/connexion?pour=activation"><button type="button">{psc}</button></a></p>
<p class="hint">{hint}</p>
<p><a href="/cps/connexion?pour=activation">{cps}</a></p>
<p>{have} <a href="/connexion">{login}</a></p>"#,
        steps = steps(lang, 1),
        intro = t(
            lang,
            "Pour activer votre boîte aux lettres MSSanté, identifiez-vous avec votre carte CPS ou votre application e-CPS.",
            "To activate your MSSanté mailbox, identify yourself with your CPS card or e-CPS app."
        ),
        psc = t(
            lang,
            "S'identifier avec Pro Santé Connect",
            "Identify with Pro Santé Connect"
        ),
        hint = t(
            lang,
            "Pro Santé Connect confirme votre identité et votre profession (RPPS). Aucun mot de passe n'est demandé à cette étape.",
            "Pro Santé Connect confirms your identity and profession (RPPS). No password is asked at this step."
        ),
        cps = t(
            lang,
            "Ou avec la carte CPS dans le lecteur de ce poste (certificat)",
            "Or with the CPS card in this computer's reader (certificate)"
        ),
        have = t(lang, "Vous avez déjà une BAL ?", "Already have a mailbox?"),
        login = t(lang, "Se connecter", "Log in"),
    );
    let r = page(
        lang,
        t(lang, "Activer ma BAL MSSanté", "Activate my MSSanté mailbox"),
        None,
        None,
        &body,
    );
    session.respond(&a, r).await
}

/// The addresses this identity may choose, free now.
async fn proposals(a: &Accounts, session: &Session) -> Vec<String> {
    let Some(identity) = &session.data.identity else {
        return Vec::new();
    };
    let p = identity.person.clone();
    a.registry
        .free_addresses(
            p.given_name.unwrap_or_default(),
            p.family_name.unwrap_or_default(),
            p.profession,
            a.domains.clone(),
        )
        .await
        .unwrap_or_default()
}

async fn address_form(a: &Accounts, session: &Session, error: Option<&str>) -> Response {
    let lang = session.lang();
    let Some(identity) = &session.data.identity else {
        return see_other("/activation");
    };
    let proposed = proposals(a, session).await;
    let chosen = session.data.draft.as_ref().and_then(|d| d.address.clone());
    let options: String = proposed
        .iter()
        .enumerate()
        .map(|(i, addr)| {
            let on = chosen.as_deref().map_or(i == 0, |c| c == addr);
            format!(
                r#"<label><input type="radio" name="adresse" value="{0}"{1}> {0}</label>"#,
                escape(addr),
                checked(on)
            )
        })
        .collect();
    let who = format!(
        "{} {} — RPPS {}",
        identity.person.given_name.as_deref().unwrap_or(""),
        identity.person.family_name.as_deref().unwrap_or(""),
        identity.person.national_id.get(1..).unwrap_or("")
    );
    let flash = session.data.flash.clone();
    let body = format!(
        r#"{steps}<p>{l_who} <strong>{who}</strong></p>
<form method="post" action="/activation/adresse">{csrf}
<fieldset><legend>{l_choose}</legend>{options}</fieldset>
<p class="hint">{l_rule}</p>
<details><summary>{l_terms}</summary><p>{terms}</p></details>
<div class="check"><label><input type="checkbox" name="cgu" required> {l_accept}</label></div>
<button type="submit">{l_next}</button>
</form>"#,
        steps = steps(lang, 2),
        l_who = t(lang, "Identité confirmée :", "Identity confirmed:"),
        who = escape(&who),
        csrf = csrf(&session.data.csrf),
        l_choose = t(lang, "Choisissez votre adresse", "Choose your address"),
        l_rule = t(
            lang,
            "L'adresse est formée de votre prénom et de votre nom, sans accents ; un numéro distingue les homonymes. Elle ne pourra plus être changée.",
            "The address is made of your given and family names, without accents; a number tells homonyms apart. It cannot be changed later."
        ),
        l_terms = t(lang, "Conditions générales d'utilisation", "Terms of use"),
        terms = t(
            lang,
            "La messagerie sécurisée de santé sert à échanger des données de santé entre professionnels habilités et avec les patients qui vous écrivent depuis Mon Espace Santé. Elle n'est pas un espace de stockage : une BAL sans aucune connexion pendant 12 mois est supprimée, après des avertissements envoyés sur votre e-mail personnel 30 et 7 jours avant (CNIL AU-037). Chaque connexion est tracée, sans le contenu des messages.",
            "Secure health messaging is for exchanging health data between authorised professionals, and with patients who write from Mon Espace Santé. It is not a storage space: a mailbox without any login for 12 months is deleted, after notices sent to your personal e-mail 30 and 7 days before (CNIL AU-037). Every login is traced, never the content of messages."
        ),
        l_accept = t(
            lang,
            "J'ai lu et j'accepte les conditions générales d'utilisation",
            "I have read and accept the terms of use"
        ),
        l_next = t(lang, "Continuer", "Continue"),
    );
    layout::form_page(
        lang,
        t(lang, "Choix de l'adresse", "Choose your address"),
        flash.as_deref(),
        error,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

/// Step 2.
pub async fn address_page(State(state): State<WebState>, mut session: Session) -> Response {
    let a = accounts(&state);
    if let Some(elsewhere) = not_for_activation(&a, &mut session).await {
        return session.respond(&a, see_other(elsewhere)).await;
    }
    let r = address_form(&a, &session, None).await;
    session.data.flash = None;
    session.respond(&a, r).await
}

pub async fn address_post(State(state): State<WebState>, Posted { mut session, form: f }: Posted) -> Response {
    let a = accounts(&state);
    if already_holds(&a, &mut session).await {
        return session.respond(&a, see_other("/connexion")).await;
    }
    let lang = session.lang();
    if session.data.identity.is_none() {
        return session.respond(&a, see_other("/activation")).await;
    }
    let chosen = f.get("adresse").cloned().unwrap_or_default();
    // Only a proposed address: the local part is the holder's own name.
    if !proposals(&a, &session).await.contains(&chosen) {
        let r = address_form(
            &a,
            &session,
            Some(t(
                lang,
                "Choisissez une des adresses proposées.",
                "Choose one of the proposed addresses.",
            )),
        )
        .await;
        return session.respond(&a, r).await;
    }
    if !f.contains_key("cgu") {
        let r = address_form(
            &a,
            &session,
            Some(t(
                lang,
                "Acceptez les conditions générales d'utilisation pour continuer.",
                "Accept the terms of use to continue.",
            )),
        )
        .await;
        return session.respond(&a, r).await;
    }
    session.data.draft = Some(Draft {
        address: Some(chosen),
        terms_accepted: true,
        totp_secret: Some(new_totp_secret()),
    });
    session.respond(&a, see_other("/activation/parametres")).await
}

fn default_choices() -> Choices {
    Choices {
        second_factor: SecondFactor::Email,
        personal_email: None,
        mobile: None,
        notify_new_mail: false,
        publish_mobile: false,
        red_list: false,
        dematerialisation: true,
    }
}

fn settings_form(a: &Accounts, session: &Session, error: Option<&str>, shown: Option<&Choices>) -> Response {
    let lang = session.lang();
    let Some(draft) = session.data.draft.as_ref().filter(|d| d.terms_accepted) else {
        return see_other("/activation/adresse");
    };
    let address = draft.address.clone().unwrap_or_default();
    let defaults = default_choices();
    let shown = shown.unwrap_or(&defaults);
    let totp = draft
        .totp_secret
        .as_deref()
        .map(|s| (s, address.as_str(), a.issuer_label.as_str()));
    let body = format!(
        r#"{steps}<p>{l_addr} <strong>{address}</strong></p>
<form method="post" action="/activation/parametres">{csrf}
<label for="mot_de_passe">{l_pw}</label><input id="mot_de_passe" name="mot_de_passe" type="password" autocomplete="new-password" required aria-describedby="regle">
<p class="hint" id="regle">{l_rule}</p>
<label for="confirmation">{l_confirm}</label><input id="confirmation" name="confirmation" type="password" autocomplete="new-password" required>
{fields}
<button type="submit">{l_go}</button>
</form>"#,
        steps = steps(lang, 3),
        l_addr = t(lang, "Adresse choisie :", "Chosen address:"),
        address = escape(&address),
        csrf = csrf(&session.data.csrf),
        l_pw = t(lang, "Mot de passe", "Password"),
        l_rule = layout::password_rule(lang),
        l_confirm = t(lang, "Confirmation du mot de passe", "Confirm the password"),
        fields = settings::fields(lang, shown, totp),
        l_go = t(lang, "Activer ma BAL", "Activate my mailbox"),
    );
    layout::form_page(
        lang,
        t(lang, "Paramètres du compte", "Account settings"),
        None,
        error,
        &body,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
}

/// Step 3.
pub async fn settings_page(State(state): State<WebState>, mut session: Session) -> Response {
    let a = accounts(&state);
    if let Some(elsewhere) = not_for_activation(&a, &mut session).await {
        return session.respond(&a, see_other(elsewhere)).await;
    }
    if session.data.identity.is_none() {
        return session.respond(&a, see_other("/activation")).await;
    }
    let r = settings_form(&a, &session, None, None);
    session.respond(&a, r).await
}

pub async fn settings_post(State(state): State<WebState>, Posted { mut session, form: f }: Posted) -> Response {
    let a = accounts(&state);
    if already_holds(&a, &mut session).await {
        return session.respond(&a, see_other("/connexion")).await;
    }
    let lang = session.lang();
    let (Some(identity), Some(draft)) = (session.data.identity.clone(), session.data.draft.clone()) else {
        return session.respond(&a, see_other("/activation")).await;
    };
    let Some(address) = draft.address.clone().filter(|_| draft.terms_accepted) else {
        return session.respond(&a, see_other("/activation/adresse")).await;
    };
    let password = f.get("mot_de_passe").cloned().unwrap_or_default();
    let password_problem = if f.get("confirmation") != Some(&password) {
        Some(t(lang, "Les deux mots de passe diffèrent.", "The two passwords differ.").to_string())
    } else {
        confiance_auth::check_policy(&password)
            .err()
            .map(|e| settings::policy_message(&e, lang))
    };
    let choices = match settings::parse(&f, lang) {
        Ok(c) => c,
        Err(e) => {
            let r = settings_form(&a, &session, Some(password_problem.as_deref().unwrap_or(&e)), None);
            return session.respond(&a, r).await;
        }
    };
    let problem =
        password_problem.or_else(|| settings::confirm_totp(&choices, &f, draft.totp_secret.as_deref(), lang).err());
    if let Some(problem) = problem {
        let r = settings_form(&a, &session, Some(&problem), Some(&choices));
        return session.respond(&a, r).await;
    }
    let Some(hash) = hash(password).await else {
        let r = settings_form(
            &a,
            &session,
            Some(t(
                lang,
                "L'activation a échoué ; réessayez.",
                "Activation failed; please try again.",
            )),
            Some(&choices),
        );
        return session.respond(&a, r).await;
    };
    let person = &identity.person;
    let mut profile = Profile {
        national_id: Some(person.national_id.clone()),
        given_name: person.given_name.clone(),
        family_name: person.family_name.clone(),
        personal_email: None,
        mobile: None,
        second_factor: SecondFactor::Email,
        totp_secret: None,
        notify_new_mail: false,
        publish_mobile: false,
        // Two-factor on the web, so the password alone does not open IMAP/SMTP: mail clients
        // use PSC (XOAUTH2) or app passwords.
        mail_password: false,
        terms_accepted_at: now(),
    };
    let mut listing = listing_for(&profile, person.profession.as_deref());
    settings::apply(&choices, &mut profile, &mut listing, draft.totp_secret.clone());
    let created = a
        .registry
        .activate(confiance_auth::registry::Activation {
            address: address.clone(),
            password_hash: hash,
            quota: a.quota,
            profile,
            listing,
            at: now(),
        })
        .await;
    match created {
        Ok(id) => {
            tracing::info!(target: "audit", event = "activation", account = %address, national_id = %person.national_id, outcome = "success");
            session.rotate(&a).await;
            session.data.account = Some(id.0);
            session.data.draft = None;
            session.respond(&a, see_other("/activation/recapitulatif")).await
        }
        Err(StoreError::AccountExists) => {
            // A homonym took it between the two steps: choose again.
            session.data.draft = None;
            session.data.flash = Some(
                t(
                    lang,
                    "Cette adresse vient d'être prise par un homonyme : choisissez-en une autre.",
                    "This address was just taken by a namesake: choose another.",
                )
                .into(),
            );
            session.respond(&a, see_other("/activation/adresse")).await
        }
        other => {
            tracing::error!("activation of {address} failed: {other:?}");
            let r = settings_form(
                &a,
                &session,
                Some(t(
                    lang,
                    "L'activation a échoué ; réessayez.",
                    "Activation failed; please try again.",
                )),
                Some(&choices),
            );
            session.respond(&a, r).await
        }
    }
}

/// Step 4.
pub async fn summary(State(state): State<WebState>, session: Session) -> Response {
    let a = accounts(&state);
    let lang = session.lang();
    let Some(id) = session.account() else {
        return session.respond(&a, see_other("/connexion")).await;
    };
    let (Some(account), Some(profile)) = (
        a.registry.account(id).await.flatten(),
        a.registry.profile(id).await.flatten(),
    ) else {
        return session.respond(&a, see_other("/connexion")).await;
    };
    let address = account.address.clone();
    let listing = a
        .registry
        .listings()
        .await
        .unwrap_or_default()
        .into_iter()
        .find(|(x, _)| *x == address)
        .map(|(_, l)| l);
    let yes_no = |b: bool| if b { t(lang, "oui", "yes") } else { t(lang, "non", "no") };
    let factor = match profile.second_factor {
        SecondFactor::Email => t(lang, "code par e-mail personnel", "code by personal e-mail"),
        SecondFactor::Sms => t(lang, "code par SMS", "code by SMS"),
        SecondFactor::Totp => t(lang, "application d'authentification", "authenticator app"),
    };
    let body = format!(
        r#"{steps}<p role="status">{done}</p>
<dl>
<dt>{l_addr}</dt><dd id="adresse-bal">{address}</dd>
<dt>{l_who}</dt><dd>{who}</dd>
<dt>{l_factor}</dt><dd>{factor}</dd>
<dt>{l_email}</dt><dd>{email}</dd>
<dt>{l_mobile}</dt><dd>{mobile}</dd>
<dt>{l_notify}</dt><dd>{notify}</dd>
<dt>{l_red}</dt><dd>{red}</dd>
<dt>{l_demat}</dt><dd>{demat}</dd>
</dl>
<p><a href="/webmail">{l_webmail}</a> · <a href="/compte">{l_modify}</a></p>"#,
        steps = steps(lang, 4),
        done = t(lang, "Votre BAL est activée.", "Your mailbox is active."),
        l_addr = t(lang, "Adresse", "Address"),
        address = escape(&account.address),
        l_who = t(lang, "Titulaire", "Holder"),
        who = escape(&format!(
            "{} {}",
            profile.given_name.as_deref().unwrap_or(""),
            profile.family_name.as_deref().unwrap_or("")
        )),
        l_factor = t(lang, "Second facteur", "Second factor"),
        l_email = t(lang, "E-mail personnel", "Personal e-mail"),
        email = escape(profile.personal_email.as_deref().unwrap_or("—")),
        l_mobile = t(lang, "Mobile", "Mobile"),
        mobile = escape(profile.mobile.as_deref().unwrap_or("—")),
        l_notify = t(lang, "Notification des nouveaux messages", "New message notices"),
        notify = yes_no(profile.notify_new_mail),
        l_red = t(lang, "Liste rouge", "Liste rouge"),
        red = yes_no(listing.as_ref().is_some_and(|l| l.red_list)),
        l_demat = t(lang, "Dématérialisation", "Dématérialisation"),
        demat = yes_no(listing.as_ref().and_then(|l| l.dematerialisation).unwrap_or(false)),
        l_webmail = t(lang, "Ouvrir le webmail", "Open the webmail"),
        l_modify = t(lang, "Modifier mon compte", "Modify my account"),
    );
    let r = page(lang, t(lang, "Récapitulatif", "Summary"), None, None, &body);
    session.respond(&a, r).await
}
