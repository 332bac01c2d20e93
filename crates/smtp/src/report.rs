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
        let inbox = svc.inbox_of(sender.clone(), None).await;
        let Ok(Some(inbox)) = inbox else {
            tracing::warn!(target: "audit", event = "dsn_undeliverable", id, sender = %sender, reason = "no such mailbox");
            return;
        };
        let mut message = b"Return-Path: <>\r\n".to_vec();
        message.extend_from_slice(&report);
        let now = chrono::Local::now();
        let date = (now.timestamp(), now.offset().local_minus_utc() / 60);
        let message = Arc::new(message);
        match svc.deliver(vec![inbox.id], message.clone(), Vec::new(), date).await {
            Ok(r) if r.iter().all(|x| x.is_ok()) => {
                tracing::info!(target: "audit", event = "dsn", id, sender = %sender, recipients = outcomes.len());
                crate::traced::reports(&sender, &confiance_mail::reports::read(&message));
            }
            other => tracing::error!(id, sender = %sender, result = ?other.map(|r| r.len()), "DSN not stored"),
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

fn rand_suffix() -> u32 {
    use rand::Rng;
    rand::thread_rng().gen_range(1000..10000)
}
