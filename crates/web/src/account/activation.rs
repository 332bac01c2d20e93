//! Activation in four steps, as the national service shows them: (1) identification with Pro
//! Santé Connect, (2) choice of the address and acceptance of the terms of use, (3) account
//! settings, (4) summary. An identity that already has a BAL goes to its account page instead.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use confiance_auth::model::{DirectoryListing, Profile, SecondFactor, StoreError};
use confiance_auth::otp::new_totp_secret;
use confiance_core::MailboxKind;

use super::session::{Draft, Posted, Session};
use super::settings::{self, Choices, TotpSetup};
use super::{Accounts, accounts, hash, layout, now, see_other};
use crate::WebState;
use crate::i18n::Tr;
use crate::site::{self, Layout};

/// The directory entry of a professional's own BAL (type PER), with where they practise when
/// Pro Santé Connect says it (`SubjectRefPro`'s situation d'exercice).
pub fn listing_for(
    profile: &Profile,
    profession: Option<&str>,
    practice: Option<&confiance_auth::psc::Practice>,
) -> DirectoryListing {
    let place = |f: fn(&confiance_auth::psc::Practice) -> &Option<String>| practice.and_then(|p| f(p).clone());
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
        organisation: place(|p| &p.organisation),
        postcode: place(|p| &p.postcode),
        locality: place(|p| &p.locality),
        departement: place(|p| &p.departement),
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
        session.data.flash = Some(Tr(lang).text_of("activation.already-holds").into());
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

#[derive(Template)]
#[template(path = "account/start.html")]
struct StartPage {
    l: Layout,
    tr: Tr,
    step: usize,
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
    let page = StartPage {
        l: layout::of(&session, "activation.title"),
        tr: Tr(session.lang()),
        step: 1,
    };
    let r = site::render(&page);
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

#[derive(Template)]
#[template(path = "account/address.html")]
struct AddressPage<'a> {
    l: Layout,
    tr: Tr,
    step: usize,
    csrf: &'a str,
    who: String,
    /// The addresses proposed, the chosen one (or the first) checked.
    proposed: Vec<(String, bool)>,
}

async fn address_form(a: &Accounts, session: &Session, error: Option<&str>) -> Response {
    let Some(identity) = &session.data.identity else {
        return see_other("/activation");
    };
    let chosen = session.data.draft.as_ref().and_then(|d| d.address.clone());
    let proposed = proposals(a, session)
        .await
        .into_iter()
        .enumerate()
        .map(|(i, addr)| {
            let on = chosen.as_deref().map_or(i == 0, |c| c == addr);
            (addr, on)
        })
        .collect();
    let person = &identity.person;
    let page = AddressPage {
        l: layout::of(session, "activation.step-2")
            .flash(session.data.flash.as_deref())
            .error(error),
        tr: Tr(session.lang()),
        step: 2,
        csrf: &session.data.csrf,
        who: format!(
            "{} {} — {}",
            person.given_name.as_deref().unwrap_or(""),
            person.family_name.as_deref().unwrap_or(""),
            national_number(&person.national_id)
        ),
        proposed,
    };
    site::form(&page, error.is_some(), StatusCode::UNPROCESSABLE_ENTITY)
}

/// The number a professional knows from their card: IdNat_PS `8` + RPPS, `0` + ADELI
/// (the directory's identifier rules).
fn national_number(national_id: &str) -> String {
    match national_id.split_at_checked(1) {
        Some(("8", rpps)) => format!("RPPS {rpps}"),
        Some(("0", adeli)) => format!("ADELI {adeli}"),
        _ => national_id.to_string(),
    }
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
        let r = address_form(&a, &session, Some(Tr(lang).text_of("activation.choose-proposed"))).await;
        return session.respond(&a, r).await;
    }
    if !f.contains_key("cgu") {
        let r = address_form(&a, &session, Some(Tr(lang).text_of("activation.accept-terms"))).await;
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
        red_list: false,
        // The national service keeps paper mail until the professional ticks « Je ne souhaite
        // plus recevoir par courrier papier »: never ticked for them.
        dematerialisation: false,
    }
}

#[derive(Template)]
#[template(path = "account/settings.html")]
struct SettingsPage<'a> {
    l: Layout,
    tr: Tr,
    step: usize,
    csrf: &'a str,
    address: String,
    choices: &'a Choices,
    totp: Option<TotpSetup>,
}

