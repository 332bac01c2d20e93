//! Submission from the webmail: the envelope a professional the web session authenticated
//! sends, through the same rules as port 587 (sender, trust space, size, author, quota, DSN,
//! queue), called directly rather than by speaking SMTP to an in-process session.

use confiance_mail::MailService;
use confiance_mail::model::Account;

use crate::SmtpConfig;
use crate::policy::{self, Refusal};
use crate::routing::Router;
use crate::server::Role;
use crate::transaction::{self, Envelope, Source};

/// What became of a submission that was accepted for at least one recipient.
#[derive(Debug)]
pub struct Submitted {
    /// The queue identifier of the trace (`Received: … id`).
    pub id: String,
    /// Recipients refused one by one, with the refusal.
    pub refused: Vec<(String, Refusal)>,
}

/// Why nothing was sent: the reply of the step that failed, or every recipient's refusal.
#[derive(Debug)]
pub struct NotSent {
    pub reply: Refusal,
    pub refused: Vec<(String, Refusal)>,
}

/// What is sent, which decides the envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A message; delivery reports only on failure (RFC 3461's default).
    Message,
    /// A message whose sender asked to be told of each delivery too (NOTIFY=SUCCESS,FAILURE).
    MessageWithDeliveryReport,
    /// A report (a read receipt): sent from the null reverse-path `<>` so that no report is
    /// ever made about it (RFC 8098 §3, RFC 3461 §6.2), its From: still the reader's address.
    Report,
}

/// Sends `message` from `account` to `recipients`, with the envelope `kind` asks for.
pub async fn submit(
    svc: &MailService,
    cfg: &SmtpConfig,
    account: Account,
    recipients: &[String],
    message: Vec<u8>,
    kind: Kind,
) -> Result<Submitted, NotSent> {
    let not_sent = |reply: Refusal, refused: Vec<(String, Refusal)>| NotSent { reply, refused };
    let params = vec![("SIZE".to_string(), Some(message.len().to_string()))];
    policy::mail_parameters(&params, cfg.max_message_size)
        .and_then(|()| policy::sender(&account.address, Some(&account)))
        .map_err(|r| not_sent(r, Vec::new()))?;
    let mut envelope = Envelope {
        sender: match kind {
            Kind::Report => String::new(),
            _ => account.address.clone(),
        },
        params,
        recipients: Vec::new(),
    };
    let dsn: Vec<(String, Option<String>)> = match kind {
        Kind::MessageWithDeliveryReport => vec![("NOTIFY".into(), Some("SUCCESS,FAILURE".into()))],
        Kind::Message | Kind::Report => Vec::new(),
    };
    let router = Router {
        svc,
        cfg,
        sender: Some(&account),
    };
    let mut refused = Vec::new();
    for rcpt in recipients {
        if envelope.recipients.len() >= cfg.max_recipients {
            refused.push((rcpt.clone(), policy::too_many_recipients(cfg.max_recipients)));
            continue;
        }
        match router.route(Role::Submission, rcpt, "webmail").await {
            Ok((address, route)) => envelope.add(address, route, dsn.clone()),
            Err(refusal) => refused.push((rcpt.clone(), refusal)),
        }
    }
    if envelope.recipients.is_empty() {
        return Err(not_sent(Refusal::new(554, "5.5.1", "No valid recipients"), refused));
    }
    let source = Source {
        role: Role::Submission,
        peer: "webmail",
        helo: Some("webmail"),
        tls: Some("HTTPS (webmail)"),
        peer_dn: None,
        account: Some(&account),
    };
    match transaction::accept(svc, cfg, &source, envelope, message).await {
        Ok(id) => Ok(Submitted { id, refused }),
        Err(refusal) => Err(not_sent(refusal, refused)),
    }
}

/// A fresh Message-ID on the sender's domain (Réf. #2 ECO.2.2.1), for every message written
/// on a BAL's behalf: the webmail's, and its filter's forwards and automatic replies.
pub fn new_message_id(sender: &str) -> String {
    let domain = sender.rsplit_once('@').map_or("localhost", |(_, d)| d);
    let random: String = confiance_auth::otp::random_bytes::<16>()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{random}@{domain}")
}
