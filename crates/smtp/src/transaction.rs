//! One accepted message: the checks of DATA, the trace fields, delivery to the local INBOXes
//! (durable before the answer), delivery status notifications, and the queue for the
//! recipients at other operators. The dialogue and the webmail hand it the same envelope.

use std::sync::Arc;

use confiance_mail::MailService;
use confiance_mail::model::{Account, AccountId, FolderId, StoreError};
use confiance_mail::queue::{NewQueued, QueuedAddress};
use confiance_trust::dn::Dn;

use crate::policy::{self, Origin, Refusal};
use crate::routing::Route;
use crate::server::Role;
use crate::traced::Traced;
use crate::{SmtpConfig, dsn, filtering, patients, report};

/// One accepted recipient and where its copy goes.
pub(crate) struct Recipient {
    pub address: String,
    pub route: Route,
    /// RFC 3461 NOTIFY and ORCPT, kept for the delivery trace.
    pub dsn: Vec<(String, Option<String>)>,
}

pub(crate) struct Envelope {
    pub sender: String,
    pub params: Vec<(String, Option<String>)>,
    pub recipients: Vec<Recipient>,
}

impl Envelope {
    /// Adds a recipient once (a second RCPT of the same address changes nothing).
    pub fn add(&mut self, address: String, route: Route, dsn: Vec<(String, Option<String>)>) {
        if !self.recipients.iter().any(|r| r.address == address) {
            self.recipients.push(Recipient { address, route, dsn });
        }
    }
}

/// Who handed the message over, for the checks and the Received: field.
pub(crate) struct Source<'a> {
    pub role: Role,
    pub peer: &'a str,
    pub helo: Option<&'a str>,
    /// Protocol and suite of the TLS session, if any.
    pub tls: Option<&'a str>,
    pub peer_dn: Option<&'a Result<Dn, String>>,
    pub account: Option<&'a Account>,
}

