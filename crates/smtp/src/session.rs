//! The SMTP submission dialogue (RFC 5321, RFC 6409): who may send what to whom.

use std::sync::Arc;

use confiance_auth::exchange::{Credential, Exchange, ExchangeError, Mechanism, Step, token_refused_challenge};
use confiance_auth::login_scram::ScramStep;
use confiance_auth::sasl::{SaslError, encode_base64};
use confiance_mail::MailService;
use confiance_mail::model::Account;
use confiance_trust::dn::Dn;

use crate::SmtpConfig;
use crate::command::{Command, SyntaxError, parse_command};
use crate::policy;
use crate::routing::{Route, Router};
use crate::server::Role;
use crate::transaction::{self, Envelope, Source};

/// As on IMAP: one answer for every refusal, with the usual cause for a mail client.
const LOGIN_REFUSED: &str = "535 5.7.8 Authentication credentials invalid; a mailbox activated on the web \
     opens mail software with an app password, made on the webmail's account page (/compte)\r\n";

pub enum Next {
    Continue,
    Quit,
    StartTls,
    Data,
    /// Send this challenge line and hand the client's answer to `auth_response`.
    AuthContinue(String),
}

pub struct Session {
    svc: Arc<MailService>,
    pub(crate) cfg: Arc<SmtpConfig>,
    role: Role,
    peer: String,
    /// On the MX: the subject of the certificate the peer operator presented, once TLS is up
    /// (`None`: no certificate; `Err`: unreadable).
    pub(crate) peer_dn: Option<Result<Dn, String>>,
    /// The peer is in `trusted_networks`: no TLS or AUTH required, any sender.
    trusted: bool,
    /// Protocol and suite once TLS is up.
    pub(crate) tls: Option<String>,
    /// The card (CPS) or organisation certificate presented in the TLS handshake, for AUTH EXTERNAL.
    pub(crate) card: Option<confiance_auth::certificate::ClientCertificate>,
    helo: Option<String>,
    account: Option<Account>,
    /// Turns true when the logged-in account is suspended or deleted.
    ending: Option<tokio::sync::watch::Receiver<bool>>,
    envelope: Option<Envelope>,
    /// The SASL exchange in progress, if any.
    auth: Option<Exchange>,
    /// A refused token: the RFC 7628 error challenge was sent, the client's dummy answer is
    /// awaited before the failure.
    token_refused: bool,
}

impl Session {
    pub fn new(svc: Arc<MailService>, cfg: Arc<SmtpConfig>, role: Role, peer: String, trusted: bool) -> Self {
        Session {
            svc,
            cfg,
            role,
            peer,
            peer_dn: None,
            trusted,
            tls: None,
            card: None,
            helo: None,
            account: None,
            ending: None,
            envelope: None,
            auth: None,
            token_refused: false,
        }
    }

    pub fn greeting(&self) -> String {
        format!(
            "220 {} ESMTP Confiance, messagerie sécurisée de santé\r\n",
            self.cfg.hostname
        )
    }

    fn ehlo_lines(&self) -> Vec<String> {
        let mut lines = vec![
            format!("{} bonjour", self.cfg.hostname),
            "PIPELINING".into(),
            "8BITMIME".into(),
            "SMTPUTF8".into(),
            "ENHANCEDSTATUSCODES".into(),
            "DSN".into(),
            format!("SIZE {}", self.cfg.max_message_size),
        ];
        if self.tls.is_none() {
            lines.push("STARTTLS".into());
        } else if self.account.is_none() && self.role == Role::Submission {
            let mut auth = String::from("AUTH PLAIN LOGIN SCRAM-SHA-256");
            if self.cfg.logins.takes_tokens() {
                // MSSanté client interface (ECO.1.2.1): TLS, then XOAUTH2 with a PSC token.
                auth.push_str(" XOAUTH2 OAUTHBEARER");
            }
            if self.card.is_some() {
                auth.push_str(" EXTERNAL");
            }
            lines.push(auth);
        }
        lines
    }

    fn logged_in(&mut self, account: Account) {
        self.ending = Some(self.svc.ending(account.id));
        self.account = Some(account);
    }

