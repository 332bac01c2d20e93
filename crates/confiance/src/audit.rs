//! The audit trail in the store (issue 16, Réf. #2 ECO.4.1.1/4.1.2, Ségur SC.MSS/CONF.17/18).
//!
//! Every front already says what it does as a `target: "audit"` event (login, delivery, relay,
//! refusal, webmail action, admin command); a layer of the process's subscriber turns each into a
//! `Trace` and a writer thread records them in batches. One path for every front, so no new
//! door can forget its trace, and the event sites stay one line. Events carry identifiers,
//! addresses, Message-IDs and sizes, never content (no subject, no body).
//!
//! Field names with a column of their own: `event`, `outcome`, `actor` (else `national_id`),
//! `bal` (else `account`), `peer`, `message_id`, `size`. Every other field goes to the
//! trace's detail, in order; empty values are left out. Events of every level reach the trace
//! log, whatever `CONFIANCE_LOG` keeps on stderr: the frequent ones (IMAP reads) are at debug
//! level so that stderr does not repeat them.

use std::sync::mpsc::{Receiver, SyncSender, TryRecvError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use confiance_store::{Trace, Traces};
use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::Context;

/// Traces waiting for the writer: a minute of a busy operator's logins and deliveries. Past
/// it, traces are counted as lost and said on stderr (the stderr line of each stays).
const BACKLOG: usize = 100_000;
/// Traces written in one transaction at most.
const BATCH: usize = 2_000;

enum Msg {
    Trace(Box<Trace>),
    /// Answered once every trace sent before it is recorded.
    Flush(std::sync::mpsc::Sender<()>),
}

struct Channel {
    tx: SyncSender<Msg>,
    /// Taken by the writer when the trace log opens.
    rx: Mutex<Option<Receiver<Msg>>>,
    lost: std::sync::atomic::AtomicU64,
    /// Who acts in a CLI command (`cli:<user>`); unset in the server.
    cli_actor: OnceLock<String>,
    started: OnceLock<()>,
}

fn channel() -> &'static Channel {
    static CHANNEL: OnceLock<Channel> = OnceLock::new();
    CHANNEL.get_or_init(|| {
        let (tx, rx) = sync_channel(BACKLOG);
        Channel {
            tx,
            rx: Mutex::new(Some(rx)),
            lost: Default::default(),
            cli_actor: OnceLock::new(),
            started: OnceLock::new(),
        }
    })
}

/// The subscriber layer that sends audit events to the trace log, filtered to the `audit`
/// target so that no other event is ever built for it.
pub fn layer<S>() -> impl Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    AuditLayer.with_filter(tracing_subscriber::filter::Targets::new().with_target("audit", tracing::Level::TRACE))
}

/// Names the actor of the traces of this CLI command: the operator's admin at the shell.
pub fn acting_from_cli() {
    let user = ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        // SAFETY: getuid has no preconditions and cannot fail.
        .unwrap_or_else(|| format!("uid{}", unsafe { libc::getuid() }));
    let _ = channel().cli_actor.set(format!("cli:{user}"));
}

/// Opens the trace log the configuration names and starts its writer (once per process).
pub fn start(config: &crate::config::Config) -> anyhow::Result<Arc<dyn Traces>> {
    let log = crate::storage::traces(config)?;
    let ch = channel();
    if ch.started.set(()).is_ok()
        && let Some(rx) = ch.rx.lock().unwrap_or_else(|e| e.into_inner()).take()
    {
        let writer = log.clone();
        std::thread::Builder::new()
            .name("traces".into())
            .spawn(move || write(writer, rx))?;
    }
    Ok(log)
}

/// Waits until every trace made so far is recorded (a CLI command's, before it exits).
pub fn flush() {
    let ch = channel();
    if ch.started.get().is_none() {
        return;
    }
    let (tx, rx) = std::sync::mpsc::channel();
    if ch.tx.send(Msg::Flush(tx)).is_ok() {
        let _ = rx.recv_timeout(Duration::from_secs(10));
    }
}

/// How often the writer takes what came: traces are recorded within this, in one transaction a
/// batch. The writer sleeps in between instead of waiting on the channel, so that sending a
/// trace never wakes a thread: one trace per IMAP FETCH cost a quarter of FETCH's rate when
/// each woke the writer and made a commit.
const TICK: Duration = Duration::from_millis(100);

fn write(log: Arc<dyn Traces>, rx: Receiver<Msg>) {
    let mut batch: Vec<Trace> = Vec::new();
    let mut waiting: Vec<std::sync::mpsc::Sender<()>> = Vec::new();
    let record = |batch: &mut Vec<Trace>| {
        if !batch.is_empty() {
            if let Err(e) = log.record(batch) {
                tracing::error!(traces = batch.len(), "audit traces not recorded: {e}");
            }
            batch.clear();
        }
    };
    loop {
        std::thread::sleep(TICK);
        let closed = loop {
            match rx.try_recv() {
                Ok(Msg::Trace(t)) => batch.push(*t),
                Ok(Msg::Flush(done)) => waiting.push(done),
                Err(TryRecvError::Empty) => break false,
                Err(TryRecvError::Disconnected) => break true,
            }
            if batch.len() >= BATCH {
                record(&mut batch);
            }
        };
        record(&mut batch);
        let lost = channel().lost.swap(0, std::sync::atomic::Ordering::Relaxed);
        if lost > 0 {
            tracing::error!(lost, "audit traces lost: the trace log could not keep up");
        }
        for done in waiting.drain(..) {
            let _ = done.send(());
        }
        if closed {
            return;
        }
    }
}

struct AuditLayer;

impl<S: tracing::Subscriber> Layer<S> for AuditLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _ctx: Context<'_, S>) {
        let ch = channel();
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut t = fields.trace;
        t.at_ms = chrono::Utc::now().timestamp_millis();
        t.actor = t.actor.or(fields.national_id);
        if t.actor.is_none() {
            t.actor = ch.cli_actor.get().cloned();
        }
        t.bal = t.bal.or(fields.account);
        if t.event.is_empty() {
            t.event = "event".into();
        }
        if ch.tx.try_send(Msg::Trace(Box::new(t))).is_err() {
            ch.lost.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}

/// One event's fields, sorted into the trace's columns.
#[derive(Default)]
struct Fields {
    trace: Trace,
    national_id: Option<String>,
    account: Option<String>,
}

impl Fields {
    fn put(&mut self, name: &str, value: String) {
        if value.is_empty() {
            return;
        }
        let t = &mut self.trace;
        match name {
            "event" => t.event = value,
            "outcome" => t.outcome = Some(value),
            "actor" => t.actor = Some(value),
            "national_id" => self.national_id = Some(value),
            "bal" => t.bal = Some(value),
            "account" => self.account = Some(value),
            "peer" => t.peer = Some(value),
            "message_id" => t.message_id = Some(value),
            "size" => t.size = value.parse().ok(),
            "message" => t.detail.push(("note".into(), value)),
            _ => t.detail.push((name.to_string(), value)),
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field.name(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.put(field.name(), format!("{value:?}"));
    }
}