/// Checks, traces and delivers the message; `Ok` carries the queue id of `250 … queued as`.
pub(crate) async fn accept(
    svc: &MailService,
    cfg: &SmtpConfig,
    source: &Source<'_>,
    envelope: Envelope,
    message: Vec<u8>,
) -> Result<String, Refusal> {
    let refused = |reason: &str, refusal: Refusal| {
        tracing::warn!(target: "audit", event = "refused", role = ?source.role, peer = %source.peer, sender = %envelope.sender,
            account = source.account.map(|a| a.address.as_str()).unwrap_or(""), reason = %reason);
        refusal
    };
    policy::hops(&message).map_err(|r| refused("mail loop", r))?;
    policy::line_ends(source.role, &message).map_err(|r| refused("bare CR", r))?;
    let origin = Origin {
        role: source.role,
        account: source.account,
        peer_dn: source.peer_dn,
    };
    policy::author(cfg, &origin, &envelope.sender, &message).map_err(|r| refused(&r.to_string(), r))?;
    if source.role == Role::Submission
        && envelope
            .recipients
            .iter()
            .any(|r| patients::is_patient(cfg, &r.address))
    {
        // Reading the attachments takes time in proportion to the message.
        let copy = message.clone();
        // A check that could not run refuses for now rather than letting a hidden document
        // through to a patient.
        tokio::task::spawn_blocking(move || patients::content(&copy))
            .await
            .unwrap_or_else(|_| Err(Refusal::new(451, "4.3.0", "Temporary failure, try again later")))
            .map_err(|r| refused("patient rules", r))?;
    }
    let id = queue_id();
    let message = Arc::new(trace(cfg, source, &envelope, &id, message));
    let traced = Traced::of(&message);
    let (local, remote): (Vec<&Recipient>, Vec<&Recipient>) =
        envelope.recipients.iter().partition(|r| r.route != Route::Remote);
    if local.is_empty() {
        enqueue(cfg, &envelope, &remote, &id, &message).await?;
        audit_sent(cfg, source, &traced, &local, &remote);
        return Ok(id);
    }
    // Where a delivered copy came from, for the indicators: one of ours, another operator, or
    // a patient replying from Mon Espace Santé.
    let origin = match source.role {
        Role::Submission => "internal",
        Role::Mx if cfg.patients.is_patient(&envelope.sender) => "patient",
        Role::Mx => "operator",
    };
    // Each recipient's filter says where its copy goes (its INBOX without one).
    let mut placements = Vec::with_capacity(local.len());
    for rcpt in &local {
        if let Route::Local(inbox, account) = rcpt.route {
            let placement = filtering::place(svc, cfg, owner(account, rcpt), inbox, &envelope.sender, &message).await;
            placements.push((account, inbox, placement));
        }
    }
    // One blob for every copy: (folder, flags) to store, and whose filter put it there, with
    // the BAL it was redirected to (a redirected copy that fails is the filter owner's to
    // hear of, not the sender's).
    let mut targets = Vec::new();
    let mut owners: Vec<(usize, Option<&str>)> = Vec::new();
    for (i, (_, _, placement)) in placements.iter().enumerate() {
        for (folder, flags) in &placement.folders {
            targets.push((*folder, flags.clone()));
            owners.push((i, None));
        }
        for (to, inbox) in &placement.local_copies {
            targets.push((*inbox, Vec::new()));
            owners.push((i, Some(to.as_str())));
        }
    }
    let stored = match targets.is_empty() {
        true => Vec::new(),
        false => svc
            .deliver_to(targets, message.clone(), confiance_mail::internal_date_now())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, id, "delivery failed");
                storage_failure(e.is_storage_full())
            })?,
    };
    // A recipient's copy is delivered when every folder its filter chose took it (none for a
    // discarded copy).
    let mut results: Vec<Result<Option<u32>, StoreError>> = local.iter().map(|_| Ok(None)).collect();
    let mut redirect_failed = vec![false; local.len()];
    for (r, (i, redirected_to)) in stored.into_iter().zip(owners) {
        match (redirected_to, r) {
            (None, Ok(a)) => {
                if let Ok(uid) = &mut results[i] {
                    uid.get_or_insert(a.uid);
                }
            }
            (None, Err(e)) => {
                if results[i].is_ok() {
                    results[i] = Err(e);
                }
            }
            (Some(to), Ok(a)) => {
                tracing::info!(target: "audit", event = "forwarded", id, bal = %local[i].address, to = %to, uid = a.uid, message_id = traced.message_id)
            }
            (Some(to), Err(e)) => {
                tracing::warn!(target: "audit", event = "redirect_failed", id, bal = %local[i].address, to = %to, error = %e);
                redirect_failed[i] = true;
            }
        }
    }
    let mut outcomes = Vec::with_capacity(results.len());
    for (r, rcpt) in results.iter().zip(&local) {
        let (delivered, status, diagnostic) = match r {
            Ok(uid) => {
                tracing::info!(target: "audit", event = "delivered", bal = %rcpt.address, peer = source.peer, message_id = traced.message_id,
                    size = traced.size, id, sender = %envelope.sender, origin, uid = uid.unwrap_or(0), codecda = traced.codecda, nil = traced.nil,
                    dsn = ?rcpt.dsn, params = ?envelope.params);
                crate::traced::reports(&rcpt.address, &traced.reports);
                (true, "2.0.0", "delivered".to_string())
            }
            Err(StoreError::QuotaExceeded { .. }) => {
                tracing::warn!(target: "audit", event = "refused", bal = %rcpt.address, message_id = traced.message_id, size = traced.size,
                    id, reason = "mailbox full");
                (false, "5.2.2", "552 5.2.2 boîte pleine / mailbox full".to_string())
            }
            Err(e) if e.is_storage_full() => {
                tracing::error!(error = %e, id, recipient = %rcpt.address, "delivery failed: disk full");
                (false, "4.3.1", "452 4.3.1 storage full".to_string())
            }
            Err(e) => {
                tracing::error!(error = %e, id, recipient = %rcpt.address, "delivery failed");
                (false, "4.3.0", "451 4.3.0 storage failure".to_string())
            }
        };
        outcomes.push((rcpt, delivered, status, diagnostic));
    }
    if outcomes.iter().any(|o| o.2.starts_with('4')) {
        // A temporary failure: the client must try again. Recipients already served may
        // get the message twice, which is better than one never getting it.
        return Err(storage_failure(outcomes.iter().any(|o| o.2 == "4.3.1")));
    }
    for (((rcpt, delivered, ..), (account, inbox, placement)), failed) in
        outcomes.iter().zip(&placements).zip(redirect_failed)
    {
        if *delivered {
            let filter = Filtered {
                owner: owner(*account, rcpt),
                inbox: *inbox,
                placement,
                redirect_failed: failed,
            };
            follow_filter(svc, cfg, filter, &envelope.sender, &message, &id).await?;
        }
    }
    let delivered: Vec<&str> = outcomes.iter().filter(|o| o.1).map(|o| o.0.address.as_str()).collect();
    patients::note_delivery(svc, cfg, &envelope.sender, &delivered, &message).await;
    let delivered = delivered.len();
    if delivered == 0 && remote.is_empty() {
        // Nothing stored: the client hears it now, no report needed.
        if let Some(full) = outcomes.iter().find(|o| o.2 == "5.2.2") {
            return Err(Refusal::new(552, "5.2.2", format!("Mailbox full: {}", full.0.address)));
        }
        return Err(storage_failure(false));
    }
    // After DATA one reply serves every recipient: those that failed, and those that asked
    // NOTIFY=SUCCESS, are told to the sender in a delivery status notification.
    let action = |ok: bool| match ok {
        true => dsn::Action::Delivered,
        false => dsn::Action::Failed,
    };
    let reported: Vec<dsn::Outcome> = outcomes
        .iter()
        .filter(|(rcpt, ok, ..)| dsn::wanted(param(&rcpt.dsn, "NOTIFY"), action(*ok)))
        .map(|(rcpt, ok, status, diagnostic)| dsn::Outcome {
            recipient: rcpt.address.clone(),
            original: param(&rcpt.dsn, "ORCPT").map(dsn::decode_xtext),
            action: action(*ok),
            status: status.to_string(),
            diagnostic: diagnostic.clone(),
            remote_mta: None,
        })
        .collect();
    if !reported.is_empty() {
        let request = dsn::Request {
            reporting_host: &cfg.hostname,
            envelope_id: param(&envelope.params, "ENVID").map(dsn::decode_xtext),
            return_full: param(&envelope.params, "RET").is_some_and(|r| r.eq_ignore_ascii_case("FULL")),
            arrival: chrono::Local::now(),
            original: &message,
        };
        report::post(svc, cfg, &request, &envelope.sender, &reported, &id).await;
    }
    if !remote.is_empty() {
        enqueue(cfg, &envelope, &remote, &id, &message).await?;
    }
    audit_sent(cfg, source, &traced, &local, &remote);
    Ok(id)
}