fn settings_form(a: &Accounts, session: &Session, error: Option<&str>, shown: Option<&Choices>) -> Response {
    let Some(draft) = session.data.draft.as_ref().filter(|d| d.terms_accepted) else {
        return see_other("/activation/adresse");
    };
    let address = draft.address.clone().unwrap_or_default();
    let defaults = default_choices();
    let totp = draft
        .totp_secret
        .as_deref()
        .map(|s| TotpSetup::new(s, &address, &a.issuer_label));
    let page = SettingsPage {
        l: layout::of(session, "activation.step-3").error(error),
        tr: Tr(session.lang()),
        step: 3,
        csrf: &session.data.csrf,
        address,
        choices: shown.unwrap_or(&defaults),
        totp,
    };
    site::form(&page, error.is_some(), StatusCode::UNPROCESSABLE_ENTITY)
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
        Some(Tr(lang).text_of("activation.passwords-differ").to_string())
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
            Some(Tr(lang).text_of("activation.failed")),
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
    // The personal e-mail and mobile typed here are used once the code sent to each comes
    // back (on the summary): until then nothing is sent there but that code.
    let pending = match settings::pending_contact(&a, lang, &profile, &choices, false).await {
        Ok(p) => p,
        Err(e) => {
            let r = settings_form(&a, &session, Some(&e), Some(&choices));
            return session.respond(&a, r).await;
        }
    };
    let mut choices = choices;
    if let Some(p) = &pending {
        settings::hold_back(p, &mut choices, &profile);
    }
    let mut listing = listing_for(&profile, person.profession.as_deref(), person.practice.as_ref());
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
            if let Some(p) = &pending {
                session.data.flash = Some(Tr(lang).fill("contact.code-sent-activation", &[("to", &p.sent_to())]));
            }
            session.data.contact = pending;
            session.respond(&a, see_other("/activation/recapitulatif")).await
        }
        Err(StoreError::AccountExists) => {
            // A homonym took it between the two steps: choose again.
            session.data.draft = None;
            session.data.flash = Some(Tr(lang).text_of("activation.address-taken").into());
            session.respond(&a, see_other("/activation/adresse")).await
        }
        other => {
            tracing::error!("activation of {address} failed: {other:?}");
            let r = settings_form(
                &a,
                &session,
                Some(Tr(lang).text_of("activation.failed")),
                Some(&choices),
            );
            session.respond(&a, r).await
        }
    }
}

#[derive(Template)]
#[template(path = "account/summary.html")]
struct SummaryPage {
    l: Layout,
    tr: Tr,
    step: usize,
    address: String,
    holder: String,
    /// Catalogue keys of the answers.
    factor: &'static str,
    email: String,
    mobile: String,
    notify: &'static str,
    red_list: &'static str,
    dematerialisation: &'static str,
    /// Contact details typed at step 3 and awaiting their code.
    pending_email: Option<String>,
    pending_mobile: Option<String>,
    csrf: String,
}

/// Step 4.
pub async fn summary(State(state): State<WebState>, mut session: Session) -> Response {
    let a = accounts(&state);
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
    let yes_no = |b: bool| if b { "summary.yes" } else { "summary.no" };
    let (pending_email, pending_mobile) = session.data.contact.as_ref().map(|c| c.awaited()).unwrap_or_default();
    let flash = session.data.flash.take();
    let page = SummaryPage {
        l: layout::of(&session, "activation.step-4").flash(flash.as_deref()),
        tr: Tr(session.lang()),
        step: 4,
        address,
        holder: format!(
            "{} {}",
            profile.given_name.as_deref().unwrap_or(""),
            profile.family_name.as_deref().unwrap_or("")
        ),
        // The factor chosen, even while the detail it needs awaits its code.
        factor: match session
            .data
            .contact
            .as_ref()
            .and_then(|c| SecondFactor::parse(&c.second_factor))
            .unwrap_or(profile.second_factor)
        {
            SecondFactor::Email => "summary.factor-email",
            SecondFactor::Sms => "summary.factor-sms",
            SecondFactor::Totp => "summary.factor-totp",
        },
        email: profile.personal_email.clone().unwrap_or_else(|| "—".into()),
        mobile: profile.mobile.clone().unwrap_or_else(|| "—".into()),
        notify: yes_no(profile.notify_new_mail),
        red_list: yes_no(listing.as_ref().is_some_and(|l| l.red_list)),
        dematerialisation: yes_no(listing.as_ref().and_then(|l| l.dematerialisation).unwrap_or(false)),
        pending_email,
        pending_mobile,
        csrf: session.data.csrf.clone(),
    };
    let r = site::render(&page);
    session.respond(&a, r).await
}
