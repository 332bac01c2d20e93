//! Who may send what: the checks of MAIL, RCPT and DATA as functions of what they look at,
//! each refusal typed with its reply code, enhanced status code (RFC 3463) and sentence. The
//! dialogue (`session`) and the webmail (`submit`) apply the same ones.

use std::fmt;

use confiance_core::Address;
use confiance_mail::model::Account;
use confiance_trust::WhitelistSource;
use confiance_trust::dn::Dn;

use crate::server::Role;
use crate::{SmtpConfig, dsn};

/// Received: fields beyond which a message is taken to be looping (RFC 5321 §6.3).
const MAX_HOPS: usize = 50;

/// A refused step: `550 5.7.1 …` on the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: u16,
    /// RFC 3463 enhanced status code.
    pub status: &'static str,
    pub text: String,
}

impl Refusal {
    pub fn new(code: u16, status: &'static str, text: impl Into<String>) -> Refusal {
        Refusal {
            code,
            status,
            text: text.into(),
        }
    }

    /// The reply line, CRLF included.
    pub fn line(&self) -> String {
        format!("{self}\r\n")
    }

    /// A temporary failure (4xx): the client should try again later.
    pub fn is_temporary(&self) -> bool {
        self.code < 500
    }

    /// The sentence for a person, without codes: our refusals are written `français /
    /// English`, of which the half in their language; others as they are.
    pub fn sentence(&self, french: bool) -> &str {
        match (self.text.split_once(" / "), plain(self.status)) {
            (Some((fr, _)), _) if french => fr.trim(),
            (Some((_, en)), _) => en.trim(),
            // A reply written for SMTP clients only: what its status means, for a person.
            (None, Some((fr, en))) => match french {
                true => fr,
                false => en,
            },
            (None, None) => self.text.trim(),
        }
    }
}

/// What the enhanced status codes (RFC 3463) of our one-language replies mean for a person
/// (French, English): the webmail says these, never the reply.
fn plain(status: &str) -> Option<(&'static str, &'static str)> {
    Some(match status {
        "5.1.1" => (
            "cette adresse n'existe pas chez son opérateur ; vérifiez-la dans l'annuaire",
            "this address does not exist at its operator; check it in the directory",
        ),
        "5.1.3" => ("cette adresse est mal écrite", "this address is not written correctly"),
        "5.1.7" => (
            "l'adresse d'expéditeur est mal écrite",
            "the sender's address is not written correctly",
        ),
        "5.2.2" => (
            "la BAL du destinataire est pleine ; prévenez-le par un autre moyen",
            "the recipient's mailbox is full; reach them another way",
        ),
        "5.3.4" => ("le message est trop volumineux", "the message is too large"),
        "4.5.3" | "5.5.3" => (
            "trop de destinataires pour un seul message ; envoyez-le en plusieurs fois",
            "too many recipients for one message; send it in several parts",
        ),
        "5.5.1" => ("aucun destinataire n'a été accepté", "no recipient was accepted"),
        "4.3.0" => (
            "le serveur a eu un problème passager ; réessayez dans un instant",
            "the server had a passing problem; try again in a moment",
        ),
        "4.7.1" => (
            "trop de messages en peu de temps ; réessayez dans une minute",
            "too many messages in a short time; try again in a minute",
        ),
        _ => return None,
    })
}

/// RFC 5321 §4.5.3.1.8: past the recipients a message may have, the next ones wait.
pub fn too_many_recipients(max: usize) -> Refusal {
    Refusal::new(452, "4.5.3", format!("Too many recipients: at most {max} per message"))
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.code, self.status, self.text)
    }
}

/// RFC 1870, 6152, 6531, 3461: the MAIL parameters this server knows.
pub fn mail_parameters(params: &[(String, Option<String>)], max_size: u64) -> Result<(), Refusal> {
    for (name, value) in params {
        match (name.as_str(), value.as_deref()) {
            ("SIZE", Some(v)) => match v.parse::<u64>() {
                Ok(size) if size > max_size => {
                    return Err(Refusal::new(
                        552,
                        "5.3.4",
                        format!("Message size {size} exceeds the limit of {max_size} bytes"),
                    ));
                }
                Ok(_) => {}
                Err(_) => return Err(Refusal::new(501, "5.5.4", "Invalid SIZE value")),
            },
            ("BODY", Some(v)) if ["7BIT", "8BITMIME"].contains(&v.to_ascii_uppercase().as_str()) => {}
            ("RET", Some(v)) if v.eq_ignore_ascii_case("FULL") || v.eq_ignore_ascii_case("HDRS") => {}
            ("SMTPUTF8", None) | ("ENVID", Some(_)) | ("AUTH", Some(_)) => {}
            _ => {
                return Err(Refusal::new(555, "5.5.4", format!("Unsupported MAIL parameter {name}")));
            }
        }
    }
    Ok(())
}

