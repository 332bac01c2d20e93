//! `confiance authority create`: a trust space on one machine (or for a region): an authority
//! shaped like IGC-Santé, certificates for every operator MTA, and the whitelist listing them.

use std::path::PathBuf;

use clap::Subcommand;
use confiance_trust::authority::{self, TrustSpaceSpec};

#[derive(Subcommand)]
pub enum AuthorityCmd {
    /// Create the trust space described by a TOML file (see README, « Espace de confiance »).
    Create {
        /// The trust space: name, then one [[operator]] table per operator.
        #[arg(long)]
        spec: PathBuf,
        /// Output directory (created): ca/, operators/<host>/, listeblanchemssante.xml.
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(cmd: AuthorityCmd) -> anyhow::Result<()> {
    match cmd {
        AuthorityCmd::Create { spec, out } => {
            let text =
                std::fs::read_to_string(&spec).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", spec.display()))?;
            let spec: TrustSpaceSpec =
                toml::from_str(&text).map_err(|e| anyhow::anyhow!("invalid trust space {}: {e}", spec.display()))?;
            // ISO 8601 UTC, as the ANS writes DateDeGeneration.
            let generated = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
            eprintln!("Création de l'espace de confiance « {} » (clés RSA 2048)…", spec.name);
            let space = authority::create(&out, &spec, &generated)?;
            for mta in &space.mtas {
                println!("{}\t{}\t{}", mta.host, mta.chain.display(), mta.subject);
            }
            println!("liste blanche\t{}", space.whitelist.display());
            println!("autorité racine\t{}", space.root_cert.display());
            Ok(())
        }
    }
}
