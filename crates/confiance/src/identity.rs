//! The accounts side of `serve`: Pro Santé Connect (the sandbox or a real provider), the
//! notifier of codes and notices, and the login policy, from the configuration.

use std::path::Path;
use std::sync::Arc;

use confiance_auth::notify::Notifier;
use confiance_auth::psc::{Psc, PscSettings, TokenCheck};
use confiance_store::Store;
use confiance_web::account::{Accounts, Policy, sandbox::Sandbox};
use rsa::pkcs8::EncodePrivateKey;

use crate::config::{Config, PscMode};

/// Reads a file, or creates it with `make()` (mode 0600): the sandbox's key and secret survive
/// restarts, so sessions and tokens do too.
fn kept(path: &Path, make: impl FnOnce() -> anyhow::Result<Vec<u8>>) -> anyhow::Result<Vec<u8>> {
    if let Ok(bytes) = std::fs::read(path) {
        return Ok(bytes);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let bytes = make()?;
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(bytes)
}

pub fn sandbox_dir(config: &Config) -> std::path::PathBuf {
    config.data_dir.join("psc-bac-a-sable")
}

fn read_secret(path: &Path, what: &str) -> anyhow::Result<String> {
    Ok(std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("{what} {}: {e}", path.display()))?
        .trim()
        .to_string())
}

/// Pro Santé Connect for the web and the mail protocols, and the sandbox when it is the one.
pub fn psc(config: &Config) -> anyhow::Result<(Arc<Psc>, Option<Arc<Sandbox>>)> {
    let public = config.public_url();
    let redirect_uri = format!("{public}/psc/retour");
    let p = &config.psc;
    let token_check = match p.token_check.as_str() {
        "introspection" => TokenCheck::Introspection,
        _ => TokenCheck::Jwks,
    };
    let mut extra_roots: Vec<Vec<u8>> = Vec::new();
    if let Some(ca) = &p.ca_file {
        extra_roots.extend(confiance_trust::tls::load_chain(ca)?.into_iter().map(|c| c.to_vec()));
    }
    // The provider and our client at it: the sandbox's own, or the configured ones.
    let (issuer, client_id, client_secret, sandbox) = match p.mode {
        PscMode::Sandbox => {
            let dir = sandbox_dir(config);
            let key = kept(&dir.join("signing-key.der"), || {
                let key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048)?;
                Ok(key.to_pkcs8_der()?.as_bytes().to_vec())
            })?;
            let secret = kept(&dir.join("client-secret"), || {
                Ok(hex::encode(confiance_auth::otp::random_bytes::<24>()).into_bytes())
            })?;
            let issuer = format!("{public}/psc-bac-a-sable");
            // Kept as PKCS#8 (the file's format since the start), signed with as PKCS#1.
            let key = {
                use rsa::pkcs1::EncodeRsaPrivateKey;
                use rsa::pkcs8::DecodePrivateKey;
                rsa::RsaPrivateKey::from_pkcs8_der(&key)?
                    .to_pkcs1_der()?
                    .as_bytes()
                    .to_vec()
            };
            let sandbox = Sandbox::new(issuer.clone(), String::from_utf8(secret)?, redirect_uri.clone(), &key)
                .map_err(|e| anyhow::anyhow!("clé du bac à sable PSC : {e}"))?;
            // Our own web certificate's authority, so the relying party reaches the sandbox.
            extra_roots.extend(
                confiance_trust::tls::load_chain(&config.anchors())?
                    .into_iter()
                    .map(|c| c.to_vec()),
            );
            let (id, secret) = (sandbox.client_id.clone(), sandbox.client_secret.clone());
            (issuer, id, secret, Some(Arc::new(sandbox)))
        }
        PscMode::External => {
            let secret = match &p.client_secret_file {
                Some(f) => read_secret(f, "psc.client_secret_file")?,
                None => String::new(),
            };
            let issuer = p.issuer.clone().unwrap_or_default();
            (issuer, p.client_id.clone().unwrap_or_default(), secret, None)
        }
    };
    let mut accepted_clients = p.accepted_clients.clone();
    accepted_clients.push(client_id.clone());
    let settings = PscSettings {
        issuer,
        accepted_clients,
        client_id,
        client_secret,
        redirect_uri,
        scope: p.scope.clone(),
        acr_values: Some(p.acr_values.clone()).filter(|a| !a.is_empty()),
        required_acr: Some(p.required_acr.clone()).filter(|a| !a.is_empty()),
        token_check,
        extra_roots,
    };
    let psc = Psc::new(settings).map_err(|e| anyhow::anyhow!("Pro Santé Connect: {e}"))?;
    Ok((psc, sandbox))
}

pub fn notifier(config: &Config) -> anyhow::Result<Arc<Notifier>> {
    let n = &config.notify;
    let from = n
        .from
        .clone()
        .unwrap_or_else(|| format!("ne-pas-repondre@{}", config.domains[0]));
    let token = match &n.sms_token_file {
        Some(f) => Some(read_secret(f, "notify.sms_token_file")?),
        None => None,
    };
    if config.psc.mode == PscMode::External && (n.smtp_relay.is_none() || n.sms_gateway.is_none()) {
        tracing::warn!("notify: without smtp_relay and sms_gateway, codes by e-mail or SMS cannot reach anyone");
    }
    let mut roots = Vec::new();
    if let Some(ca) = &n.sms_ca_file {
        roots.extend(confiance_trust::tls::load_chain(ca)?.into_iter().map(|c| c.to_vec()));
    }
    let notifier = Notifier::new(
        n.smtp_relay.clone(),
        from,
        n.sms_gateway.clone().map(|url| (url, token)),
        &roots,
    )
    .map_err(|e| anyhow::anyhow!("notify: {e}"))?;
    Ok(Arc::new(notifier))
}

pub fn accounts(
    config: &Config,
    store: Arc<dyn Store>,
    throttle: Arc<confiance_auth::throttle::Throttle>,
    psc: Arc<Psc>,
    sandbox: Option<Arc<Sandbox>>,
    notifier: Arc<Notifier>,
    clients: &Arc<confiance_web::MailClients>,
) -> Arc<Accounts> {
    let a = &config.accounts;
    Arc::new(Accounts {
        registry: confiance_auth::Registry::new(store),
        psc,
        sandbox,
        notifier,
        domains: config.domains.clone(),
        quota: config.storage.default_quota,
        policy: Policy {
            login_attempts: a.login_attempts,
            lock_seconds: a.lock_minutes as i64 * 60,
            idle_lock_seconds: a.idle_lock_minutes as i64 * 60,
        },
        issuer_label: format!("{} MSSanté", config.operator),
        throttle,
        unknown: Default::default(),
        clients: clients.clone(),
    })
}