    pub async fn command(&mut self, line: &[u8], out: &mut String) -> Next {
        if self.ending.as_ref().is_some_and(|rx| *rx.borrow()) {
            // Suspended or deleted while this session was open: nothing more is sent from it.
            out.push_str("421 4.7.1 Boite aux lettres suspendue, connexion fermee / Mailbox suspended, closing\r\n");
            return Next::Quit;
        }
        let Ok(text) = std::str::from_utf8(line) else {
            out.push_str("500 5.5.2 The command is not valid UTF-8\r\n");
            return Next::Continue;
        };
        let cmd = match parse_command(text) {
            Ok(c) => c,
            Err(SyntaxError::Unknown) => {
                out.push_str("500 5.5.1 Unknown command\r\n");
                return Next::Continue;
            }
            Err(SyntaxError::Arguments(why)) => {
                out.push_str(&format!("501 5.5.4 Syntax error: {why}\r\n"));
                return Next::Continue;
            }
        };
        match cmd {
            Command::Ehlo(name) => {
                self.helo = Some(name);
                self.envelope = None;
                let lines = self.ehlo_lines();
                for (i, l) in lines.iter().enumerate() {
                    let sep = if i + 1 == lines.len() { ' ' } else { '-' };
                    out.push_str(&format!("250{sep}{l}\r\n"));
                }
            }
            Command::Helo(name) => {
                self.helo = Some(name);
                self.envelope = None;
                out.push_str(&format!("250 {}\r\n", self.cfg.hostname));
            }
            Command::StartTls => {
                if self.tls.is_some() {
                    out.push_str("503 5.5.1 TLS is already active\r\n");
                } else {
                    out.push_str("220 2.0.0 Ready to start TLS\r\n");
                    // RFC 3207 §4.2: forget everything learnt before TLS.
                    self.helo = None;
                    self.envelope = None;
                    return Next::StartTls;
                }
            }
            Command::Auth(mechanism, initial) => return self.auth_start(&mechanism, initial, out).await,
            Command::Mail(sender, params) => self.mail(sender, params, out).await,
            Command::Rcpt(address, params) => self.rcpt(address, params, out).await,
            Command::Data => match &self.envelope {
                None => out.push_str("503 5.5.1 MAIL FROM first\r\n"),
                Some(e) if e.recipients.is_empty() => out.push_str("554 5.5.1 No valid recipients\r\n"),
                Some(_) => {
                    out.push_str("354 Start mail input; end with <CRLF>.<CRLF>\r\n");
                    return Next::Data;
                }
            },
            Command::Rset => {
                self.envelope = None;
                out.push_str("250 2.0.0 OK\r\n");
            }
            Command::Noop => out.push_str("250 2.0.0 OK\r\n"),
            Command::Vrfy => {
                out.push_str("252 2.5.0 Cannot verify the user; send and the message will be delivered\r\n")
            }
            Command::Help => {
                out.push_str("214 2.0.0 See RFC 5321; commands: EHLO MAIL RCPT DATA RSET NOOP QUIT STARTTLS AUTH\r\n")
            }
            Command::Bdat => out.push_str("502 5.5.1 CHUNKING is not offered; use DATA\r\n"),
            Command::Quit => {
                out.push_str("221 2.0.0 Au revoir\r\n");
                return Next::Quit;
            }
        }
        Next::Continue
    }

    async fn auth_start(&mut self, mechanism: &str, initial: Option<String>, out: &mut String) -> Next {
        if self.role == Role::Mx {
            out.push_str("503 5.5.1 AUTH is not offered here: operators authenticate with their certificate\r\n");
            return Next::Continue;
        }
        if self.tls.is_none() {
            out.push_str("538 5.7.11 Encryption required: use STARTTLS before AUTH\r\n");
            return Next::Continue;
        }
        if self.account.is_some() {
            out.push_str("503 5.5.1 Already authenticated\r\n");
            return Next::Continue;
        }
        if self.envelope.is_some() {
            out.push_str("503 5.5.1 AUTH is not allowed during a mail transaction\r\n");
            return Next::Continue;
        }
        let offered = Mechanism::parse(mechanism).filter(|m| match m {
            Mechanism::Plain | Mechanism::Login | Mechanism::ScramSha256 => true,
            Mechanism::External => self.card.is_some(),
            Mechanism::XOAuth2 | Mechanism::OAuthBearer => self.cfg.logins.takes_tokens(),
        });
        let Some(mechanism) = offered else {
            out.push_str("504 5.5.4 Unsupported mechanism; see the AUTH line of EHLO\r\n");
            return Next::Continue;
        };
        let exchange = Exchange::new(mechanism);
        let first = exchange.first_challenge();
        self.auth = Some(exchange);
        match initial {
            Some(ir) => self.auth_response(ir.as_bytes(), out).await,
            None => Next::AuthContinue(format!("334 {}\r\n", encode_base64(&first))),
        }
    }

