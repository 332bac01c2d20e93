//! `confiance init`: a data directory ready to serve — database, development PKI shaped like
//! IGC-Santé, and demo accounts whose passwords are printed once.

use std::io::Write;

use confiance_trust::DevPki;
use rand::Rng;

use crate::config::Config;

/// Whether the data directory has been initialised.
pub fn is_initialised(config: &Config) -> bool {
    config.data_dir.join("confiance.db").exists()
}

/// Demo mailboxes: a physician and a nurse, in the first hosted domain.
fn demo_addresses(config: &Config) -> Vec<String> {
    let domain = &config.domains[0];
    vec![format!("jean.dupont@{domain}"), format!("marie.martin@{domain}")]
}

fn random_password() -> String {
    // Always one upper, one lower, one digit (the account policy), then 12 random characters.
    const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..12).map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char).collect();
    format!("Aa1{tail}")
}

pub fn run(config: &Config, demo: bool) -> anyhow::Result<()> {
    if is_initialised(config) {
        anyhow::bail!(
            "{} is already initialised (remove it to start again)",
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
        names.extend(config.domains.iter().cloned());
        eprintln!("Création de la PKI de développement (clés RSA 2048)…");
        DevPki::create(&config.data_dir, &config.operator, &names)?;
    }
    let store = confiance_store::open(&config.data_dir)?;
    if demo {
        let mut lines = String::new();
        for address in demo_addresses(config) {
            let password = random_password();
            let hash = confiance_auth::hash_password(&password)?;
            store.create_account(&address, &hash, config.storage.default_quota)?;
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
        eprintln!("Comptes de démonstration (aussi dans {}):\n{lines}", file.display());
        crate::directory::create_demo(config)?;
    }
    eprintln!(
        "Données initialisées dans {}. Autorité de test : {}",
        config.data_dir.display(),
        paths.root_cert.display()
    );
    Ok(())
}
