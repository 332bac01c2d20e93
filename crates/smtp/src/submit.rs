//! Submission from the webmail: the same dialogue as port 587, held in-process for a professional
//! the web session already authenticated, so every rule (sender, trust space, patients, size,
//! quota, DSN, queue) applies to the webmail exactly as to a mail client.

use std::sync::Arc;

use confiance_mail::MailService;
use confiance_store::Account;

use crate::session::Session;
use crate::{Role, SmtpConfig};

/// What became of a submission that was accepted for at least one recipient.
#[derive(Debug)]
pub struct Submitted {
    /// The queue identifier of the trace (`Received: … id`).
    pub id: String,
    /// Recipients refused one by one, with the server's sentence.
    pub refused: Vec<(String, String)>,
}

/// Why nothing was sent: the SMTP reply of the step that failed, or every recipient's refusal.
#[derive(Debug)]
pub struct NotSent {
    pub reply: String,
    pub refused: Vec<(String, String)>,
}

fn first_line(reply: &str) -> String {
    reply.lines().next().unwrap_or_default().trim().to_string()
}

/// Sends `message` from `account` to `recipients`, as an authenticated submission over TLS.
pub async fn submit(
    svc: Arc<MailService>,
    cfg: Arc<SmtpConfig>,
    account: Account,
    recipients: &[String],
    message: Vec<u8>,
    request_dsn: bool,
) -> Result<Submitted, NotSent> {
    let sender = account.address.clone();
    let mut session = Session::new(svc, cfg, Role::Submission, "webmail".into(), false);
    session.webmail(account);
    let mut out = String::new();
    let step = |out: &str| -> Result<(), NotSent> {
        match out.starts_with('2') {
            true => Ok(()),
            false => Err(NotSent {
                reply: first_line(out),
                refused: Vec::new(),
            }),
        }
    };
    session.command(b"EHLO webmail", &mut out).await;
    step(&out)?;
    out.clear();
    session
        .command(
            format!("MAIL FROM:<{sender}> SIZE={}", message.len()).as_bytes(),
            &mut out,
        )
        .await;
    step(&out)?;
    let mut refused = Vec::new();
    let mut accepted = 0;
    for rcpt in recipients {
        out.clear();
        // RFC 3461: a success report too when the professional asked for one.
        let notify = if request_dsn { " NOTIFY=SUCCESS,FAILURE" } else { "" };
        session
            .command(format!("RCPT TO:<{rcpt}>{notify}").as_bytes(), &mut out)
            .await;
        if out.starts_with('2') {
            accepted += 1;
        } else {
            refused.push((rcpt.clone(), first_line(&out)));
        }
    }
    if accepted == 0 {
        return Err(NotSent {
            reply: "554 5.5.1 No valid recipients".into(),
            refused,
        });
    }
    out.clear();
    if message.len() as u64 > session.cfg.max_message_size {
        session.refuse_size(message.len() as u64, &mut out);
        return Err(NotSent {
            reply: first_line(&out),
            refused,
        });
    }
    session.deliver(message, &mut out).await;
    let reply = first_line(&out);
    match reply.starts_with("250") {
        true => Ok(Submitted {
            id: reply.rsplit(' ').next().unwrap_or_default().to_string(),
            refused,
        }),
        false => Err(NotSent { reply, refused }),
    }
}
