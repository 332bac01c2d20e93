//! `confiance account …`: create mailboxes (BAL), change passwords and quotas, list them.

use std::io::BufRead;

use clap::Subcommand;
use confiance_core::Address;
use confiance_store::{AccountStatus, Store};

use crate::config::Config;

#[derive(Subcommand)]
pub enum AccountCmd {
    /// Crée une BAL avec un mot de passe (lu sur l'entrée standard avec --password-stdin).
    Add {
        address: String,
        #[arg(long)]
        password_stdin: bool,
        /// Quota, écrit `4G`, `2 Go`, `500M` ou en octets (par défaut : storage.default_quota).
        #[arg(long, value_parser = crate::size::parse)]
        quota: Option<u64>,
        /// L'e-mail personnel d'un patient, côté patients (`[patients] serve_domain`) : le webmail y
        /// envoie le code de connexion (mot de passe + code, comme Mon Espace Santé).
        #[arg(long)]
        email: Option<String>,
    },
    /// Change le mot de passe d'une BAL (lu sur l'entrée standard).
    Passwd { address: String },
    /// Fixe le quota d'une BAL, écrit `4G`, `2 Go`, `500M` ou en octets.
    Quota {
        address: String,
        #[arg(value_parser = crate::size::parse)]
        bytes: u64,
    },
    /// Liste les BAL et leur occupation.
    List,
    /// Publie une BAL dans l'annuaire avec son titulaire, ou l'en retire.
    Publish(Box<crate::listing::PublishArgs>),
    /// Suspend une BAL : ses messages sont gardés, personne ne s'y connecte, les sessions web prennent fin.
    Suspend { address: String },
    /// Ouvre aussi cette BAL à un professionnel (les secrétaires d'une BAL organisationnelle), par
    /// son identifiant national (IdNat_PS, tel que PSC ou la carte CPS le donne) ; --withdraw le retire.
    Share {
        address: String,
        #[arg(long)]
        national_id: String,
        #[arg(long)]
        withdraw: bool,
    },
    /// Rend une BAL suspendue de nouveau utilisable.
    Reactivate { address: String },
    /// Supprime une BAL et tous ses messages, définitivement.
    Delete {
        address: String,
        /// Confirme la suppression.
        #[arg(long)]
        yes: bool,
    },
    /// Lance maintenant le balayage d'inactivité (CNIL AU-037) : avertissements, puis suppressions.
    /// `serve` le lance toutes les heures.
    Sweep {
        /// Fait comme si l'on était à cette date (RFC 3339), pour voir ce que le balayage fera.
        #[arg(long)]
        now: Option<String>,
    },
}

pub(crate) fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if !from_stdin {
        anyhow::bail!("donnez le mot de passe sur l'entrée standard avec --password-stdin");
    }
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_string();
    confiance_auth::check_policy(&password)?;
    Ok(password)
}

pub(crate) fn open(config: &Config) -> anyhow::Result<std::sync::Arc<dyn Store>> {
    if !crate::init::is_initialised(config) {
        anyhow::bail!(
            "{} n'est pas initialisé : lancez d'abord `confiance init`",
            config.data_dir.display()
        );
    }
    let store = crate::storage::store(config)?;
    // The admin commands' traces (account added, BAL suspended…) go to the trace log too.
    crate::audit::start(config)?;
    Ok(store)
}

/// The mail service for a command that removes messages: it owns the blob files only when no
/// server runs on this data directory (see mail's `blobs`).
fn mail_service(
    config: &Config,
    store: std::sync::Arc<dyn Store>,
) -> anyhow::Result<std::sync::Arc<confiance_mail::MailService>> {
    Ok(confiance_mail::MailService::new(store, crate::storage::blobs(config)?))
}

/// A login by password then a code sent to `email` (a patient's, a demo holder's), whose
/// password also opens mail clients: no second factor stands behind it there, as for an
/// account without a web login.
pub(crate) fn code_by_email(email: String, given: Option<&str>, family: Option<&str>) -> confiance_store::Profile {
    confiance_store::Profile {
        national_id: None,
        given_name: given.map(str::to_string),
        family_name: family.map(str::to_string),
        personal_email: Some(email),
        mobile: None,
        second_factor: confiance_store::SecondFactor::Email,
        totp_secret: None,
        notify_new_mail: false,
        publish_mobile: false,
        mail_password: true,
        terms_accepted_at: chrono::Utc::now().timestamp(),
    }
}

