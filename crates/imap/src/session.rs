//! One IMAP connection's state and the commands that do not touch messages one by one:
//! authentication, folders, STATUS, APPEND, quotas (RFC 9051 §6.1–§6.3, RFC 9208).

use std::collections::HashSet;
use std::sync::Arc;

use confiance_mail::{Incoming, MailService};
use confiance_store::{Account, Mailbox as Folder, MailboxId, StoreError};
use tokio::sync::broadcast;

use crate::ImapConfig;
use crate::command::*;
use crate::render;
use crate::view::Selected;

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
    Authenticate(String, String),
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
    pub(crate) notify: Option<crate::notify::NotifyState>,
    /// The connection must end after the pending output (the selected folder vanished).
    pub(crate) closing: bool,
    /// A FETCH still producing its responses (see `Session::resume`).
    pub(crate) pending_fetch: Option<crate::messages::PendingFetch>,
    pub(crate) utf8: bool,
    pub(crate) changes: Option<broadcast::Receiver<MailboxId>>,
    /// Tag of the command being run (ESEARCH echoes it).
    pub(crate) tag: String,
}

pub(crate) fn tagged(out: &mut Vec<u8>, tag: &str, status: &str, text: &str) {
    out.extend_from_slice(format!("{tag} {status} {text}\r\n").as_bytes());
}

pub(crate) fn untagged(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(format!("* {text}\r\n").as_bytes());
}

fn mailbox_name(m: &Mailbox) -> Result<String, &'static str> {
    let name = String::from_utf8(m.0.clone()).map_err(|_| "the folder name is not valid UTF-8")?;
    let name = name.trim_end_matches(DELIMITER).to_string();
    if name.is_empty() {
        return Err("the folder name is empty");
    }
    if name.split(DELIMITER).any(|p| p.is_empty()) || name.chars().any(|c| c.is_control()) {
        return Err("the folder name has an empty level or a control character");
    }
    if name.eq_ignore_ascii_case("INBOX") {
        return Ok("INBOX".into());
    }
    Ok(name)
}

/// LIST pattern matching (RFC 9051 §6.3.9): `*` matches anything, `%` anything but the delimiter.
/// Dynamic programming over (pattern, name) positions: linear in their product whatever the
/// wildcards, so no pattern can make the server spin.
pub(crate) fn pattern_matches(pattern: &[u8], name: &[u8]) -> bool {
    // reach[j]: the pattern prefix seen so far matches name[..j].
    let mut reach = vec![false; name.len() + 1];
    reach[0] = true;
    for &p in pattern {
        let mut next = vec![false; name.len() + 1];
        match p {
            b'*' | b'%' => {
                let mut open = false;
                for j in 0..=name.len() {
                    if reach[j] {
                        open = true;
                    } else if p == b'%' && j > 0 && name[j - 1] == DELIMITER as u8 {
                        open = false;
                    }
                    next[j] = open;
                }
            }
            c => {
                for j in 1..=name.len() {
                    next[j] = reach[j - 1] && name[j - 1] == c;
                }
            }
        }
        reach = next;
    }
    reach[name.len()]
}

