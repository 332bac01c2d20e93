//! `confiance`: run an MSSanté operator, create its data directory, manage accounts.

/// See Cargo.toml for why jemalloc.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod accounts;
mod archives;
mod audit;
mod authority;
mod config;
mod directory;
mod dns;
mod identity;
mod indicators;
mod init;
mod lifecycle;
mod listing;
mod members;
mod proofs;
mod queue;
mod serve;
mod size;
mod storage;
mod structures;
mod traces;
mod whitelist;

use std::path::PathBuf;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "confiance",
    version,
    about = "Opérateur MSSanté — messagerie sécurisée de santé"
)]
struct Cli {
    /// Fichier de configuration (TOML). Sans lui, un opérateur de développement sur la boucle locale.
    #[arg(long, short, global = true, env = "CONFIANCE_CONFIG")]
    config: Option<PathBuf>,
    /// Remplace le `data_dir` de la configuration.
    #[arg(long, global = true, env = "CONFIANCE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Lance IMAP, la soumission SMTP, le MX, le relais et le web (fait d'abord `init` sur un répertoire vide).
    Serve,
    /// Crée le répertoire de données : base, PKI de développement, BAL de démonstration.
    Init {
        /// Sans les BAL de démonstration.
        #[arg(long)]
        no_demo: bool,
    },
    /// Gère les BAL (boîtes aux lettres).
    #[command(subcommand)]
    Account(accounts::AccountCmd),
    /// Les structures (FINESS) et leurs administrateurs.
    #[command(subcommand)]
    Structure(structures::StructureCmd),
    /// Le personnel des structures : sans RPPS, un mot de passe et une application d'authentification.
    #[command(subcommand)]
    Staff(members::StaffCmd),
    /// Les BAL d'une structure : organisationnelles, applicatives, de cabinet.
    #[command(subcommand)]
    Bal(structures::BalCmd),
    /// Les traces : qui a fait quoi sur quelle BAL, et quand (jamais le contenu).
    Traces(traces::TracesArgs),
    /// Les indicateurs mensuels d'usage (CSV ou JSON), et le fichier « Connexions ».
    Indicators(indicators::IndicatorsArgs),
    /// La file d'envoi vers les autres opérateurs de l'espace de confiance.
    #[command(subcommand)]
    Queue(queue::QueueCmd),
    /// La liste blanche de l'ANS : vérifier une copie ou la source configurée.
    #[command(subcommand)]
    Whitelist(whitelist::WhitelistCmd),
    /// L'annuaire santé : importer les extractions de l'ANS, chercher, générer des fichiers de test.
    #[command(subcommand)]
    Directory(directory::DirectoryCmd),
    /// Les enregistrements DNS à publier pour chaque domaine hébergé : MX, SRV des logiciels de
    /// messagerie (RFC 6186, RFC 8314), configuration automatique, SPF et DMARC.
    Dns(dns::DnsArgs),
    /// Autorité d'un espace de confiance : créer une autorité de test, les certificats des MTA des
    /// opérateurs et leur liste blanche.
    #[command(subcommand)]
    Authority(authority::AuthorityCmd),
}

/// glibc raises its mmap threshold after freeing a large block, so later Argon2 buffers
/// (19 MiB each) came from per-thread heaps that never shrink: a few hundred logins left the
/// server holding gigabytes. Rust's allocations now go to jemalloc; what still uses glibc's
/// malloc (SQLite) keeps a fixed threshold, large blocks in mmap returned on free, and few
/// arenas. Fixing the mmap threshold also fixed the trim threshold at 128 KiB: SQLite's
/// statements freed and took back the top of the heap at every STORE and APPEND (brk and
/// madvise calls, and their TLB flushes on every core, a tenth of the server's time); up to
/// 32 MiB free at the top of an arena now stays for the next.
fn tame_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator tuning; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 4);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 32 * 1024 * 1024);
    }
}

/// The help in French like everything else the CLI says (the doc comments of the commands are
/// their help text): clap's own heading, usage line and help and version flags translated, on
/// every subcommand. Clap's parse errors are said in French by `french_error`.
fn in_french(cmd: clap::Command, root: bool) -> clap::Command {
    use clap::{Arg, ArgAction};
    let cmd = cmd
        .help_template("{about-with-newline}\nUtilisation : {usage}\n\n{all-args}{after-help}")
        .subcommand_help_heading("Commandes")
        .disable_help_subcommand(true)
        .disable_help_flag(true)
        .arg(
            Arg::new("aide")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("Affiche cette aide"),
        );
    let cmd = match root {
        true => cmd.disable_version_flag(true).arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("Affiche la version"),
        ),
        false => cmd,
    };
    cmd.mut_subcommands(|sub| in_french(sub, false))
}

