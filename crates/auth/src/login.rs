//! Logins of the mail protocols (IMAP, SMTP submission), shared by both: password or app
//! password, PSC bearer token, and the audit trace of each attempt (method, identity, outcome,
//! never a secret).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use confiance_store::{Account, AccountStatus, Store};
use tokio::sync::Semaphore;

use crate::certificate::ClientCertificate;
use crate::password::verify_password;
use crate::psc::Psc;
use crate::sasl::Bearer;
use crate::throttle::{Throttle, client_ip};

/// A valid Argon2id hash of a random string, checked for unknown addresses so that timing does
/// not tell which addresses exist.
pub const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0bbxoYnBBRNV4fZtj5yr1v2vMrL7F7+9gPbD1JROXJY";

/// An account holds at most this many app passwords, which bounds the work of one login.
pub const MAX_APP_PASSWORDS: usize = 10;

/// Each check takes 19 MiB and a core for ~20 ms: at most one per core at a time, so a flood of
/// logins queues instead of exhausting memory.
pub(crate) fn hashing_slots() -> Arc<Semaphore> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    SLOTS
        .get_or_init(|| {
            Arc::new(Semaphore::new(
                std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
            ))
        })
        .clone()
}

/// Argon2id verification off the async threads, bounded as above, unless this password was
/// found to match this hash lately (`verified`). The slot goes with the work, so a client that
/// hangs up meanwhile does not free it while the hash is still computed.
pub async fn check_password(password: String, hash: String) -> bool {
    if crate::verified::recently(&password, &hash) {
        return true;
    }
    let Ok(slot) = hashing_slots().acquire_owned().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || {
        let right = verify_password(&password, &hash);
        drop(slot);
        if right {
            crate::verified::remember(&password, &hash);
        }
        right
    })
    .await
    .unwrap_or(false)
}

/// Who is logging in, for the audit trace.
pub struct Attempt<'a> {
    pub protocol: &'static str,
    pub method: &'a str,
    pub peer: &'a str,
}

pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Option<T> + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok().flatten()
}

/// What a password opens on the mail protocols: one of the account's app passwords, named by
/// its first group, or the account password when the holder's profile allows it (accounts made
/// by an admin, or activated before two-factor login). Exactly one hash is checked whatever
/// the account holds — a dummy one when there is nothing to check — so the time tells nothing;
/// only app passwords made before they had a name are tried in turn.
///
/// Returns the kind of credential, its stored hash, whether it has SCRAM keys, and the member
/// of the BAL it was made for (an app password of a shared BAL's member).
async fn password_matches(
    store: &Arc<dyn Store>,
    account: &Account,
    password: &str,
) -> Option<(&'static str, String, bool, Option<String>)> {
    let id = account.id;
    let s = store.clone();
    // A store that cannot answer opens nothing (the profile may forbid the account password).
    let found = blocking(move || Some((s.profile(id).ok()?, s.app_passwords(id).ok()?, s.scram_keys(id).ok()?))).await;
    let Some((profile, apps, scram)) = found else {
        check_password(password.to_string(), DUMMY_HASH.to_string()).await;
        return None;
    };
    if let Some(lookup) = crate::app_password::lookup_of(password) {
        let named = apps.iter().find(|a| a.lookup.as_deref() == Some(lookup));
        let older: Vec<_> = apps
            .iter()
            .filter(|a| a.lookup.is_none())
            .take(MAX_APP_PASSWORDS)
            .collect();
        let candidates: Vec<_> = match named {
            Some(app) => vec![app],
            None => older,
        };
        if candidates.is_empty() {
            // The time of a check of the kind this password's shape would have had.
            let dummy = match crate::app_password::is_current_shape(password) {
                true => crate::app_password::dummy(),
                false => DUMMY_HASH,
            };
            check_app_password(password, dummy).await;
        }
        for app in candidates {
            if check_app_password(password, &app.hash).await {
                let (s, app_id) = (store.clone(), app.id);
                let _ = blocking(move || s.touch_app_password(app_id, crate::now()).ok()).await;
                let keyed = scram.iter().any(|k| k.source == app.hash);
                return Some(("app password", app.hash.clone(), keyed, app.member.clone()));
            }
        }
        return None;
    }
    let hash = match profile.as_ref().is_none_or(|p| p.mail_password) {
        true => account.password_hash.clone(),
        false => DUMMY_HASH.to_string(),
    };
    let right = check_password(password.to_string(), hash.clone()).await;
    let keyed = scram.iter().any(|k| k.source == hash);
    (right && profile.is_none_or(|p| p.mail_password)).then_some(("password", hash, keyed, None))
}

