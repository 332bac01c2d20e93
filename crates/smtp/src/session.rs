//! The SMTP submission dialogue (RFC 5321, RFC 6409): who may send what to whom.

use std::sync::Arc;

use confiance_auth::sasl::{decode_base64, decode_plain, encode_base64};
use confiance_core::Address;
use confiance_mail::MailService;
use confiance_store::queue::{NewQueued, QueuedAddress};
use confiance_store::{Account, MailboxId, StoreError};
use confiance_trust::dn::Dn;

use crate::command::{Command, SyntaxError, parse_command};
use crate::server::Role;
use crate::{SmtpConfig, dsn, report};

/// Received: fields beyond which a message is taken to be looping (RFC 5321 §6.3).
const MAX_HOPS: usize = 50;

pub enum Next {
    Continue,
    Quit,
    StartTls,
    Data,
    /// Send this challenge line and hand the client's answer to `auth_response`.
    AuthContinue(String),
}

enum AuthStep {
    None,
    Plain,
    LoginUser,
    LoginPassword(String),
    /// XOAUTH2 or OAUTHBEARER, waiting for the client's message.
    Bearer(&'static str),
    /// EXTERNAL, waiting for the authorization identity.
    External,
    /// A refused token: the error challenge was sent, the client's dummy answer is awaited.
    BearerRefused,
}

/// One accepted recipient: the mailbox INBOX where the message goes, or none for a recipient
/// at another operator of the trust space (the message is queued for it).
struct Recipient {
    address: String,
    inbox: Option<MailboxId>,
    /// RFC 3461 NOTIFY and ORCPT, kept for the delivery trace.
    dsn: Vec<(String, Option<String>)>,
}

struct Envelope {
    sender: String,
    params: Vec<(String, Option<String>)>,
    recipients: Vec<Recipient>,
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
    /// The professional's card (CPS) presented in the TLS handshake, for AUTH EXTERNAL.
    pub(crate) card: Option<confiance_auth::cps::CpsHolder>,
    helo: Option<String>,
    account: Option<Account>,
    envelope: Option<Envelope>,
    auth: AuthStep,
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
            envelope: None,
            auth: AuthStep::None,
        }
    }

    /// A professional the webmail authenticated, over the web's TLS (see `submit`).
    pub(crate) fn webmail(&mut self, account: Account) {
        self.tls = Some("HTTPS (webmail)".into());
        self.account = Some(account);
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
            let mut auth = String::from("AUTH PLAIN LOGIN");
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

    pub async fn command(&mut self, line: &[u8], out: &mut String) -> Next {
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
        match (mechanism, initial) {
            ("PLAIN", Some(ir)) => {
                self.auth = AuthStep::Plain;
                self.auth_response(ir.as_bytes(), out).await
            }
            ("PLAIN", None) => {
                self.auth = AuthStep::Plain;
                Next::AuthContinue("334 \r\n".into())
            }
            ("LOGIN", Some(ir)) => {
                self.auth = AuthStep::LoginUser;
                self.auth_response(ir.as_bytes(), out).await
            }
            ("LOGIN", None) => {
                self.auth = AuthStep::LoginUser;
                Next::AuthContinue("334 VXNlcm5hbWU6\r\n".into()) // "Username:"
            }
            ("EXTERNAL", initial) if self.card.is_some() => {
                self.auth = AuthStep::External;
                match initial {
                    Some(ir) => self.auth_response(ir.as_bytes(), out).await,
                    None => Next::AuthContinue("334 \r\n".into()),
                }
            }
            ("XOAUTH2" | "OAUTHBEARER", initial) if self.cfg.logins.takes_tokens() => {
                self.auth = AuthStep::Bearer(if mechanism == "XOAUTH2" {
                    "XOAUTH2"
                } else {
                    "OAUTHBEARER"
                });
                match initial {
                    Some(ir) => self.auth_response(ir.as_bytes(), out).await,
                    None => Next::AuthContinue("334 \r\n".into()),
                }
            }
            _ => {
                out.push_str("504 5.5.4 Unsupported mechanism; see the AUTH line of EHLO\r\n");
                Next::Continue
            }
        }
    }

    pub async fn auth_response(&mut self, line: &[u8], out: &mut String) -> Next {
        if line == b"*" {
            self.auth = AuthStep::None;
            out.push_str("501 5.0.0 Authentication cancelled\r\n");
            return Next::Continue;
        }
        let Ok(decoded) = decode_base64(line) else {
            self.auth = AuthStep::None;
            out.push_str("501 5.5.2 Invalid base64 in the authentication exchange\r\n");
            return Next::Continue;
        };
        match std::mem::replace(&mut self.auth, AuthStep::None) {
            AuthStep::Plain => match decode_plain(&decoded) {
                Ok(c) if c.authzid.as_ref().is_none_or(|z| z.eq_ignore_ascii_case(&c.username)) => {
                    self.login(&c.username, &c.password, "PLAIN", out).await
                }
                Ok(_) => out.push_str("535 5.7.8 Acting as another identity is not allowed\r\n"),
                Err(e) => out.push_str(&format!("501 5.5.2 {e}\r\n")),
            },
            AuthStep::LoginUser => {
                self.auth = AuthStep::LoginPassword(String::from_utf8_lossy(&decoded).into_owned());
                return Next::AuthContinue("334 UGFzc3dvcmQ6\r\n".into()); // "Password:"
            }
            AuthStep::LoginPassword(user) => {
                let password = String::from_utf8_lossy(&decoded).into_owned();
                self.login(&user, &password, "LOGIN", out).await
            }
            AuthStep::Bearer(mechanism) => {
                let bearer = match mechanism {
                    "XOAUTH2" => confiance_auth::sasl::decode_xoauth2(&decoded),
                    _ => confiance_auth::sasl::decode_oauthbearer(&decoded),
                };
                match bearer {
                    Ok(bearer) => {
                        if !self.login_bearer(bearer, mechanism, out).await {
                            // RFC 7628 §3.2.2: the error challenge, then the client's dummy answer.
                            self.auth = AuthStep::BearerRefused;
                            let json = confiance_auth::sasl::oauth_error_json();
                            return Next::AuthContinue(format!("334 {}\r\n", encode_base64(json.as_bytes())));
                        }
                    }
                    Err(e) => out.push_str(&format!("501 5.5.2 {e}\r\n")),
                }
            }
            AuthStep::BearerRefused => out.push_str(
                "535 5.7.8 Invalid or expired Pro Santé Connect token, or a mailbox this identity does not hold\r\n",
            ),
            AuthStep::External => {
                let attempt = confiance_auth::Attempt {
                    protocol: "smtp",
                    method: "EXTERNAL",
                    peer: &self.peer,
                };
                let authzid = String::from_utf8_lossy(&decoded).into_owned();
                match self.cfg.logins.card(self.card.as_ref(), Some(authzid), attempt).await {
                    Some(a) => {
                        self.account = Some(a);
                        out.push_str("235 2.7.0 Authentication successful\r\n");
                    }
                    None => out.push_str("535 5.7.8 This card holds no active mailbox of that name\r\n"),
                }
            }
            AuthStep::None => out.push_str("503 5.5.1 No authentication in progress\r\n"),
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
                self.account = Some(a);
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
                self.account = Some(a);
                out.push_str("235 2.7.0 Authentication successful\r\n");
            }
            None => {
                out.push_str("535 5.7.8 Authentication credentials invalid\r\n");
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
            if let Err(refusal) = self.check_peer_operator(&sender) {
                tracing::warn!(target: "audit", event = "mx_refused", peer = %self.peer, sender = %sender,
                    dn = ?self.peer_dn.as_ref().map(|d| d.as_ref().map(|d| d.to_string())), reason = %refusal);
                return out.push_str(&format!("{refusal}\r\n"));
            }
        } else if self.account.is_none() && !self.trusted {
            return out.push_str("530 5.7.0 Authentication required\r\n");
        }
        if self.envelope.is_some() {
            return out.push_str("503 5.5.1 Nested MAIL command\r\n");
        }
        for (name, value) in &params {
            match (name.as_str(), value.as_deref()) {
                ("SIZE", Some(v)) => match v.parse::<u64>() {
                    Ok(size) if size > self.cfg.max_message_size => {
                        return out.push_str(&format!(
                            "552 5.3.4 Message size {size} exceeds the limit of {} bytes\r\n",
                            self.cfg.max_message_size
                        ));
                    }
                    Ok(_) => {}
                    Err(_) => return out.push_str("501 5.5.4 Invalid SIZE value\r\n"),
                },
                ("BODY", Some(v)) if ["7BIT", "8BITMIME"].contains(&v.to_ascii_uppercase().as_str()) => {}
                ("RET", Some(v)) if v.eq_ignore_ascii_case("FULL") || v.eq_ignore_ascii_case("HDRS") => {}
                ("SMTPUTF8", None) | ("ENVID", Some(_)) | ("AUTH", Some(_)) => {}
                _ => return out.push_str(&format!("555 5.5.4 Unsupported MAIL parameter {name}\r\n")),
            }
        }
        // MSSanté: a professional sends from the mailbox they authenticated for, nothing else.
        match &self.account {
            Some(account) => {
                if !Address::parse(&sender).is_ok_and(|a| a.to_string() == account.address) {
                    return out.push_str(&format!(
                        "553 5.7.1 Sender <{sender}> is not the authenticated mailbox <{}>\r\n",
                        account.address
                    ));
                }
            }
            None => {
                if !sender.is_empty()
                    && let Err(e) = Address::parse(&sender)
                {
                    return out.push_str(&format!("501 5.1.7 Bad sender address <{sender}>: {e}\r\n"));
                }
            }
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
            return out.push_str(&format!(
                "452 4.5.3 Too many recipients: at most {} per message\r\n",
                self.cfg.max_recipients
            ));
        }
        for (name, value) in &params {
            let valid = match (name.as_str(), value.as_deref()) {
                // RFC 3461 §4.1: NEVER alone, or any of SUCCESS, FAILURE, DELAY.
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
                return out.push_str(&format!("501 5.5.4 Invalid or unsupported RCPT parameter {name}\r\n"));
            }
        }
        // RFC 5321 §4.5.1: `postmaster` alone is always accepted, as postmaster of our domain.
        let address = match address.eq_ignore_ascii_case("postmaster") {
            true => format!(
                "postmaster@{}",
                self.cfg.domains.first().map(String::as_str).unwrap_or("localhost")
            ),
            false => address,
        };
        let parsed = match Address::parse(&address) {
            Ok(a) => a,
            Err(e) => return out.push_str(&format!("501 5.1.3 Bad recipient address <{address}>: {e}\r\n")),
        };
        if !self.cfg.hosts(parsed.domain()) {
            return self.rcpt_remote(parsed.to_string(), parsed.domain(), params, out);
        }
        let key = parsed.to_string();
        // Postmaster of a hosted domain without a BAL of that name: the configured one.
        let postmaster = (parsed.local_part() == "postmaster")
            .then(|| self.cfg.postmaster.clone())
            .flatten();
        let inbox = self.svc.inbox_of(key, postmaster).await;
        match inbox {
            Ok(Some(inbox)) => {
                let envelope = self.envelope.as_mut().expect("checked above");
                if !envelope.recipients.iter().any(|r| r.address == parsed.to_string()) {
                    envelope.recipients.push(Recipient {
                        address: parsed.to_string(),
                        inbox: Some(inbox.id),
                        dsn: params,
                    });
                }
                out.push_str("250 2.1.5 Recipient OK\r\n");
            }
            Ok(None) => out.push_str(&format!("550 5.1.1 No such mailbox <{parsed}> at this operator\r\n")),
            Err(e) => {
                tracing::error!(error = %e, "recipient lookup failed");
                out.push_str("451 4.3.0 Temporary storage failure, try again later\r\n");
            }
        }
    }

    /// A recipient at another operator: only submitted mail is relayed, and only to the trust
    /// space (reference spec §1.4: no gateway to ordinary e-mail).
    fn rcpt_remote(&mut self, address: String, domain: &str, params: Vec<(String, Option<String>)>, out: &mut String) {
        if self.role == Role::Mx {
            tracing::info!(target: "audit", event = "rcpt_refused", peer = %self.peer, recipient = %address, reason = "relay denied");
            return out.push_str(&format!(
                "550 5.7.1 Relaying denied: this operator does not host {domain}\r\n"
            ));
        }
        if !self.cfg.whitelist.current().contains(domain) {
            tracing::info!(target: "audit", event = "rcpt_refused", recipient = %address, reason = "not in the trust space");
            return out.push_str(&format!(
                "550 5.7.1 {domain} n'est pas une messagerie sécurisée de santé : seules les adresses \
                 de l'espace de confiance MSSanté peuvent être jointes / {domain} is not in the \
                 MSSanté trust space (ANS whitelist)\r\n"
            ));
        }
        let envelope = self.envelope.as_mut().expect("checked by rcpt");
        if !envelope.recipients.iter().any(|r| r.address == address) {
            envelope.recipients.push(Recipient {
                address,
                inbox: None,
                dsn: params,
            });
        }
        out.push_str("250 2.1.5 Recipient OK (another operator of the trust space)\r\n");
    }

    /// MX: the peer must be an operator of the trust space, speaking for the sender's domain
    /// (reference spec §1.3: the certificate's DN must be listed for the MAIL FROM domain).
    fn check_peer_operator(&self, sender: &str) -> Result<(), String> {
        let dn = match &self.peer_dn {
            None => {
                return Err(
                    "530 5.7.0 A client certificate is required: operators of the MSSanté trust \
                            space present their IGC-Santé certificate"
                        .into(),
                );
            }
            Some(Err(e)) => return Err(format!("550 5.7.1 Unreadable client certificate: {e}")),
            Some(Ok(dn)) => dn,
        };
        let whitelist = self.cfg.whitelist.current();
        if sender.is_empty() {
            // A delivery report: any operator of the trust space may send one.
            return if whitelist.lists_dn(dn) {
                Ok(())
            } else {
                Err(format!("550 5.7.1 Certificate {dn} is not in the MSSanté whitelist"))
            };
        }
        let address = Address::parse(sender).map_err(|e| format!("501 5.1.7 Bad sender address <{sender}>: {e}"))?;
        let domain = address.domain();
        if !whitelist.contains(domain) {
            return Err(format!(
                "550 5.7.1 Sender domain {domain} is not in the MSSanté trust space"
            ));
        }
        if !whitelist.allows(domain, dn) {
            return Err(format!(
                "550 5.7.1 Certificate {dn} is not listed for {domain} in the MSSanté whitelist"
            ));
        }
        Ok(())
    }

    /// One author per message, and the right one: on submission (and the webmail) the
    /// authenticated mailbox; on the MX, an address of a domain the delivering operator's
    /// certificate is listed for, never one of ours. Null-sender mail must be a report.
    fn check_author(&self, envelope: &Envelope, message: &[u8]) -> Result<(), String> {
        let author = confiance_mail::author::author(message)
            .map_err(|e| format!("550 5.7.1 Message refusé : {}", e.sentence()))?;
        match self.role {
            Role::Submission => {
                let Some(account) = &self.account else {
                    // Trusted networks (an application server) may sign as anyone.
                    return Ok(());
                };
                for (field, address) in [("From", &author.from), ("Sender", &author.sender)] {
                    if let Some(a) = address
                        && a.to_string() != account.address
                    {
                        return Err(format!(
                            "550 5.7.1 Le champ {field}: doit être votre adresse <{mine}> / \
                             The {field}: header must be your own address <{mine}>",
                            mine = account.address
                        ));
                    }
                }
                Ok(())
            }
            Role::Mx => {
                let Some(from) = author.from else {
                    return Err("550 5.7.1 Message refusé : il n'a pas de champ From: / \
                                the message has no From: field (RFC 5322 §3.6)"
                        .into());
                };
                let Some(Ok(dn)) = &self.peer_dn else {
                    return Err("530 5.7.0 A client certificate is required".into());
                };
                if envelope.sender.is_empty() && !author.is_report {
                    // RFC 3464, RFC 8098: what comes from the null sender is a report.
                    return Err("550 5.7.1 Un message sans expéditeur d'enveloppe doit être \
                                un rapport (multipart/report) / null-sender mail must be a report"
                        .into());
                }
                for (field, address) in [("From", Some(&from)), ("Sender", author.sender.as_ref())] {
                    let Some(address) = address else { continue };
                    let domain = address.domain();
                    if self.cfg.hosts(domain) {
                        return Err(format!(
                            "550 5.7.1 Un autre opérateur ne peut pas écrire au nom de {domain}, \
                             hébergé ici ({field}:) / another operator cannot sign as {domain}, hosted here"
                        ));
                    }
                    // A report may come from the MTA itself (MAILER-DAEMON@its host name), the
                    // name its certificate carries.
                    let own_host =
                        envelope.sender.is_empty() && dn.get("CN").is_some_and(|cn| cn.eq_ignore_ascii_case(domain));
                    if !own_host && !self.cfg.whitelist.current().allows(domain, dn) {
                        return Err(format!(
                            "550 5.7.1 Le champ {field}: ({domain}) n'est pas un domaine de \
                             l'opérateur qui remet le message / the {field}: domain {domain} is not \
                             listed for certificate {dn} in the MSSanté whitelist"
                        ));
                    }
                }
                Ok(())
            }
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
        // RFC 5321 §6.3: a message that went round too many relays is in a loop.
        let hops = String::from_utf8_lossy(dsn::header_of(&message))
            .split("\r\n")
            .filter(|l| {
                l.as_bytes()
                    .get(..9)
                    .is_some_and(|n| n.eq_ignore_ascii_case(b"received:"))
            })
            .count();
        if hops >= MAX_HOPS {
            tracing::warn!(target: "audit", event = "refused", peer = %self.peer, sender = %envelope.sender, reason = "mail loop", hops);
            return out.push_str(&format!(
                "554 5.4.6 Mail loop: the message went through {hops} relays\r\n"
            ));
        }
        // A bare CR hides line ends from some MTAs (`\r.\r` smuggles a second message past
        // them): submitted mail never carries one on to the trust space (RFC 5322 §2.3).
        if self.role == Role::Submission && has_bare_cr(&message) {
            tracing::warn!(target: "audit", event = "refused", peer = %self.peer, sender = %envelope.sender, reason = "bare CR");
            return out.push_str(
                "550 5.6.0 Le message contient un retour chariot isolé (CR sans LF) : le logiciel \
                 d'envoi doit terminer chaque ligne par CRLF / the message holds a bare CR \
                 (RFC 5322 §2.3)\r\n",
            );
        }
        if let Err(refusal) = self.check_author(&envelope, &message) {
            tracing::warn!(target: "audit", event = "refused", ?self.role, peer = %self.peer, sender = %envelope.sender,
                account = self.account.as_ref().map(|a| a.address.as_str()).unwrap_or(""), reason = %refusal);
            return out.push_str(&format!("{refusal}\r\n"));
        }
        let id = queue_id();
        let message = Arc::new(self.prepend_trace(&envelope, &id, message));
        let (local, remote): (Vec<&Recipient>, Vec<&Recipient>) =
            envelope.recipients.iter().partition(|r| r.inbox.is_some());
        if local.is_empty() {
            return self.enqueue(&envelope, &remote, &id, &message, out).await;
        }
        let inboxes: Vec<MailboxId> = local.iter().filter_map(|r| r.inbox).collect();
        let now = chrono::Local::now();
        let date = (now.timestamp(), now.offset().local_minus_utc() / 60);
        let result = self.svc.deliver(inboxes, message.clone(), Vec::new(), date).await;
        let results = match result {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, id, "delivery failed");
                return out.push_str(storage_failure(e.is_storage_full()));
            }
        };
        let mut outcomes = Vec::with_capacity(results.len());
        for (r, rcpt) in results.iter().zip(&local) {
            let (delivered, status, diagnostic) = match r {
                Ok(a) => {
                    tracing::info!(target: "audit", event = "delivered", id, sender = %envelope.sender, recipient = %rcpt.address, uid = a.uid, dsn = ?rcpt.dsn, params = ?envelope.params);
                    (true, "2.0.0", "delivered".to_string())
                }
                Err(StoreError::QuotaExceeded { .. }) => {
                    tracing::warn!(target: "audit", event = "refused", id, recipient = %rcpt.address, reason = "mailbox full");
                    (false, "5.2.2", "552 5.2.2 boîte pleine / mailbox full".to_string())
                }
                Err(e) if e.is_storage_full() => {
                    tracing::error!(error = %e, id, recipient = %rcpt.address, "delivery failed: disk full");
                    (false, "4.3.1", "452 4.3.1 storage full".to_string())
                }
                Err(e) => {
                    tracing::error!(error = %e, id, recipient = %rcpt.address, "delivery failed");
                    (false, "4.3.0", "451 4.3.0 storage failure".to_string())
                }
            };
            outcomes.push((rcpt, delivered, status, diagnostic));
        }
        if outcomes.iter().any(|o| o.2.starts_with('4')) {
            // A temporary failure: the client must try again. Recipients already served may
            // get the message twice, which is better than one never getting it.
            return out.push_str(storage_failure(outcomes.iter().any(|o| o.2 == "4.3.1")));
        }
        let delivered = outcomes.iter().filter(|o| o.1).count();
        if delivered == 0 && remote.is_empty() {
            // Nothing stored: the client hears it now, no report needed.
            if let Some(full) = outcomes.iter().find(|o| o.2 == "5.2.2") {
                return out.push_str(&format!("552 5.2.2 Mailbox full: {}\r\n", full.0.address));
            }
            return out.push_str("451 4.3.0 Temporary storage failure, try again later\r\n");
        }
        // After DATA one reply serves every recipient: those that failed, and those that asked
        // NOTIFY=SUCCESS, are told to the sender in a delivery status notification.
        let action = |ok: bool| {
            if ok {
                dsn::Action::Delivered
            } else {
                dsn::Action::Failed
            }
        };
        let reported: Vec<dsn::Outcome> = outcomes
            .iter()
            .filter(|(rcpt, ok, ..)| dsn::wanted(param(&rcpt.dsn, "NOTIFY"), action(*ok)))
            .map(|(rcpt, ok, status, diagnostic)| dsn::Outcome {
                recipient: rcpt.address.clone(),
                original: param(&rcpt.dsn, "ORCPT").map(dsn::decode_xtext),
                action: action(*ok),
                status: status.to_string(),
                diagnostic: diagnostic.clone(),
                remote_mta: None,
            })
            .collect();
        if !reported.is_empty() {
            let request = dsn::Request {
                reporting_host: &self.cfg.hostname,
                envelope_id: param(&envelope.params, "ENVID").map(dsn::decode_xtext),
                return_full: param(&envelope.params, "RET").is_some_and(|r| r.eq_ignore_ascii_case("FULL")),
                arrival: chrono::Local::now(),
                original: &message,
            };
            report::post(&self.svc, &self.cfg, &request, &envelope.sender, &reported, &id).await;
        }
        if remote.is_empty() {
            out.push_str(&format!("250 2.0.0 Ok: queued as {id}\r\n"));
        } else {
            self.enqueue(&envelope, &remote, &id, &message, out).await;
        }
    }

    /// Queues the message durably for the recipients at other operators, then answers.
    async fn enqueue(
        &self,
        envelope: &Envelope,
        remote: &[&Recipient],
        id: &str,
        message: &Arc<Vec<u8>>,
        out: &mut String,
    ) {
        let recipients: Vec<QueuedAddress> = remote
            .iter()
            .map(|r| QueuedAddress {
                address: r.address.clone(),
                orcpt: param(&r.dsn, "ORCPT").map(str::to_string),
                notify: param(&r.dsn, "NOTIFY").map(str::to_string),
            })
            .collect();
        let (queue, qid, message) = (self.cfg.outbound.queue.clone(), id.to_string(), message.clone());
        let sender = envelope.sender.clone();
        let envid = param(&envelope.params, "ENVID").map(str::to_string);
        let ret_full = param(&envelope.params, "RET").is_some_and(|r| r.eq_ignore_ascii_case("FULL"));
        let count = recipients.len();
        let queued = tokio::task::spawn_blocking(move || {
            queue.enqueue(&[NewQueued {
                id: &qid,
                sender: &sender,
                envid: envid.as_deref(),
                ret_full,
                body: without_return_path(&message),
                recipients,
            }])
        })
        .await;
        match queued {
            Ok(Ok(())) => {
                self.cfg.outbound.wake.notify_one();
                tracing::info!(target: "audit", event = "queued", id, sender = %envelope.sender, recipients = count);
                out.push_str(&format!("250 2.0.0 Ok: queued as {id}\r\n"));
            }
            Ok(Err(e)) => {
                tracing::error!(id, error = %e, "queueing failed");
                out.push_str(storage_failure(e.is_storage_full()));
            }
            Err(e) => {
                tracing::error!(id, error = %e, "queueing failed");
                out.push_str(storage_failure(false));
            }
        }
    }

    /// Adds Return-Path and Received (RFC 5321 §4.4), plus Message-ID and Date when the client
    /// left them out (RFC 6409 §8; MSSanté requires a Message-ID, Réf. #1 ECO.2.2.1).
    fn prepend_trace(&self, envelope: &Envelope, id: &str, message: Vec<u8>) -> Vec<u8> {
        let header_end = dsn::header_of(&message).len();
        let header = String::from_utf8_lossy(&message[..header_end]).to_ascii_lowercase();
        let has = |name: &str| header.starts_with(name) || header.contains(&format!("\n{name}"));
        let now = chrono::Local::now().to_rfc2822();
        let mut trace = format!("Return-Path: <{}>\r\n", envelope.sender);
        let proto = match (self.role, self.tls.is_some()) {
            (Role::Mx, _) => "ESMTPS",
            (Role::Submission, true) => "ESMTPSA",
            (Role::Submission, false) => "ESMTPA",
        };
        let peer_dn = match &self.peer_dn {
            Some(Ok(dn)) => format!(" peer {dn}"),
            _ => String::new(),
        };
        trace.push_str(&format!(
            "Received: from {} ({})\r\n\tby {} (Confiance) with {proto} id {id}\r\n\t({}{peer_dn});\r\n\t{now}\r\n",
            self.helo.as_deref().unwrap_or("unknown"),
            self.peer,
            self.cfg.hostname,
            self.tls.as_deref().unwrap_or("no TLS"),
        ));
        let mut extra = String::new();
        if self.role == Role::Mx {
            // RFC 5321 §4.4: a relay adds its trace and changes nothing else.
        } else if !has("from:") {
            // RFC 6409 §8.2: the submission server may add the From: it knows.
            extra.push_str(&format!("From: <{}>\r\n", envelope.sender));
        }
        if self.role == Role::Submission && !has("message-id:") {
            extra.push_str(&format!("Message-ID: <{id}@{}>\r\n", self.cfg.hostname));
        }
        if self.role == Role::Submission && !has("date:") {
            extra.push_str(&format!("Date: {now}\r\n"));
        }
        let mut out = Vec::with_capacity(trace.len() + extra.len() + message.len());
        out.extend_from_slice(trace.as_bytes());
        if header_end == message.len() && !message.contains(&b':') {
            // No header at all: the whole input is body.
            out.extend_from_slice(extra.as_bytes());
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(&message);
        } else {
            out.extend_from_slice(&message[..header_end]);
            out.extend_from_slice(extra.as_bytes());
            out.extend_from_slice(&message[header_end..]);
        }
        out
    }
}

