//! Drives an IMAP server with N concurrent clients over TLS and reports operations per second for
//! LOGIN, SELECT, FETCH (one whole message; a page of 20 headers), STORE and APPEND, how soon a
//! client in IDLE hears of a new message, then the server's memory (PSS of its processes) idle
//! and with many idle (IDLE) sessions. Used by `bench/imap.sh`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use rand::Rng;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

#[derive(Parser, Clone)]
struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    #[arg(long)]
    port: u16,
    /// CA certificate (PEM) that signed the server's certificate.
    #[arg(long)]
    ca: String,
    /// Accounts are `<prefix><n>@<domain>` for n in 0..clients, all with `password`.
    #[arg(long, default_value = "bench")]
    prefix: String,
    #[arg(long)]
    domain: String,
    #[arg(long)]
    password: String,
    #[arg(long, default_value_t = 20)]
    clients: usize,
    /// Seconds per measured phase.
    #[arg(long, default_value_t = 5)]
    seconds: u64,
    /// Messages each account gets before the FETCH phase.
    #[arg(long, default_value_t = 100)]
    messages: usize,
    /// Idle sessions to hold open for the memory measure: one count or several, ascending
    /// (`1000,10000`), measured in turn.
    #[arg(long, value_delimiter = ',', default_value = "1000")]
    idle: Vec<usize>,
    /// Only these phases (`store,append`), to profile one; all when empty.
    #[arg(long, value_delimiter = ',')]
    phases: Vec<String>,
    /// PID of the server, to read its memory.
    #[arg(long)]
    pid: Option<u32>,
}

impl Args {
    /// Whether the phase `name` runs (`--phases`, all when none is named).
    fn wants(&self, name: &str) -> bool {
        self.phases.is_empty() || self.phases.iter().any(|p| p == name)
    }
}

struct Client {
    io: BufReader<TlsStream<TcpStream>>,
    tag: u64,
}