/// A command line clap could not read, said in French (clap writes English): what is wrong,
/// the usage line, and where the help is; exit status 2 as clap's. Help and version go out as
/// clap writes them (in French, see `in_french`).
fn french_error(e: clap::Error) -> ! {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let value = |kind: ContextKind| match e.get(kind) {
        Some(ContextValue::String(s)) => s.clone(),
        Some(ContextValue::Strings(v)) => v.join(", "),
        Some(ContextValue::StyledStr(s)) => s.to_string(),
        Some(ContextValue::StyledStrs(v)) => v.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "),
        Some(ContextValue::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let what = match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            e.exit()
        }
        ErrorKind::UnknownArgument => format!("argument inattendu « {} »", value(ContextKind::InvalidArg)),
        ErrorKind::InvalidSubcommand => format!("commande inconnue « {} »", value(ContextKind::InvalidSubcommand)),
        ErrorKind::MissingRequiredArgument => {
            format!("il manque : {}", value(ContextKind::InvalidArg))
        }
        ErrorKind::MissingSubcommand => "une commande est attendue".to_string(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let why = std::error::Error::source(&e)
                .map(|s| format!(" : {s}"))
                .unwrap_or_default();
            format!(
                "valeur « {} » refusée pour {}{why}",
                value(ContextKind::InvalidValue),
                value(ContextKind::InvalidArg)
            )
        }
        ErrorKind::ArgumentConflict => format!(
            "« {} » ne va pas avec « {} »",
            value(ContextKind::InvalidArg),
            value(ContextKind::PriorArg)
        ),
        ErrorKind::TooManyValues | ErrorKind::WrongNumberOfValues | ErrorKind::TooFewValues => {
            format!("nombre de valeurs incorrect pour {}", value(ContextKind::InvalidArg))
        }
        _ => e.kind().as_str().map_or_else(|| e.to_string(), str::to_string),
    };
    let mut out = format!("erreur : {what}\n");
    let suggested = value(ContextKind::SuggestedSubcommand) + &value(ContextKind::SuggestedArg);
    if !suggested.is_empty() {
        out.push_str(&format!("  vouliez-vous dire « {suggested} » ?\n"));
    }
    let usage = value(ContextKind::Usage);
    if let Some(usage) = usage.trim().strip_prefix("Usage:") {
        out.push_str(&format!("\nUtilisation :{usage}\n"));
    }
    out.push_str("\nPour l'aide : --help\n");
    eprint!("{out}");
    std::process::exit(2);
}

/// A command whose reader went away (`confiance account list | head -1`) ends as other Unix
/// tools do, by SIGPIPE, instead of panicking on the broken pipe. Not the server: a client
/// that hangs up must never end it.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restores the default disposition of one signal, before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// `CONFIANCE_LOG` (`info` by default). rustls warns of what TLS clients get wrong, an IP
/// address in SNI above all (imaptest and some practice software send one): a line per
/// connection that any client can make, so only its errors are kept unless `CONFIANCE_LOG`
/// names rustls.
fn log_filter() -> tracing_subscriber::EnvFilter {
    let asked = std::env::var("CONFIANCE_LOG").unwrap_or_else(|_| "info".into());
    let filter = tracing_subscriber::EnvFilter::try_new(&asked).unwrap_or_else(|_| "info".into());
    if asked.contains("rustls") {
        return filter;
    }
    filter.add_directive("rustls=error".parse().expect("a valid directive"))
}

fn main() {
    tame_allocator();
    use tracing_subscriber::prelude::*;
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_filter(log_filter());
    // Audit events reach the trace log whatever CONFIANCE_LOG keeps on stderr.
    tracing_subscriber::registry().with(stderr).with(audit::layer()).init();
    let matches = in_french(Cli::command(), true)
        .try_get_matches()
        .unwrap_or_else(|e| french_error(e));
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| french_error(e));
    if !matches!(cli.command, Cmd::Serve) {
        quiet_on_closed_pipe();
        audit::acting_from_cli();
    }
    let outcome = run(cli);
    // A command's traces are in the log before it exits.
    audit::flush();
    if let Err(e) = outcome {
        eprintln!("confiance: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let mut config = config::Config::load(cli.config.as_deref())?;
    if let Some(dir) = cli.data_dir {
        config.data_dir = dir;
    }
    match cli.command {
        Cmd::Serve => serve::run(config),
        Cmd::Init { no_demo } => init::run(&config, !no_demo).map(|_| ()),
        Cmd::Account(cmd) => accounts::run(&config, cmd),
        Cmd::Structure(cmd) => structures::run_structure(&config, cmd),
        Cmd::Bal(cmd) => structures::run_bal(&config, cmd),
        Cmd::Staff(cmd) => members::run_staff(&config, cmd),
        Cmd::Traces(args) => traces::run(&config, args),
        Cmd::Indicators(args) => indicators::run(&config, args),
        Cmd::Dns(args) => dns::run(&config, args),
        Cmd::Queue(cmd) => queue::run(&config, cmd),
        Cmd::Whitelist(cmd) => whitelist::run(&config, cmd),
        Cmd::Directory(cmd) => directory::run(&config, cmd),
        Cmd::Authority(cmd) => authority::run(&config, cmd),
    }
}
