//! One ManageSieve session: its state (TLS, the BAL once authenticated) and the answer to each
//! command of RFC 5804 §2. Scripts are read and written through `MailService` only.

use std::sync::Arc;

use confiance_auth::exchange::{Credential, Exchange, Mechanism, Step};
use confiance_mail::MailService;
use confiance_mail::filters::{EXTENSIONS, MAX_SCRIPT_BYTES, MAX_SCRIPTS, Refused};
use confiance_mail::model::{Account, ScriptChange};

use crate::SieveConfig;
use crate::proto::{Word, string};

/// What the connection loop does after an answer.
pub enum Control {
    Continue,
    /// Start TLS once `OK` is sent, then say the capabilities again (RFC 5804 §2.2).
    StartTls,
    /// AUTHENTICATE without an initial response: send `""` and read the client's message.
    Authenticate,
    Logout,
}

pub struct Session {
    pub svc: Arc<MailService>,
    pub cfg: Arc<SieveConfig>,
    pub tls: bool,
    pub peer: String,
    pub account: Option<Account>,
}

/// The same answer whether the address exists or not (see the IMAP front).
const LOGIN_REFUSED: &str = "NO \"Adresse ou mot de passe invalide. Une BAL activée sur le web \
     s'ouvre dans un logiciel avec un mot de passe d'application, créé sur la page Compte (/compte) du webmail.\"\r\n";

impl Session {
    /// The capabilities (RFC 5804 §1.7): no SASL mechanism before TLS, STARTTLS until it ran.
    pub fn capabilities(&self) -> String {
        let mut out = String::from("\"IMPLEMENTATION\" \"Confiance\"\r\n");
        out.push_str(match self.tls {
            true => "\"SASL\" \"PLAIN\"\r\n",
            false => "\"SASL\" \"\"\r\n",
        });
        out.push_str(&format!("\"SIEVE\" \"{}\"\r\n", EXTENSIONS.join(" ")));
        if !self.tls {
            out.push_str("\"STARTTLS\"\r\n");
        }
        if self.account.is_some() {
            // RFC 5804 §2.14: offered once there is an authentication to drop.
            out.push_str("\"UNAUTHENTICATE\"\r\n");
        }
        out.push_str("\"MAXREDIRECTS\" \"2\"\r\n\"VERSION\" \"1.0\"\r\n");
        out
    }

    pub fn greeting(&self) -> String {
        format!("{}OK \"Confiance ManageSieve prêt\"\r\n", self.capabilities())
    }

    /// Answers one command, and says what the connection loop does next.
    pub async fn handle(&mut self, words: Vec<Word>) -> (String, Control) {
        let Some(Word::Atom(name)) = words.first() else {
            return (no("Commande attendue"), Control::Continue);
        };
        let name = name.to_ascii_uppercase();
        let args = &words[1..];
        let text = |i: usize| args.get(i).and_then(Word::text);
        match (name.as_str(), self.account.is_some()) {
            ("CAPABILITY", _) => (format!("{}OK\r\n", self.capabilities()), Control::Continue),
            ("NOOP", _) => match text(0) {
                // RFC 5804 §2.13: the argument comes back in a TAG response code.
                Some(tag) => (format!("OK (TAG {}) \"Fait\"\r\n", string(&tag)), Control::Continue),
                None => ("OK \"Fait\"\r\n".into(), Control::Continue),
            },
            ("LOGOUT", _) => ("OK \"Au revoir\"\r\n".into(), Control::Logout),
            ("STARTTLS", _) if self.tls => (no("TLS est déjà actif"), Control::Continue),
            ("STARTTLS", _) => ("OK \"Négociation TLS\"\r\n".into(), Control::StartTls),
            ("AUTHENTICATE", true) => (no("Déjà authentifié"), Control::Continue),
            ("AUTHENTICATE", false) => {
                if !self.tls {
                    return (
                        "NO (ENCRYPT-NEEDED) \"Utilisez STARTTLS avant de vous authentifier\"\r\n".into(),
                        Control::Continue,
                    );
                }
                match text(0) {
                    Some(m) if m.eq_ignore_ascii_case("PLAIN") => {}
                    _ => return (no("Mécanisme non pris en charge : PLAIN seulement"), Control::Continue),
                }
                match args.get(1) {
                    Some(w) => (self.plain(&w.bytes()).await, Control::Continue),
                    None => ("\"\"\r\n".into(), Control::Authenticate),
                }
            }
            (_, false) => (no("Authentifiez-vous d'abord (AUTHENTICATE)"), Control::Continue),
            (_, true) => (self.script_command(&name, args).await, Control::Continue),
        }
    }