/// One recipient's filter and what became of its copy.
struct Filtered<'a> {
    owner: filtering::Owner<'a>,
    inbox: FolderId,
    placement: &'a filtering::Placement,
    /// A copy it redirected to another BAL here could not be stored.
    redirect_failed: bool,
}

/// What a recipient's filter does once its copy is stored: forwards to other operators and
/// the out-of-office reply. A copy kept in no folder whose forward or redirect failed goes to
/// the INBOX after all; if even that fails the client hears a temporary failure, so that the
/// message is never accepted and kept nowhere.
async fn follow_filter(
    svc: &MailService,
    cfg: &SmtpConfig,
    filtered: Filtered<'_>,
    sender: &str,
    message: &Arc<Vec<u8>>,
    id: &str,
) -> Result<(), Refusal> {
    let Filtered {
        owner,
        inbox,
        placement,
        redirect_failed,
    } = filtered;
    let forwarded =
        placement.forwards.is_empty() || filtering::forward(cfg, owner.address, &placement.forwards, message, id).await;
    if (!forwarded || redirect_failed) && placement.folders.is_empty() {
        let kept = svc
            .deliver(
                vec![inbox],
                message.clone(),
                Vec::new(),
                confiance_mail::internal_date_now(),
            )
            .await;
        match kept {
            Ok(r) if r.iter().all(|x| x.is_ok()) => {
                tracing::info!(target: "audit", event = "filter_kept", id, bal = %owner.address, reason = "forward failed")
            }
            other => {
                tracing::error!(id, bal = %owner.address, result = ?other.map(|r| r.len()), "forward failed and INBOX copy failed");
                return Err(storage_failure(false));
            }
        }
    }
    if let Some(vacation) = &placement.vacation {
        filtering::vacation(svc, cfg, owner, sender, vacation, message, id).await;
    }
    Ok(())
}

fn owner(account: AccountId, rcpt: &Recipient) -> filtering::Owner<'_> {
    filtering::Owner {
        account,
        address: &rcpt.address,
    }
}

/// The sending trace of a message one of our BALs submitted: one line a message, with its
/// recipients counted as ours, other operators' and patients' (the indicators' split).
fn audit_sent(cfg: &SmtpConfig, source: &Source<'_>, traced: &Traced, local: &[&Recipient], remote: &[&Recipient]) {
    let Some(account) = source.account.filter(|_| source.role == Role::Submission) else {
        return;
    };
    let patients = remote.iter().filter(|r| cfg.patients.is_patient(&r.address)).count();
    tracing::info!(target: "audit", event = "sent", bal = %account.address, peer = source.peer, message_id = traced.message_id,
        size = traced.size, internal = local.len(), operators = remote.len() - patients, patients,
        codecda = traced.codecda, nil = traced.nil);
}

