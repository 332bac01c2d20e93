//! The rules of mail to patients' Mon Espace Santé mailboxes, applied at submission
//! (segur-documents.md §6–7): the address must be a matricule INS with its key, the message
//! at most 25 MB, and a document hidden from the patient never goes to them.

use confiance_core::patient::{PATIENT_MAX_MESSAGE, closes_exchange};
use confiance_mail::MailService;
use confiance_mail::message::mime;
use confiance_mail::model::{Account, FolderId, SearchQuery};

use crate::SmtpConfig;
use crate::policy::Refusal;

/// RCPT of a patient address: its INS key checked; 13 digits get the full address in the
/// reason, a wrong key "INS" (Réf. #2 ECO.2.2.6: built from a qualified INS).
pub fn recipient(cfg: &SmtpConfig, address: &str) -> Result<(), Refusal> {
    cfg.patients.check(address).map(|_| ()).map_err(|e| {
        tracing::info!(target: "audit", event = "rcpt_refused", recipient = %address, reason = "patient address");
        Refusal::new(550, "5.1.3", e.reason(address))
    })
}

/// Whether an envelope recipient is a patient (not a service address of the patient domain).
pub fn is_patient(cfg: &SmtpConfig, address: &str) -> bool {
    cfg.patients.is_patient(address) && !cfg.patients.is_service(address)
}

/// DATA of a message with a patient among its recipients. Reads the attachments: the caller
/// runs it off the async workers.
pub fn content(message: &[u8]) -> Result<(), Refusal> {
    if message.len() as u64 > PATIENT_MAX_MESSAGE {
        return Err(Refusal::new(
            552,
            "5.3.4",
            "Mon Espace Santé n'accepte pas les messages de plus de 25 Mo : envoyez les pièces \
             jointes en plusieurs messages / patients' mailboxes take at most 25 MB",
        ));
    }
    if confiance_mail::structured::hidden_from_patient(message) {
        return Err(Refusal::new(
            550,
            "5.7.1",
            "un document structuré joint est masqué au patient (INVISIBLE_PATIENT) et ne peut pas \
             lui être envoyé : retirez l'adresse du patient ou ce document / a document hidden \
             from the patient cannot be sent to them",
        ));
    }
    Ok(())
}

/// Messages of the patient's own folders looked at for a professional's Reply-To.
const REPLY_TO_SCAN: usize = 200;

/// On the patient side (`[patients] serve_domain`): a patient only answers a professional
/// who wrote to them first (or the address that professional gave as Reply-To), and not once
/// that professional closed the exchange (`X-MSS-MES: FIN` or `[FIN]`, ENS Mon Espace Santé
/// v1.3 §7–9). The patient's own mailbox is the record: what was received says who wrote.
pub async fn reply_allowed(svc: &MailService, account: &Account, recipient: &str) -> Result<(), Refusal> {
    let refused = |reason: &str, text: String| {
        tracing::info!(target: "audit", event = "rcpt_refused", bal = %account.address, recipient = %recipient, reason);
        Refusal::new(550, "5.7.1", text)
    };
    let failure = |e: confiance_mail::MailError| {
        tracing::error!(error = %e, "patient rule: mailbox unreadable");
        Refusal::new(451, "4.3.0", "Temporary storage failure, try again later")
    };
    // Their own copies (Sent, Drafts) say nothing of who wrote to them.
    let own: Vec<FolderId> = svc
        .folders(account.id)
        .await
        .map_err(failure)?
        .into_iter()
        .filter(|f| matches!(f.special_use.as_deref(), Some("\\Sent" | "\\Drafts")))
        .map(|f| f.id)
        .collect();
    let query = SearchQuery {
        from: Some(recipient.to_string()),
        limit: 50,
        ..SearchQuery::default()
    };
    let from_them = svc
        .search(account.id, query)
        .await
        .map_err(failure)?
        .into_iter()
        .filter(|(folder, l)| {
            !own.contains(folder)
                && l.summary
                    .as_ref()
                    .is_some_and(|s| s.from_address.eq_ignore_ascii_case(recipient))
        })
        .map(|(_, l)| l)
        .next();
    let latest = match from_them {
        Some(l) => Some(svc.read(&l.meta.blob).await.map_err(failure)?),
        None => reply_to(svc, account, recipient, &own).await.map_err(failure)?,
    };
    let Some(bytes) = latest else {
        return Err(refused(
            "patient: professional did not write first",
            format!(
                "vous ne pouvez répondre qu'à un professionnel de santé qui vous a écrit, et <{recipient}> \
                 ne vous a pas écrit / patients may only reply to a professional who wrote to them"
            ),
        ));
    };
    let header = &bytes[..mime::header_end(&bytes)];
    let field = |name: &str| mime::header_field(header, name).map(|v| String::from_utf8_lossy(&v).into_owned());
    let subject = field("Subject").unwrap_or_default();
    if closes_exchange(field("X-MSS-MES").as_deref(), &subject) {
        return Err(refused(
            "patient: exchange closed",
            format!(
                "<{recipient}> a clos cet échange : vous ne pouvez plus lui répondre par messagerie. \
                 Pour le joindre, contactez son cabinet ou son service / the professional closed this \
                 exchange, replies are no longer accepted"
            ),
        ));
    }
    Ok(())
}

/// The newest message of the patient's folders whose Reply-To is `recipient` (a professional
/// may ask for answers at another MSSanté address, ENS v1.3 §9).
async fn reply_to(
    svc: &MailService,
    account: &Account,
    recipient: &str,
    own: &[FolderId],
) -> Result<Option<std::sync::Arc<Vec<u8>>>, confiance_mail::MailError> {
    let recent = svc
        .search(
            account.id,
            SearchQuery {
                limit: REPLY_TO_SCAN as u32,
                ..SearchQuery::default()
            },
        )
        .await?;
    for (_, listed) in recent.into_iter().filter(|(f, _)| !own.contains(f)) {
        let bytes = svc.read(&listed.meta.blob).await?;
        let header = &bytes[..mime::header_end(&bytes)];
        let reply_to = mime::header_field(header, "Reply-To").map(|v| String::from_utf8_lossy(&v).to_lowercase());
        if reply_to.is_some_and(|r| r.contains(&recipient.to_lowercase())) {
            return Ok(Some(bytes));
        }
    }
    Ok(None)
}