/// A patient's web login: their password, then a code sent to their personal e-mail. Only on
/// the patients' side; professionals activate with Pro Santé Connect or their CPS card.
fn patient_login(
    config: &Config,
    store: &dyn Store,
    id: confiance_store::AccountId,
    address: &Address,
    email: &str,
) -> anyhow::Result<()> {
    if config.patients.serve_domain.is_none() || !config.patients.domain().is_patient(&address.to_string()) {
        anyhow::bail!("--email est pour les BAL de patients, sur un opérateur qui a [patients] serve_domain");
    }
    let email = Address::parse(email).map_err(|e| anyhow::anyhow!("--email {email:?}: {e}"))?;
    store.set_profile(id, &code_by_email(email.to_string(), None, None))?;
    Ok(())
}

pub(crate) fn hosted(config: &Config, address: &str) -> anyhow::Result<Address> {
    let a = Address::parse(address).map_err(|e| anyhow::anyhow!("adresse invalide {address:?} : {e}"))?;
    if !config.domains.iter().any(|d| d.eq_ignore_ascii_case(a.domain())) {
        anyhow::bail!(
            "{} n'est pas un domaine de cet opérateur (domaines : {})",
            a.domain(),
            config.domains.join(", ")
        );
    }
    Ok(a)
}

/// A hosted address for a new BAL, its local part in the national form (see
/// `is_new_local_part`); a refused one is told what it would be without accents.
pub(crate) fn new_address(config: &Config, address: &str) -> anyhow::Result<Address> {
    let a = hosted(config, address)?;
    if !confiance_core::address::is_new_local_part(a.local_part()) {
        let proposed: Vec<String> = a
            .local_part()
            .split(['.', '-', '_'])
            .map(confiance_auth::address::fold_name)
            .filter(|w| !w.is_empty())
            .collect();
        let hint = match proposed.is_empty() {
            true => String::new(),
            false => format!(" Par exemple : {}@{}", proposed.join("."), a.domain()),
        };
        anyhow::bail!(
            "« {} » ne peut pas nommer une nouvelle BAL : des lettres minuscules sans accents et des \
             chiffres, en mots séparés par un point, un tiret ou un souligné, 64 caractères au plus.{hint}",
            a.local_part()
        );
    }
    Ok(a)
}

fn existing(config: &Config, store: &dyn Store, address: &str) -> anyhow::Result<confiance_store::Account> {
    let a = hosted(config, address)?;
    store
        .account_by_address(&a.to_string())?
        .ok_or_else(|| anyhow::anyhow!("aucune BAL {a}"))
}

