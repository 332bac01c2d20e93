//! `confiance structure …` and `confiance bal …`: the structures (FINESS) of this operator, their
//! administrators, and their organisational (ORG), applicative (APP) and cabinet (CAB) BALs
//! (issue 16). A BAL's type is chosen here, once: it never changes after.

use clap::{Subcommand, ValueEnum};
use confiance_core::{Address, Finess, MailboxKind, Rpps};
use confiance_store::{NewStructureBal, StoreError};

use crate::accounts::{self, AccountCmd};
use crate::config::Config;

#[derive(Subcommand)]
pub enum StructureCmd {
    /// Ajoute une structure par son FINESS (juridique ou géographique), avec son nom.
    Add {
        finess: String,
        #[arg(long)]
        name: String,
        /// Adresse postale.
        #[arg(long)]
        address: Option<String>,
    },
    /// Liste les structures avec leurs BAL et leurs administrateurs.
    List,
    /// Les administrateurs de la structure : des professionnels (par RPPS) ou du personnel (par e-mail).
    #[command(subcommand)]
    Admin(AdminCmd),
}

#[derive(Subcommand)]
pub enum AdminCmd {
    /// Nomme un administrateur : un RPPS (11 chiffres) ou une adresse e-mail.
    Add { finess: String, who: String },
}

/// The types of BAL a structure holds (PER BALs are a professional's, made by activation).
#[derive(Clone, Copy, ValueEnum)]
pub enum StructureBalKind {
    /// Organisationnelle: a service, shared by its staff.
    Org,
    /// Applicative: a software of the structure.
    App,
    /// De cabinet: a practice shared by its professionals.
    Cab,
}

impl From<StructureBalKind> for MailboxKind {
    fn from(k: StructureBalKind) -> MailboxKind {
        match k {
            StructureBalKind::Org => MailboxKind::Organisational,
            StructureBalKind::App => MailboxKind::Applicative,
            StructureBalKind::Cab => MailboxKind::Practice,
        }
    }
}

#[derive(Subcommand)]
pub enum BalCmd {
    /// Crée une BAL de structure ; son type ne change plus ensuite.
    Add {
        address: String,
        #[arg(long = "type", value_enum)]
        kind: StructureBalKind,
        /// FINESS d'une structure ajoutée avec `confiance structure add`.
        #[arg(long)]
        structure: String,
        /// Le nom qu'elle affiche (`Secrétariat de cardiologie`).
        #[arg(long)]
        name: String,
        /// Quota, écrit `4G`, `2 Go`, `500M` ou en octets (par défaut : storage.default_quota).
        #[arg(long, value_parser = crate::size::parse)]
        quota: Option<u64>,
    },
    /// Un jeton applicatif pour une BAL (le logiciel d'une BAL applicative sans certificat
    /// d'organisation) : un mot de passe pour IMAP et SMTP seulement, affiché une fois.
    Token {
        address: String,
        /// Ce à quoi il sert (`DPI`, `Logiciel de laboratoire`).
        #[arg(long)]
        label: String,
    },
    /// Qui peut utiliser une BAL partagée, et avec quels droits.
    #[command(subcommand)]
    Member(crate::members::MemberCmd),
    /// Suspend une BAL : ses messages sont gardés, le courrier entrant est refusé, personne ne s'y connecte.
    Suspend { address: String },
    /// Rend une BAL suspendue de nouveau utilisable.
    Resume { address: String },
    /// Supprime une BAL et tous ses messages, définitivement.
    Delete {
        address: String,
        /// Confirme la suppression.
        #[arg(long)]
        yes: bool,
    },
}

/// The FINESS as stored, or an error that names what is wrong with it (its key above all).
fn finess(value: &str) -> anyhow::Result<String> {
    Ok(Finess::parse(value).map_err(|e| anyhow::anyhow!("{e}"))?.to_string())
}