/// INBOX matches case-insensitively in patterns (RFC 9051 §5.1).
fn list_matches(pattern: &[u8], name: &str) -> bool {
    if name == "INBOX" && pattern.len() >= 5 && pattern[..5].eq_ignore_ascii_case(b"INBOX") {
        let mut p = b"INBOX".to_vec();
        p.extend_from_slice(&pattern[5..]);
        return pattern_matches(&p, name.as_bytes());
    }
    pattern_matches(pattern, name.as_bytes())
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
            if self.cfg.psc.is_some() {
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
                let mechanism = mechanism.to_ascii_uppercase();
                let offered = match mechanism.as_str() {
                    "PLAIN" => true,
                    "XOAUTH2" | "OAUTHBEARER" => self.cfg.psc.is_some(),
                    "EXTERNAL" => self.card.is_some(),
                    _ => false,
                };
                if !offered {
                    tagged(out, &tag, "NO", "[CANNOT] Unsupported mechanism; see CAPABILITY.");
                    return Control::Continue;
                }
                match initial_response {
                    Some(r) => {
                        self.authenticate(out, &tag, &mechanism, &r).await;
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

    pub(crate) async fn login(&mut self, out: &mut Vec<u8>, tag: &str, user: String, pass: String, method: &str) {
        if !self.tls {
            tagged(
                out,
                tag,
                "NO",
                "[PRIVACYREQUIRED] Use STARTTLS (or port 993) before logging in.",
            );
            return;
        }
        let attempt = confiance_auth::Attempt {
            protocol: "imap",
            method,
            peer: &self.peer,
        };
        let verified = confiance_auth::login(
            self.svc.store().clone(),
            &self.cfg.throttle,
            &user,
            pass,
            attempt,
            self.cfg.auth_failure_delay,
        )
        .await;
        match verified {
            Some(account) => self.logged_in(out, tag, account),
            None => {
                tagged(out, tag, "NO", "[AUTHENTICATIONFAILED] Invalid address or password.");
            }
        }
    }

    /// The decoded message of AUTHENTICATE for an offered mechanism.
    pub(crate) async fn authenticate(&mut self, out: &mut Vec<u8>, tag: &str, mechanism: &str, message: &[u8]) {
        if mechanism == "EXTERNAL" {
            return self.authenticate_external(out, tag, message).await;
        }
        let bearer = match mechanism {
            "XOAUTH2" => confiance_auth::sasl::decode_xoauth2(message),
            "OAUTHBEARER" => confiance_auth::sasl::decode_oauthbearer(message),
            _ => return self.authenticate_plain(out, tag, message).await,
        };
        let bearer = match bearer {
            Ok(b) => b,
            Err(e) => return tagged(out, tag, "BAD", &format!("{e}.")),
        };
        let method = format!("AUTHENTICATE {mechanism}");
        let attempt = confiance_auth::Attempt {
            protocol: "imap",
            method: &method,
            peer: &self.peer,
        };
        let store = self.svc.store().clone();
        let psc = self.cfg.psc.clone();
        match confiance_auth::login::login_bearer(store, psc.as_deref(), bearer, attempt, self.cfg.auth_failure_delay)
            .await
        {
            Some(account) => self.logged_in(out, tag, account),
            None => self.oauth_refused = Some(tag.to_string()),
        }
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

    /// RFC 4422 appendix A: the message is the authorization identity (a mailbox), or empty.
    async fn authenticate_external(&mut self, out: &mut Vec<u8>, tag: &str, message: &[u8]) {
        let Ok(authzid) = String::from_utf8(message.to_vec()) else {
            return tagged(out, tag, "BAD", "The authorization identity is not UTF-8.");
        };
        let attempt = confiance_auth::Attempt {
            protocol: "imap",
            method: "AUTHENTICATE EXTERNAL",
            peer: &self.peer,
        };
        let store = self.svc.store().clone();
        let delay = self.cfg.auth_failure_delay;
        match confiance_auth::login::login_card(store, self.card.as_ref(), Some(authzid), attempt, delay).await {
            Some(account) => self.logged_in(out, tag, account),
            None => tagged(
                out,
                tag,
                "NO",
                "[AUTHENTICATIONFAILED] This card holds no active mailbox of that name.",
            ),
        }
    }

    fn logged_in(&mut self, out: &mut Vec<u8>, tag: &str, account: confiance_store::Account) {
        self.changes = Some(self.svc.subscribe(account.id));
        self.account = Some(account);
        tagged(
            out,
            tag,
            "OK",
            &format!("[CAPABILITY {}] Logged in", self.capabilities()),
        );
    }

    pub(crate) async fn authenticate_plain(&mut self, out: &mut Vec<u8>, tag: &str, message: &[u8]) {
        match confiance_auth::decode_plain(message) {
            Ok(c) if c.authzid.as_ref().is_none_or(|z| z.eq_ignore_ascii_case(&c.username)) => {
                self.login(out, tag, c.username, c.password, "AUTHENTICATE PLAIN").await
            }
            Ok(_) => tagged(
                out,
                tag,
                "NO",
                "[AUTHORIZATIONFAILED] Acting as another identity is not allowed.",
            ),
            Err(e) => tagged(out, tag, "BAD", &format!("{e}.")),
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

    pub(crate) fn account_id(&self) -> confiance_store::AccountId {
        self.account.as_ref().expect("authenticated").id
    }

    pub(crate) async fn folder(&self, mailbox: &Mailbox) -> Result<Option<Folder>, &'static str> {
        let name = mailbox_name(mailbox)?;
        let account = self.account_id();
        self.svc
            .run(move |s| s.mailbox(account, &name))
            .await
            .map_err(|_| "storage error")
    }

    async fn select(
        &mut self,
        out: &mut Vec<u8>,
        tag: &str,
        mailbox: &Mailbox,
        params: &[SelectParam],
        read_only: bool,
    ) {
        if self.selected.take().is_some() {
            // RFC 9051 §7.1: the previous folder is closed (without expunge).
            untagged(out, "OK [CLOSED] Previous folder closed.");
        }
        let resync = params.iter().find_map(|p| match p {
            SelectParam::QResync {
                uidvalidity,
                modseq,
                known_uids,
                ..
            } => Some((*uidvalidity, *modseq, known_uids.clone())),
            _ => None,
        });
        if resync.is_some() && !self.qresync {
            // RFC 7162 §3.2.5: QRESYNC parameters need ENABLE QRESYNC first.
            tagged(out, tag, "BAD", "ENABLE QRESYNC before using it in SELECT.");
            return;
        }
        if params.contains(&SelectParam::CondStore) {
            self.condstore = true;
        }
        let folder = match self.folder(mailbox).await {
            Ok(Some(f)) => f,
            Ok(None) => return tagged(out, tag, "NO", "[NONEXISTENT] No such folder."),
            Err(e) => return tagged(out, tag, "NO", &format!("[CANNOT] {e}.")),
        };
        let id = folder.id;
        let messages = match self.svc.run(move |s| s.messages(id)).await {
            Ok(m) => m,
            Err(e) => return tagged(out, tag, "NO", &format!("[SERVERBUG] {e}")),
        };
        let recent: HashSet<u32> = messages.iter().filter(|m| m.recent).map(|m| m.uid).collect();
        if !read_only && !recent.is_empty() {
            // This session takes \Recent; other sessions will not see it (RFC 3501 §2.3.2).
            let _ = self.svc.run(move |s| s.clear_recent(id)).await;
        }
        let mut keywords: Vec<String> = messages
            .iter()
            .flat_map(|m| m.flags.iter())
            .filter(|f| !f.starts_with('\\'))
            .cloned()
            .collect();
        keywords.sort();
        keywords.dedup();
        let kw = keywords.iter().map(|k| format!(" {k}")).collect::<String>();
        untagged(
            out,
            &format!("FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft{kw})"),
        );
        untagged(
            out,
            &format!("OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft{kw} \\*)] Flags permitted."),
        );
        untagged(out, &format!("{} EXISTS", messages.len()));
        if !self.rev2 {
            untagged(out, &format!("{} RECENT", recent.len()));
            if let Some(pos) = messages.iter().position(|m| !m.flags.iter().any(|f| f == "\\Seen")) {
                untagged(out, &format!("OK [UNSEEN {}] First unseen.", pos + 1));
            }
        }
        untagged(out, &format!("OK [UIDVALIDITY {}] UIDs valid", folder.uidvalidity));
        untagged(out, &format!("OK [UIDNEXT {}] Predicted next UID", folder.uidnext));
        if self.condstore {
            untagged(out, &format!("OK [HIGHESTMODSEQ {}] Highest", folder.highest_modseq));
        }
        let mut list = b"LIST () \"/\" ".to_vec();
        render::mailbox_name(&mut list, &folder.name);
        if self.rev2 {
            untagged(out, &String::from_utf8_lossy(&list));
        }
        self.selected = Some(Selected {
            id,
            name: folder.name.clone(),
            read_only,
            messages,
            recent,
            modseq: folder.highest_modseq,
            saved: HashSet::new(),
            updates: Vec::new(),
            dirty: false,
        });
        if let Some((uidvalidity, modseq, known)) = resync
            && uidvalidity == folder.uidvalidity
        {
            self.resynchronise(out, modseq, known.as_ref()).await;
        }
        let (code, verb) = if read_only {
            ("READ-ONLY", "EXAMINE")
        } else {
            ("READ-WRITE", "SELECT")
        };
        tagged(out, tag, "OK", &format!("[{code}] {verb} completed"));
    }

    async fn create(&mut self, out: &mut Vec<u8>, tag: &str, mailbox: &Mailbox, special_use: Vec<String>) {
        let name = match mailbox_name(mailbox) {
            Ok(n) => n,
            Err(e) => return tagged(out, tag, "NO", &format!("[CANNOT] {e}.")),
        };
        if name == "INBOX" {
            return tagged(out, tag, "NO", "[ALREADYEXISTS] INBOX always exists.");
        }
        let known = [
            "\\Sent",
            "\\Drafts",
            "\\Trash",
            "\\Junk",
            "\\Archive",
            "\\All",
            "\\Flagged",
        ];
        if special_use.len() > 1
            || special_use
                .iter()
                .any(|u| !known.iter().any(|k| k.eq_ignore_ascii_case(u)))
        {
            return tagged(
                out,
                tag,
                "NO",
                "[USEATTR] Only one known special-use attribute is allowed.",
            );
        }
        let account = self.account_id();
        let use_attr = special_use.first().cloned();
        let result = self.svc.create_folder(account, name, use_attr, DELIMITER).await;
        match result {
            Ok(_) => tagged(out, tag, "OK", "CREATE completed"),
            Err(confiance_mail::MailError::Store(StoreError::MailboxExists)) => {
                tagged(out, tag, "NO", "[ALREADYEXISTS] The folder already exists.")
            }
            Err(confiance_mail::MailError::Limit(limit)) => tagged(out, tag, "NO", &format!("[LIMIT] {limit}.")),
            Err(e) => tagged(out, tag, "NO", &format!("[SERVERBUG] {e}")),
        }
    }

    async fn delete(&mut self, out: &mut Vec<u8>, tag: &str, mailbox: &Mailbox) {
        let name = match mailbox_name(mailbox) {
            Ok(n) => n,
            Err(e) => return tagged(out, tag, "NO", &format!("[CANNOT] {e}.")),
        };
        if name == "INBOX" {
            return tagged(out, tag, "NO", "[CANNOT] INBOX cannot be deleted.");
        }
        let account = self.account_id();
        let prefix = format!("{name}{DELIMITER}");
        let folders = self.svc.run(move |s| s.mailboxes(account)).await.unwrap_or_default();
        if !folders.iter().any(|f| f.name == name) {
            return tagged(out, tag, "NO", "[NONEXISTENT] No such folder.");
        }
        if folders.iter().any(|f| f.name.starts_with(&prefix)) {
            return tagged(out, tag, "NO", "[HASCHILDREN] Delete the subfolders first.");
        }
        if self.selected.as_ref().is_some_and(|s| s.name == name) {
            self.selected = None;
        }
        match self.svc.delete_mailbox(account, name).await {
            Ok(()) => tagged(out, tag, "OK", "DELETE completed"),
            Err(e) => tagged(out, tag, "NO", &format!("[SERVERBUG] {e}")),
        }
    }

    async fn rename(&mut self, out: &mut Vec<u8>, tag: &str, from: &Mailbox, to: &Mailbox) {
        let (from, to) = match (mailbox_name(from), mailbox_name(to)) {
            (Ok(f), Ok(t)) => (f, t),
            (Err(e), _) | (_, Err(e)) => return tagged(out, tag, "NO", &format!("[CANNOT] {e}.")),
        };
        if to == "INBOX" {
            return tagged(out, tag, "NO", "[ALREADYEXISTS] INBOX always exists.");
        }
        if to.starts_with(&format!("{from}{DELIMITER}")) {
            return tagged(out, tag, "NO", "[CANNOT] A folder cannot be moved into itself.");
        }
        let account = self.account_id();
        let inbox = if from == "INBOX" {
            self.svc
                .run(move |s| s.mailbox(account, "INBOX"))
                .await
                .ok()
                .flatten()
                .map(|m| m.id)
        } else {
            None
        };
        let result = self.svc.rename_folder(account, from, to, DELIMITER).await;
        if let (Ok(()), Some(inbox)) = (&result, inbox) {
            // Sessions with INBOX selected see its messages leave.
            self.svc.changed(account, inbox);
        }
        match result {
            Ok(()) => tagged(out, tag, "OK", "RENAME completed"),
            Err(confiance_mail::MailError::Store(StoreError::MailboxExists)) => {
                tagged(out, tag, "NO", "[ALREADYEXISTS] The target folder already exists.")
            }
            Err(confiance_mail::MailError::Store(StoreError::NoSuchMailbox)) => {
                tagged(out, tag, "NO", "[NONEXISTENT] No such folder.")
            }
            Err(confiance_mail::MailError::Limit(limit)) => tagged(out, tag, "NO", &format!("[LIMIT] {limit}.")),
            Err(e) => tagged(out, tag, "NO", &format!("[SERVERBUG] {e}")),
        }
    }

    async fn subscribe(&mut self, out: &mut Vec<u8>, tag: &str, mailbox: &Mailbox, on: bool) {
        let name = match mailbox_name(mailbox) {
            Ok(n) => n,
            Err(e) => return tagged(out, tag, "NO", &format!("[CANNOT] {e}.")),
        };
        // Subscriptions may name folders that do not exist (RFC 9051 §6.3.7): the same bounds
        // as folders keep LSUB and LIST (SUBSCRIBED) answers small.
        if on && let Err(limit) = confiance_mail::folders::check_name(&name, DELIMITER) {
            return tagged(out, tag, "NO", &format!("[LIMIT] {limit}."));
        }
        let account = self.account_id();
        let max = confiance_mail::folders::MAX_FOLDERS;
        let subscribed = self
            .svc
            .run(move |s| {
                if on && s.subscriptions(account)?.len() >= max {
                    return Ok(false);
                }
                s.set_subscribed(account, &name, on).map(|()| true)
            })
            .await;
        match subscribed {
            Ok(false) => tagged(
                out,
                tag,
                "NO",
                &format!("[LIMIT] an account holds at most {max} subscriptions."),
            ),
            Ok(true) => tagged(
                out,
                tag,
                "OK",
                if on {
                    "SUBSCRIBE completed"
                } else {
                    "UNSUBSCRIBE completed"
                },
            ),
            Err(e) => tagged(out, tag, "NO", &format!("[SERVERBUG] {e}")),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn list(
        &mut self,
        out: &mut Vec<u8>,
        tag: &str,
        selection: &[ListSelectOption],
        reference: &[u8],
        patterns: &[Vec<u8>],
        return_opts: &[ListReturnOption],
        verb: &str,
    ) {
        let account = self.account_id();
        let (folders, subscriptions) = match self
            .svc
            .run(move |s| Ok((s.mailboxes(account)?, s.subscriptions(account)?)))
            .await
        {
            Ok(v) => v,
            Err(e) => return tagged(out, tag, "NO", &format!("[SERVERBUG] {e}")),
        };
        // LIST "" "": the hierarchy delimiter and root (RFC 9051 §6.3.9).
        if verb == "LIST" && patterns.len() == 1 && patterns[0].is_empty() {
            untagged(out, "LIST (\\Noselect) \"/\" \"\"");
            return tagged(out, tag, "OK", "LIST completed");
        }
        let subscribed_only = selection.contains(&ListSelectOption::Subscribed);
        let special_only = selection.contains(&ListSelectOption::SpecialUse);
        let want_subscribed = subscribed_only || return_opts.contains(&ListReturnOption::Subscribed);
        let status_items = return_opts.iter().find_map(|o| match o {
            ListReturnOption::Status(items) => Some(items.clone()),
            _ => None,
        });
        let recursive = selection.contains(&ListSelectOption::RecursiveMatch);
        let matches = |name: &str| {
            patterns.iter().any(|p| {
                let mut full = reference.to_vec();
                full.extend_from_slice(p);
                list_matches(&full, name)
            })
        };
        let mut names: Vec<String> = if subscribed_only {
            subscriptions.clone()
        } else {
            folders.iter().map(|f| f.name.clone()).collect()
        };
        names.retain(|n| matches(n));
        // Unsubscribed parents of subscribed folders the pattern does not reach: LSUB shows them
        // \Noselect (RFC 3501 §6.3.9), LIST (SUBSCRIBED RECURSIVEMATCH) with CHILDINFO (RFC 5258 §3.5).
        let mut parents_of_subscribed: Vec<String> = Vec::new();
        if verb == "LSUB" || (subscribed_only && recursive) {
            for s in subscriptions.iter().filter(|s| !matches(s)) {
                let levels: Vec<&str> = s.split(DELIMITER).collect();
                for i in 1..levels.len() {
                    let parent = levels[..i].join("/");
                    if matches(&parent) && !subscriptions.contains(&parent) && !parents_of_subscribed.contains(&parent)
                    {
                        parents_of_subscribed.push(parent);
                    }
                }
            }
        }
        names.extend(parents_of_subscribed.iter().cloned());
        names.sort();
        names.dedup();
        for name in names {
            let folder = folders.iter().find(|f| f.name == name);
            if special_only && folder.and_then(|f| f.special_use.as_ref()).is_none() {
                continue;
            }
            let parent_only = parents_of_subscribed.contains(&name);
            let mut attrs: Vec<String> = Vec::new();
            if verb == "LSUB" {
                if parent_only || folder.is_none() {
                    attrs.push("\\Noselect".into());
                }
            } else {
                if folder.is_none() {
                    attrs.push("\\NonExistent".into());
                } else {
                    let prefix = format!("{name}{DELIMITER}");
                    let children = folders.iter().any(|f| f.name.starts_with(&prefix));
                    attrs.push(if children {
                        "\\HasChildren".into()
                    } else {
                        "\\HasNoChildren".into()
                    });
                }
                if want_subscribed && subscriptions.contains(&name) {
                    attrs.push("\\Subscribed".into());
                }
                if let Some(u) = folder.and_then(|f| f.special_use.clone()) {
                    attrs.push(u);
                }
            }
            let mut line = format!("{verb} ({}) \"/\" ", attrs.join(" ")).into_bytes();
            render::mailbox_name(&mut line, &name);
            if parent_only && verb == "LIST" {
                line.extend_from_slice(b" (CHILDINFO (\"SUBSCRIBED\"))");
            }
            out.extend_from_slice(b"* ");
            out.extend_from_slice(&line);
            out.extend_from_slice(b"\r\n");
            if let (Some(items), Some(f)) = (&status_items, folder) {
                self.status_line(out, f, items).await;
            }
        }
        tagged(out, tag, "OK", &format!("{verb} completed"));
    }

    async fn status(&mut self, out: &mut Vec<u8>, tag: &str, mailbox: &Mailbox, items: &[StatusItem]) {
        match self.folder(mailbox).await {
            Ok(Some(f)) => {
                self.status_line(out, &f, items).await;
                tagged(out, tag, "OK", "STATUS completed");
            }
            Ok(None) => tagged(out, tag, "NO", "[NONEXISTENT] No such folder."),
            Err(e) => tagged(out, tag, "NO", &format!("[CANNOT] {e}.")),
        }
    }

    pub(crate) async fn status_line(&self, out: &mut Vec<u8>, folder: &Folder, items: &[StatusItem]) {
        let id = folder.id;
        let messages = self.svc.run(move |s| s.messages(id)).await.unwrap_or_default();
        let selected_here = self.selected.as_ref().filter(|s| s.id == id);
        let mut parts = Vec::new();
        for item in items {
            let v = match item {
                StatusItem::Messages => format!("MESSAGES {}", messages.len()),
                StatusItem::UidNext => format!("UIDNEXT {}", folder.uidnext),
                StatusItem::UidValidity => format!("UIDVALIDITY {}", folder.uidvalidity),
                StatusItem::Unseen => format!(
                    "UNSEEN {}",
                    messages
                        .iter()
                        .filter(|m| !m.flags.iter().any(|f| f == "\\Seen"))
                        .count()
                ),
                StatusItem::Recent => {
                    let n = match selected_here {
                        Some(s) => s.recent.len(),
                        None => messages.iter().filter(|m| m.recent).count(),
                    };
                    format!("RECENT {n}")
                }
                StatusItem::Size => format!("SIZE {}", messages.iter().map(|m| m.size).sum::<u64>()),
                StatusItem::Deleted => format!(
                    "DELETED {}",
                    messages
                        .iter()
                        .filter(|m| m.flags.iter().any(|f| f == "\\Deleted"))
                        .count()
                ),
                StatusItem::HighestModSeq => format!("HIGHESTMODSEQ {}", folder.highest_modseq),
            };
            parts.push(v);
        }
        let mut line = b"* STATUS ".to_vec();
        render::mailbox_name(&mut line, &folder.name);
        line.extend_from_slice(format!(" ({})\r\n", parts.join(" ")).as_bytes());
        out.extend_from_slice(&line);
    }

    async fn quota(&self, out: &mut Vec<u8>) {
        let account = self.account_id();
        let limit = self.account.as_ref().map(|a| a.quota_bytes).unwrap_or(0);
        let used = self.svc.run(move |s| s.usage(account)).await.unwrap_or(0);
        // RFC 9208 §5.1: STORAGE is counted in units of 1024 octets.
        untagged(
            out,
            &format!("QUOTA \"\" (STORAGE {} {})", used.div_ceil(1024), limit / 1024),
        );
    }

    async fn append(&mut self, out: &mut Vec<u8>, tag: &str, mailbox: &Mailbox, messages: Vec<AppendMessage>) {
        let folder = match self.folder(mailbox).await {
            Ok(Some(f)) => f,
            Ok(None) => return tagged(out, tag, "NO", "[TRYCREATE] No such folder."),
            Err(e) => return tagged(out, tag, "NO", &format!("[CANNOT] {e}.")),
        };
        // Every message is built and checked first, then all are stored or none (RFC 3502).
        let mut incoming = Vec::with_capacity(messages.len());
        for m in messages {
            let data = match m.data {
                AppendData::Literal { data, .. } => data,
                AppendData::Catenate(parts) => match self.catenate(parts).await {
                    Ok(data) => data,
                    Err(crate::catenate::CatenateError::TooBig) => {
                        return tagged(
                            out,
                            tag,
                            "NO",
                            &format!("[TOOBIG] The message exceeds {} bytes.", self.cfg.max_message_size),
                        );
                    }
                    Err(crate::catenate::CatenateError::BadUrl(url)) => {
                        // RFC 4469 §6 url-resp-text: the URL as is, without "]" or line breaks.
                        let url: String = url.chars().filter(|c| !matches!(c, ']' | '\r' | '\n')).collect();
                        let text = format!("[BADURL {url}] The URL does not name a message part of this account.");
                        return tagged(out, tag, "NO", &text);
                    }
                },
            };
            if data.is_empty() {
                return tagged(out, tag, "NO", "[CANNOT] An empty message cannot be stored.");
            }
            if data.len() as u64 > self.cfg.max_message_size {
                return tagged(
                    out,
                    tag,
                    "NO",
                    &format!("[TOOBIG] The message exceeds {} bytes.", self.cfg.max_message_size),
                );
            }
            let date = match &m.date {
                Some(d) => (crate::fetch::timestamp(d), d.zone_minutes as i32),
                None => (chrono::Utc::now().timestamp(), 0),
            };
            let flags: Vec<String> = m
                .flags
                .iter()
                .filter(|f| !f.eq_ignore_ascii_case("\\Recent"))
                .cloned()
                .collect();
            incoming.push(Incoming {
                mailbox: folder.id,
                bytes: data,
                flags,
                internal_date: date,
            });
        }
        let appended = match self.svc.deliver_all(incoming).await {
            Ok(Ok(a)) => a,
            Ok(Err(StoreError::QuotaExceeded { used, limit })) => {
                return tagged(
                    out,
                    tag,
                    "NO",
                    &format!("[OVERQUOTA] Mailbox full: {used} of {limit} bytes used."),
                );
            }
            Ok(Err(e)) => return tagged(out, tag, "NO", &format!("[SERVERBUG] {e}")),
            Err(e) => return tagged(out, tag, "NO", &format!("[SERVERBUG] {e}")),
        };
        let uidvalidity = appended.first().map_or(folder.uidvalidity, |a| a.uidvalidity);
        let uids: Vec<u32> = appended.iter().map(|a| a.uid).collect();
        self.refresh(out, true).await;
        let set = uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        tagged(
            out,
            tag,
            "OK",
            &format!("[APPENDUID {uidvalidity} {set}] APPEND completed"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_patterns() {
        assert!(pattern_matches(b"*", b"a/b"));
        assert!(pattern_matches(b"%", b"a"));
        assert!(!pattern_matches(b"%", b"a/b"));
        assert!(pattern_matches(b"a/%", b"a/b"));
        assert!(pattern_matches(b"a*b", b"a/x/b"));
        assert!(!pattern_matches(b"a%", b"a/b"));
        assert!(pattern_matches(b"%/%", b"a/b"));
        assert!(pattern_matches(b"", b""));
        assert!(!pattern_matches(b"", b"a"));
        assert!(list_matches(b"inbox", "INBOX"));
        // Many wildcards against a long name answer at once.
        let name = vec![b'a'; 4000];
        let pattern = b"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b".repeat(20);
        assert!(!pattern_matches(&pattern, &name));
        assert!(!list_matches(b"inbox", "inbox2"));
    }
}