/// Whether `message` (lines already ending in CRLF) holds a CR that does not end a line.
fn has_bare_cr(message: &[u8]) -> bool {
    message
        .iter()
        .enumerate()
        .any(|(i, b)| *b == b'\r' && message.get(i + 1) != Some(&b'\n'))
}

/// The reply when storing failed: 452 4.3.1 when the disk is full (RFC 3463), 451 4.3.0
/// otherwise; either way the client keeps the message and tries again.
fn storage_failure(full: bool) -> &'static str {
    match full {
        true => {
            "452 4.3.1 Espace de stockage insuffisant, nouvel essai plus tard / Insufficient system storage, try again later\r\n"
        }
        false => "451 4.3.0 Temporary storage failure, try again later\r\n",
    }
}

/// The message as it goes to another operator: without the Return-Path we put first, which
/// only the final delivery adds (RFC 5321 §4.4).
fn without_return_path(message: &[u8]) -> &[u8] {
    if message.starts_with(b"Return-Path:")
        && let Some(end) = message.windows(2).position(|w| w == b"\r\n")
    {
        return &message[end + 2..];
    }
    message
}

/// Value of an ESMTP parameter (`NOTIFY`, `ORCPT`, `RET`, `ENVID`).
fn param<'a>(params: &'a [(String, Option<String>)], name: &str) -> Option<&'a str> {
    params.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref())
}

fn queue_id() -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..16)
        .map(|_| char::from(b"0123456789ABCDEFGHJKLMNPQRSTVWXZ"[rng.gen_range(0..32)]))
        .collect()
}
