//! `confiance queue`: what waits for the other operators, and the administrator's hands on it.
//! Works while the operator runs (the queue is its own SQLite file).

use clap::Subcommand;

use crate::config::Config;

#[derive(Subcommand)]
pub enum QueueCmd {
    /// Liste les destinataires en attente : message, âge, tentatives, prochaine tentative, dernière erreur.
    List,
    /// Réessaie maintenant : un message, ou tous sans identifiant.
    Retry { id: Option<String> },
    /// Renonce à un message : son expéditeur reçoit un avis d'échec.
    Bounce { id: String },
    /// Retire un message sans prévenir son expéditeur.
    Delete { id: String },
}

pub fn run(config: &Config, cmd: QueueCmd) -> anyhow::Result<()> {
    let path = config.data_dir.join("queue.sqlite");
    if !crate::storage::Location::of(config)?.is_shared() && !path.exists() {
        anyhow::bail!(
            "pas de file d'envoi dans {} (l'opérateur a-t-il déjà été lancé ?)",
            path.display()
        );
    }
    let queue = crate::storage::queue(config)?;
    match cmd {
        QueueCmd::List => {
            let now = confiance_store::queue::now();
            let waiting = queue.list()?;
            for r in &waiting {
                let next = if r.bounce {
                    "retour demandé".to_string()
                } else {
                    format!("{}s", (r.next_attempt - now).max(0))
                };
                println!(
                    "{}\t{}\t<{}>\t{}\tâge {}s\ttentatives {}\tprochaine {next}\t{}",
                    r.message,
                    r.id,
                    r.sender,
                    r.address,
                    now - r.arrival,
                    r.attempts,
                    r.last_error.as_deref().unwrap_or("-")
                );
            }
            eprintln!("{} en attente", recipients(waiting.len()));
        }
        QueueCmd::Retry { id } => {
            let n = queue.retry(id.as_deref())?;
            if let Some(id) = id.filter(|_| n == 0) {
                return Err(unknown(&id));
            }
            eprintln!("{} remis en distribution immédiate", recipients(n));
        }
        QueueCmd::Bounce { id } => {
            let n = queue.bounce(&id)?;
            if n == 0 {
                return Err(unknown(&id));
            }
            let verb = if n > 1 { "retournés" } else { "retourné" };
            eprintln!("{} {verb} à l'expéditeur à la prochaine passe", recipients(n));
        }
        QueueCmd::Delete { id } => {
            let n = queue.delete(&id)?;
            if n == 0 {
                return Err(unknown(&id));
            }
            let verb = if n > 1 { "supprimés" } else { "supprimé" };
            eprintln!("{} {verb}, sans avis à l'expéditeur", recipients(n));
        }
    }
    Ok(())
}

/// « 0 destinataire », « 1 destinataire », « 2 destinataires » (French puts 0 in the singular).
fn recipients(n: usize) -> String {
    format!("{n} destinataire{}", if n > 1 { "s" } else { "" })
}

/// An id `queue list` never showed: an error, so that a script sees the command did nothing.
fn unknown(id: &str) -> anyhow::Error {
    anyhow::anyhow!("aucun message en file n'a l'identifiant {id} (voir « confiance queue list »)")
}
