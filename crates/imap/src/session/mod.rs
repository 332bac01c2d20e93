//! One IMAP connection's state and the commands that do not touch messages one by one:
//! authentication, folders, STATUS, APPEND, quotas (RFC 9051 §6.1–§6.3, RFC 9208).

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

use confiance_auth::exchange::{Exchange, Mechanism};

use crate::ImapConfig;
use crate::proto::command::*;
use crate::proto::render;
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
    /// AUTHENTICATE without an initial response: ask the client for it.
    Authenticate(String, Mechanism),
}

pub struct Session {
    pub(crate) svc: Arc<MailService>,
    pub(crate) cfg: Arc<ImapConfig>,
    pub(crate) tls: bool,
    pub(crate) peer: String,
    /// The professional's card (CPS) presented in the TLS handshake, for AUTHENTICATE EXTERNAL.
    pub(crate) card: Option<confiance_auth::cps::CpsHolder>,
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
    /// Tag of the command being run (ESEARCH echoes it).
    pub(crate) tag: String,
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
            caps.push("AUTH=PLAIN");
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
    pub async fn handle(&mut self, cmd: Command, out: &mut Vec<u8>) -> Control {
        let tag = cmd.tag.clone();
        self.tag = tag.clone();
        let authenticated = self.account.is_some();
        let selected = self.selected.is_some();
        use CommandBody::*;
        let refusal = match (requirement(&cmd.body), authenticated, selected) {
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
        match cmd.body {
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
            Login { username, password } => {
                let user = String::from_utf8_lossy(&username).into_owned();
                let pass = String::from_utf8_lossy(&password).into_owned();
                self.login(out, &tag, user, pass, "LOGIN").await;
                Control::Continue
            }
            Authenticate {
                mechanism,
                initial_response,
            } => {
                if !self.tls {
                    tagged(
                        out,
                        &tag,
                        "NO",
                        "[PRIVACYREQUIRED] Use STARTTLS (or port 993) before logging in.",
                    );
                    return Control::Continue;
                }
                let offered = Mechanism::parse(&mechanism).filter(|m| match m {
                    Mechanism::Plain => true,
                    Mechanism::XOAuth2 | Mechanism::OAuthBearer => self.cfg.logins.takes_tokens(),
                    Mechanism::External => self.card.is_some(),
                    Mechanism::Login => false,
                });
                let Some(mechanism) = offered else {
                    tagged(out, &tag, "NO", "[CANNOT] Unsupported mechanism; see CAPABILITY.");
                    return Control::Continue;
                };
                match initial_response {
                    Some(r) => {
                        let step = Exchange::new(mechanism).message(&r);
                        self.authenticate(out, &tag, mechanism, step).await;
                        Control::Continue
                    }
                    None => Control::Authenticate(tag, mechanism),
                }
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
            Select { mailbox, params } => {
                self.select(out, &tag, &mailbox, &params, false).await;
                Control::Continue
            }
            Examine { mailbox, params } => {
                self.select(out, &tag, &mailbox, &params, true).await;
                Control::Continue
            }
            Create { mailbox, special_use } => {
                self.create(out, &tag, &mailbox, special_use).await;
                Control::Continue
            }
            Delete { mailbox } => {
                self.delete(out, &tag, &mailbox).await;
                Control::Continue
            }
            Rename { from, to } => {
                self.rename(out, &tag, &from, &to).await;
                Control::Continue
            }
            Subscribe { mailbox } => {
                self.subscribe(out, &tag, &mailbox, true).await;
                Control::Continue
            }
            Unsubscribe { mailbox } => {
                self.subscribe(out, &tag, &mailbox, false).await;
                Control::Continue
            }
            List {
                selection,
                reference,
                patterns,
                return_opts,
            } => {
                self.list(out, &tag, &selection, &reference, &patterns, &return_opts, "LIST")
                    .await;
                Control::Continue
            }
            Lsub { reference, pattern } => {
                self.list(
                    out,
                    &tag,
                    &[ListSelectOption::Subscribed],
                    &reference,
                    &[pattern],
                    &[],
                    "LSUB",
                )
                .await;
                Control::Continue
            }
            Status { mailbox, items } => {
                self.status(out, &tag, &mailbox, &items).await;
                Control::Continue
            }
            Append { mailbox, messages } => {
                self.append(out, &tag, &mailbox, messages).await;
                Control::Continue
            }
            GetQuota { root } => {
                if root.is_empty() {
                    self.quota(out).await;
                    tagged(out, &tag, "OK", "GETQUOTA completed");
                } else {
                    tagged(out, &tag, "NO", "[NONEXISTENT] The only quota root is \"\".");
                }
                Control::Continue
            }
            GetQuotaRoot { mailbox } => {
                match self.folder(&mailbox).await {
                    Ok(Some(f)) => {
                        let mut line = b"QUOTAROOT ".to_vec();
                        render::mailbox_name(&mut line, &f.name);
                        line.extend_from_slice(b" \"\"");
                        untagged(out, &String::from_utf8_lossy(&line));
                        self.quota(out).await;
                        tagged(out, &tag, "OK", "GETQUOTAROOT completed");
                    }
                    _ => tagged(out, &tag, "NO", "[NONEXISTENT] No such folder."),
                }
                Control::Continue
            }
            SetQuota { .. } => {
                tagged(
                    out,
                    &tag,
                    "NO",
                    "[NOPERM] Quotas are set by the operator's administrators.",
                );
                Control::Continue
            }
            Close => {
                // RFC 9051 §6.4.1: CLOSE expunges silently, unless the folder is read-only.
                if let Some(sel) = self.selected.take()
                    && !sel.read_only
                {
                    let _ = self.svc.expunge(self.account_id(), sel.id, None).await;
                }
                tagged(out, &tag, "OK", "CLOSE completed");
                Control::Continue
            }
            Unselect => {
                self.selected = None;
                tagged(out, &tag, "OK", "UNSELECT completed");
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
            // Every other command is a message command (`is_message_command`).
            body => {
                debug_assert!(is_message_command(&body));
                let no_expunge = matches!(
                    &body,
                    Fetch { uid: false, .. }
                        | Store { uid: false, .. }
                        | Search { uid: false, .. }
                        | Sort { uid: false, .. }
                        | Thread { uid: false, .. }
                );
                let (status, text) = self.message_command(out, body).await;
                if let Some(pending) = self.pending_fetch.as_mut() {
                    pending.tag = tag;
                    self.resume(out).await;
                    return Control::Continue;
                }
                if self.selected.is_some() {
                    // RFC 9051 §7.5.1: no EXPUNGE during FETCH, STORE or SEARCH by sequence number.
                    self.refresh(out, !no_expunge).await;
                }
                tagged(out, &tag, status, &text);
                Control::Continue
            }
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

    pub(crate) fn account_id(&self) -> confiance_mail::model::AccountId {
        self.account.as_ref().expect("authenticated").id
    }
}
