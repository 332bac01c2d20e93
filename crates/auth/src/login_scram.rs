//! SCRAM-SHA-256 logins on IMAP and submission (RFC 7677), and the keys they check.
//!
//! The keys of a credential are made where its password is known in clear: `confiance account
//! add|passwd`, a password changed on the web, a new app password, and the first PLAIN or
//! LOGIN that succeeds with a credential that has none yet (accounts made before SCRAM); that
//! login answers at once, and the derivation runs after, in a hashing slot.
//!
//! What an observer sees does not tell whether an address exists: an unknown one gets a salt
//! derived from it under an installation secret, as stable as a real one, and the exchange
//! fails only at the proof, after the same delay as a wrong password.

use std::sync::Arc;
use std::time::Duration;

use confiance_store::{Account, AccountStatus, ScramKey, Store};
use ring::hmac;

use crate::login::{Attempt, blocking, finish};
use crate::scram::{self, ClientFirst, Keys, ScramError, ServerFirst};
use crate::throttle::{Attempting, Throttle, client_ip};

/// Where a SCRAM exchange stands between the client's messages.
#[derive(Default)]
pub enum ScramState {
    #[default]
    Start,
    Challenged(Box<Pending>),
    /// The proof was good and the server's signature sent; the client's empty answer ends it.
    Verified(Account),
    Over,
}

pub struct Pending {
    client: ClientFirst,
    server: ServerFirst,
    address: String,
    /// The account and the keys of its credentials allowed on the mail protocols; why not,
    /// when the exchange can only fail (throttled, unknown address), decided only at the end.
    candidates: Result<(Account, Vec<Keys>), &'static str>,
    counted: Option<Attempting>,
}

/// What the front does next.
pub enum ScramStep {
    /// Send this challenge and feed the answer back.
    Challenge(Vec<u8>),
    /// Logged in.
    Done(Account),
    /// Wrong password, unknown address, throttled or suspended (the audit says which).
    Refused,
    Malformed(ScramError),
}

/// The salt of `address` when it has no key yet: a keyed hash of the address, so that it stays
/// the same from one exchange to the next whether the address exists or not.
fn derived_salt(secret: &[u8], address: &str) -> Vec<u8> {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), address.as_bytes());
    tag.as_ref()[..16].to_vec()
}

fn installation_secret(store: &dyn Store) -> Option<Vec<u8>> {
    store.secret("scram-salt", &crate::otp::random_bytes::<32>()).ok()
}

/// The account's salt and rounds: those of its keys, or the derived salt and today's rounds.
fn salt_of(store: &dyn Store, address: &str, keys: &[ScramKey]) -> (Vec<u8>, u32) {
    match keys.first() {
        Some(k) => (k.salt.clone(), k.iterations),
        None => {
            let secret = installation_secret(store).unwrap_or_default();
            (derived_salt(&secret, address), scram::ITERATIONS)
        }
    }
}

/// Derives and keeps the keys of one credential (`source` is its stored hash). Blocking: one
/// PBKDF2 of `scram::ITERATIONS` rounds. A password SCRAM cannot carry is left to PLAIN.
pub fn store_keys(store: &dyn Store, account: &Account, source: &str, password: &str) -> confiance_store::Result<()> {
    let existing = store.scram_keys(account.id)?;
    if existing.iter().any(|k| k.source == source) {
        return Ok(());
    }
    let (salt, iterations) = salt_of(store, &account.address, &existing);
    let Some(keys) = scram::derive(password, &salt, iterations) else {
        return Ok(());
    };
    store.put_scram_key(
        account.id,
        &ScramKey {
            source: source.to_string(),
            salt,
            iterations,
            stored_key: keys.stored_key.to_vec(),
            server_key: keys.server_key.to_vec(),
        },
    )
}

/// `store_keys` in a hashing slot, after the caller has answered (a login, a web page).
pub fn store_keys_later(store: Arc<dyn Store>, account: Account, source: String, password: String) {
    if !scram::carries(&password) {
        return;
    }
    tokio::spawn(async move {
        let Ok(slot) = crate::login::hashing_slots().acquire_owned().await else {
            return;
        };
        let _ = tokio::task::spawn_blocking(move || {
            if let Err(e) = store_keys(&*store, &account, &source, &password) {
                tracing::warn!(error = %e, account = %account.address, "cannot keep the SCRAM keys");
            }
            drop(slot);
        })
        .await;
    });
}