fn connector(ca: &str) -> anyhow::Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca)? {
        roots.add(cert?)?;
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

impl Client {
    async fn connect(args: &Args, tls: &TlsConnector) -> anyhow::Result<Client> {
        let tcp = TcpStream::connect((args.host.as_str(), args.port)).await?;
        tcp.set_nodelay(true)?;
        let name = ServerName::try_from(args.host.clone())?;
        let stream = tls.connect(name, tcp).await?;
        let mut c = Client {
            io: BufReader::new(stream),
            tag: 0,
        };
        let mut greeting = String::new();
        c.io.read_line(&mut greeting).await?;
        if !greeting.starts_with("* OK") {
            bail!("greeting: {greeting}");
        }
        Ok(c)
    }

    /// Sends a command (literal data after `{n+}` included by the caller) and reads to its tag.
    async fn command(&mut self, text: &[u8]) -> anyhow::Result<Vec<u8>> {
        self.tag += 1;
        let tag = format!("t{}", self.tag);
        let mut line = tag.clone().into_bytes();
        line.push(b' ');
        line.extend_from_slice(text);
        line.extend_from_slice(b"\r\n");
        self.io.get_mut().write_all(&line).await?;
        let mut response = Vec::new();
        loop {
            let mut l = Vec::new();
            if self.io.read_until(b'\n', &mut l).await? == 0 {
                bail!("connection closed");
            }
            response.extend_from_slice(&l);
            // A literal in the response: read its bytes before the line goes on.
            if let Some(n) = literal_size(&l) {
                let mut data = vec![0u8; n];
                self.io.read_exact(&mut data).await?;
                response.extend_from_slice(&data);
                continue;
            }
            if l.starts_with(tag.as_bytes()) {
                if !l[tag.len()..].starts_with(b" OK") {
                    bail!("{}", String::from_utf8_lossy(&l));
                }
                return Ok(response);
            }
        }
    }

    /// Enters IDLE under `tag` and waits for the server's continuation.
    async fn idle(&mut self, tag: &str) -> anyhow::Result<()> {
        self.io
            .get_mut()
            .write_all(format!("{tag} IDLE\r\n").as_bytes())
            .await?;
        let mut line = String::new();
        self.io.read_line(&mut line).await?;
        if !line.starts_with('+') {
            bail!("IDLE: {line}");
        }
        Ok(())
    }

    async fn login(&mut self, user: &str, password: &str) -> anyhow::Result<()> {
        self.command(format!("LOGIN {user} {password}").as_bytes())
            .await
            .map(|_| ())
    }
}

fn literal_size(line: &[u8]) -> Option<usize> {
    let line = line.strip_suffix(b"\r\n")?;
    let line = line.strip_suffix(b"}")?;
    let open = line.iter().rposition(|b| *b == b'{')?;
    std::str::from_utf8(&line[open + 1..]).ok()?.parse().ok()
}

fn message(n: usize) -> Vec<u8> {
    let mut m = format!(
        "From: bench@example.test\r\nTo: bench@example.test\r\nSubject: message {n}\r\nMessage-ID: <{n}.{}@bench>\r\n\r\n",
        rand::thread_rng().r#gen::<u64>()
    )
    .into_bytes();
    while m.len() < 4096 {
        m.extend_from_slice(b"Compte rendu de consultation, ligne de texte pour atteindre 4 Kio.\r\n");
    }
    m
}

async fn append(c: &mut Client, n: usize) -> anyhow::Result<()> {
    let m = message(n);
    let mut cmd = format!("APPEND INBOX {{{}+}}\r\n", m.len()).into_bytes();
    cmd.extend_from_slice(&m);
    c.command(&cmd).await.map(|_| ())
}

fn user(args: &Args, i: usize) -> String {
    format!("{}{}@{}", args.prefix, i, args.domain)
}

/// Runs `op` in `args.clients` tasks for `args.seconds`; returns operations per second.
async fn phase<F, Fut>(name: &str, args: &Args, tls: &TlsConnector, login: bool, op: F) -> anyhow::Result<f64>
where
    F: Fn(Option<Client>, usize, Args, TlsConnector) -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = anyhow::Result<Option<Client>>> + Send,
{
    if !args.wants(name) {
        return Ok(0.0);
    }
    let count = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let mut tasks = Vec::new();
    for i in 0..args.clients {
        let (args, tls, count, op) = (args.clone(), tls.clone(), count.clone(), op.clone());
        tasks.push(tokio::spawn(async move {
            let mut client = if login {
                let mut c = Client::connect(&args, &tls).await?;
                c.login(&user(&args, i), &args.password).await?;
                c.command(b"SELECT INBOX").await?;
                Some(c)
            } else {
                None
            };
            while Instant::now() < deadline {
                client = op(client, i, args.clone(), tls.clone()).await?;
                count.fetch_add(1, Ordering::Relaxed);
            }
            anyhow::Ok(())
        }));
    }
    let start = Instant::now();
    for t in tasks {
        t.await??;
    }
    let rate = count.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64();
    println!("{name:<8} {rate:>10.0} /s");
    Ok(rate)
}

/// How long a client in IDLE waits to hear of a message another connection appended to its
/// folder: from the APPEND sent to the untagged EXISTS received. Prints the median and the 95th
/// percentile in milliseconds.
async fn idle_wake(args: &Args, tls: &TlsConnector) -> anyhow::Result<()> {
    const ROUNDS: usize = 50;
    let mut idler = Client::connect(args, tls).await?;
    idler.login(&user(args, 0), &args.password).await?;
    idler.command(b"SELECT INBOX").await?;
    let mut writer = Client::connect(args, tls).await?;
    writer.login(&user(args, 0), &args.password).await?;
    let mut waits = Vec::with_capacity(ROUNDS);
    for n in 0..ROUNDS {
        idler.idle("w").await?;
        let mut line = String::new();
        let start = Instant::now();
        let heard = async {
            loop {
                line.clear();
                if idler.io.read_line(&mut line).await? == 0 {
                    bail!("connection closed in IDLE");
                }
                if line.starts_with("* ") && line.trim_end().ends_with(" EXISTS") {
                    return anyhow::Ok(start.elapsed());
                }
            }
        };
        let (heard, appended) = tokio::join!(heard, append(&mut writer, n));
        appended?;
        waits.push(heard?);
        idler.io.get_mut().write_all(b"DONE\r\n").await?;
        loop {
            line.clear();
            if idler.io.read_line(&mut line).await? == 0 {
                bail!("connection closed after DONE");
            }
            if line.starts_with("w ") {
                break;
            }
        }
    }
    waits.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "idle-wake {:>8.2} ms median, {:.2} ms p95 ({ROUNDS} deliveries)",
        ms(waits[ROUNDS / 2]),
        ms(waits[ROUNDS * 95 / 100])
    );
    Ok(())
}