/// MSSanté: a professional sends from the mailbox they authenticated for, nothing else;
/// without authentication (a trusted network) any well-formed sender, or none.
pub fn sender(sender: &str, account: Option<&Account>) -> Result<(), Refusal> {
    match account {
        Some(account) if !Address::parse(sender).is_ok_and(|a| a.to_string() == account.address) => Err(Refusal::new(
            553,
            "5.7.1",
            format!(
                "Sender <{sender}> is not the authenticated mailbox <{}>",
                account.address
            ),
        )),
        Some(_) => Ok(()),
        None if sender.is_empty() => Ok(()),
        None => Address::parse(sender)
            .map(|_| ())
            .map_err(|e| Refusal::new(501, "5.1.7", format!("Bad sender address <{sender}>: {e}"))),
    }
}

/// RFC 3461 §4: NOTIFY (NEVER alone, or any of SUCCESS, FAILURE, DELAY) and ORCPT.
pub fn rcpt_parameters(params: &[(String, Option<String>)]) -> Result<(), Refusal> {
    for (name, value) in params {
        let valid = match (name.as_str(), value.as_deref()) {
            ("NOTIFY", Some(v)) => {
                let words: Vec<String> = v.split(',').map(|w| w.to_ascii_uppercase()).collect();
                words == ["NEVER"]
                    || words
                        .iter()
                        .all(|w| ["SUCCESS", "FAILURE", "DELAY"].contains(&w.as_str()))
            }
            // RFC 3461 §4.2: addr-type ";" xtext.
            ("ORCPT", Some(v)) => v.split_once(';').is_some_and(|(t, a)| !t.is_empty() && !a.is_empty()),
            _ => false,
        };
        if !valid {
            return Err(Refusal::new(
                501,
                "5.5.4",
                format!("Invalid or unsupported RCPT parameter {name}"),
            ));
        }
    }
    Ok(())
}

/// MX: the peer must be an operator of the trust space, speaking for the sender's domain
/// (its certificate's DN listed for that domain in the ANS whitelist).
pub fn peer_operator(
    whitelist: &WhitelistSource,
    peer_dn: Option<&Result<Dn, String>>,
    sender: &str,
) -> Result<(), Refusal> {
    let dn = match peer_dn {
        None => {
            return Err(Refusal::new(
                530,
                "5.7.0",
                "A client certificate is required: operators of the MSSanté trust \
                            space present their IGC-Santé certificate",
            ));
        }
        Some(Err(e)) => {
            return Err(Refusal::new(
                550,
                "5.7.1",
                format!("Unreadable client certificate: {e}"),
            ));
        }
        Some(Ok(dn)) => dn,
    };
    let whitelist = whitelist.current();
    if sender.is_empty() {
        // A delivery report: any operator of the trust space may send one.
        return match whitelist.lists_dn(dn) {
            true => Ok(()),
            false => Err(Refusal::new(
                550,
                "5.7.1",
                format!("Certificate {dn} is not in the MSSanté whitelist"),
            )),
        };
    }
    let address = Address::parse(sender)
        .map_err(|e| Refusal::new(501, "5.1.7", format!("Bad sender address <{sender}>: {e}")))?;
    let domain = address.domain();
    if !whitelist.contains(domain) {
        return Err(Refusal::new(
            550,
            "5.7.1",
            format!("Sender domain {domain} is not in the MSSanté trust space"),
        ));
    }
    if !whitelist.allows(domain, dn) {
        return Err(Refusal::new(
            550,
            "5.7.1",
            format!("Certificate {dn} is not listed for {domain} in the MSSanté whitelist"),
        ));
    }
    Ok(())
}

/// Where a message comes from, as the checks of DATA need it.
pub struct Origin<'a> {
    pub role: Role,
    /// The authenticated BAL on submission (none from a trusted network).
    pub account: Option<&'a Account>,
    /// On the MX, the delivering operator's certificate.
    pub peer_dn: Option<&'a Result<Dn, String>>,
}

/// RFC 5321 §6.3: a message that went round too many relays is in a loop.
pub fn hops(message: &[u8]) -> Result<(), Refusal> {
    let hops = String::from_utf8_lossy(dsn::header_of(message))
        .split("\r\n")
        .filter(|l| {
            l.as_bytes()
                .get(..9)
                .is_some_and(|n| n.eq_ignore_ascii_case(b"received:"))
        })
        .count();
    match hops >= MAX_HOPS {
        true => Err(Refusal::new(
            554,
            "5.4.6",
            format!("Mail loop: the message went through {hops} relays"),
        )),
        false => Ok(()),
    }
}

/// RFC 5322 §2.3: a bare CR hides line ends from some MTAs (`\r.\r` smuggles a second
/// message past them), so submitted mail never carries one on to the trust space.
pub fn line_ends(role: Role, message: &[u8]) -> Result<(), Refusal> {
    match role == Role::Submission && has_bare_cr(message) {
        true => Err(Refusal::new(
            550,
            "5.6.0",
            "Le message contient un retour chariot isolé (CR sans LF) : le logiciel \
             d'envoi doit terminer chaque ligne par CRLF / the message holds a bare CR \
             (RFC 5322 §2.3)",
        )),
        false => Ok(()),
    }
}

