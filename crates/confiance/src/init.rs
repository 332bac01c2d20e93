//! `confiance init`: a data directory ready to serve — database, development PKI shaped like
//! IGC-Santé, and demo accounts whose passwords are printed once.

use std::io::Write;

use confiance_trust::DevPki;
use rand::Rng;

use crate::config::Config;

/// Whether the operator has been initialised: its database file exists (embedded), or, with a
/// shared database, `init` marked the data directory (a node joining others gets a copy of
/// the first one's data directory: configuration and certificates).
pub fn is_initialised(config: &Config) -> bool {
    match crate::storage::Location::of(config) {
        Ok(crate::storage::Location::Embedded) => config.data_dir.join("confiance.db").exists(),
        Ok(_) => config.data_dir.join(SHARED_MARK).exists(),
        Err(_) => false,
    }
}

/// The mark `init` leaves in the data directory of a node on a shared database.
const SHARED_MARK: &str = "initialised";

/// Demo mailboxes: a physician and a nurse, in the first hosted domain, with their holders.
fn demo_accounts(config: &Config) -> Vec<(String, &'static str, &'static str)> {
    let domain = &config.domains[0];
    vec![
        (format!("jean.dupont@{domain}"), "Jean", "DUPONT"),
        (format!("marie.martin@{domain}"), "Marie", "MARTIN"),
    ]
}

/// A demo BAL opens the webmail as an activated one does: its password, then a code sent to
/// the holder's personal e-mail, which in development lands on `/dev/messages`. The address
/// is under `.invalid` (RFC 2606), which nothing outside can receive. Its password also opens
/// IMAP/SMTP, so that a mail client works without an app password.
fn demo_profile(address: &str, given: &str, family: &str) -> confiance_store::Profile {
    let local = address.split('@').next().unwrap_or(address);
    crate::accounts::code_by_email(format!("{local}@demo.invalid"), Some(given), Some(family))
}

fn random_password() -> String {
    // Always one upper, one lower, one digit (the account policy), then 12 random characters.
    const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..12).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect();
    format!("Aa1{tail}")
}

/// The name the kernel holds for this machine (`hostname`), if it is a usable DNS name.
fn machine_hostname() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim().to_ascii_lowercase();
    (name != "localhost" && confiance_core::address::is_host_name(&name)).then_some(name)
}

pub fn run(config: &Config, demo: bool) -> anyhow::Result<()> {
    if is_initialised(config) {
        anyhow::bail!(
            "{} est déjà initialisé (supprimez-le pour repartir de zéro)",
            config.data_dir.display()
        );
    }
    std::fs::create_dir_all(&config.data_dir)?;
    let paths = DevPki::paths(&config.data_dir);
    if config.tls.certificate.is_none() && !paths.server_chain.exists() {
        let mut names = vec![
            config.hostname.clone(),
            "localhost".to_string(),
            "127.0.0.1".to_string(),
        ];
        // The machine's own name, so that a client elsewhere on the network can check it too.
        names.extend(machine_hostname().filter(|h| !names.contains(h)));
        names.extend(config.domains.iter().cloned());
        // Thunderbird fetches https://autoconfig.<domain>/mail/config-v1.1.xml.
        names.extend(config.domains.iter().map(|d| format!("autoconfig.{d}")));
        eprintln!("Création de la PKI de développement (clés RSA 2048)…");
        DevPki::create(&config.data_dir, &config.operator, &names)?;
    }
    let store = crate::storage::store(config)?;
    if crate::storage::Location::of(config)?.is_shared() {
        // Every table set now, not at the first `serve`: the database is complete after init.
        crate::storage::blobs(config)?;
        crate::storage::queue(config)?;
        crate::storage::traces(config)?;
        std::fs::write(
            config.data_dir.join(SHARED_MARK),
            "base PostgreSQL partagée ([storage] url)\n",
        )?;
    }
    if demo {
        let mut lines = String::new();
        for (address, given, family) in demo_accounts(config) {
            let password = random_password();
            let hash = confiance_auth::hash_password(&password)?;
            let id = store.create_account(&address, &hash, config.storage.default_quota)?;
            store.set_profile(id, &demo_profile(&address, given, family))?;
            // SCRAM keys too, so that a mail client choosing SCRAM-SHA-256 logs in at once.
            if let Some(account) = store.account(id)? {
                confiance_auth::login_scram::store_keys(&*store, &account, &hash, &password)?;
            }
            lines.push_str(&format!("{address}\t{password}\n"));
        }
        let file = config.data_dir.join("demo-accounts.txt");
        let mut f = std::fs::File::create(&file)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        f.write_all(lines.as_bytes())?;
        eprintln!("Comptes de démonstration (aussi dans {}) :\n{lines}", file.display());
        if let Some(web) = config.mail_clients().web_url()
            && config.psc.mode == crate::config::PscMode::Sandbox
        {
            eprintln!(
                "Webmail : {web}/connexion avec l'adresse et le mot de passe, puis le code à usage \
                 unique affiché sur {web}/dev/messages"
            );
        }
        crate::directory::create_demo(config)?;
    }
    eprintln!(
        "Données initialisées dans {}. Autorité de test : {}",
        config.data_dir.display(),
        paths.root_cert.display()
    );
    Ok(())
}
