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
mod structures;
mod traces;
mod whitelist;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "confiance",
    version,
    about = "Opérateur MSSanté — messagerie sécurisée de santé"
)]
struct Cli {
    /// Configuration file (TOML). Without one, a development operator on loopback ports.
    #[arg(long, short, global = true, env = "CONFIANCE_CONFIG")]
    config: Option<PathBuf>,
    /// Overrides `data_dir` of the configuration.
    #[arg(long, global = true, env = "CONFIANCE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run IMAP, SMTP submission, the MX and the relay (does `init` first on an empty data directory).
    Serve,
    /// Create the data directory: database, development PKI, demo accounts.
    Init {
        /// Skip the demo accounts.
        #[arg(long)]
        no_demo: bool,
    },
    /// Manage mail accounts (BAL).
    #[command(subcommand)]
    Account(accounts::AccountCmd),
    /// Structures (FINESS) and their administrators.
    #[command(subcommand)]
    Structure(structures::StructureCmd),
    /// Staff of structures: no RPPS, a password and an authenticator app.
    #[command(subcommand)]
    Staff(members::StaffCmd),
    /// A structure's BALs: organisational, applicative, cabinet.
    #[command(subcommand)]
    Bal(structures::BalCmd),
    /// The audit trail: who did what to which BAL, and when (never content).
    Traces(traces::TracesArgs),
    /// Monthly usage indicators (CSV or JSON), and the "Connexions" file.
    Indicators(indicators::IndicatorsArgs),
    /// The outbound queue to the other operators of the trust space.
    #[command(subcommand)]
    Queue(queue::QueueCmd),
    /// The ANS whitelist: check a copy or the configured source.
    #[command(subcommand)]
    Whitelist(whitelist::WhitelistCmd),
    /// The health directory (annuaire): import the ANS extracts, search, generate test files.
    #[command(subcommand)]
    Directory(directory::DirectoryCmd),
    /// The DNS records to publish for each hosted domain: MX, SRV for mail clients (RFC 6186,
    /// RFC 8314), autoconfiguration, SPF and DMARC.
    Dns(dns::DnsArgs),
    /// Trust-space authority: create a test authority, operator MTA certificates and the
    /// whitelist for them.
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
    let cli = Cli::parse();
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