    /// The client's message of AUTHENTICATE PLAIN (base64), as a string or after `""`.
    pub async fn plain(&mut self, base64: &[u8]) -> String {
        let mut exchange = Exchange::new(Mechanism::Plain);
        let Ok(Step::Done(Credential::Password { user, password })) = exchange.line(base64) else {
            return "NO \"Authentification annulée ou mal formée\"\r\n".into();
        };
        let attempt = confiance_auth::Attempt {
            protocol: "managesieve",
            method: "AUTHENTICATE PLAIN",
            peer: &self.peer,
        };
        match self.cfg.logins.password(&user, password, attempt).await {
            Some(account) => {
                tracing::info!(target: "audit", event = "login", protocol = "managesieve", bal = %account.address, peer = %self.peer);
                self.account = Some(account);
                "OK \"Authentifié\"\r\n".into()
            }
            None => LOGIN_REFUSED.into(),
        }
    }

    async fn script_command(&mut self, name: &str, args: &[Word]) -> String {
        let account = self.account.as_ref().expect("authenticated").clone();
        let text = |i: usize| args.get(i).and_then(Word::text);
        let svc = &self.svc;
        let failed = |e: confiance_mail::MailError| {
            tracing::error!(error = %e, bal = %account.address, "ManageSieve storage failure");
            "NO (TRYLATER) \"Erreur de stockage, réessayez plus tard\"\r\n".to_string()
        };
        match name {
            "LISTSCRIPTS" => match svc.sieve_scripts(account.id).await {
                Ok(scripts) => {
                    let mut out = String::new();
                    for s in scripts {
                        out.push_str(&string(&s.name));
                        out.push_str(if s.active { " ACTIVE\r\n" } else { "\r\n" });
                    }
                    out + "OK\r\n"
                }
                Err(e) => failed(e),
            },
            "GETSCRIPT" => {
                let Some(wanted) = text(0) else {
                    return bad("GETSCRIPT <nom>");
                };
                match svc.sieve_scripts(account.id).await {
                    Ok(scripts) => match scripts.into_iter().find(|s| s.name == wanted) {
                        Some(s) => format!("{{{}}}\r\n{}\r\nOK\r\n", s.content.len(), s.content),
                        None => nonexistent(&wanted),
                    },
                    Err(e) => failed(e),
                }
            }
            "HAVESPACE" => {
                let (Some(name), Some(Word::Atom(size))) = (text(0), args.get(1)) else {
                    return bad("HAVESPACE <nom> <taille>");
                };
                let Ok(size) = size.parse::<u64>() else {
                    return bad("taille invalide");
                };
                match svc.has_room_for_script(account.id, name, size).await {
                    Ok(result) => refused_or(result, "OK\r\n"),
                    Err(e) => failed(e),
                }
            }
            "CHECKSCRIPT" => match text(0) {
                Some(content) => match svc.check_sieve_script(content).await {
                    Ok(result) => refused_or(result, "OK\r\n"),
                    Err(e) => failed(e),
                },
                None => bad("CHECKSCRIPT <script>"),
            },
            "PUTSCRIPT" => {
                let (Some(name), Some(content)) = (text(0), text(1)) else {
                    return bad("PUTSCRIPT <nom> <script>");
                };
                match svc.put_sieve_script(account.id, name.clone(), content).await {
                    Ok(result) => {
                        if result.is_ok() {
                            tracing::info!(target: "audit", event = "filter_saved", bal = %account.address, via = "managesieve", script = %name, peer = %self.peer);
                        }
                        refused_or(result, "OK\r\n")
                    }
                    Err(e) => failed(e),
                }
            }
            "SETACTIVE" => {
                let Some(name) = text(0) else {
                    return bad("SETACTIVE <nom>");
                };
                let target = (!name.is_empty()).then_some(name.clone());
                match svc.activate_sieve_script(account.id, target).await {
                    Ok(ScriptChange::Done) => {
                        tracing::info!(target: "audit", event = "filter_activated", bal = %account.address, via = "managesieve", script = %name, peer = %self.peer);
                        "OK\r\n".into()
                    }
                    Ok(_) => nonexistent(&name),
                    Err(e) => failed(e),
                }
            }
            "DELETESCRIPT" => {
                let Some(name) = text(0) else {
                    return bad("DELETESCRIPT <nom>");
                };
                match svc.delete_sieve_script(account.id, name.clone()).await {
                    Ok(ScriptChange::Done) => {
                        tracing::info!(target: "audit", event = "filter_deleted", bal = %account.address, via = "managesieve", script = %name, peer = %self.peer);
                        "OK\r\n".into()
                    }
                    Ok(ScriptChange::Active) => {
                        "NO (ACTIVE) \"Le script actif ne peut pas être supprimé : désactivez-le d'abord\"\r\n".into()
                    }
                    Ok(_) => nonexistent(&name),
                    Err(e) => failed(e),
                }
            }
            "RENAMESCRIPT" => {
                let (Some(from), Some(to)) = (text(0), text(1)) else {
                    return bad("RENAMESCRIPT <ancien> <nouveau>");
                };
                match svc.rename_sieve_script(account.id, from.clone(), to.clone()).await {
                    Ok(Some(ScriptChange::Done)) => {
                        tracing::info!(target: "audit", event = "filter_renamed", bal = %account.address, via = "managesieve", script = %from, to = %to, peer = %self.peer);
                        "OK\r\n".into()
                    }
                    Ok(Some(ScriptChange::NameTaken)) => {
                        "NO (ALREADYEXISTS) \"Un script porte déjà ce nom\"\r\n".into()
                    }
                    Ok(Some(_)) => nonexistent(&from),
                    Ok(None) => refused_or(Err(Refused::BadName), ""),
                    Err(e) => failed(e),
                }
            }
            "UNAUTHENTICATE" => {
                self.account = None;
                "OK\r\n".into()
            }
            _ => no("Commande inconnue"),
        }
    }
}

fn no(text: &str) -> String {
    format!("NO {}\r\n", string(text))
}

fn bad(usage: &str) -> String {
    no(&format!("Arguments attendus : {usage}"))
}

fn nonexistent(name: &str) -> String {
    format!("NO (NONEXISTENT) {}\r\n", string(&format!("Aucun script « {name} »")))
}

/// The answer to storing or checking a script: its parse error names the line (RFC 5804 §2.6).
fn refused_or(result: Result<(), Refused>, ok: &str) -> String {
    match result {
        Ok(()) => ok.to_string(),
        Err(Refused::Invalid(e)) => no(&e.to_string()),
        Err(Refused::TooLarge) => {
            format!("NO (QUOTA/MAXSIZE) \"Un script fait au plus {MAX_SCRIPT_BYTES} octets\"\r\n")
        }
        Err(Refused::TooMany) => format!("NO (QUOTA/MAXSCRIPTS) \"Une BAL garde au plus {MAX_SCRIPTS} scripts\"\r\n"),
        Err(Refused::BadName) => no("Nom de script invalide (1 à 128 caractères, sans caractère de contrôle)"),
    }
}