/// Proportional set size of a process and all its descendants, in KiB: Dovecot runs a process
/// per session (two with TLS), whose shared pages PSS counts once in all.
fn memory_kib(pid: Option<u32>) -> Option<u64> {
    let root = pid?;
    let mut parents = std::collections::HashMap::new();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(p) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            continue;
        };
        // The fields after the command's closing parenthesis: state, then the parent's pid.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1)?.parse::<u32>().ok());
        if let Some(ppid) = ppid {
            parents.insert(p, ppid);
        }
    }
    let in_tree = |mut p: u32| loop {
        if p == root {
            return true;
        }
        match parents.get(&p) {
            Some(&pp) if pp != 0 && pp != p => p = pp,
            _ => return false,
        }
    };
    let mut total = 0;
    for &p in parents.keys().filter(|&&p| in_tree(p)) {
        let Ok(rollup) = std::fs::read_to_string(format!("/proc/{p}/smaps_rollup")) else {
            continue;
        };
        total += rollup
            .lines()
            .find(|l| l.starts_with("Pss:"))
            .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(total)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let tls = connector(&args.ca).context("loading the CA")?;

    if let Some(kib) = memory_kib(args.pid) {
        println!("memory idle (before load): {:.1} MiB", kib as f64 / 1024.0);
    }

    // Each account gets `messages` messages (not measured).
    let mut setup = Vec::new();
    for i in 0..args.clients {
        let (args, tls) = (args.clone(), tls.clone());
        setup.push(tokio::spawn(async move {
            let mut c = Client::connect(&args, &tls).await?;
            c.login(&user(&args, i), &args.password).await?;
            for n in 0..args.messages {
                append(&mut c, n).await?;
            }
            anyhow::Ok(())
        }));
    }
    for t in setup {
        t.await??;
    }

    println!("{} clients, {} s per phase", args.clients, args.seconds);
    phase("login", &args, &tls, false, |_, i, args, tls| async move {
        let mut c = Client::connect(&args, &tls).await?;
        c.login(&user(&args, i), &args.password).await?;
        c.command(b"LOGOUT").await.ok();
        Ok(None)
    })
    .await?;
    phase("select", &args, &tls, true, |c, _, _, _| async move {
        let mut c = c.expect("logged in");
        c.command(b"SELECT INBOX").await?;
        Ok(Some(c))
    })
    .await?;
    phase("fetch", &args, &tls, true, |c, _, args, _| async move {
        let mut c = c.expect("logged in");
        let n = rand::thread_rng().gen_range(1..=args.messages);
        c.command(format!("FETCH {n} (FLAGS BODY.PEEK[])").as_bytes()).await?;
        Ok(Some(c))
    })
    .await?;
    phase("headers", &args, &tls, true, |c, _, args, _| async move {
        // What a mail program asks to list a page of 20 messages.
        let mut c = c.expect("logged in");
        let first = rand::thread_rng().gen_range(1..=args.messages.saturating_sub(19).max(1));
        let last = (first + 19).min(args.messages);
        let cmd = format!(
            "FETCH {first}:{last} (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[HEADER.FIELDS (FROM TO SUBJECT DATE MESSAGE-ID)])"
        );
        c.command(cmd.as_bytes()).await?;
        Ok(Some(c))
    })
    .await?;
    phase("store", &args, &tls, true, |c, _, args, _| async move {
        let mut c = c.expect("logged in");
        let (n, sign) = {
            let mut rng = rand::thread_rng();
            (
                rng.gen_range(1..=args.messages),
                if rng.r#gen::<bool>() { '+' } else { '-' },
            )
        };
        c.command(format!("STORE {n} {sign}FLAGS (\\Flagged)").as_bytes())
            .await?;
        Ok(Some(c))
    })
    .await?;
    phase("append", &args, &tls, true, |c, _, _, _| async move {
        let mut c = c.expect("logged in");
        append(&mut c, 0).await?;
        Ok(Some(c))
    })
    .await?;
    if args.wants("idle-wake") {
        idle_wake(&args, &tls).await?;
    }

    tokio::time::sleep(Duration::from_secs(1)).await;
    let before_idle = memory_kib(args.pid);
    if let Some(kib) = before_idle {
        println!("memory idle (after load): {:.1} MiB", kib as f64 / 1024.0);
    }
    // Idle sessions: logged in, INBOX selected, in IDLE, as mail programs leave them.
    let mut idle = Vec::new();
    for &count in args.idle.iter().filter(|&&n| n > 0) {
        println!("holding {count} idle sessions…");
        while idle.len() < count {
            let mut c = Client::connect(&args, &tls).await?;
            c.login(&user(&args, idle.len() % args.clients), &args.password).await?;
            c.command(b"SELECT INBOX").await?;
            c.idle("i").await?;
            idle.push(c);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        if let (Some(kib), Some(before)) = (memory_kib(args.pid), before_idle) {
            println!(
                "memory with {count} idle sessions: {:.1} MiB, {:.1} KiB a session",
                kib as f64 / 1024.0,
                kib.saturating_sub(before) as f64 / count.max(1) as f64
            );
        }
    }
    Ok(())
}