pub fn run_structure(config: &Config, cmd: StructureCmd) -> anyhow::Result<()> {
    let store = accounts::open(config)?;
    match cmd {
        StructureCmd::Add {
            finess: f,
            name,
            address,
        } => {
            let f = finess(&f)?;
            let name = name.trim();
            if name.is_empty() {
                anyhow::bail!("--name : la structure a besoin d'un nom");
            }
            match store.add_structure(&f, name, address.as_deref().map(str::trim)) {
                Err(StoreError::StructureExists) => anyhow::bail!("FINESS {f} : cette structure existe déjà"),
                other => other?,
            }
            tracing::info!(target: "audit", event = "structure_added", finess = %f);
            println!("Structure ajoutée : {name} (FINESS {f})");
        }
        StructureCmd::List => {
            let accounts = store.accounts()?;
            for s in store.structures()? {
                let bals: Vec<String> = accounts
                    .iter()
                    .filter(|a| a.structure.as_deref() == Some(s.finess.as_str()))
                    .map(|a| format!("{} ({})", a.address, a.kind))
                    .collect();
                let admins = store.structure_admins(&s.finess)?;
                println!(
                    "{}\t{}\tBAL : {}\tadministrateurs : {}",
                    s.finess,
                    s.name,
                    list(&bals),
                    list(&admins)
                );
            }
        }
        StructureCmd::Admin(AdminCmd::Add { finess: f, who }) => {
            let f = finess(&f)?;
            let who = admin_identity(&who)?;
            match store.add_structure_admin(&f, &who) {
                Err(StoreError::NoSuchStructure) => {
                    anyhow::bail!("FINESS {f} : aucune structure de ce numéro (confiance structure add)")
                }
                Ok(false) => println!("{who} administre déjà la structure {f}"),
                Ok(true) => {
                    tracing::info!(target: "audit", event = "structure_admin_added", finess = %f, admin = %who);
                    println!("{who} administre la structure {f}");
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

fn list(items: &[String]) -> String {
    match items.is_empty() {
        true => "aucun".into(),
        false => items.join(", "),
    }
}

/// An administrator: a professional by RPPS (kept as their IdNat_PS, as PSC gives it) or a
/// staff member by e-mail address.
pub(crate) fn admin_identity(who: &str) -> anyhow::Result<String> {
    let who = who.trim();
    if who.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(Rpps::parse(who).map_err(|e| anyhow::anyhow!("{e}"))?.national_id());
    }
    Address::parse(who)
        .map(|a| a.to_string().to_lowercase())
        .map_err(|e| anyhow::anyhow!("{who:?} : ni un RPPS (11 chiffres) ni une adresse e-mail ({e})"))
}

pub fn run_bal(config: &Config, cmd: BalCmd) -> anyhow::Result<()> {
    let then = match cmd {
        BalCmd::Add {
            address,
            kind,
            structure,
            name,
            quota,
        } => return add(config, &address, kind.into(), &structure, &name, quota),
        BalCmd::Token { address, label } => return token(config, &address, &label),
        BalCmd::Member(cmd) => return crate::members::run_member(config, cmd),
        BalCmd::Suspend { address } => AccountCmd::Suspend { address },
        BalCmd::Resume { address } => AccountCmd::Reactivate { address },
        BalCmd::Delete { address, yes } => AccountCmd::Delete { address, yes },
    };
    accounts::run(config, then)
}

/// Makes an app password of the BAL, as the account page makes them for professionals, with
/// its SCRAM keys; prints it once.
fn token(config: &Config, address: &str, label: &str) -> anyhow::Result<()> {
    let a = accounts::hosted(config, address)?.to_string();
    let label: String = label.trim().chars().take(60).collect();
    if label.is_empty() {
        anyhow::bail!("--label : dites à quoi sert le jeton (le nom du logiciel)");
    }
    let store = accounts::open(config)?;
    let account = store
        .account_by_address(&a)?
        .ok_or_else(|| anyhow::anyhow!("aucune BAL {a}"))?;
    let existing = store.app_passwords(account.id)?;
    if existing.len() >= confiance_auth::login::MAX_APP_PASSWORDS {
        anyhow::bail!(
            "{a} a déjà {} jetons et mots de passe d'application : révoquez-en un d'abord",
            existing.len()
        );
    }
    let token = confiance_auth::app_password::generate_for(&existing);
    let hash = confiance_auth::app_password::hash(&token);
    store.add_app_password(
        account.id,
        &label,
        &hash,
        confiance_auth::app_password::lookup_of(&token),
    )?;
    confiance_auth::login_scram::store_keys(&*store, &account, &hash, &token)?;
    tracing::info!(target: "audit", event = "app_password_created", account = %a, label = %label);
    println!("Jeton applicatif de {a} ({label}), affiché une seule fois :\n{token}");
    Ok(())
}

fn add(
    config: &Config,
    address: &str,
    kind: MailboxKind,
    structure: &str,
    name: &str,
    quota: Option<u64>,
) -> anyhow::Result<()> {
    let a = accounts::new_address(config, address)?.to_string();
    let f = finess(structure)?;
    let name = name.trim();
    if name.is_empty() {
        anyhow::bail!("--name : la BAL a besoin du nom qu'elle affiche");
    }
    let store = accounts::open(config)?;
    let created = confiance_store::create_published_bal(
        &*store,
        &NewStructureBal {
            address: &a,
            kind,
            finess: &f,
            display_name: name,
            quota_bytes: quota.unwrap_or(config.storage.default_quota),
        },
    );
    match created {
        Err(StoreError::NoSuchStructure) => {
            anyhow::bail!("FINESS {f} : aucune structure de ce numéro (confiance structure add)")
        }
        Err(StoreError::AccountExists) => {
            anyhow::bail!("{a} existe déjà ; le type d'une BAL ne change jamais après sa création")
        }
        other => other?,
    };
    tracing::info!(target: "audit", event = "bal_created", account = %a, kind = kind.code(), finess = %f);
    println!("BAL {} créée : {a} ({name}, FINESS {f})", kind.code());
    Ok(())
}
