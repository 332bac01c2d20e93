//! The patients' side: who wrote to a patient, recorded as their messages are delivered
//! (the `From` and the `Reply-To` a professional gives, ENS Mon Espace Santé v1.3 §9), and
//! whether the last message closed the exchange (`X-MSS-MES: FIN` or `[FIN]`, §7).

use confiance_core::patient::closes_exchange;
use confiance_store::{AccountId, Exchange};
use mail_parser::MessageParser;

use crate::{MailService, Result};

/// The addresses a patient may answer after `message`, and whether it closed the exchange.
pub fn contacts_of(message: &[u8]) -> (Vec<String>, Exchange) {
    let Some(m) = MessageParser::default().parse(message) else {
        return (Vec::new(), Exchange::Open);
    };
    let mut addresses: Vec<String> = crate::summary::addresses(m.from())
        .into_iter()
        .chain(crate::summary::addresses(m.reply_to()))
        .map(|(_, a)| a.to_lowercase())
        .filter(|a| confiance_core::Address::parse(a).is_ok())
        .collect();
    addresses.dedup();
    let closes = closes_exchange(
        m.header("X-MSS-MES").and_then(|h| h.as_text()),
        m.subject().unwrap_or_default(),
    );
    let exchange = if closes { Exchange::Closed } else { Exchange::Open };
    (addresses, exchange)
}

impl MailService {
    /// Records, for each patient BAL a message was delivered to, that its sender (and the
    /// Reply-To it gives) wrote, and whether it closed the exchange.
    pub async fn note_contacts(&self, patients: Vec<AccountId>, message: std::sync::Arc<Vec<u8>>) -> Result<()> {
        let at = chrono::Utc::now().timestamp();
        self.run(move |s| {
            let (addresses, exchange) = contacts_of(&message);
            for patient in &patients {
                for a in &addresses {
                    s.note_contact(*patient, a, exchange, at)?;
                }
            }
            Ok(())
        })
        .await
    }

    /// Where `patient`'s exchange with `professional` stands; `None` when they never wrote.
    pub async fn exchange(&self, patient: AccountId, professional: String) -> Result<Option<Exchange>> {
        self.run(move |s| s.contact(patient, &professional)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_opens_or_closes_for_its_sender_and_reply_to() {
        let m = b"From: Dr Durand <Paul.Durand@medecin.op.fr>\r\nReply-To: secretariat@medecin.op.fr\r\nSubject: Resultats\r\n\r\nx\r\n";
        let (a, e) = contacts_of(m);
        assert_eq!(a, vec!["paul.durand@medecin.op.fr", "secretariat@medecin.op.fr"]);
        assert_eq!(e, Exchange::Open);
        let fin = b"From: paul.durand@medecin.op.fr\r\nX-MSS-MES: FIN\r\nSubject: Fin\r\n\r\nx\r\n";
        assert_eq!(contacts_of(fin).1, Exchange::Closed);
        assert_eq!(
            contacts_of(b"Subject: [FIN] merci\r\nFrom: a@b.fr\r\n\r\n").1,
            Exchange::Closed
        );
    }
}