/// One client message of a SCRAM-SHA-256 exchange.
pub async fn step(
    store: &Arc<dyn Store>,
    throttle: &Arc<Throttle>,
    state: &mut ScramState,
    message: &[u8],
    attempt: Attempt<'_>,
    failure_delay: Duration,
) -> ScramStep {
    match std::mem::replace(state, ScramState::Over) {
        ScramState::Start => match first(store, throttle, message, &attempt).await {
            Ok(pending) => {
                let challenge = pending.server.message.clone().into_bytes();
                *state = ScramState::Challenged(Box::new(pending));
                ScramStep::Challenge(challenge)
            }
            Err(e) => ScramStep::Malformed(e),
        },
        ScramState::Challenged(pending) => {
            let Pending {
                client,
                server,
                address,
                candidates,
                counted,
            } = *pending;
            let last = match scram::parse_client_final(&client, &server, message) {
                Ok(last) => last,
                Err(e) => return ScramStep::Malformed(e),
            };
            let outcome = candidates.and_then(|(account, keys)| {
                let keys = keys.into_iter().find(|k| last.proves(k)).ok_or("wrong password")?;
                match account.status {
                    AccountStatus::Suspended => Err("suspended"),
                    AccountStatus::Active => Ok((account, keys)),
                }
            });
            let signature = outcome.as_ref().ok().map(|(_, keys)| last.server_final(keys));
            if outcome.is_ok()
                && let Some(counted) = counted
            {
                counted.succeeded();
            }
            let outcome = outcome.map(|(account, _)| (account, "scram"));
            match (
                finish(store, outcome, &attempt, &address, None, failure_delay).await,
                signature,
            ) {
                (Some(account), Some(signature)) => {
                    *state = ScramState::Verified(account);
                    ScramStep::Challenge(signature.into_bytes())
                }
                _ => ScramStep::Refused,
            }
        }
        // RFC 5802 §5: the client has checked our signature and answers with nothing.
        ScramState::Verified(account) if message.is_empty() => ScramStep::Done(account),
        ScramState::Verified(_) | ScramState::Over => ScramStep::Malformed(ScramError::Malformed),
    }
}

async fn first(
    store: &Arc<dyn Store>,
    throttle: &Arc<Throttle>,
    message: &[u8],
    attempt: &Attempt<'_>,
) -> Result<Pending, ScramError> {
    let client = scram::parse_client_first(message)?;
    let address = client.user.trim().to_lowercase();
    // Nobody acts as another here (as with PLAIN's authzid).
    if client
        .authzid
        .as_ref()
        .is_some_and(|z| !z.trim().eq_ignore_ascii_case(&address))
    {
        return Err(ScramError::Malformed);
    }
    // Counted before anything is looked at; a refused attempt runs on to the same failure.
    let (counted, throttled) = match throttle.begin(client_ip(attempt.peer), &address) {
        Ok(counted) => (Some(counted), None),
        Err(refused) => (None, Some(refused.reason())),
    };
    let (s, wanted) = (store.clone(), address.clone());
    let found = blocking(move || {
        let account = s.account_by_address(&wanted).ok()?;
        let keys = match &account {
            Some(a) => s.scram_keys(a.id).ok()?,
            None => Vec::new(),
        };
        let allowed = match &account {
            Some(a) => allowed_keys(&*s, a, &keys)?,
            None => Vec::new(),
        };
        let (salt, iterations) = salt_of(&*s, &wanted, &keys);
        Some((account, allowed, salt, iterations))
    })
    .await;
    let Some((account, keys, salt, iterations)) = found else {
        return Err(ScramError::Malformed);
    };
    let server = scram::server_first(&client, &crate::otp::random_bytes::<18>(), &salt, iterations);
    let candidates = match (throttled, account) {
        (Some(reason), _) => Err(reason),
        (None, None) => Err("unknown address"),
        (None, Some(account)) => Ok((account, keys)),
    };
    Ok(Pending {
        client,
        server,
        address,
        candidates,
        counted,
    })
}

/// The keys of the credentials that open the account on the mail protocols: every app
/// password, and the account password when the holder's profile allows it.
fn allowed_keys(store: &dyn Store, account: &Account, keys: &[ScramKey]) -> Option<Vec<Keys>> {
    let mail_password = store.profile(account.id).ok()?.is_none_or(|p| p.mail_password);
    Some(
        keys.iter()
            .filter(|k| mail_password || k.source != account.password_hash)
            .filter_map(|k| {
                Some(Keys {
                    stored_key: k.stored_key.as_slice().try_into().ok()?,
                    server_key: k.server_key.as_slice().try_into().ok()?,
                })
            })
            .collect(),
    )
}