    pub async fn auth_response(&mut self, line: &[u8], out: &mut String) -> Next {
        let refused_before = std::mem::take(&mut self.token_refused);
        let Some(mut exchange) = self.auth.take() else {
            out.push_str("503 5.5.1 No authentication in progress\r\n");
            return Next::Continue;
        };
        let step = match exchange.line(line) {
            Err(ExchangeError::Cancelled) => {
                out.push_str("501 5.0.0 Authentication cancelled\r\n");
                return Next::Continue;
            }
            Err(ExchangeError::Malformed(SaslError::Base64)) => {
                out.push_str("501 5.5.2 Invalid base64 in the authentication exchange\r\n");
                return Next::Continue;
            }
            _ if refused_before => {
                out.push_str(
                    "535 5.7.8 Invalid or expired Pro Santé Connect token, or a mailbox this identity does not hold\r\n",
                );
                return Next::Continue;
            }
            step => step,
        };
        let mechanism = exchange.mechanism();
        match step {
            Ok(Step::Challenge(challenge)) => {
                self.auth = Some(exchange);
                return Next::AuthContinue(format!("334 {}\r\n", encode_base64(&challenge)));
            }
            Ok(Step::Done(Credential::Password { user, password })) => {
                self.login(&user, &password, mechanism.name(), out).await
            }
            Ok(Step::Done(Credential::Token(bearer))) => {
                if !self.login_bearer(bearer, mechanism.name(), out).await {
                    // RFC 7628 §3.2.2: the error challenge, then the client's dummy answer.
                    self.token_refused = true;
                    self.auth = Some(exchange);
                    return Next::AuthContinue(format!("334 {}\r\n", encode_base64(&token_refused_challenge())));
                }
            }
            Ok(Step::Done(Credential::Scram(message))) => {
                let attempt = confiance_auth::Attempt {
                    protocol: "smtp",
                    method: mechanism.name(),
                    peer: &self.peer,
                };
                match self.cfg.logins.scram(&mut exchange.scram, &message, attempt).await {
                    ScramStep::Challenge(challenge) => {
                        self.auth = Some(exchange);
                        return Next::AuthContinue(format!("334 {}\r\n", encode_base64(&challenge)));
                    }
                    ScramStep::Done(a) => {
                        self.logged_in(a);
                        out.push_str("235 2.7.0 Authentication successful\r\n");
                    }
                    ScramStep::Refused => out.push_str(LOGIN_REFUSED),
                    ScramStep::Malformed(e) => out.push_str(&format!("501 5.5.2 {e}\r\n")),
                }
            }
            Ok(Step::Done(Credential::Card { authzid })) => {
                let attempt = confiance_auth::Attempt {
                    protocol: "smtp",
                    method: "EXTERNAL",
                    peer: &self.peer,
                };
                match self.cfg.logins.card(self.card.as_ref(), Some(authzid), attempt).await {
                    Some(a) => {
                        self.logged_in(a);
                        out.push_str("235 2.7.0 Authentication successful\r\n");
                    }
                    None => out.push_str("535 5.7.8 This certificate opens no active mailbox of that name\r\n"),
                }
            }
            Err(ExchangeError::ActingAsOther) => {
                out.push_str("535 5.7.8 Acting as another identity is not allowed\r\n")
            }
            Err(e) => out.push_str(&format!("501 5.5.2 {e}\r\n")),
        }
        Next::Continue
    }

    /// True when the token opened the mailbox (235 written); false for the error challenge.
    async fn login_bearer(&mut self, bearer: confiance_auth::sasl::Bearer, method: &str, out: &mut String) -> bool {
        let attempt = confiance_auth::Attempt {
            protocol: "smtp",
            method,
            peer: &self.peer,
        };
        match self.cfg.logins.token(bearer, attempt).await {
            Some(a) => {
                self.logged_in(a);
                out.push_str("235 2.7.0 Authentication successful\r\n");
                true
            }
            None => false,
        }
    }

    async fn login(&mut self, user: &str, password: &str, method: &str, out: &mut String) {
        let attempt = confiance_auth::Attempt {
            protocol: "smtp",
            method,
            peer: &self.peer,
        };
        let verified = self.cfg.logins.password(user, password.to_string(), attempt).await;
        match verified {
            Some(a) => {
                self.logged_in(a);
                out.push_str("235 2.7.0 Authentication successful\r\n");
            }
            None => {
                out.push_str(LOGIN_REFUSED);
            }
        }
    }

