//! The rules of mail to patients' Mon Espace Santé mailboxes, applied at submission
//! (segur-documents.md §6–7): the address must be a matricule INS with its key, the message
//! at most 25 MB, and a document hidden from the patient never goes to them.

use std::sync::Arc;

use confiance_core::patient::PATIENT_MAX_MESSAGE;
use confiance_mail::MailService;
use confiance_mail::model::{Account, Exchange};

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

/// On the patients' side (`[patients] serve_domain`): a patient only answers a professional
/// who wrote to them first (or the address that professional gave as Reply-To), and not once
/// that professional closed the exchange (`X-MSS-MES: FIN` or `[FIN]`, ENS Mon Espace Santé
/// v1.3 §7–9). What deliveries recorded decides (`MailService::note_contacts`), not the
/// patient's mailbox, which the patient could fill themselves by IMAP APPEND.
pub async fn reply_allowed(svc: &MailService, account: &Account, recipient: &str) -> Result<(), Refusal> {
    let refused = |reason: &str, text: String| {
        tracing::info!(target: "audit", event = "rcpt_refused", bal = %account.address, recipient = %recipient, reason);
        Refusal::new(550, "5.7.1", text)
    };
    match svc.exchange(account.id, recipient.to_lowercase()).await {
        Ok(Some(Exchange::Open)) => Ok(()),
        Ok(Some(Exchange::Closed)) => Err(refused(
            "patient: exchange closed",
            format!(
                "<{recipient}> a clos cet échange : vous ne pouvez plus lui répondre par messagerie. \
                 Pour le joindre, contactez son cabinet ou son service / the professional closed this \
                 exchange, replies are no longer accepted"
            ),
        )),
        Ok(None) => Err(refused(
            "patient: professional did not write first",
            format!(
                "vous ne pouvez répondre qu'à un professionnel de santé qui vous a écrit, et <{recipient}> \
                 ne vous a pas écrit / patients may only reply to a professional who wrote to them"
            ),
        )),
        Err(e) => {
            tracing::error!(error = %e, "patient rule: contacts unreadable");
            Err(Refusal::new(451, "4.3.0", "Temporary storage failure, try again later"))
        }
    }
}

/// After a delivery on the patients' side: the patients among `delivered` learn who wrote
/// (nothing when the sender is a patient: patients do not open exchanges).
pub async fn note_delivery(
    svc: &MailService,
    cfg: &SmtpConfig,
    sender: &str,
    delivered: &[&str],
    message: &Arc<Vec<u8>>,
) {
    if !cfg.patient_side || cfg.patients.is_patient(sender) {
        return;
    }
    let mut patients = Vec::new();
    for address in delivered.iter().filter(|a| is_patient(cfg, a)) {
        if let Ok(Some(account)) = svc.account_by_address(address.to_string()).await {
            patients.push(account.id);
        }
    }
    if patients.is_empty() {
        return;
    }
    if let Err(e) = svc.note_contacts(patients, message.clone()).await {
        tracing::error!(error = %e, "patients' contacts not recorded");
    }
}
