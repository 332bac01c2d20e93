//! Where a recipient's mail goes: the INBOX of a BAL hosted here, or the queue for another
//! operator of the trust space; anything else is refused at RCPT, before any data is taken.

use confiance_core::Address;
use confiance_mail::MailService;
use confiance_mail::model::{Account, AccountId, AccountStatus, FolderId};

use crate::SmtpConfig;
use crate::policy::Refusal;
use crate::server::Role;

/// Where an accepted recipient's copy goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The INBOX of a BAL of this operator, and the BAL (whose filters place the copy).
    Local(FolderId, AccountId),
    /// Another operator of the trust space: the outbound queue.
    Remote,
}

pub struct Router<'a> {
    pub svc: &'a MailService,
    pub cfg: &'a SmtpConfig,
    /// The authenticated BAL that submits, if any (a patient's rules depend on it).
    pub sender: Option<&'a Account>,
}

impl Router<'_> {
    /// The recipient's address as it will be used, and its route. `peer` names the client in
    /// the audit trace of a refusal.
    pub async fn route(&self, role: Role, address: &str, peer: &str) -> Result<(String, Route), Refusal> {
        // RFC 5321 §4.5.1: `postmaster` alone is always accepted, as postmaster of our domain.
        let address = match address.eq_ignore_ascii_case("postmaster") {
            true => format!(
                "postmaster@{}",
                self.cfg.domains.first().map(String::as_str).unwrap_or("localhost")
            ),
            false => address.to_string(),
        };
        let parsed = Address::parse(&address)
            .map_err(|e| Refusal::new(501, "5.1.3", format!("Bad recipient address <{address}>: {e}")))?;
        let domain = parsed.domain();
        if role == Role::Submission && self.cfg.patients.is_patient(&address) {
            crate::patients::recipient(self.cfg, &parsed.to_string())?;
        }
        // The patient side: a patient only answers a professional who wrote first.
        if role == Role::Submission
            && self.cfg.patient_side
            && let Some(account) = self.sender.filter(|a| self.cfg.patients.is_patient(&a.address))
        {
            crate::patients::reply_allowed(self.svc, account, &parsed.to_string()).await?;
        }
        if !self.cfg.hosts(domain) {
            return self
                .remote(role, parsed.to_string(), domain, peer)
                .map(|a| (a, Route::Remote));
        }
        // Postmaster of a hosted domain without a BAL of that name: the configured one.
        let postmaster = (parsed.local_part() == "postmaster")
            .then(|| self.cfg.postmaster.clone())
            .flatten();
        match self.svc.recipient(parsed.to_string(), postmaster).await {
            // RFC 3463 5.2.1: the mailbox exists but takes no mail (issue 16: a suspended BAL,
            // its mail kept, the sender told in French first why it did not arrive).
            Ok(Some((_, account))) if account.status == AccountStatus::Suspended => {
                tracing::info!(target: "audit", event = "rcpt_refused", peer = %peer, recipient = %parsed, reason = "suspended");
                Err(Refusal::new(
                    550,
                    "5.2.1",
                    format!(
                        "La BAL <{parsed}> est suspendue et ne reçoit plus de messages : joignez son \
                         titulaire ou sa structure par un autre moyen / mailbox suspended, not \
                         accepting mail"
                    ),
                ))
            }
            Ok(Some((inbox, _))) => Ok((parsed.to_string(), Route::Local(inbox.id, inbox.account))),
            Ok(None) => Err(Refusal::new(
                550,
                "5.1.1",
                format!("No such mailbox <{parsed}> at this operator"),
            )),
            Err(e) => {
                tracing::error!(error = %e, "recipient lookup failed");
                Err(Refusal::new(451, "4.3.0", "Temporary storage failure, try again later"))
            }
        }
    }

    /// A recipient at another operator: only submitted mail is relayed, and only to the trust
    /// space (reference spec §1.4: no gateway to ordinary e-mail).
    fn remote(&self, role: Role, address: String, domain: &str, peer: &str) -> Result<String, Refusal> {
        if role == Role::Mx {
            tracing::info!(target: "audit", event = "rcpt_refused", peer = %peer, recipient = %address, reason = "relay denied");
            return Err(Refusal::new(
                550,
                "5.7.1",
                format!("Relaying denied: this operator does not host {domain}"),
            ));
        }
        if !self.cfg.whitelist.current().contains(domain) {
            tracing::info!(target: "audit", event = "rcpt_refused", recipient = %address, reason = "not in the trust space");
            return Err(Refusal::new(
                550,
                "5.7.1",
                format!(
                    "{domain} n'est pas une messagerie sécurisée de santé : seules les adresses \
                 de l'espace de confiance MSSanté peuvent être jointes / {domain} is not in the \
                 MSSanté trust space (ANS whitelist)"
                ),
            ));
        }
        Ok(address)
    }
}
