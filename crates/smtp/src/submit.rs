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

/// Sends `message` from `account` to `recipients`, with a delivery report on success and
/// failure when `request_dsn` (RFC 3461 NOTIFY=SUCCESS,FAILURE).
pub async fn submit(
    svc: &MailService,
    cfg: &SmtpConfig,
    account: Account,
    recipients: &[String],
    message: Vec<u8>,
    request_dsn: bool,
) -> Result<Submitted, NotSent> {
    let not_sent = |reply: Refusal, refused: Vec<(String, Refusal)>| NotSent { reply, refused };
    let params = vec![("SIZE".to_string(), Some(message.len().to_string()))];
    policy::mail_parameters(&params, cfg.max_message_size)
        .and_then(|()| policy::sender(&account.address, Some(&account)))
        .map_err(|r| not_sent(r, Vec::new()))?;
    let mut envelope = Envelope {
        sender: account.address.clone(),
        params,
        recipients: Vec::new(),
    };
    let dsn: Vec<(String, Option<String>)> = match request_dsn {
        true => vec![("NOTIFY".into(), Some("SUCCESS,FAILURE".into()))],
        false => Vec::new(),
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
