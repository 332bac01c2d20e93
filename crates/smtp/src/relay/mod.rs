//! The relay: takes due recipients from the outbound queue, delivers them to the peer operators
//! over verified mutual TLS, retries with back-off, and tells senders what happened (RFC 3464).
//!
//! One worker per connection; up to `per_domain` connections per recipient domain, each kept
//! open for as long as that domain has messages waiting.

mod client;
pub mod route;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use confiance_mail::MailService;
use confiance_mail::queue::{self, QueuedRecipient};

use crate::{SmtpConfig, dsn, report};
pub use client::{Failure, Timeouts};
use client::{Hop, Outgoing};
pub use route::Route;

pub struct RelayConfig {
    /// Our certificate as client, the anchors and CRLs to verify peers.
    pub tls: Arc<rustls::ClientConfig>,
    /// Static next hops by recipient domain (lower case).
    pub routes: HashMap<String, Route>,
    /// Port of the peers' MX when no route says otherwise (25).
    pub port: u16,
    /// Connections at once to one domain.
    pub per_domain: usize,
    /// Waits between attempts; the last one repeats.
    pub retry: Vec<Duration>,
    /// A DELAY report goes to the sender once a recipient has waited this long.
    pub delay_notice: Duration,
    /// Then the message is returned (RFC 5321 §4.5.4.1: "at least 4-5 days").
    pub give_up: Duration,
    pub timeouts: Arc<Timeouts>,
}

/// Recipients of one message at one domain: one transaction.
struct Job {
    message: String,
    recipients: Vec<QueuedRecipient>,
}

#[derive(Default)]
struct Domain {
    pending: VecDeque<Job>,
    workers: usize,
}

struct Relay {
    svc: Arc<MailService>,
    smtp: Arc<SmtpConfig>,
    cfg: Arc<RelayConfig>,
    domains: Mutex<HashMap<String, Domain>>,
}