    async fn mail(&mut self, sender: String, params: Vec<(String, Option<String>)>, out: &mut String) {
        if self.helo.is_none() {
            return out.push_str("503 5.5.1 Say EHLO first\r\n");
        }
        if self.tls.is_none() && !self.trusted {
            return out.push_str("530 5.7.0 Must issue a STARTTLS command first\r\n");
        }
        if self.role == Role::Mx {
            if self.envelope.is_some() {
                return out.push_str("503 5.5.1 Nested MAIL command\r\n");
            }
            if let Err(refusal) = policy::peer_operator(&self.cfg.whitelist, self.peer_dn.as_ref(), &sender) {
                tracing::warn!(target: "audit", event = "mx_refused", peer = %self.peer, sender = %sender,
                    dn = ?self.peer_dn.as_ref().map(|d| d.as_ref().map(|d| d.to_string())), reason = %refusal);
                return out.push_str(&refusal.line());
            }
        } else if self.account.is_none() && !self.trusted {
            return out.push_str("530 5.7.0 Authentication required\r\n");
        }
        if self.envelope.is_some() {
            return out.push_str("503 5.5.1 Nested MAIL command\r\n");
        }
        let checked = policy::mail_parameters(&params, self.cfg.max_message_size)
            .and_then(|()| policy::sender(&sender, self.account.as_ref()));
        if let Err(refusal) = checked {
            return out.push_str(&refusal.line());
        }
        if let Some(account) = &self.account
            && account.kind == confiance_core::MailboxKind::Applicative
            && let Some(finess) = &account.structure
            && !self.cfg.app_rate.take(finess)
        {
            tracing::warn!(target: "audit", event = "refused", account = %account.address, peer = %self.peer,
                reason = "structure sending rate", finess = %finess);
            return out.push_str(&format!(
                "451 4.7.1 Limite d'envoi de la structure atteinte ({} messages par minute), reessayer plus tard / \
                 structure sending rate exceeded, try again later\r\n",
                self.cfg.app_rate.per_minute()
            ));
        }
        self.envelope = Some(Envelope {
            sender,
            params,
            recipients: Vec::new(),
        });
        out.push_str("250 2.1.0 Sender OK\r\n");
    }

    async fn rcpt(&mut self, address: String, params: Vec<(String, Option<String>)>, out: &mut String) {
        let Some(envelope) = &self.envelope else {
            return out.push_str("503 5.5.1 MAIL FROM first\r\n");
        };
        if envelope.recipients.len() >= self.cfg.max_recipients {
            return out.push_str(&policy::too_many_recipients(self.cfg.max_recipients).line());
        }
        if let Err(refusal) = policy::rcpt_parameters(&params) {
            return out.push_str(&refusal.line());
        }
        let router = Router {
            svc: &self.svc,
            cfg: &self.cfg,
            sender: self.account.as_ref(),
        };
        match router.route(self.role, &address, &self.peer).await {
            Ok((address, route)) => {
                self.envelope
                    .as_mut()
                    .expect("checked above")
                    .add(address, route, params);
                out.push_str(match route {
                    Route::Local(..) => "250 2.1.5 Recipient OK\r\n",
                    Route::Remote => "250 2.1.5 Recipient OK (another operator of the trust space)\r\n",
                });
            }
            Err(refusal) => out.push_str(&refusal.line()),
        }
    }

    pub fn refuse_size(&mut self, size: u64, out: &mut String) {
        self.envelope = None;
        out.push_str(&format!(
            "552 5.3.4 Message too big: more than {} bytes (received {size} so far)\r\n",
            self.cfg.max_message_size
        ));
    }

    /// RFC 5321 §4.1.1.4: mail text is lines of characters, never NUL; IMAP clients could not
    /// be given such a message intact, so it is refused rather than altered.
    pub fn refuse_nul(&mut self, out: &mut String) {
        self.envelope = None;
        out.push_str("554 5.6.1 The message contains NUL characters, which mail may not carry (RFC 5321)\r\n");
    }

    /// Stores the message in every recipient's INBOX; answers 250 only once it is durable.
    pub async fn deliver(&mut self, message: Vec<u8>, out: &mut String) {
        let Some(envelope) = self.envelope.take() else {
            return out.push_str("503 5.5.1 No transaction\r\n");
        };
        let source = Source {
            role: self.role,
            peer: &self.peer,
            helo: self.helo.as_deref(),
            tls: self.tls.as_deref(),
            peer_dn: self.peer_dn.as_ref(),
            account: self.account.as_ref(),
        };
        match transaction::accept(&self.svc, &self.cfg, &source, envelope, message).await {
            Ok(id) => out.push_str(&format!("250 2.0.0 Ok: queued as {id}\r\n")),
            Err(refusal) => out.push_str(&refusal.line()),
        }
    }
}