/// Whether the member an app password was made for may still use the BAL this way: still a
/// member, not a suspended staff account, with the right the protocol needs (IMAP reads,
/// SMTP sends). Checked at every login, so a right withdrawn takes effect at once.
async fn member_may(
    store: &Arc<dyn Store>,
    account: &Account,
    member: &str,
    protocol: &str,
) -> Result<(), &'static str> {
    let (s, id, who) = (store.clone(), account.id, member.to_string());
    let found = blocking(move || {
        let rights = s.rights_of(id, &who).ok()?;
        let staff = match who.contains('@') {
            true => Some(s.staff(&who).ok()?),
            false => None,
        };
        Some((rights, staff))
    })
    .await;
    let Some((rights, staff)) = found else {
        return Err("store unavailable");
    };
    if staff.is_some_and(|s| s.is_none_or(|s| s.suspended)) {
        return Err("member suspended");
    }
    let rights = rights.ok_or("no longer a member")?;
    // Each door asks for its right; a door not named here opens to no member.
    match protocol {
        "imap" if rights.read => Ok(()),
        "imap" => Err("no read right"),
        "smtp" if rights.send => Ok(()),
        "smtp" => Err("no send right"),
        // The filters decide where the BAL's mail goes (redirect, discard): its managers only.
        "managesieve" if rights.manage => Ok(()),
        "managesieve" => Err("no manage right"),
        _ => Err("no right for this protocol"),
    }
}

/// An app password made now is checked by its fast hash, on the spot (microseconds); one made
/// before, by Argon2id like an account password.
async fn check_app_password(password: &str, hash: &str) -> bool {
    match crate::app_password::is_fast(hash) {
        true => crate::app_password::verify(password, hash),
        false => check_password(password.to_string(), hash.to_string()).await,
    }
}

fn audit_success(attempt: &Attempt<'_>, account: &Account, credential: &str, national_id: Option<&str>) {
    let Attempt { protocol, method, peer } = attempt;
    tracing::info!(target: "audit", event = "login", protocol, method, credential, account = %account.address,
        national_id = national_id.unwrap_or(""), peer, outcome = "success");
}

fn audit_failure(attempt: &Attempt<'_>, account: &str, national_id: Option<&str>, reason: &str) {
    let Attempt { protocol, method, peer } = attempt;
    tracing::warn!(target: "audit", event = "login", protocol, method, account, national_id = national_id.unwrap_or(""),
        peer, outcome = "failure", reason);
}

/// The account if `password` opens it. The attempt is counted by `throttle` before anything
/// is checked; a throttled address gets the same answer as a wrong password, without the work.
/// Failures wait `failure_delay` before answering.
pub async fn login(
    store: Arc<dyn Store>,
    throttle: &Arc<Throttle>,
    user: &str,
    password: String,
    attempt: Attempt<'_>,
    failure_delay: Duration,
) -> Option<Account> {
    let address = user.trim().to_lowercase();
    let counted = match throttle.begin(client_ip(attempt.peer), &address) {
        Ok(counted) => counted,
        Err(refused) => {
            return finish(&store, Err(refused.reason()), &attempt, &address, None, failure_delay).await;
        }
    };
    let lookup = address.clone();
    let s = store.clone();
    let account = blocking(move || s.account_by_address(&lookup).ok().flatten()).await;
    let mut member = None;
    let outcome = match account {
        Some(account) => match password_matches(&store, &account, &password).await {
            Some(_) if account.status == AccountStatus::Suspended => Err("suspended"),
            Some((credential, _, _, Some(who))) => {
                // A member's app password: their rights decide, and no SCRAM keys are made for
                // it, so that every login of theirs goes through this check.
                let allowed = member_may(&store, &account, &who, attempt.protocol).await;
                member = Some(who);
                allowed.map(|()| (account, credential))
            }
            Some((credential, source, keyed, None)) => {
                // A credential that opened the account gets its SCRAM keys if it has none yet,
                // after the answer (see `login_scram`).
                if !keyed {
                    crate::login_scram::store_keys_later(store.clone(), account.clone(), source, password);
                }
                Ok((account, credential))
            }
            None => Err("wrong password"),
        },
        None => {
            check_password(password, DUMMY_HASH.to_string()).await;
            Err("unknown address")
        }
    };
    if outcome.is_ok() {
        counted.succeeded();
    }
    // The member acts, not the BAL's holder: the trace names them.
    finish(&store, outcome, &attempt, &address, member.as_deref(), failure_delay).await
}

