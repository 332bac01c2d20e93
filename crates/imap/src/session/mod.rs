//! One IMAP connection's state, the check that a command fits the state (RFC 9051 §3), and
//! the connection's own commands (CAPABILITY, NOOP, LOGOUT, STARTTLS, ID, ENABLE, NAMESPACE,
//! IDLE, NOTIFY). The other families each have their file: `auth` (LOGIN, AUTHENTICATE),
//! `folders` (folders, STATUS, quotas; APPEND in `append`), `messages` (the selected folder).

use std::sync::Arc;

use confiance_mail::MailService;
use confiance_mail::model::{Account, FolderId};
use tokio::sync::broadcast;

mod append;
mod auth;
mod catenate;
mod context;
mod fetch;
mod folders;
mod messages;
mod notify;
mod search;
mod thread;
mod view;

#[cfg(test)]
mod dialogue_tests;

use crate::ImapConfig;
use crate::proto::command::*;
use view::Selected;

/// Folder hierarchy delimiter.
pub const DELIMITER: char = '/';

/// The session state a command needs (RFC 9051 §3).
enum State {
    Any,
    NotAuthenticated,
    Authenticated,
    Selected,
}

/// Commands on the messages of the selected folder, run by `Session::message_command`.
fn is_message_command(body: &CommandBody) -> bool {
    use CommandBody::*;
    matches!(
        body,
        Expunge
            | UidExpunge { .. }
            | Search { .. }
            | Fetch { .. }
            | Store { .. }
            | Copy { .. }
            | Move { .. }
            | Sort { .. }
            | Thread { .. }
    )
}

/// Commands on folders and quotas, run by `Session::folder_family`.
fn is_folder_command(body: &CommandBody) -> bool {
    use CommandBody::*;
    matches!(
        body,
        Select { .. }
            | Examine { .. }
            | Create { .. }
            | Delete { .. }
            | Rename { .. }
            | Subscribe { .. }
            | Unsubscribe { .. }
            | List { .. }
            | Lsub { .. }
            | Status { .. }
            | Append { .. }
            | GetQuota { .. }
            | GetQuotaRoot { .. }
            | SetQuota { .. }
            | Close
            | Unselect
    )
}

fn requirement(body: &CommandBody) -> State {
    use CommandBody::*;
    match body {
        Capability | Noop | Logout | Id { .. } => State::Any,
        StartTls | Login { .. } | Authenticate { .. } => State::NotAuthenticated,
        Check | Close | Unselect => State::Selected,
        b if is_message_command(b) => State::Selected,
        _ => State::Authenticated,
    }
}

/// What the connection loop does after a command.
pub enum Control {
    Continue,
    Logout,
    StartTls,
    Idle(String),
    /// AUTHENTICATE goes on: send the challenge (`+ …`) and feed the client's answer to
    /// `Session::authenticate` with the exchange.
    Authenticate(String, Box<confiance_auth::exchange::Exchange>, Vec<u8>),
}

pub struct Session {
    pub(crate) svc: Arc<MailService>,
    pub(crate) cfg: Arc<ImapConfig>,
    pub(crate) tls: bool,
    pub(crate) peer: String,
    /// The card (CPS) or organisation certificate presented in the TLS handshake, for
    /// AUTHENTICATE EXTERNAL.
    pub(crate) card: Option<confiance_auth::certificate::ClientCertificate>,
    /// The tag of an AUTHENTICATE XOAUTH2/OAUTHBEARER whose token was refused: the connection
    /// loop sends the RFC 7628 §3.2.2 error challenge, reads the client's dummy answer, then NO.
    pub(crate) oauth_refused: Option<String>,
    pub(crate) account: Option<Account>,
    /// When the connection began: a client must log in within a bound of it, however it
    /// keeps the line busy before (NOOP every minute).
    pub(crate) connected: std::time::Instant,
    pub(crate) selected: Option<Selected>,
    pub(crate) rev2: bool,
    pub(crate) condstore: bool,
    /// RFC 7162 §3.2: VANISHED instead of EXPUNGE, quick resynchronisation on SELECT.
    pub(crate) qresync: bool,
    /// NOTIFY SET in force (RFC 5465).
    pub(crate) notify: Option<crate::session::notify::NotifyState>,
    /// The connection must end after the pending output (the selected folder vanished).
    pub(crate) closing: bool,
    /// A FETCH still producing its responses (see `Session::resume`).
    pub(crate) pending_fetch: Option<crate::session::messages::PendingFetch>,
    pub(crate) utf8: bool,
    pub(crate) changes: Option<broadcast::Receiver<FolderId>>,
    /// Turns true when the account is suspended or deleted: the session ends at once.
    pub(crate) ending: Option<tokio::sync::watch::Receiver<bool>>,
    /// Messages read and not traced yet (boxed: most sessions hold none).
    pub(crate) reads: Option<Box<PendingReads>>,
    /// Tag of the command being run (ESEARCH echoes it).
    pub(crate) tag: String,
}

