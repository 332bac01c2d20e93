//! `confiance directory`: import the ANS extracts into the directory snapshot, search it,
//! generate synthetic national files, and say where the snapshot in force came from.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::{Args, Subcommand};
use confiance_core::MailboxKind;
use confiance_directory::generate::{Scale, generate};
use confiance_directory::{BadLine, Builder, LiveDirectory, Query, Snapshot};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::Config;

#[derive(Subcommand)]
pub enum DirectoryCmd {
    /// Importe PS_LibreAcces_Personne_activite et/ou Extraction_Correspondance_MSSante : les
    /// fichiers texte (data.gouv.fr) ou les zips que publie l'ANS. Remplace l'instantané d'un
    /// coup ; un serveur en marche le prend dans la minute.
    Import {
        /// PS_LibreAcces_Personne_activite_*.txt, ou PS_LibreAcces_*.zip
        #[arg(long)]
        activities: Option<PathBuf>,
        /// Extraction_Correspondance_MSSante_*.txt ou .zip
        #[arg(long)]
        mailboxes: Option<PathBuf>,
        /// Écrit aussi chaque ligne écartée (numéro et raison) dans ce fichier.
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Cherche dans l'annuaire comme le webmail et l'API.
    Search(SearchArgs),
    /// D'où vient l'instantané en vigueur.
    Status,
    /// Les BAL publiées de cet opérateur au format Extraction_Correspondance_MSSante (sans la
    /// liste rouge), sur la sortie standard ou dans un fichier.
    Export {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Écrit des extractions synthétiques aux formats de l'ANS (taille nationale par défaut).
    Generate {
        /// Dossier où écrire les deux fichiers.
        #[arg(long, default_value = "bench/data")]
        out: PathBuf,
        /// 1 pour la taille nationale (2,2 M lignes d'activité, 540 k BAL), N pour 1/N.
        #[arg(long, default_value_t = 1)]
        divisor: u64,
        #[arg(long, default_value_t = Scale::NATIONAL.seed)]
        seed: u64,
    },
}

#[derive(Args)]
pub struct SearchArgs {
    /// Noms, lieu, RPPS, FINESS, adresse… Le dernier mot est complété comme un début de mot.
    pub text: Vec<String>,
    /// Code de profession TRE_G15 (10 médecin, 60 infirmier, 21 pharmacien…).
    #[arg(long)]
    pub profession: Option<String>,
    /// Code de savoir-faire (SM54…).
    #[arg(long)]
    pub specialty: Option<String>,
    #[arg(long)]
    pub commune: Option<String>,
    #[arg(long)]
    pub postcode: Option<String>,
    #[arg(long)]
    pub departement: Option<String>,
    /// PER, ORG, APP ou CAB.
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Seulement les entrées qui ont une BAL.
    #[arg(long)]
    pub with_mailbox: bool,
    #[arg(long, default_value_t = 10)]
    pub limit: usize,
    /// En JSON, comme l'API HTTP répond.
    #[arg(long)]
    pub json: bool,
}

/// Where the snapshot lives in the data directory.
pub fn snapshot_path(config: &Config) -> PathBuf {
    config.data_dir.join("directory/annuaire.snapshot")
}

pub fn run(config: &Config, cmd: DirectoryCmd) -> anyhow::Result<()> {
    match cmd {
        DirectoryCmd::Import {
            activities,
            mailboxes,
            report,
        } => import(config, activities.as_deref(), mailboxes.as_deref(), report.as_deref()),
        DirectoryCmd::Search(args) => search(config, args),
        DirectoryCmd::Status => status(config),
        DirectoryCmd::Export { out } => export(config, out.as_deref()),
        DirectoryCmd::Generate { out, divisor, seed } => {
            let mut scale = if divisor <= 1 {
                Scale::NATIONAL
            } else {
                Scale::fraction(divisor)
            };
            scale.seed = seed;
            generate_files(&out, scale)
        }
    }
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {percent:>3} % {bytes}/{total_bytes} ({eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

/// Opens an extract — the text file, or the zip the ANS publishes it in — and hands `read` a
/// reader, with a progress bar over the (uncompressed) bytes.
fn with_extract<T>(
    path: &Path,
    what: &str,
    prefix: &str,
    read: impl FnOnce(&mut dyn BufRead) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let zipped = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zip"));
    if zipped {
        let mut archive = zip::ZipArchive::new(BufReader::new(file))
            .with_context(|| format!("{} is not a readable zip", path.display()))?;
        let name = archive
            .file_names()
            .find(|n| n.rsplit('/').next().unwrap_or(n).starts_with(prefix))
            .map(str::to_string)
            .ok_or_else(|| anyhow::anyhow!("{} ne contient aucun fichier {prefix}_*.txt", path.display()))?;
        let entry = archive
            .by_name(&name)
            .with_context(|| format!("{name} in {}", path.display()))?;
        let bar = bar(entry.size(), what);
        let mut reader = BufReader::with_capacity(1 << 20, bar.wrap_read(entry));
        let out = read(&mut reader);
        bar.finish_and_clear();
        return out;
    }
    let bar = bar(file.metadata()?.len(), what);
    let mut reader = BufReader::with_capacity(1 << 20, bar.wrap_read(file));
    let out = read(&mut reader);
    bar.finish_and_clear();
    out
}

fn print_bad(file: &Path, bad: &[BadLine], sink: &mut Vec<String>) {
    if bad.is_empty() {
        return;
    }
    eprintln!("{}: {} ligne(s) écartée(s)", file.display(), bad.len());
    for b in bad.iter().take(10) {
        eprintln!("  ligne {}: {}", b.line, b.reason);
    }
    if bad.len() > 10 {
        eprintln!("  … (--report FICHIER pour la liste complète)");
    }
    sink.extend(
        bad.iter()
            .map(|b| format!("{}\t{}\t{}", file.display(), b.line, b.reason)),
    );
}

fn import(
    config: &Config,
    activities: Option<&Path>,
    mailboxes: Option<&Path>,
    report: Option<&Path>,
) -> anyhow::Result<()> {
    if activities.is_none() && mailboxes.is_none() {
        anyhow::bail!("rien à importer : donnez --activities FICHIER et/ou --mailboxes FICHIER");
    }
    let started = Instant::now();
    let mut builder = Builder::new();
    let mut bad = Vec::new();
    if let Some(path) = activities {
        let name = path.display().to_string();
        let r = with_extract(path, "activités", "PS_LibreAcces_Personne_activite", |reader| {
            builder.activities(reader, &name).with_context(|| name.clone())
        })?;
        eprintln!("{}: {} lignes d'activité importées", path.display(), r.rows);
        print_bad(path, &r.bad, &mut bad);
    }
    if let Some(path) = mailboxes {
        let name = path.display().to_string();
        let r = with_extract(path, "BAL", "Extraction_Correspondance_MSSante", |reader| {
            builder.mailboxes(reader, &name).with_context(|| name.clone())
        })?;
        eprintln!("{}: {} BAL importées", path.display(), r.entries);
        print_bad(path, &r.bad, &mut bad);
    }
    if builder.duplicates > 0 {
        eprintln!(
            "{} BAL publiées sur plusieurs lignes, gardées une fois",
            builder.duplicates
        );
    }
    let snapshot = builder.finish(chrono::Utc::now().timestamp());
    let path = snapshot_path(config);
    let previous = Snapshot::read_provenance(&path).ok().map(|p| p.digest);
    snapshot.write(&path)?;
    if let Some(report) = report {
        std::fs::write(report, bad.join("\n") + "\n").with_context(|| report.display().to_string())?;
    }
    let same = previous.as_deref() == Some(snapshot.provenance.digest.as_str());
    eprintln!(
        "Annuaire : {} professionnels, {} BAL de structures, {} BAL en tout — {} en {:.1} s{}",
        snapshot.people.len(),
        snapshot.organisations.len(),
        snapshot.mailbox_count(),
        path.display(),
        started.elapsed().as_secs_f64(),
        if same { " (contenu inchangé)" } else { "" }
    );
    Ok(())
}

fn search(config: &Config, a: SearchArgs) -> anyhow::Result<()> {
    let kind = match a.kind.as_deref() {
        Some(k) => Some(MailboxKind::from_code(k).ok_or_else(|| anyhow::anyhow!("--type {k} : PER, ORG, APP ou CAB"))?),
        None => None,
    };
    let query = Query {
        text: a.text.join(" "),
        profession: a.profession,
        specialty: a.specialty,
        commune: a.commune,
        postcode: a.postcode,
        departement: a.departement,
        kind,
        with_mailbox: a.with_mailbox,
        entry: None,
        limit: a.limit,
    };
    // As the server answers: our own BAL and the liste rouge applied.
    let path = snapshot_path(config);
    if !path.exists() {
        anyhow::bail!(
            "pas encore d'annuaire dans {} : lancez `confiance directory import` (ou `confiance init`)",
            path.display()
        );
    }
    let live = LiveDirectory::open(path)?.for_domains(&config.domains);
    let store = crate::storage::store(config)?;
    let (published, red) = crate::listing::own(&*store)?;
    live.set_own(published, red);
    let started = Instant::now();
    let results = live
        .search(&query)
        .ok_or_else(|| anyhow::anyhow!("l'annuaire est vide"))?;
    let took = started.elapsed();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&results)?);
        return Ok(());
    }
    for e in &results.entries {
        let mut detail: Vec<String> = Vec::new();
        if let Some(p) = &e.profession {
            detail.push(p.label.clone());
        }
        if let Some(s) = &e.specialty {
            detail.push(s.label.clone());
        }
        for p in &e.places {
            let place = [p.organisation.as_deref(), p.postcode.as_deref(), p.commune.as_deref()]
                .iter()
                .flatten()
                .copied()
                .collect::<Vec<_>>()
                .join(" ");
            if !place.is_empty() {
                detail.push(place);
            }
        }
        println!("{} — {}", e.display_name, detail.join(" · "));
        for m in &e.mailboxes {
            let demat = match m.dematerialisation {
                Some(true) => " · dématérialisation : oui",
                Some(false) => " · dématérialisation : non",
                None => "",
            };
            println!("    {} [{}]{demat}", m.address, m.kind);
        }
        if e.mailboxes.is_empty() {
            println!("    (pas de BAL MSSanté publiée)");
        }
    }
    println!("{} résultat(s) — {:.2} ms", results.total, took.as_secs_f64() * 1000.0);
    Ok(())
}

fn export(config: &Config, out: Option<&Path>) -> anyhow::Result<()> {
    let store = crate::storage::store(config)?;
    let (published, red) = crate::listing::own(&*store)?;
    match out {
        Some(path) => {
            let file = File::create(path).with_context(|| path.display().to_string())?;
            confiance_directory::mssante::write_mailboxes(BufWriter::new(file), &published)?;
        }
        None => confiance_directory::mssante::write_mailboxes(std::io::stdout().lock(), &published)?,
    }
    eprintln!(
        "{} BAL exportée(s), {} en liste rouge non exportée(s)",
        published.len(),
        red.len()
    );
    Ok(())
}

fn status(config: &Config) -> anyhow::Result<()> {
    let path = snapshot_path(config);
    let s = Snapshot::read(&path)?;
    let p = &s.provenance;
    let when = chrono::DateTime::from_timestamp(p.imported_at, 0).map_or_else(|| "?".into(), |t| t.to_rfc3339());
    println!("instantané\t{}", path.display());
    println!("importé le\t{when}");
    println!("activités\t{} ({} lignes)", p.activities_file, p.activity_rows);
    println!("BAL\t{} ({} lignes)", p.mailboxes_file, p.mailbox_rows);
    println!("lignes écartées\t{}", p.bad_lines);
    println!("professionnels\t{}", s.people.len());
    println!("BAL publiées\t{}", s.mailbox_count());
    println!("empreinte\t{}", p.digest);
    Ok(())
}

/// File names as the ANS publishes them, with the generation time.
fn generated_names(out: &Path) -> (PathBuf, PathBuf) {
    let stamp = chrono::Utc::now().format("%Y%m%d%H%M");
    (
        out.join(format!("PS_LibreAcces_Personne_activite_{stamp}.txt")),
        out.join(format!("Extraction_Correspondance_MSSante_{stamp}.txt")),
    )
}

fn generate_files(out: &Path, scale: Scale) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| out.display().to_string())?;
    let (a_path, m_path) = generated_names(out);
    let a = BufWriter::with_capacity(1 << 20, File::create(&a_path)?);
    let m = BufWriter::with_capacity(1 << 20, File::create(&m_path)?);
    let bar = ProgressBar::new(scale.activity_rows);
    bar.set_style(
        ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} lignes ({eta})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message("génération");
    let started = Instant::now();
    let done = generate(scale, a, m, |rows| bar.set_position(rows))?;
    bar.finish_and_clear();
    eprintln!(
        "{} professionnels, {} lignes d'activité, {} BAL en {:.1} s\n  {}\n  {}",
        done.people,
        done.activity_rows,
        done.mailbox_rows,
        started.elapsed().as_secs_f64(),
        a_path.display(),
        m_path.display()
    );
    Ok(())
}

/// A small demo directory for a fresh data directory: 1/1000 of the national size, planted
/// professionals included, so the search page has something to find.
pub fn create_demo(config: &Config) -> anyhow::Result<()> {
    let (mut a, mut m) = (Vec::new(), Vec::new());
    generate(Scale::fraction(1000), &mut a, &mut m, |_| {})?;
    let mut b = Builder::new();
    b.activities(&a[..], "démonstration (synthétique)")?;
    b.mailboxes(&m[..], "démonstration (synthétique)")?;
    let snapshot = b.finish(chrono::Utc::now().timestamp());
    snapshot.write(&snapshot_path(config))?;
    eprintln!(
        "Annuaire de démonstration (synthétique) : {} professionnels, {} BAL",
        snapshot.people.len(),
        snapshot.mailbox_count()
    );
    Ok(())
}
