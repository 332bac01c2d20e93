//! A SASL exchange (RFC 4422) as both fronts run it: the mechanism, the challenges, the
//! client's messages, and the credential they add up to. IMAP (`+ …`) and SMTP (`334 …`) only
//! frame the challenges and check the credential through `Logins`.

use crate::sasl::{self, Bearer, SaslError};

/// The mechanisms this operator offers (each front says which, by TLS and configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// RFC 4616.
    Plain,
    /// The draft-murchison-sasl-login mechanism many mail clients still use (SMTP only).
    Login,
    /// Google's XOAUTH2 and RFC 7628 OAUTHBEARER, with a Pro Santé Connect token.
    XOAuth2,
    OAuthBearer,
    /// RFC 4422 appendix A, with the CPS card of the TLS handshake.
    External,
    /// RFC 7677: the password never crosses the wire, the server proves it holds the keys.
    ScramSha256,
}

impl Mechanism {
    pub fn parse(name: &str) -> Option<Mechanism> {
        Some(match name.to_ascii_uppercase().as_str() {
            "PLAIN" => Mechanism::Plain,
            "LOGIN" => Mechanism::Login,
            "XOAUTH2" => Mechanism::XOAuth2,
            "OAUTHBEARER" => Mechanism::OAuthBearer,
            "EXTERNAL" => Mechanism::External,
            "SCRAM-SHA-256" => Mechanism::ScramSha256,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::Login => "LOGIN",
            Mechanism::XOAuth2 => "XOAUTH2",
            Mechanism::OAuthBearer => "OAUTHBEARER",
            Mechanism::External => "EXTERNAL",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
        }
    }

    pub fn is_token(self) -> bool {
        matches!(self, Mechanism::XOAuth2 | Mechanism::OAuthBearer)
    }
}

/// What the client's messages add up to.
#[derive(Debug, PartialEq, Eq)]
pub enum Credential {
    Password {
        user: String,
        password: String,
    },
    Token(Bearer),
    /// The CPS card of the handshake, for the mailbox named (or the holder's only one).
    Card {
        authzid: String,
    },
    /// A SCRAM message, for `Logins::scram` with the exchange's state.
    Scram(Vec<u8>),
}

/// Where the exchange stands after a client message.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Send this challenge (not yet base64-encoded) and feed the client's answer back.
    Challenge(Vec<u8>),
    Done(Credential),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ExchangeError {
    #[error("authentication cancelled")]
    Cancelled,
    #[error(transparent)]
    Malformed(#[from] SaslError),
    /// RFC 4616 authzid naming someone else: nobody acts as another here.
    #[error("acting as another identity is not allowed")]
    ActingAsOther,
}

pub struct Exchange {
    mechanism: Mechanism,
    /// LOGIN: the user name, once given.
    user: Option<String>,
    /// SCRAM: where the exchange stands.
    pub scram: crate::login_scram::ScramState,
}

impl Exchange {
    pub fn new(mechanism: Mechanism) -> Exchange {
        Exchange {
            mechanism,
            user: None,
            scram: Default::default(),
        }
    }

    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// The challenge that asks for the first message when the client sent none with the
    /// command (no SASL-IR): empty, or LOGIN's "Username:".
    pub fn first_challenge(&self) -> Vec<u8> {
        match self.mechanism {
            Mechanism::Login => b"Username:".to_vec(),
            _ => Vec::new(),
        }
    }

    /// A line the client sent during the exchange: `*` cancels (RFC 4954 §4, RFC 9051
    /// §6.2.2), anything else is a base64 message.
    pub fn line(&mut self, line: &[u8]) -> Result<Step, ExchangeError> {
        if line.trim_ascii() == b"*" {
            return Err(ExchangeError::Cancelled);
        }
        let message = sasl::decode_base64(line.trim_ascii())?;
        self.message(&message)
    }

    /// One client message, already decoded.
    pub fn message(&mut self, message: &[u8]) -> Result<Step, ExchangeError> {
        let text = || String::from_utf8(message.to_vec()).map_err(|_| SaslError::Utf8);
        let credential = match self.mechanism {
            Mechanism::Plain => {
                let c = sasl::decode_plain(message)?;
                if c.authzid.as_ref().is_some_and(|z| !z.eq_ignore_ascii_case(&c.username)) {
                    return Err(ExchangeError::ActingAsOther);
                }
                Credential::Password {
                    user: c.username,
                    password: c.password,
                }
            }
            Mechanism::Login => match self.user.take() {
                None => {
                    self.user = Some(String::from_utf8_lossy(message).into_owned());
                    return Ok(Step::Challenge(b"Password:".to_vec()));
                }
                Some(user) => Credential::Password {
                    user,
                    password: String::from_utf8_lossy(message).into_owned(),
                },
            },
            Mechanism::XOAuth2 => Credential::Token(sasl::decode_xoauth2(message)?),
            Mechanism::OAuthBearer => Credential::Token(sasl::decode_oauthbearer(message)?),
            Mechanism::External => Credential::Card { authzid: text()? },
            Mechanism::ScramSha256 => Credential::Scram(message.to_vec()),
        };
        Ok(Step::Done(credential))
    }
}

/// RFC 7628 §3.2.2: the challenge that tells a client its token was refused; its answer
/// (a dummy `^A`) ends the exchange with the failure.
pub fn token_refused_challenge() -> Vec<u8> {
    sasl::oauth_error_json().into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_login_and_external() {
        let mut plain = Exchange::new(Mechanism::Plain);
        assert_eq!(
            plain.line(b"AGFsaWNlAHNlY3JldA==").unwrap(),
            Step::Done(Credential::Password {
                user: "alice".into(),
                password: "secret".into()
            })
        );
        let mut other = Exchange::new(Mechanism::Plain);
        assert_eq!(other.message(b"bob\0alice\0secret"), Err(ExchangeError::ActingAsOther));
        let mut login = Exchange::new(Mechanism::Login);
        assert_eq!(login.first_challenge(), b"Username:");
        assert_eq!(login.message(b"alice"), Ok(Step::Challenge(b"Password:".to_vec())));
        assert_eq!(
            login.message(b"secret"),
            Ok(Step::Done(Credential::Password {
                user: "alice".into(),
                password: "secret".into()
            }))
        );
        assert_eq!(
            Exchange::new(Mechanism::Plain).line(b"*"),
            Err(ExchangeError::Cancelled)
        );
        assert_eq!(
            Exchange::new(Mechanism::Plain).line(b"!!"),
            Err(ExchangeError::Malformed(SaslError::Base64))
        );
        assert_eq!(
            Exchange::new(Mechanism::External).message(b"\xff"),
            Err(ExchangeError::Malformed(SaslError::Utf8))
        );
        assert_eq!(Mechanism::parse("xoauth2"), Some(Mechanism::XOAuth2));
        assert_eq!(Mechanism::parse("CRAM-MD5"), None);
    }
}