pub(crate) async fn finish(
    store: &Arc<dyn Store>,
    outcome: Result<(Account, &'static str), &'static str>,
    attempt: &Attempt<'_>,
    address: &str,
    national_id: Option<&str>,
    failure_delay: Duration,
) -> Option<Account> {
    match outcome {
        Ok((account, credential)) => {
            audit_success(attempt, &account, credential, national_id);
            let (s, id) = (store.clone(), account.id);
            let _ = blocking(move || s.record_activity(id, crate::now()).ok()).await;
            Some(account)
        }
        Err(reason) => {
            audit_failure(attempt, address, national_id, reason);
            tokio::time::sleep(failure_delay).await;
            None
        }
    }
}

/// The account a PSC access token opens: the mailbox named by the client, which the token's
/// holder must own, or the holder's only mailbox when none is named.
pub async fn login_bearer(
    store: Arc<dyn Store>,
    psc: Option<&Psc>,
    bearer: Bearer,
    attempt: Attempt<'_>,
    failure_delay: Duration,
) -> Option<Account> {
    let wanted = bearer.user.as_deref().map(|u| u.trim().to_lowercase());
    let shown = wanted.clone().unwrap_or_default();
    let Some(psc) = psc else {
        return finish(
            &store,
            Err("Pro Santé Connect is not configured"),
            &attempt,
            &shown,
            None,
            failure_delay,
        )
        .await;
    };
    let identity = match psc.check_access_token(&bearer.token).await {
        Ok(identity) => identity,
        Err(e) => {
            tracing::info!(error = %e, "access token refused");
            return finish(&store, Err("invalid token"), &attempt, &shown, None, failure_delay).await;
        }
    };
    let outcome = held(&store, &identity.national_id, wanted, "psc token").await;
    finish(
        &store,
        outcome,
        &attempt,
        &shown,
        Some(&identity.national_id),
        failure_delay,
    )
    .await
}

/// The mailbox `wanted` if the holder of `national_id` owns it or it is shared with them
/// (`confiance account share`), or their only own one when none is named.
async fn held(
    store: &Arc<dyn Store>,
    national_id: &str,
    wanted: Option<String>,
    credential: &'static str,
) -> Result<(Account, &'static str), &'static str> {
    let national = national_id.to_string();
    let s = store.clone();
    let named = wanted.is_some();
    let (owned, shared) = blocking(move || {
        let owned = s.accounts_of(&national).ok()?;
        // A shared BAL opens only when the client names it.
        let shared = if named {
            s.shared_with(&national).ok()?
        } else {
            Vec::new()
        };
        Some((owned, shared))
    })
    .await
    .unwrap_or_default();
    match wanted {
        Some(w) => owned
            .into_iter()
            .chain(shared)
            .find(|a| a.address == w)
            .ok_or("mailbox not held by this identity"),
        None if owned.len() == 1 => owned.into_iter().next().ok_or("no mailbox"),
        None if owned.is_empty() => Err("no mailbox"),
        None => Err("several mailboxes: the client must name one"),
    }
    .and_then(|a| match a.status {
        AccountStatus::Suspended => Err("suspended"),
        AccountStatus::Active => Ok((a, credential)),
    })
}

/// SASL EXTERNAL (RFC 4422 appendix A) with a certificate presented during the TLS handshake:
/// a CPS card opens the mailbox named by the authorization identity, or the holder's only one;
/// a structure's organisation certificate opens its applicative BAL (the one named, or the only
/// one).
pub async fn login_card(
    store: Arc<dyn Store>,
    certificate: Option<&ClientCertificate>,
    authzid: Option<String>,
    attempt: Attempt<'_>,
    failure_delay: Duration,
) -> Option<Account> {
    let wanted = authzid.map(|u| u.trim().to_lowercase()).filter(|u| !u.is_empty());
    let shown = wanted.clone().unwrap_or_default();
    let (outcome, national_id) = match certificate {
        None => (Err("no client certificate"), None),
        Some(ClientCertificate::Card(card)) => (
            held(&store, &card.national_id, wanted, "cps card").await,
            Some(card.national_id.as_str()),
        ),
        Some(ClientCertificate::Organisation(org)) => {
            tracing::info!(target: "audit", event = "organisation_certificate", finess = %org.finess,
                application = %org.application, peer = attempt.peer);
            (applicative(&store, &org.finess, wanted).await, None)
        }
    };
    finish(&store, outcome, &attempt, &shown, national_id, failure_delay).await
}

/// The structure's applicative BAL an organisation certificate opens: the one the client
/// names, or the structure's only one. Never an ORG, CAB or PER BAL: people read those.
async fn applicative(
    store: &Arc<dyn Store>,
    finess: &str,
    wanted: Option<String>,
) -> Result<(Account, &'static str), &'static str> {
    let (s, f) = (store.clone(), finess.to_string());
    let bals: Vec<Account> = blocking(move || s.structure_bals(&f).ok())
        .await
        .unwrap_or_default()
        .into_iter()
        .filter(|a| a.kind == confiance_core::MailboxKind::Applicative)
        .collect();
    let found = match wanted {
        Some(w) => bals
            .into_iter()
            .find(|a| a.address == w)
            .ok_or("not an applicative BAL of this structure"),
        None if bals.len() == 1 => bals.into_iter().next().ok_or("no applicative BAL"),
        None if bals.is_empty() => Err("no applicative BAL"),
        None => Err("several applicative BALs: the client must name one"),
    }?;
    match found.status {
        AccountStatus::Suspended => Err("suspended"),
        AccountStatus::Active => Ok((found, "organisation certificate")),
    }
}