/// The UIDs a session read in one folder since its last reading trace.
pub(crate) struct PendingReads {
    pub folder: String,
    pub uids: Vec<u32>,
    pub since: std::time::Instant,
}

impl Drop for Session {
    /// What the session read and did not trace yet is traced as it ends.
    fn drop(&mut self) {
        self.trace_reads();
    }
}

pub(crate) fn tagged(out: &mut Vec<u8>, tag: &str, status: &str, text: &str) {
    out.extend_from_slice(format!("{tag} {status} {text}\r\n").as_bytes());
}

pub(crate) fn untagged(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(format!("* {text}\r\n").as_bytes());
}

impl Session {
    pub fn new(svc: Arc<MailService>, cfg: Arc<ImapConfig>, tls: bool, peer: String) -> Self {
        Session {
            svc,
            cfg,
            tls,
            peer,
            card: None,
            oauth_refused: None,
            account: None,
            connected: std::time::Instant::now(),
            selected: None,
            rev2: false,
            condstore: false,
            qresync: false,
            notify: None,
            closing: false,
            ending: None,
            reads: None,
            pending_fetch: None,
            utf8: false,
            changes: None,
            tag: String::new(),
        }
    }

    pub fn greeting(&self) -> String {
        format!("* OK [CAPABILITY {}] Confiance IMAP ready\r\n", self.capabilities())
    }

    pub fn capabilities(&self) -> String {
        let mut caps = vec!["IMAP4rev1", "IMAP4rev2", "SASL-IR", "ID", "ENABLE", "LITERAL+"];
        if !self.tls {
            // RFC 9051 §6.2.3: no password over a clear channel.
            caps.extend(["STARTTLS", "LOGINDISABLED"]);
        } else if self.account.is_none() {
            caps.extend(["AUTH=PLAIN", "AUTH=SCRAM-SHA-256"]);
            if self.cfg.logins.takes_tokens() {
                // MSSanté client interface (ECO.1.2.1): TLS, then XOAUTH2 with a PSC token.
                caps.extend(["AUTH=XOAUTH2", "AUTH=OAUTHBEARER"]);
            }
            if self.card.is_some() {
                caps.push("AUTH=EXTERNAL");
            }
        }
        if self.account.is_some() {
            caps.extend([
                "IDLE",
                "NAMESPACE",
                "UNSELECT",
                "UIDPLUS",
                "MOVE",
                "SPECIAL-USE",
                "CREATE-SPECIAL-USE",
                "LIST-EXTENDED",
                "LIST-STATUS",
                "CHILDREN",
                "CONDSTORE",
                "QRESYNC",
                "NOTIFY",
                "QUOTA",
                "QUOTA=RES-STORAGE",
                "ESEARCH",
                "SEARCHRES",
                "SORT",
                "SORT=DISPLAY",
                "ESORT",
                "CONTEXT=SEARCH",
                "CONTEXT=SORT",
                "PARTIAL",
                "THREAD=ORDEREDSUBJECT",
                "THREAD=REFERENCES",
                "BINARY",
                "MULTIAPPEND",
                "CATENATE",
                "UTF8=ACCEPT",
                "STATUS=SIZE",
                "APPENDLIMIT",
            ]);
        }
        caps.join(" ")
    }

    /// Runs one parsed command, writing its responses to `out`.
    /// One command: refused with BAD in the wrong state (RFC 9051 §3), otherwise run by its
    /// family: the connection's own, login, folders, or the selected folder's messages.
    pub async fn handle(&mut self, cmd: Command, out: &mut Vec<u8>) -> Control {
        let Command { tag, body } = cmd;
        self.tag = tag.clone();
        let refusal = match (requirement(&body), self.account.is_some(), self.selected.is_some()) {
            (State::Any, ..) => None,
            (State::NotAuthenticated, false, _) | (State::Authenticated, true, _) | (State::Selected, _, true) => None,
            (State::NotAuthenticated, true, _) => Some("already authenticated"),
            (State::Authenticated, false, _) => Some("log in first"),
            (State::Selected, ..) => Some("no folder is selected"),
        };
        if let Some(why) = refusal {
            tagged(out, &tag, "BAD", &format!("Command not allowed now: {why}."));
            return Control::Continue;
        }
        use CommandBody::*;
        match body {
            body if is_message_command(&body) => self.message_family(out, tag, body).await,
            body @ (Login { .. } | Authenticate { .. }) => self.login_family(out, &tag, body).await,
            body if is_folder_command(&body) => {
                self.folder_family(out, &tag, body).await;
                Control::Continue
            }
            body => self.connection_family(out, tag, body).await,
        }
    }

