//! `confiance queue`: what waits for the other operators, and the administrator's hands on it.
//! Works while the operator runs (the queue is its own SQLite file).

use clap::Subcommand;

use crate::config::Config;

#[derive(Subcommand)]
pub enum QueueCmd {
    /// List waiting recipients: message id, age, attempts, next attempt, last error.
    List,
    /// Try again now: one message, or every one without an id.
    Retry { id: Option<String> },
    /// Give up on a message: its sender gets a failure report.
    Bounce { id: String },
    /// Remove a message without telling its sender.
    Delete { id: String },
}

pub fn run(config: &Config, cmd: QueueCmd) -> anyhow::Result<()> {
    let path = config.data_dir.join("queue.sqlite");
    if !path.exists() {
        anyhow::bail!("no outbound queue at {} (has the operator run yet?)", path.display());
    }
    let queue = confiance_store::open_queue(&config.data_dir)?;
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
            eprintln!("{} destinataire(s) en attente", waiting.len());
        }
        QueueCmd::Retry { id } => {
            let n = queue.retry(id.as_deref())?;
            eprintln!("{n} destinataire(s) remis en distribution immédiate");
        }
        QueueCmd::Bounce { id } => {
            let n = queue.bounce(&id)?;
            if n == 0 {
                anyhow::bail!("no queued message {id}");
            }
            eprintln!("{n} destinataire(s) retournés à l'expéditeur à la prochaine passe");
        }
        QueueCmd::Delete { id } => {
            let n = queue.delete(&id)?;
            if n == 0 {
                anyhow::bail!("no queued message {id}");
            }
            eprintln!("{n} destinataire(s) supprimés, sans avis à l'expéditeur");
        }
    }
    Ok(())
}