/// One author per message, and the right one: on submission (and the webmail) the
/// authenticated mailbox; on the MX, an address of a domain the delivering operator's
/// certificate is listed for, never one of ours. Null-sender mail must be a report.
pub fn author(cfg: &SmtpConfig, origin: &Origin<'_>, envelope_sender: &str, message: &[u8]) -> Result<(), Refusal> {
    let author = confiance_mail::message::author::author(message)
        .map_err(|e| Refusal::new(550, "5.7.1", format!("Message refusé : {}", e.sentence())))?;
    match origin.role {
        Role::Submission => {
            let Some(account) = origin.account else {
                // Trusted networks (an application server) may sign as anyone.
                return Ok(());
            };
            for (field, address) in [("From", &author.from), ("Sender", &author.sender)] {
                if let Some(a) = address
                    && a.to_string() != account.address
                {
                    return Err(Refusal::new(
                        550,
                        "5.7.1",
                        format!(
                            "Le champ {field}: doit être votre adresse <{mine}> / \
                             The {field}: header must be your own address <{mine}>",
                            mine = account.address
                        ),
                    ));
                }
            }
            Ok(())
        }
        Role::Mx => {
            let Some(from) = author.from else {
                return Err(Refusal::new(
                    550,
                    "5.7.1",
                    "Message refusé : il n'a pas de champ From: / \
                                the message has no From: field (RFC 5322 §3.6)",
                ));
            };
            let Some(Ok(dn)) = origin.peer_dn else {
                return Err(Refusal::new(530, "5.7.0", "A client certificate is required"));
            };
            if envelope_sender.is_empty() && !author.is_report {
                // RFC 3464, RFC 8098: what comes from the null sender is a report.
                return Err(Refusal::new(
                    550,
                    "5.7.1",
                    "Un message sans expéditeur d'enveloppe doit être \
                                un rapport (multipart/report) / null-sender mail must be a report",
                ));
            }
            for (field, address) in [("From", Some(&from)), ("Sender", author.sender.as_ref())] {
                let Some(address) = address else { continue };
                let domain = address.domain();
                if cfg.hosts(domain) {
                    return Err(Refusal::new(
                        550,
                        "5.7.1",
                        format!(
                            "Un autre opérateur ne peut pas écrire au nom de {domain}, \
                             hébergé ici ({field}:) / another operator cannot sign as {domain}, hosted here"
                        ),
                    ));
                }
                // A report may come from the MTA itself (MAILER-DAEMON@its host name), the
                // name its certificate carries.
                let own_host =
                    envelope_sender.is_empty() && dn.get("CN").is_some_and(|cn| cn.eq_ignore_ascii_case(domain));
                if !own_host && !cfg.whitelist.current().allows(domain, dn) {
                    return Err(Refusal::new(
                        550,
                        "5.7.1",
                        format!(
                            "Le champ {field}: ({domain}) n'est pas un domaine de \
                             l'opérateur qui remet le message / the {field}: domain {domain} is not \
                             listed for certificate {dn} in the MSSanté whitelist"
                        ),
                    ));
                }
            }
            Ok(())
        }
    }
}

/// Whether `message` (lines already ending in CRLF) holds a CR that does not end a line.
fn has_bare_cr(message: &[u8]) -> bool {
    message
        .iter()
        .enumerate()
        .any(|(i, b)| *b == b'\r' && message.get(i + 1) != Some(&b'\n'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_is_said_without_codes_in_the_reader_s_language() {
        let r = Refusal::new(550, "5.7.1", "<a@b.fr> a clos cet échange / the professional closed");
        assert_eq!(r.sentence(true), "<a@b.fr> a clos cet échange");
        assert_eq!(r.sentence(false), "the professional closed");
        assert_eq!(
            Refusal::new(554, "5.5.1", "No valid recipients").sentence(true),
            "aucun destinataire n'a été accepté"
        );
        assert_eq!(
            too_many_recipients(3).line(),
            "452 4.5.3 Too many recipients: at most 3 per message\r\n"
        );
    }

    #[test]
    fn one_language_replies_are_said_plainly_in_both() {
        let full = Refusal::new(552, "5.2.2", "Mailbox full: anne@medecin.test");
        assert_eq!(
            full.sentence(true),
            "la BAL du destinataire est pleine ; prévenez-le par un autre moyen"
        );
        assert_eq!(
            full.sentence(false),
            "the recipient's mailbox is full; reach them another way"
        );
        let ours = Refusal::new(550, "5.1.1", "pas ici / not here");
        assert_eq!(ours.sentence(true), "pas ici");
        let other = Refusal::new(550, "5.7.1", "Message refusé : trop de champs");
        assert_eq!(other.sentence(false), "Message refusé : trop de champs");
        assert!(!too_many_recipients(100).sentence(true).contains("Too many"));
    }
}