pub fn run(config: &Config, cmd: AccountCmd) -> anyhow::Result<()> {
    let store = open(config)?;
    match cmd {
        AccountCmd::Suspend { address } => {
            let account = existing(config, &*store, &address)?;
            store.set_status(account.id, AccountStatus::Suspended)?;
            tracing::info!(target: "audit", event = "account_suspended", account = %account.address);
            println!("BAL suspendue : {}", account.address);
        }
        AccountCmd::Share {
            address,
            national_id,
            withdraw,
        } => {
            if !confiance_auth::cps::is_national_id(&national_id) {
                anyhow::bail!(
                    "--national-id {national_id:?} : un IdNat_PS est attendu, 8 suivi du RPPS à 11 chiffres, ou 0 suivi de l'ADELI"
                );
            }
            let account = existing(config, &*store, &address)?;
            if withdraw {
                if !store.revoke_access(account.id, &national_id)? {
                    anyhow::bail!("{} n'était pas partagée avec {national_id}", account.address);
                }
                tracing::info!(target: "audit", event = "access_withdrawn", account = %account.address, grantee = %national_id);
                println!("Accès de {national_id} à {} retiré", account.address);
            } else {
                store.grant_access(account.id, &national_id)?;
                tracing::info!(target: "audit", event = "access_granted", account = %account.address, grantee = %national_id);
                println!("{national_id} peut ouvrir {}", account.address);
            }
        }
        AccountCmd::Reactivate { address } => {
            let account = existing(config, &*store, &address)?;
            store.set_status(account.id, AccountStatus::Active)?;
            tracing::info!(target: "audit", event = "account_reactivated", account = %account.address);
            println!("BAL réactivée : {}", account.address);
        }
        AccountCmd::Delete { address, yes } => {
            let account = existing(config, &*store, &address)?;
            if !yes {
                anyhow::bail!(
                    "supprimer {} efface tous ses messages pour de bon : ajoutez --yes pour confirmer",
                    account.address
                );
            }
            let svc = mail_service(config, store)?;
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            // Its mail is archived first; without an archive, nothing is deleted.
            let (archive, kept) = runtime.block_on(crate::archives::keep(config, &svc, &account))?;
            println!(
                "Archive : {} ({} message{} dans {} dossier{}, conservée {} jours)",
                archive.display(),
                kept.messages,
                if kept.messages > 1 { "s" } else { "" },
                kept.folders,
                if kept.folders > 1 { "s" } else { "" },
                config.accounts.archive_days
            );
            runtime.block_on(svc.delete_account(&account))?;
            if !svc.owns_blobs() {
                println!("(le serveur en marche supprimera les fichiers de ses messages)");
            }
            println!("BAL supprimée : {}", account.address);
        }
        AccountCmd::Sweep { now } => {
            let now = match now {
                Some(n) => chrono::DateTime::parse_from_rfc3339(&n)
                    .map_err(|e| {
                        anyhow::anyhow!(
                            "--now {n:?} : {e} (une date RFC 3339 est attendue, par exemple 2027-12-01T00:00:00Z)"
                        )
                    })?
                    .timestamp(),
                None => chrono::Utc::now().timestamp(),
            };
            let svc = mail_service(config, store.clone())?;
            let notifier = crate::identity::notifier(config)?;
            let rules = crate::serve::lifecycle_rules(config);
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let sweep = runtime.block_on(crate::lifecycle::sweep(store, &svc, &notifier, &rules, now))?;
            for a in &sweep.notified {
                println!("avertie : {a}");
            }
            for a in &sweep.deleted {
                println!("supprimée : {a}");
            }
            for (a, why) in &sweep.unnotified {
                println!("non avertie ({why}), donc conservée : {a}");
            }
            for m in notifier.outbox() {
                println!(
                    "(e-mail non envoyé, pas de relais configuré) à {} : {}",
                    m.to, m.subject
                );
            }
            println!(
                "{} BAL averties, {} supprimées",
                sweep.notified.len(),
                sweep.deleted.len()
            );
            return Ok(());
        }
        AccountCmd::Add {
            address,
            password_stdin,
            quota,
            email,
        } => {
            let a = new_address(config, &address)?;
            // On the patients' side a BAL is a patient's: its name is their matricule INS.
            if config.patients.serve_domain.is_some() {
                let patients = config.patients.domain();
                if patients.is_patient(&a.to_string()) {
                    patients
                        .check(&a.to_string())
                        .map_err(|e| anyhow::anyhow!("{}", e.reason(&a.to_string())))?;
                }
            }
            let password = read_password(password_stdin)?;
            let hash = confiance_auth::hash_password(&password)?;
            let id = store.create_account(&a.to_string(), &hash, quota.unwrap_or(config.storage.default_quota))?;
            // SCRAM keys of the new password, so that clients choosing SCRAM log in at once.
            if let Some(account) = store.account(id)? {
                confiance_auth::login_scram::store_keys(&*store, &account, &hash, &password)?;
            }
            if let Some(email) = email {
                patient_login(config, &*store, id, &a, &email)?;
            }
            println!("BAL créée : {a}");
        }
        AccountCmd::Passwd { address } => {
            let a = hosted(config, &address)?;
            let account = store
                .account_by_address(&a.to_string())?
                .ok_or_else(|| anyhow::anyhow!("aucune BAL {a}"))?;
            let password = read_password(true)?;
            let hash = confiance_auth::hash_password(&password)?;
            store.set_password(account.id, &hash)?;
            confiance_auth::login_scram::store_keys(&*store, &account, &hash, &password)?;
            println!("Mot de passe modifié : {a}");
        }
        AccountCmd::Quota { address, bytes } => {
            let a = hosted(config, &address)?;
            let account = store
                .account_by_address(&a.to_string())?
                .ok_or_else(|| anyhow::anyhow!("aucune BAL {a}"))?;
            store.set_quota(account.id, bytes)?;
            println!("Quota de {a} : {}", crate::size::show(bytes));
        }
        AccountCmd::Publish(args) => {
            let a = hosted(config, &args.address)?;
            let account = store
                .account_by_address(&a.to_string())?
                .ok_or_else(|| anyhow::anyhow!("aucune BAL {a}"))?;
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
                let status = match a.status {
                    AccountStatus::Active => "active",
                    AccountStatus::Suspended => "suspendue",
                };
                println!(
                    "{}\t{}\t{} / {}\t{status}",
                    a.address,
                    a.kind,
                    crate::size::show(store.usage(a.id)?),
                    crate::size::show(a.quota_bytes)
                );
            }
        }
    }
    Ok(())
}
