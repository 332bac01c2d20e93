//! `confiance account …`: create mailboxes (BAL), change passwords and quotas, list them.

use std::io::BufRead;

use clap::Subcommand;
use confiance_core::Address;
use confiance_store::{SqliteStore, Store};

use crate::config::Config;

#[derive(Subcommand)]
pub enum AccountCmd {
    /// Create a mailbox with a password (read from standard input with --password-stdin).
    Add {
        address: String,
        #[arg(long)]
        password_stdin: bool,
        /// Quota in bytes (default: storage.default_quota).
        #[arg(long)]
        quota: Option<u64>,
    },
    /// Change a mailbox's password (read from standard input).
    Passwd { address: String },
    /// Set a mailbox's quota in bytes.
    Quota { address: String, bytes: u64 },
    /// List mailboxes with their usage.
    List,
    /// Publish a mailbox in the directory (annuaire) with its holder, or withdraw it.
    Publish(Box<crate::listing::PublishArgs>),
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if !from_stdin {
        anyhow::bail!("give the password on standard input with --password-stdin");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    confiance_auth::check_policy(&password)?;
    Ok(password)
}

fn open(config: &Config) -> anyhow::Result<SqliteStore> {
    if !crate::init::is_initialised(config) {
        anyhow::bail!(
            "{} is not initialised: run `confiance init` first",
            config.data_dir.display()
        );
    }
    Ok(SqliteStore::open(&config.data_dir.join("confiance.db"))?)
}

fn hosted(config: &Config, address: &str) -> anyhow::Result<Address> {
    let a = Address::parse(address).map_err(|e| anyhow::anyhow!("invalid address {address:?}: {e}"))?;
    if !config.domains.iter().any(|d| d.eq_ignore_ascii_case(a.domain())) {
        anyhow::bail!(
            "{} is not a domain of this operator (domains: {})",
            a.domain(),
            config.domains.join(", ")
        );
    }
    Ok(a)
}

pub fn run(config: &Config, cmd: AccountCmd) -> anyhow::Result<()> {
    let store = open(config)?;
    match cmd {
        AccountCmd::Add {
            address,
            password_stdin,
            quota,
        } => {
            let a = hosted(config, &address)?;
            let password = read_password(password_stdin)?;
            let hash = confiance_auth::hash_password(&password)?;
            store.create_account(&a.to_string(), &hash, quota.unwrap_or(config.storage.default_quota))?;
            println!("BAL créée : {a}");
        }
        AccountCmd::Passwd { address } => {
            let a = hosted(config, &address)?;
            let account = store
                .account_by_address(&a.to_string())?
                .ok_or_else(|| anyhow::anyhow!("no mailbox {a}"))?;
            let password = read_password(true)?;
            store.set_password(account.id, &confiance_auth::hash_password(&password)?)?;
            println!("Mot de passe modifié : {a}");
        }
        AccountCmd::Quota { address, bytes } => {
            let a = hosted(config, &address)?;
            let account = store
                .account_by_address(&a.to_string())?
                .ok_or_else(|| anyhow::anyhow!("no mailbox {a}"))?;
            store.set_quota(account.id, bytes)?;
            println!("Quota de {a} : {bytes} octets");
        }
        AccountCmd::Publish(args) => {
            let a = hosted(config, &args.address)?;
            let account = store
                .account_by_address(&a.to_string())?
                .ok_or_else(|| anyhow::anyhow!("no mailbox {a}"))?;
            if args.withdraw {
                store.set_listing(account.id, None)?;
                println!("{a} retirée de l'annuaire");
            } else {
                let listing = crate::listing::listing(&args)?;
                store.set_listing(account.id, Some(&listing))?;
                if listing.red_list {
                    println!("{a} en liste rouge : jamais affichée dans l'annuaire");
                } else {
                    println!("{a} publiée dans l'annuaire");
                }
            }
        }
        AccountCmd::List => {
            for a in store.accounts()? {
                println!("{}\t{} / {} octets", a.address, store.usage(a.id)?, a.quota_bytes);
            }
        }
    }
    Ok(())
}
