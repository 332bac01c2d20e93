//! `confiance authority create`: a trust space on one machine (or for a region): an authority
//! shaped like IGC-Santé, certificates for every operator MTA, and the whitelist listing them.

use std::path::PathBuf;

use clap::Subcommand;
use confiance_trust::authority::{self, TrustSpaceSpec};

#[derive(Subcommand)]
pub enum AuthorityCmd {
    /// Crée l'espace de confiance décrit par un fichier TOML (voir le README, « Espace de confiance »).
    Create {
        /// L'espace de confiance : son nom, puis une table [[operator]] par opérateur.
        #[arg(long)]
        spec: PathBuf,
        /// Répertoire de sortie (créé) : ca/, operators/<hôte>/, listeblanchemssante.xml.
        #[arg(long)]
        out: PathBuf,
    },
    /// Émet une carte CPS de test (un certificat de personne de l'AC de développement des personnes)
    /// pour la connexion web `/cps/connexion` et SASL EXTERNAL. Écrit OUT/<identifiant national>.pem et .key.
    Cps {
        /// IdNat_PS : `8` + RPPS (plage de test 899700…).
        #[arg(long)]
        national_id: String,
        #[arg(long)]
        family: String,
        #[arg(long)]
        given: String,
        /// La profession telle que la carte l'écrit (`Médecin`, `Pharmacien`…).
        #[arg(long)]
        title: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Émet le certificat applicatif d'une structure (un certificat d'organisation de l'AC de
    /// développement des organisations) : son logiciel ouvre la BAL applicative de la structure
    /// avec SASL EXTERNAL. Écrit OUT/<FINESS>.pem et .key.
    Application {
        /// FINESS d'une structure ajoutée avec `confiance structure add`.
        #[arg(long)]
        structure: String,
        /// Le logiciel auquel il est destiné (`DPI`, `SIL du laboratoire`) : le CN du certificat.
        #[arg(long)]
        name: String,
        #[arg(long)]
        out: PathBuf,
    },
}

pub fn run(config: &crate::config::Config, cmd: AuthorityCmd) -> anyhow::Result<()> {
    match cmd {
        AuthorityCmd::Cps {
            national_id,
            family,
            given,
            title,
            out,
        } => {
            if !confiance_auth::cps::is_national_id(&national_id) {
                anyhow::bail!("{national_id:?} n'est pas un IdNat_PS (8 + RPPS à 11 chiffres, ou 0 + ADELI)");
            }
            // Test cards for test identities only (RPPS 99700…): never a real professional's.
            if !national_id.starts_with("899700") {
                anyhow::bail!(
                    "{national_id} : les cartes de test ne sont émises que pour les RPPS de test (IdNat_PS 899700…)"
                );
            }
            let paths = confiance_trust::DevPki::paths(&config.data_dir);
            let key = std::fs::read_to_string(&paths.persons_key).map_err(|e| {
                anyhow::anyhow!(
                    "pas d'AC de développement des personnes dans {} ({e}) : lancez `confiance init` sur un nouveau répertoire de données",
                    paths.persons_key.display()
                )
            })?;
            let cert = std::fs::read_to_string(&paths.persons_cert)?;
            let ca = confiance_trust::pki::PersonsAuthority::load(confiance_trust::pki::DEV_AUTHORITY, cert, &key)?;
            let card = ca.issue(&national_id, &family, &given, &title)?;
            std::fs::create_dir_all(&out)?;
            let (chain, key) = (
                out.join(format!("{national_id}.pem")),
                out.join(format!("{national_id}.key")),
            );
            confiance_trust::pki::write_person(&card, &chain, &key)?;
            println!("carte CPS de test\t{}\t{}", chain.display(), key.display());
            Ok(())
        }
        AuthorityCmd::Application { structure, name, out } => {
            let finess = confiance_core::Finess::parse(&structure).map_err(|e| anyhow::anyhow!("--structure : {e}"))?;
            let store = crate::accounts::open(config)?;
            let held = store.structure(&finess.to_string())?.ok_or_else(|| {
                anyhow::anyhow!("FINESS {finess} : aucune structure de ce numéro (confiance structure add)")
            })?;
            let paths = confiance_trust::DevPki::paths(&config.data_dir);
            let key = std::fs::read_to_string(paths.intermediate_cert.with_extension("key")).map_err(|e| {
                anyhow::anyhow!(
                    "pas d'AC de développement des organisations dans {} ({e}) : lancez `confiance init` sur un nouveau répertoire de données",
                    paths.intermediate_cert.display()
                )
            })?;
            let cert = std::fs::read_to_string(&paths.intermediate_cert)?;
            let ca =
                confiance_trust::pki::OrganisationsAuthority::load(confiance_trust::pki::DEV_AUTHORITY, cert, &key)?;
            let issued = ca.issue_application(&format!("1{finess}"), &held.name, name.trim())?;
            std::fs::create_dir_all(&out)?;
            let (chain, key) = (out.join(format!("{finess}.pem")), out.join(format!("{finess}.key")));
            confiance_trust::pki::write_person(&issued, &chain, &key)?;
            tracing::info!(target: "audit", event = "application_certificate", finess = %finess, application = %name);
            println!("certificat applicatif de test\t{}\t{}", chain.display(), key.display());
            Ok(())
        }
        AuthorityCmd::Create { spec, out } => {
            let text = std::fs::read_to_string(&spec)
                .map_err(|e| anyhow::anyhow!("impossible de lire {} : {e}", spec.display()))?;
            let spec: TrustSpaceSpec = toml::from_str(&text)
                .map_err(|e| anyhow::anyhow!("description d'espace de confiance illisible {} : {e}", spec.display()))?;
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
