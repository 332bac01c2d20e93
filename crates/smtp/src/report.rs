//! Sending a delivery status notification to the envelope sender, wherever the sender is: into
//! a local INBOX, or through the outbound queue to another operator. Reports have a null
//! sender, and nothing is ever reported to a null sender (RFC 3461 §6.2, RFC 5321 §4.5.5).

use std::sync::Arc;

use confiance_mail::MailService;
use confiance_mail::queue::{NewQueued, QueuedAddress};

use crate::SmtpConfig;
use crate::dsn;

pub(crate) async fn post(
    svc: &MailService,
    cfg: &SmtpConfig,
    request: &dsn::Request<'_>,
    sender: &str,
    outcomes: &[dsn::Outcome],
    id: &str,
) {
    if sender.is_empty() || outcomes.is_empty() {
        return;
    }
    let sender = sender.to_lowercase();
    let report_id = format!("{id}R{}", rand_suffix());
    let report = dsn::report(request, &sender, outcomes, &report_id);
    let domain = sender.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    if cfg.hosts(domain) {
        match deliver_local(svc, &sender, "", &report).await {
            Local::Stored(message) => {
                tracing::info!(target: "audit", event = "dsn", id, sender = %sender, recipients = outcomes.len());
                crate::traced::reports(&sender, &confiance_mail::reports::read(&message));
            }
            Local::NoSuchMailbox => {
                tracing::warn!(target: "audit", event = "dsn_undeliverable", id, sender = %sender, reason = "no such mailbox")
            }
            Local::Failed => tracing::error!(id, sender = %sender, "DSN not stored"),
        }
        return;
    }
    let queue = cfg.outbound.queue.clone();
    let (rid, to) = (report_id.clone(), sender.clone());
    let queued = tokio::task::spawn_blocking(move || {
        queue.enqueue(&[NewQueued {
            id: &rid,
            sender: "",
            envid: None,
            ret_full: false,
            body: &report,
            recipients: vec![QueuedAddress {
                address: to,
                orcpt: None,
                notify: Some("NEVER".into()),
            }],
        }])
    })
    .await;
    match queued {
        Ok(Ok(())) => {
            cfg.outbound.wake.notify_one();
            tracing::info!(target: "audit", event = "dsn_queued", id, report = %report_id, sender = %sender, recipients = outcomes.len());
        }
        other => tracing::error!(id, sender = %sender, result = ?other.map(|r| r.is_ok()), "DSN not queued"),
    }
}

/// What became of a message this operator wrote for one of its BALs.
pub(crate) enum Local {
    /// In the BAL's INBOX, with the Return-Path: field it got.
    Stored(Arc<Vec<u8>>),
    NoSuchMailbox,
    Failed,
}

/// Stores a message this operator wrote (a report, an automatic reply) in the INBOX of the
/// hosted address `to`, with `return_path` (empty: the null sender) as its Return-Path:.
pub(crate) async fn deliver_local(svc: &MailService, to: &str, return_path: &str, body: &[u8]) -> Local {
    let Ok(Some(inbox)) = svc.inbox_of(to.to_string(), None).await else {
        return Local::NoSuchMailbox;
    };
    let mut message = format!("Return-Path: <{return_path}>\r\n").into_bytes();
    message.extend_from_slice(body);
    let message = Arc::new(message);
    match svc
        .deliver(
            vec![inbox.id],
            message.clone(),
            Vec::new(),
            confiance_mail::internal_date_now(),
        )
        .await
    {
        Ok(r) if r.iter().all(|x| x.is_ok()) => Local::Stored(message),
        _ => Local::Failed,
    }
}

fn rand_suffix() -> u32 {
    use rand::Rng;
    rand::thread_rng().gen_range(1000..10000)
}
