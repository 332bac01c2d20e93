//! `confiance staff …` and `confiance bal member …`: the staff accounts of structures (no
//! RPPS, password and authenticator app) and the members of shared BALs with their rights
//! (issue 16). A professional member is named by RPPS, a staff member by e-mail.

use clap::Subcommand;
use confiance_store::{Rights, StaffAccount, StoreError};

use crate::accounts;
use crate::config::Config;
use crate::structures::admin_identity;

#[derive(Subcommand)]
pub enum StaffCmd {
    /// Crée un compte du personnel : le mot de passe sur l'entrée standard ; affiche la clé
    /// d'authentification à lui remettre (une seule fois).
    Add {
        /// Son identifiant : une adresse e-mail professionnelle.
        email: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Suspend un membre du personnel parti : ses mots de passe d'application sont supprimés et les
    /// sessions des BAL auxquelles il appartenait prennent fin aussitôt.
    Suspend { email: String },
    /// Permet à un membre du personnel suspendu de se connecter de nouveau.
    Resume { email: String },
}

#[derive(Subcommand)]
pub enum MemberCmd {
    /// Donne accès à une BAL partagée, ou change les droits.
    Add {
        address: String,
        /// Un RPPS (11 chiffres) ou l'e-mail d'un membre du personnel.
        who: String,
        /// `read`, `send`, `manage`, séparés par des virgules (ou `lecture,envoi,gestion`).
        #[arg(long, default_value = "read,send")]
        rights: String,
    },
    /// Les membres de la BAL et leurs droits.
    List { address: String },
}

pub fn run_staff(config: &Config, cmd: StaffCmd) -> anyhow::Result<()> {
    let store = accounts::open(config)?;
    match cmd {
        StaffCmd::Add {
            email,
            name,
            password_stdin,
        } => {
            let email = confiance_core::Address::parse(&email)
                .map_err(|e| anyhow::anyhow!("{email:?} n'est pas une adresse e-mail ({e})"))?
                .to_string();
            let name = name.trim().to_string();
            if name.is_empty() {
                anyhow::bail!("--name : le membre du personnel a besoin d'un nom");
            }
            let password = accounts::read_password(password_stdin)?;
            let secret = confiance_auth::otp::new_totp_secret();
            let staff = StaffAccount {
                email: email.clone(),
                name,
                password_hash: confiance_auth::hash_password(&password)?,
                totp_secret: secret.clone(),
                suspended: false,
                created_at: chrono::Utc::now().timestamp(),
            };
            match store.add_staff(&staff) {
                Err(StoreError::AccountExists) => anyhow::bail!("{email} : ce compte du personnel existe déjà"),
                other => other?,
            }
            tracing::info!(target: "audit", event = "staff_added", staff = %email);
            println!("Compte du personnel créé : {email}");
            println!("Clé de l'application d'authentification (à remettre une seule fois) :");
            println!(
                "{}",
                confiance_auth::otp::otpauth_uri(&secret, &email, &config.operator)
            );
        }
        StaffCmd::Suspend { email } => {
            let email = email.trim().to_lowercase();
            suspended(&*store, &email, true)?;
            tracing::info!(target: "audit", event = "staff_suspended", staff = %email);
            println!("Compte du personnel suspendu : {email} (mots de passe d'application supprimés)");
        }
        StaffCmd::Resume { email } => {
            let email = email.trim().to_lowercase();
            suspended(&*store, &email, false)?;
            tracing::info!(target: "audit", event = "staff_resumed", staff = %email);
            println!("Compte du personnel réactivé : {email}");
        }
    }
    Ok(())
}

fn suspended(store: &dyn confiance_store::Store, email: &str, on: bool) -> anyhow::Result<()> {
    match store.set_staff_suspended(email, on) {
        Err(StoreError::NoSuchAccount) => anyhow::bail!("{email} : aucun compte du personnel à cette adresse"),
        other => Ok(other?),
    }
}

pub fn run_member(config: &Config, cmd: MemberCmd) -> anyhow::Result<()> {
    let store = accounts::open(config)?;
    let bal = |address: &str| -> anyhow::Result<confiance_store::Account> {
        let a = accounts::hosted(config, address)?.to_string();
        store
            .account_by_address(&a)?
            .ok_or_else(|| anyhow::anyhow!("aucune BAL {a}"))
    };
    match cmd {
        MemberCmd::Add { address, who, rights } => {
            let account = bal(&address)?;
            if account.kind == confiance_core::MailboxKind::Applicative {
                anyhow::bail!(
                    "{} : une BAL applicative appartient à son logiciel, elle n'a pas de membres",
                    account.address
                );
            }
            let who = admin_identity(&who)?;
            let rights = Rights::parse(&rights).map_err(|e| anyhow::anyhow!("--rights : {e}"))?;
            store.set_member(account.id, &who, rights)?;
            tracing::info!(target: "audit", event = "member_set", account = %account.address, member = %who,
                rights = %rights.as_text());
            println!("{who} : {} sur {}", rights.as_text(), account.address);
        }
        MemberCmd::List { address } => {
            let account = bal(&address)?;
            for m in store.members(account.id)? {
                println!("{}\t{}", m.who, m.rights.as_text());
            }
        }
    }
    Ok(())
}