/// Runs the relay until the process stops.
pub async fn run(svc: Arc<MailService>, smtp: Arc<SmtpConfig>, cfg: Arc<RelayConfig>) {
    // Until the previous run's leases are given back, nothing is taken: renewing them would
    // keep them from every node for as long as this one runs.
    loop {
        let queue = smtp.outbound.queue.clone();
        match tokio::task::spawn_blocking(move || queue.release_leases()).await {
            Ok(Ok(n)) => {
                if n > 0 {
                    tracing::info!(recipients = n, "relay: attempts of the previous run are due again");
                }
                break;
            }
            Ok(Err(e)) => tracing::error!(error = %e, "relay: cannot read the queue; trying again in 5 s"),
            Err(_) => return,
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    tokio::spawn(renew_leases(smtp.outbound.queue.clone()));
    let relay = Arc::new(Relay {
        svc,
        smtp,
        cfg,
        domains: Mutex::new(HashMap::new()),
    });
    loop {
        relay.clone().dispatch().await;
        let outbound = &relay.smtp.outbound;
        // Woken when something is queued; otherwise look for due retries every second.
        let _ = tokio::time::timeout(Duration::from_secs(1), outbound.wake.notified()).await;
    }
}

/// Keeps this node's leases alive while it delivers: a lease that ends lets another node take
/// the recipient (it would be sent twice), so it is renewed well before its end.
async fn renew_leases(queue: Arc<dyn queue::Queue>) {
    let mut every = tokio::time::interval(Duration::from_secs(queue::RENEW_EVERY_SECS));
    loop {
        every.tick().await;
        let queue = queue.clone();
        if let Ok(Err(e)) = tokio::task::spawn_blocking(move || queue.renew_leases(queue::now())).await {
            tracing::error!(error = %e, "relay: cannot renew the leases of the recipients being delivered");
        }
    }
}

impl Relay {
    /// Takes what is due and hands it to the domains' workers.
    async fn dispatch(self: Arc<Self>) {
        let queue = self.smtp.outbound.queue.clone();
        let due = match tokio::task::spawn_blocking(move || queue.take_due(queue::now(), 2000)).await {
            Ok(Ok(d)) => d,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "relay: cannot read the queue");
                return;
            }
            Err(_) => return,
        };
        if due.is_empty() {
            return;
        }
        let mut jobs: Vec<(String, Job)> = Vec::new();
        let mut index: HashMap<(String, String), usize> = HashMap::new();
        for r in due {
            match index.entry((r.domain.clone(), r.message.clone())) {
                std::collections::hash_map::Entry::Occupied(e) => jobs[*e.get()].1.recipients.push(r),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(jobs.len());
                    let job = Job {
                        message: r.message.clone(),
                        recipients: vec![r],
                    };
                    jobs.push((job.recipients[0].domain.clone(), job));
                }
            }
        }
        let mut start = Vec::new();
        {
            let mut domains = self.domains.lock().expect("relay lock");
            for (domain, job) in jobs {
                let d = domains.entry(domain.clone()).or_default();
                d.pending.push_back(job);
                while d.workers < self.cfg.per_domain.max(1) && d.workers < d.pending.len() {
                    d.workers += 1;
                    start.push(domain.clone());
                }
            }
        }
        for domain in start {
            tokio::spawn(self.clone().worker(domain));
        }
    }

    fn next_job(&self, domain: &str) -> Option<Job> {
        let mut domains = self.domains.lock().expect("relay lock");
        let d = domains.get_mut(domain)?;
        let job = d.pending.pop_front();
        if job.is_none() {
            d.workers -= 1;
            if d.workers == 0 {
                domains.remove(domain);
            }
        }
        job
    }

    /// Jobs still waiting for a domain whose peer cannot be reached: they share its fate.
    fn drain(&self, domain: &str) -> Vec<Job> {
        let mut domains = self.domains.lock().expect("relay lock");
        domains
            .get_mut(domain)
            .map(|d| d.pending.drain(..).collect())
            .unwrap_or_default()
    }

    async fn worker(self: Arc<Self>, domain: String) {
        let mut hop: Option<Hop> = None;
        while let Some(job) = self.next_job(&domain) {
            hop = self.attempt(&domain, job, hop).await;
        }
        if let Some(hop) = hop {
            hop.quit().await;
        }
    }

    /// One message to one domain; returns the hop if it is still usable.
    async fn attempt(&self, domain: &str, job: Job, hop: Option<Hop>) -> Option<Hop> {
        let queue = self.smtp.outbound.queue.clone();
        let id = job.message.clone();
        let message = match tokio::task::spawn_blocking(move || queue.message(&id)).await {
            Ok(Ok(Some(m))) => m,
            Ok(Ok(None)) => return hop, // deleted by the administrator meanwhile
            other => {
                tracing::error!(id = %job.message, ok = other.is_ok(), "relay: cannot read the queued message");
                self.defer(
                    &job.recipients,
                    &Failure::temporary("4.3.0", "queue read failure"),
                    None,
                )
                .await;
                return hop;
            }
        };
        let (bounced, recipients): (Vec<_>, Vec<_>) = job.recipients.into_iter().partition(|r| r.bounce);
        if !bounced.is_empty() {
            let f = Failure::permanent("5.0.0", "returned to the sender by the operator's administrator");
            self.fail(&message, &bounced, &f, None).await;
        }
        let age = Duration::from_secs(queue::now().saturating_sub(message.arrival).max(0) as u64);
        let (expired, recipients): (Vec<_>, Vec<_>) = recipients
            .into_iter()
            .partition(|r| r.attempts > 0 && age >= self.cfg.give_up);
        if !expired.is_empty() {
            let last = expired[0].last_error.clone().unwrap_or_default();
            let f = Failure::permanent(
                "4.4.7",
                format!("delivery given up after {} hours: {last}", age.as_secs() / 3600),
            );
            self.fail(&message, &expired, &f, None).await;
        }
        if recipients.is_empty() {
            return hop;
        }
        // Reports to the sender about this hop, gathered into one DSN.
        let mut reports: Vec<dsn::Outcome> = Vec::new();
        let mut hop = match hop {
            Some(h) => h,
            None => match self.open(domain).await {
                Ok(h) => h,
                Err(f) => {
                    tracing::warn!(target: "audit", event = "relay_deferred", id = %message.id, domain, status = %f.status, reason = %f.text);
                    let mut waiting = vec![recipients];
                    waiting.extend(self.drain(domain).into_iter().map(|j| j.recipients));
                    for rs in waiting {
                        if f.temporary {
                            self.defer(&rs, &f, Some(&message)).await;
                        } else {
                            self.fail_by_id(Some(&message), &rs, &f).await;
                        }
                    }
                    return None;
                }
            },
        };
        let outgoing = Outgoing {
            sender: &message.sender,
            envid: message.envid.as_deref(),
            ret_full: message.ret_full,
            recipients: &recipients,
            body: &message.body,
        };
        let message_id = dsn::header_field(&message.body, "message-id")
            .map(|v| v.trim().to_string())
            .unwrap_or_default();
        let result = hop.send(&outgoing).await;
        let replies = match result {
            Ok(r) => r,
            Err(f) => {
                tracing::warn!(target: "audit", event = if f.temporary { "relay_deferred" } else { "relay_failed" },
                    id = %message.id, message_id = %message_id, domain, peer = %hop.host, dn = %hop.peer_dn,
                    tls = %hop.tls, status = %f.status, reason = %f.text);
                if f.temporary {
                    self.defer(&recipients, &f, Some(&message)).await;
                    return None; // the connection may be in any state
                }
                self.fail(&message, &recipients, &f, Some(&hop.host)).await;
                return if hop.reset().await.is_ok() { Some(hop) } else { None };
            }
        };
        let mut done = Vec::new();
        let mut deferred: Vec<(QueuedRecipient, Failure)> = Vec::new();
        for (r, reply) in recipients.iter().zip(replies) {
            match reply {
                Ok(reply) => {
                    tracing::info!(target: "audit", event = "relayed", id = %message.id, message_id = %message_id,
                        sender = %message.sender, recipient = %r.address, peer = %hop.host, address = %hop.address,
                        dn = %hop.peer_dn, tls = %hop.tls, status = reply.code, reply = %reply.text);
                    done.push(r.id);
                    // A peer without DSN will not report: we say it was relayed (RFC 3461 §6.2.6.2).
                    if !hop.dsn && dsn::wanted(r.notify.as_deref(), dsn::Action::Relayed) {
                        reports.push(outcome(
                            r,
                            dsn::Action::Relayed,
                            &reply.status(),
                            &reply.text,
                            Some(&hop.host),
                        ));
                    }
                }
                Err(f) if f.temporary => deferred.push((r.clone(), f)),
                Err(f) => {
                    tracing::warn!(target: "audit", event = "relay_failed", id = %message.id, message_id = %message_id,
                        recipient = %r.address, peer = %hop.host, dn = %hop.peer_dn, status = %f.status, reason = %f.text);
                    done.push(r.id);
                    if dsn::wanted(r.notify.as_deref(), dsn::Action::Failed) {
                        reports.push(outcome(r, dsn::Action::Failed, &f.status, &f.text, Some(&hop.host)));
                    }
                }
            }
        }
        self.finish(done).await;
        for (r, f) in deferred {
            tracing::info!(target: "audit", event = "relay_deferred", id = %message.id, recipient = %r.address,
                peer = %hop.host, status = %f.status, reason = %f.text);
            self.defer(std::slice::from_ref(&r), &f, Some(&message)).await;
        }
        self.report(&message, &reports).await;
        Some(hop)
    }

    /// Connects to the domain's next hops in order, and checks the peer's certificate against
    /// the whitelist for the domain.
    async fn open(&self, domain: &str) -> Result<Hop, Failure> {
        if !self.smtp.whitelist.current().contains(domain) {
            return Err(Failure::permanent(
                "5.7.1",
                format!("{domain} is no longer in the MSSanté trust space (ANS whitelist)"),
            ));
        }
        let targets = route::targets(&self.cfg.routes, domain, self.cfg.port)
            .await
            .map_err(|e| Failure::temporary("4.4.3", format!("no route to {domain}: {e}")))?;
        let mut last = Failure::temporary("4.4.3", format!("no route to {domain}"));
        for t in targets {
            match Hop::open(
                self.cfg.tls.clone(),
                &t.host,
                t.address,
                &self.smtp.hostname,
                self.cfg.timeouts.clone(),
            )
            .await
            {
                Ok(hop) => {
                    if self.smtp.whitelist.current().allows(domain, &hop.peer_dn) {
                        return Ok(hop);
                    }
                    let dn = hop.peer_dn.to_string();
                    tracing::warn!(target: "audit", event = "relay_peer_refused", domain, peer = %t.host, dn = %dn, tls = %hop.tls);
                    hop.quit().await;
                    // Réf. spec §1.3: health data goes only to a server the whitelist lists for
                    // the domain. Not a glitch to wait out: the sender must know now.
                    return Err(Failure::permanent(
                        "5.7.1",
                        format!(
                            "the server {} presented certificate {dn}, which the MSSanté whitelist does not list for {domain}",
                            t.host
                        ),
                    ));
                }
                Err(f) => {
                    tracing::info!(domain, peer = %t.host, address = %t.address, reason = %f.text, "relay: next hop failed");
                    last = f;
                }
            }
        }
        Err(last)
    }

    async fn finish(&self, ids: Vec<i64>) {
        if ids.is_empty() {
            return;
        }
        let queue = self.smtp.outbound.queue.clone();
        if let Ok(Err(e)) | Err(e) = tokio::task::spawn_blocking(move || queue.finish(&ids))
            .await
            .map_err(|e| confiance_mail::model::StoreError::Io(std::io::Error::other(e)))
        {
            tracing::error!(error = %e, "relay: cannot update the queue");
        }
    }

    /// Temporary failure: back off, and warn the sender once when it lasts. The recipients all
    /// belong to one message; `message` is used only if it is that one.
    async fn defer(&self, recipients: &[QueuedRecipient], f: &Failure, message: Option<&queue::QueuedMessage>) {
        let now = queue::now();
        let mut delayed = Vec::new();
        for r in recipients {
            let wait = self
                .cfg
                .retry
                .get(r.attempts as usize)
                .or(self.cfg.retry.last())
                .copied()
                .unwrap_or(Duration::from_secs(300));
            let queue = self.smtp.outbound.queue.clone();
            let (id, text) = (r.id, format!("{} {}", f.status, f.text));
            let next = now + wait.as_secs() as i64;
            let held = tokio::task::spawn_blocking(move || queue.defer(id, next, &text)).await;
            if !matches!(held, Ok(Ok(true))) {
                // The lease ended (another node has the recipient now) or the queue failed:
                // whoever holds it tells the sender, not this node.
                continue;
            }
            let waited = Duration::from_secs(now.saturating_sub(r.arrival).max(0) as u64);
            if !r.delay_notified
                && waited >= self.cfg.delay_notice
                && dsn::wanted(r.notify.as_deref(), dsn::Action::Delayed)
            {
                delayed.push(r);
            }
        }
        if delayed.is_empty() {
            return;
        }
        let loaded;
        let message = match message.filter(|m| m.id == delayed[0].message) {
            Some(m) => m,
            None => {
                loaded = match self.load(&delayed[0].message).await {
                    Some(m) => m,
                    None => return,
                };
                &loaded
            }
        };
        let outcomes: Vec<dsn::Outcome> = delayed
            .iter()
            .map(|r| outcome(r, dsn::Action::Delayed, &f.status, &f.text, None))
            .collect();
        self.report(message, &outcomes).await;
        for r in delayed {
            let queue = self.smtp.outbound.queue.clone();
            let id = r.id;
            let _ = tokio::task::spawn_blocking(move || queue.set_delay_notified(id)).await;
        }
    }

    /// Permanent failure: removed from the queue, reported to the sender.
    async fn fail(
        &self,
        message: &queue::QueuedMessage,
        recipients: &[QueuedRecipient],
        f: &Failure,
        mta: Option<&str>,
    ) {
        for r in recipients {
            tracing::warn!(target: "audit", event = "relay_failed", id = %message.id, recipient = %r.address, status = %f.status, reason = %f.text);
        }
        let outcomes: Vec<dsn::Outcome> = recipients
            .iter()
            .filter(|r| dsn::wanted(r.notify.as_deref(), dsn::Action::Failed))
            .map(|r| outcome(r, dsn::Action::Failed, &f.status, &f.text, mta))
            .collect();
        self.report(message, &outcomes).await;
        self.finish(recipients.iter().map(|r| r.id).collect()).await;
    }

    /// Fails recipients of one message, `message` being used only if it is theirs.
    async fn fail_by_id(&self, message: Option<&queue::QueuedMessage>, recipients: &[QueuedRecipient], f: &Failure) {
        let Some(first) = recipients.first() else { return };
        let loaded;
        let message = match message.filter(|m| m.id == first.message) {
            Some(m) => m,
            None => {
                loaded = match self.load(&first.message).await {
                    Some(m) => m,
                    None => return,
                };
                &loaded
            }
        };
        self.fail(message, recipients, f, None).await;
    }

    async fn load(&self, id: &str) -> Option<queue::QueuedMessage> {
        let queue = self.smtp.outbound.queue.clone();
        let id = id.to_string();
        match tokio::task::spawn_blocking(move || queue.message(&id)).await {
            Ok(Ok(m)) => m,
            _ => None,
        }
    }

    async fn report(&self, message: &queue::QueuedMessage, outcomes: &[dsn::Outcome]) {
        if outcomes.is_empty() {
            return;
        }
        let arrival = chrono::DateTime::from_timestamp(message.arrival, 0)
            .map(|d| d.with_timezone(&chrono::Local))
            .unwrap_or_else(chrono::Local::now);
        let request = dsn::Request {
            reporting_host: &self.smtp.hostname,
            envelope_id: message.envid.as_deref().map(dsn::decode_xtext),
            return_full: message.ret_full,
            arrival,
            original: &message.body,
        };
        report::post(&self.svc, &self.smtp, &request, &message.sender, outcomes, &message.id).await;
    }
}

fn outcome(r: &QueuedRecipient, action: dsn::Action, status: &str, text: &str, mta: Option<&str>) -> dsn::Outcome {
    dsn::Outcome {
        recipient: r.address.clone(),
        original: r.orcpt.as_deref().map(dsn::decode_xtext),
        action,
        status: status.to_string(),
        diagnostic: text.to_string(),
        remote_mta: mta.map(str::to_string),
    }
}