    /// The connection's own commands: capabilities, NOOP, LOGOUT, STARTTLS, ID, ENABLE,
    /// NAMESPACE, IDLE, NOTIFY, CANCELUPDATE.
    async fn connection_family(&mut self, out: &mut Vec<u8>, tag: String, body: CommandBody) -> Control {
        use CommandBody::*;
        match body {
            Capability => {
                untagged(out, &format!("CAPABILITY {}", self.capabilities()));
                tagged(out, &tag, "OK", "CAPABILITY completed");
                Control::Continue
            }
            Noop | Check => {
                self.refresh(out, true).await;
                self.notifications(out).await;
                tagged(out, &tag, "OK", "NOOP completed");
                Control::Continue
            }
            Logout => {
                untagged(out, "BYE Confiance IMAP, au revoir");
                tagged(out, &tag, "OK", "LOGOUT completed");
                Control::Logout
            }
            StartTls => {
                if self.tls {
                    tagged(out, &tag, "BAD", "TLS is already active.");
                    Control::Continue
                } else {
                    tagged(out, &tag, "OK", "Begin TLS negotiation now");
                    Control::StartTls
                }
            }
            Id { .. } => {
                untagged(out, "ID (\"name\" \"Confiance\" \"vendor\" \"Confiance\")");
                tagged(out, &tag, "OK", "ID completed");
                Control::Continue
            }
            Enable { capabilities } => {
                let mut enabled = Vec::new();
                for c in capabilities {
                    match c.as_str() {
                        "IMAP4REV2" => self.rev2 = true,
                        "CONDSTORE" => self.enable_condstore(out),
                        "QRESYNC" => {
                            // RFC 7162 §3.2.3: QRESYNC implies CONDSTORE.
                            self.enable_condstore(out);
                            self.qresync = true;
                        }
                        "UTF8=ACCEPT" => self.utf8 = true,
                        _ => continue,
                    }
                    enabled.push(c);
                }
                untagged(out, format!("ENABLED {}", enabled.join(" ")).trim_end());
                tagged(out, &tag, "OK", "ENABLE completed");
                Control::Continue
            }
            Namespace => {
                untagged(out, "NAMESPACE ((\"\" \"/\")) NIL NIL");
                tagged(out, &tag, "OK", "NAMESPACE completed");
                Control::Continue
            }
            Idle => Control::Idle(tag),
            Notify { status, groups } => {
                self.notify_set(out, status, groups).await;
                tagged(out, &tag, "OK", "NOTIFY completed");
                Control::Continue
            }
            CancelUpdate { tags } => {
                self.contexts_cancel(&tags);
                tagged(out, &tag, "OK", "CANCELUPDATE completed");
                Control::Continue
            }
            _ => unreachable!("dispatched by `handle`"),
        }
    }

    /// RFC 7162 §3.1: the first command that enables CONDSTORE in a selected folder reports
    /// its HIGHESTMODSEQ.
    pub(crate) fn enable_condstore(&mut self, out: &mut Vec<u8>) {
        if self.condstore {
            return;
        }
        self.condstore = true;
        if let Some(sel) = &self.selected {
            untagged(out, &format!("OK [HIGHESTMODSEQ {}] Highest", sel.modseq));
        }
    }

    /// Whether the account was suspended or deleted since this session logged in.
    pub(crate) fn is_ended(&self) -> bool {
        self.ending.as_ref().is_some_and(|rx| *rx.borrow())
    }

    /// Returns when the account is suspended or deleted; never before login.
    pub(crate) async fn ended(&mut self) {
        let Some(rx) = self.ending.as_mut() else {
            return std::future::pending().await;
        };
        if rx.wait_for(|ended| *ended).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    pub(crate) fn account_id(&self) -> confiance_mail::model::AccountId {
        self.account.as_ref().expect("authenticated").id
    }
}
