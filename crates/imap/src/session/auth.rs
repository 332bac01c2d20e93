//! Authentication: LOGIN, AUTHENTICATE PLAIN / SCRAM-SHA-256 / XOAUTH2 / OAUTHBEARER / EXTERNAL
//! (RFC 9051 §6.2, RFC 4422, RFC 7677, RFC 7628), each through the one `Logins` door with its
//! throttle.

use confiance_auth::exchange::{Credential, Exchange, ExchangeError, Mechanism, Step};
use confiance_auth::login_scram::ScramStep;
use confiance_auth::sasl::SaslError;

use super::{Control, Session, tagged};
use crate::proto::command::CommandBody;

/// The same answer whether the address exists or not; the hint names the usual cause for a
/// mail client, whose user activated the BAL on the web (the account password then opens the
/// webmail only, with its second factor).
pub(crate) const LOGIN_REFUSED: &str = "[AUTHENTICATIONFAILED] Invalid address or password. A mailbox activated \
     on the web opens mail software with an app password, made on the webmail's account page (/compte).";

impl Session {
    /// LOGIN and AUTHENTICATE; an AUTHENTICATE without an initial response asks the connection
    /// loop for the client's first message.
    pub(crate) async fn login_family(&mut self, out: &mut Vec<u8>, tag: &str, body: CommandBody) -> Control {
        // No secret crosses a connection in clear (RFC 9051 §11.1): neither LOGIN nor any
        // mechanism before STARTTLS.
        if !self.tls {
            let refusal = "[PRIVACYREQUIRED] Use STARTTLS (or port 993) before logging in.";
            tagged(out, tag, "NO", refusal);
            return Control::Continue;
        }
        use CommandBody::*;
        match body {
            Login { username, password } => {
                let user = String::from_utf8_lossy(&username).into_owned();
                let pass = String::from_utf8_lossy(&password).into_owned();
                self.login(out, tag, user, pass, "LOGIN").await;
                Control::Continue
            }
            Authenticate {
                mechanism,
                initial_response,
            } => {
                let offered = Mechanism::parse(&mechanism).filter(|m| match m {
                    Mechanism::Plain | Mechanism::ScramSha256 => true,
                    Mechanism::XOAuth2 | Mechanism::OAuthBearer => self.cfg.logins.takes_tokens(),
                    Mechanism::External => self.card.is_some(),
                    Mechanism::Login => false,
                });
                let Some(mechanism) = offered else {
                    tagged(out, tag, "NO", "[CANNOT] Unsupported mechanism; see CAPABILITY.");
                    return Control::Continue;
                };
                let mut exchange = Exchange::new(mechanism);
                match initial_response {
                    Some(r) => {
                        let step = exchange.message(&r);
                        match self.authenticate(out, tag, exchange, step).await {
                            Some((exchange, challenge)) => {
                                Control::Authenticate(tag.to_string(), Box::new(exchange), challenge)
                            }
                            None => Control::Continue,
                        }
                    }
                    None => {
                        let first = exchange.first_challenge();
                        Control::Authenticate(tag.to_string(), Box::new(exchange), first)
                    }
                }
            }
            _ => unreachable!("dispatched by `handle`"),
        }
    }

    pub(crate) async fn login(&mut self, out: &mut Vec<u8>, tag: &str, user: String, pass: String, method: &str) {
        let attempt = confiance_auth::Attempt {
            protocol: "imap",
            method,
            peer: &self.peer,
        };
        let verified = self.cfg.logins.password(&user, pass, attempt).await;
        match verified {
            Some(account) => self.logged_in(out, tag, account),
            None => {
                tagged(out, tag, "NO", LOGIN_REFUSED);
            }
        }
    }

    /// One step of AUTHENTICATE (a message with the command, or after `+`): the exchange and
    /// the challenge to send when it goes on, else its end written to `out`.
    pub(crate) async fn authenticate(
        &mut self,
        out: &mut Vec<u8>,
        tag: &str,
        mut exchange: Exchange,
        step: Result<Step, ExchangeError>,
    ) -> Option<(Exchange, Vec<u8>)> {
        let mechanism = exchange.mechanism();
        let method = format!("AUTHENTICATE {}", mechanism.name());
        let credential = match step {
            Ok(Step::Done(credential)) => credential,
            Ok(Step::Challenge(challenge)) => return Some((exchange, challenge)),
            Err(ExchangeError::Cancelled) => {
                tagged(out, tag, "BAD", "Authentication cancelled.");
                return None;
            }
            Err(ExchangeError::ActingAsOther) => {
                tagged(
                    out,
                    tag,
                    "NO",
                    "[AUTHORIZATIONFAILED] Acting as another identity is not allowed.",
                );
                return None;
            }
            Err(ExchangeError::Malformed(SaslError::Utf8)) if mechanism == Mechanism::External => {
                tagged(out, tag, "BAD", "The authorization identity is not UTF-8.");
                return None;
            }
            Err(e) => {
                tagged(out, tag, "BAD", &format!("{e}."));
                return None;
            }
        };
        let attempt = confiance_auth::Attempt {
            protocol: "imap",
            method: &method,
            peer: &self.peer,
        };
        match credential {
            Credential::Password { user, password } => self.login(out, tag, user, password, &method).await,
            Credential::Token(bearer) => match self.cfg.logins.token(bearer, attempt).await {
                Some(account) => self.logged_in(out, tag, account),
                None => self.oauth_refused = Some(tag.to_string()),
            },
            // RFC 4422 appendix A: the message is the authorization identity (a mailbox), or empty.
            Credential::Scram(message) => match self.cfg.logins.scram(&mut exchange.scram, &message, attempt).await {
                ScramStep::Challenge(challenge) => return Some((exchange, challenge)),
                ScramStep::Done(account) => self.logged_in(out, tag, account),
                ScramStep::Refused => tagged(out, tag, "NO", LOGIN_REFUSED),
                ScramStep::Malformed(e) => tagged(out, tag, "BAD", &format!("{e}.")),
            },
            Credential::Card { authzid } => {
                match self.cfg.logins.card(self.card.as_ref(), Some(authzid), attempt).await {
                    Some(account) => self.logged_in(out, tag, account),
                    None => tagged(
                        out,
                        tag,
                        "NO",
                        "[AUTHENTICATIONFAILED] This certificate opens no active mailbox of that name.",
                    ),
                }
            }
        }
        None
    }

    /// The end of a refused XOAUTH2/OAUTHBEARER exchange, once the client answered the error
    /// challenge.
    pub(crate) fn oauth_refusal(tag: &str, out: &mut Vec<u8>) {
        tagged(
            out,
            tag,
            "NO",
            "[AUTHENTICATIONFAILED] Invalid or expired Pro Santé Connect token, or a mailbox this identity does not hold.",
        );
    }

    pub(crate) fn logged_in(&mut self, out: &mut Vec<u8>, tag: &str, account: confiance_mail::model::Account) {
        self.changes = Some(self.svc.subscribe(account.id));
        self.ending = Some(self.svc.ending(account.id));
        self.account = Some(account);
        tagged(
            out,
            tag,
            "OK",
            &format!("[CAPABILITY {}] Logged in", self.capabilities()),
        );
    }
}