/// Queues the message durably for the recipients at other operators.
async fn enqueue(
    cfg: &SmtpConfig,
    envelope: &Envelope,
    remote: &[&Recipient],
    id: &str,
    message: &Arc<Vec<u8>>,
) -> Result<(), Refusal> {
    let recipients: Vec<QueuedAddress> = remote
        .iter()
        .map(|r| QueuedAddress {
            address: r.address.clone(),
            orcpt: param(&r.dsn, "ORCPT").map(str::to_string),
            notify: param(&r.dsn, "NOTIFY").map(str::to_string),
        })
        .collect();
    let (queue, qid, message) = (cfg.outbound.queue.clone(), id.to_string(), message.clone());
    let sender = envelope.sender.clone();
    let envid = param(&envelope.params, "ENVID").map(str::to_string);
    let ret_full = param(&envelope.params, "RET").is_some_and(|r| r.eq_ignore_ascii_case("FULL"));
    let count = recipients.len();
    let queued = tokio::task::spawn_blocking(move || {
        queue.enqueue(&[NewQueued {
            id: &qid,
            sender: &sender,
            envid: envid.as_deref(),
            ret_full,
            body: without_return_path(&message),
            recipients,
        }])
    })
    .await;
    match queued {
        Ok(Ok(())) => {
            cfg.outbound.wake.notify_one();
            tracing::info!(target: "audit", event = "queued", id, sender = %envelope.sender, recipients = count);
            Ok(())
        }
        Ok(Err(e)) => {
            tracing::error!(id, error = %e, "queueing failed");
            Err(storage_failure(e.is_storage_full()))
        }
        Err(e) => {
            tracing::error!(id, error = %e, "queueing failed");
            Err(storage_failure(false))
        }
    }
}

/// Adds Return-Path and Received (RFC 5321 §4.4), plus Message-ID and Date when the client
/// left them out (RFC 6409 §8; MSSanté requires a Message-ID, Réf. #2 ECO.2.2.1).
fn trace(cfg: &SmtpConfig, source: &Source<'_>, envelope: &Envelope, id: &str, message: Vec<u8>) -> Vec<u8> {
    let header_end = dsn::header_of(&message).len();
    let header = String::from_utf8_lossy(&message[..header_end]).to_ascii_lowercase();
    let has = |name: &str| header.starts_with(name) || header.contains(&format!("\n{name}"));
    let now = chrono::Local::now().to_rfc2822();
    let mut trace = format!("Return-Path: <{}>\r\n", envelope.sender);
    let proto = match (source.role, source.tls.is_some()) {
        (Role::Mx, _) => "ESMTPS",
        (Role::Submission, true) => "ESMTPSA",
        (Role::Submission, false) => "ESMTPA",
    };
    let peer_dn = match source.peer_dn {
        Some(Ok(dn)) => format!(" peer {dn}"),
        _ => String::new(),
    };
    trace.push_str(&format!(
        "Received: from {} ({})\r\n\tby {} (Confiance) with {proto} id {id}\r\n\t({}{peer_dn});\r\n\t{now}\r\n",
        source.helo.unwrap_or("unknown"),
        source.peer,
        cfg.hostname,
        source.tls.unwrap_or("no TLS"),
    ));
    let mut extra = String::new();
    if source.role == Role::Mx {
        // RFC 5321 §4.4: a relay adds its trace and changes nothing else.
    } else if !has("from:") {
        // RFC 6409 §8.2: the submission server may add the From: it knows.
        extra.push_str(&format!("From: <{}>\r\n", envelope.sender));
    }
    if source.role == Role::Submission && !has("message-id:") {
        extra.push_str(&format!("Message-ID: <{id}@{}>\r\n", cfg.hostname));
    }
    if source.role == Role::Submission && !has("date:") {
        extra.push_str(&format!("Date: {now}\r\n"));
    }
    let mut out = Vec::with_capacity(trace.len() + extra.len() + message.len());
    out.extend_from_slice(trace.as_bytes());
    if header_end == message.len() && !message.contains(&b':') {
        // No header at all: the whole input is body.
        out.extend_from_slice(extra.as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&message);
    } else {
        out.extend_from_slice(&message[..header_end]);
        out.extend_from_slice(extra.as_bytes());
        out.extend_from_slice(&message[header_end..]);
    }
    out
}

fn storage_failure(full: bool) -> Refusal {
    match full {
        true => Refusal::new(
            452,
            "4.3.1",
            "Espace de stockage insuffisant, nouvel essai plus tard / Insufficient system storage, try again later",
        ),
        false => Refusal::new(451, "4.3.0", "Temporary storage failure, try again later"),
    }
}

/// The message as it goes to another operator: without the Return-Path we put first, which
/// only the final delivery adds (RFC 5321 §4.4).
fn without_return_path(message: &[u8]) -> &[u8] {
    if message.starts_with(b"Return-Path:")
        && let Some(end) = message.windows(2).position(|w| w == b"\r\n")
    {
        return &message[end + 2..];
    }
    message
}

/// Value of an ESMTP parameter (`NOTIFY`, `ORCPT`, `RET`, `ENVID`).
pub(crate) fn param<'a>(params: &'a [(String, Option<String>)], name: &str) -> Option<&'a str> {
    params.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref())
}

fn queue_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| char::from(b"0123456789ABCDEFGHJKLMNPQRSTVWXZ"[rng.gen_range(0..32)]))
        .collect()
}
