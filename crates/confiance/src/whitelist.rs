//! `confiance whitelist`: what the ANS whitelist in force (or any copy of it) says, and which of
//! its entries are unusable.

use clap::Subcommand;
use confiance_trust::WhitelistSource;

use crate::config::Config;

#[derive(Subcommand)]
pub enum WhitelistCmd {
    /// Lit une liste blanche (la source configurée par défaut : fichier ou URL) et en rend compte.
    Check {
        /// Un fichier ou une URL http(s).
        source: Option<String>,
    },
}

pub fn run(config: &Config, cmd: WhitelistCmd) -> anyhow::Result<()> {
    match cmd {
        WhitelistCmd::Check { source } => {
            let source = source.unwrap_or_else(|| config.whitelist());
            // Checked into a scratch copy: the operator's last good copy is not touched.
            let scratch = tempfile_path();
            let opened = WhitelistSource::open(&source, config.trust.whitelist_ca.as_deref(), &scratch);
            let _ = std::fs::remove_file(&scratch);
            let (list, _) = opened.map_err(|e| anyhow::anyhow!("{e}"))?;
            let list = list.current();
            println!("source\t{source}");
            println!("générée le\t{}", list.generated.as_deref().unwrap_or("?"));
            println!("entrées\t{}", list.entries);
            println!("domaines\t{}", list.domain_count());
            println!("certificats (DN distincts)\t{}", list.dn_count());
            println!("entrées écartées\t{}", list.problems.len());
            for p in &list.problems {
                println!("  entrée {} ({}): {}", p.entry, p.domain, p.reason);
            }
            Ok(())
        }
    }
}

fn tempfile_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("confiance-whitelist-check-{}.xml", std::process::id()))
}
