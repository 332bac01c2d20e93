//! In-process dialogues: sessions driven by byte strings, with the real mailbox service under
//! them and no socket, so a command family's behaviour is tested beside its code. The
//! real-server tests (`crates/confiance/tests/`) cover TLS, framing on the wire and clients.

use std::sync::Arc;
use std::time::Duration;

use confiance_mail::MailService;

use super::{Control, Session};
use crate::ImapConfig;
use crate::proto::command::parse_command;

const PASSWORD: &str = "Correct-horse-42";

struct Operator {
    svc: Arc<MailService>,
    cfg: Arc<ImapConfig>,
    _dir: tempfile::TempDir,
}

fn tls() -> Arc<rustls::ServerConfig> {
    confiance_trust::tls::self_signed("localhost").unwrap()
}

impl Operator {
    /// A store with the BALs `addresses`, each with `PASSWORD`.
    fn with(addresses: &[&str]) -> Operator {
        let dir = tempfile::tempdir().unwrap();
        let store = confiance_store::open(dir.path()).unwrap();
        let hash = confiance_auth::hash_password(PASSWORD).unwrap();
        for a in addresses {
            store.create_account(a, &hash, 1 << 20).unwrap();
        }
        let files = confiance_store::BlobStore::open(dir.path().join("blobs"), false).unwrap();
        let svc = MailService::new(store.clone(), Arc::new(files));
        let throttle = confiance_auth::throttle::Throttle::new(confiance_auth::throttle::ThrottleLimits {
            per_account: 10,
            per_address: 100,
            penalty: Duration::from_secs(60),
        });
        let cfg = Arc::new(ImapConfig {
            tls: tls(),
            max_message_size: 1 << 20,
            autologout: Duration::from_secs(1800),
            handshake_timeout: Duration::from_secs(5),
            login_timeout: Duration::from_secs(5),
            limits: confiance_net::Limits {
                max_connections: 10,
                max_per_address: 10,
            },
            logins: Arc::new(confiance_auth::Logins::new(store, throttle, None, Duration::ZERO)),
        });
        Operator { svc, cfg, _dir: dir }
    }

    /// A session as after the TLS handshake of port 993.
    fn connect(&self) -> Dialogue {
        self.connect_tls(true)
    }

    /// A session of port 143, before STARTTLS when `tls` is false.
    fn connect_tls(&self, tls: bool) -> Dialogue {
        Dialogue(Session::new(
            self.svc.clone(),
            self.cfg.clone(),
            tls,
            "127.0.0.1:1".into(),
        ))
    }
}

struct Dialogue(Session);

impl Dialogue {
    /// One command line (CRLF added), and everything the server answers to it, notifications
    /// of other sessions' changes included, as the connection loop writes them.
    async fn send(&mut self, line: &str) -> String {
        let mut out = Vec::new();
        let control = match parse_command(format!("{line}\r\n").as_bytes()) {
            Ok(cmd) => self.0.handle(cmd, &mut out).await,
            Err(e) => {
                out.extend_from_slice(format!("{e}\r\n").as_bytes());
                Control::Continue
            }
        };
        while self.0.pending_fetch.is_some() {
            self.0.resume(&mut out).await;
        }
        self.0.notifications(&mut out).await;
        assert!(matches!(control, Control::Continue | Control::Logout), "{line}");
        String::from_utf8(out).unwrap()
    }

    async fn login(&mut self, address: &str) {
        let answer = self.send(&format!("l LOGIN {address} {PASSWORD}")).await;
        assert!(answer.contains("l OK"), "{answer}");
    }
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_address_read_alike() {
    let op = Operator::with(&["alice@medecin.test"]);
    let mut s = op.connect();
    let wrong = s.send("a LOGIN alice@medecin.test Wrong-password-1").await;
    let unknown = s.send("a LOGIN nobody@medecin.test Wrong-password-1").await;
    assert_eq!(wrong, format!("a NO {}\r\n", super::auth::LOGIN_REFUSED));
    assert_eq!(wrong, unknown);
    assert!(s.send("b SELECT INBOX").await.starts_with("b BAD"));
}

/// No secret crosses in clear: LOGIN and every AUTHENTICATE are refused before STARTTLS, with
/// the right password too, and the session stays unauthenticated.
#[tokio::test]
async fn no_login_before_starttls() {
    let op = Operator::with(&["alice@medecin.test"]);
    let mut s = op.connect_tls(false);
    let refused = "NO [PRIVACYREQUIRED] Use STARTTLS (or port 993) before logging in.\r\n";
    let answer = s.send(&format!("a LOGIN alice@medecin.test {PASSWORD}")).await;
    assert_eq!(answer, format!("a {refused}"));
    let answer = s
        .send("b AUTHENTICATE PLAIN AGFsaWNlQG1lZGVjaW4udGVzdABDb3JyZWN0LWhvcnNlLTQy")
        .await;
    assert_eq!(answer, format!("b {refused}"));
    assert!(s.send("c SELECT INBOX").await.starts_with("c BAD"));
}

#[tokio::test]
async fn a_change_in_one_session_reaches_the_others() {
    let op = Operator::with(&["alice@medecin.test", "bob@medecin.test"]);
    let (mut writer, mut reader, mut stranger) = (op.connect(), op.connect(), op.connect());
    writer.login("alice@medecin.test").await;
    reader.login("alice@medecin.test").await;
    stranger.login("bob@medecin.test").await;
    for s in [&mut reader, &mut stranger] {
        let answer = s.send("s SELECT INBOX").await;
        assert!(answer.contains("* 0 EXISTS"), "{answer}");
    }
    // What IDLE and NOTIFY wait on: each operation announces the folder it changed.
    let account = |a: &str| {
        let svc = op.svc.clone();
        let a = a.to_string();
        async move { svc.account_by_address(a).await.unwrap().unwrap().id }
    };
    let mut alice_hears = op.svc.subscribe(account("alice@medecin.test").await);
    let mut bob_hears = op.svc.subscribe(account("bob@medecin.test").await);
    let answer = writer.send("w APPEND INBOX {23+}\r\nSubject: bilan\r\n\r\nHello").await;
    assert!(answer.contains("w OK [APPENDUID"), "{answer}");
    // The delivery announced itself: the other session of the account hears of it.
    assert!(alice_hears.try_recv().is_ok(), "APPEND announced nothing");
    let answer = reader.send("n NOOP").await;
    assert!(answer.contains("* 1 EXISTS"), "{answer}");
    // Flags set in one session reach the other, without any call site announcing them.
    assert!(writer.send("w SELECT INBOX").await.contains("* 1 EXISTS"));
    let answer = writer.send("w STORE 1 +FLAGS (\\Flagged)").await;
    assert!(answer.contains("w OK"), "{answer}");
    assert!(alice_hears.try_recv().is_ok(), "STORE announced nothing");
    let answer = writer.send("w COPY 1 Trash").await;
    assert!(answer.contains("w OK [COPYUID"), "{answer}");
    assert!(alice_hears.try_recv().is_ok(), "COPY announced nothing");
    let answer = reader.send("n NOOP").await;
    assert!(answer.contains("* 1 FETCH (FLAGS (\\Flagged"), "{answer}");
    // Another account hears nothing and sees nothing.
    assert!(bob_hears.try_recv().is_err());
    let answer = stranger.send("n NOOP").await;
    assert_eq!(answer, "n OK NOOP completed\r\n");
}

/// A keyword new to the folder is announced in FLAGS and PERMANENTFLAGS before any FETCH
/// shows it, to the session that set it and to the others (RFC 9051 §7.3.5), once.
#[tokio::test]
async fn a_new_keyword_is_announced_before_it_is_shown() {
    let op = Operator::with(&["alice@medecin.test"]);
    let (mut setter, mut other) = (op.connect(), op.connect());
    setter.login("alice@medecin.test").await;
    other.login("alice@medecin.test").await;
    let answer = setter.send("a APPEND INBOX {23+}\r\nSubject: bilan\r\n\r\nHello").await;
    assert!(answer.contains("a OK"), "{answer}");
    for s in [&mut setter, &mut other] {
        let answer = s.send("s SELECT INBOX").await;
        assert!(
            answer.contains("* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)"),
            "{answer}"
        );
    }
    let answer = setter.send("t STORE 1 +FLAGS ($Urgent)").await;
    let (flags, fetch) = (answer.find("* FLAGS ("), answer.find("* 1 FETCH (FLAGS ($Urgent"));
    assert!(flags.is_some() && fetch.is_some() && flags < fetch, "{answer}");
    assert!(
        answer.contains(
            "\\Draft $Urgent)\r\n* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Urgent \\*)]"
        ),
        "{answer}"
    );
    let answer = other.send("n NOOP").await;
    let (flags, fetch) = (answer.find("* FLAGS ("), answer.find("* 1 FETCH (FLAGS ($Urgent"));
    assert!(flags.is_some() && fetch.is_some() && flags < fetch, "{answer}");
    // Told once: the next FETCH of it says nothing more.
    let answer = other.send("f FETCH 1 FLAGS").await;
    assert!(!answer.contains("* FLAGS"), "{answer}");
    assert!(answer.contains("* 1 FETCH (FLAGS ($Urgent))"), "{answer}");
}

/// Two sessions on alice's INBOX, which holds two messages ("Premier", "Second!"): the first
/// selects it (and takes \Recent), then the second selects it and expunges the first message.
/// Returns (first, second), the first not yet told of the expunge.
async fn one_expunged_under_the_other(op: &Operator) -> (Dialogue, Dialogue) {
    let (mut first, mut cleaner) = (op.connect(), op.connect());
    first.login("alice@medecin.test").await;
    cleaner.login("alice@medecin.test").await;
    for body in ["Premier", "Second!"] {
        let answer = cleaner
            .send(&format!("a APPEND INBOX {{25+}}\r\nSubject: bilan\r\n\r\n{body}"))
            .await;
        assert!(answer.contains("a OK"), "{answer}");
    }
    // The first session to select takes \Recent (RFC 3501 §2.3.2).
    assert!(first.send("s SELECT INBOX").await.contains("* 2 RECENT"));
    assert!(cleaner.send("s SELECT INBOX").await.contains("* 0 RECENT"));
    let answer = cleaner.send("d STORE 1 +FLAGS.SILENT (\\Deleted)").await;
    assert!(answer.contains("d OK"), "{answer}");
    assert!(cleaner.send("e EXPUNGE").await.contains("* 1 EXPUNGE"));
    (first, cleaner)
}

/// A FETCH of messages another session expunged meanwhile sends those still there and answers
/// OK [EXPUNGEISSUED] (RFC 9051 §7.1), not a server fault; NOOP then reports the expunge.
#[tokio::test]
async fn fetching_what_another_session_expunged() {
    let op = Operator::with(&["alice@medecin.test"]);
    let (mut reader, _cleaner) = one_expunged_under_the_other(&op).await;
    let answer = reader.send("f FETCH 1:2 (BODY.PEEK[TEXT])").await;
    assert!(answer.contains("* 2 FETCH (BODY[TEXT] {7}\r\nSecond!)"), "{answer}");
    assert!(answer.contains("f OK [EXPUNGEISSUED]"), "{answer}");
    assert!(
        !answer.contains("EXPUNGE\r\n"),
        "no EXPUNGE during a FETCH by number: {answer}"
    );
    let answer = reader.send("n NOOP").await;
    assert!(answer.contains("* 1 EXPUNGE"), "{answer}");
}

/// STATUS of the selected folder counts this session's \Recent among the messages still
/// there: after another session's EXPUNGE, RECENT never exceeds MESSAGES.
#[tokio::test]
async fn recent_never_exceeds_messages() {
    let op = Operator::with(&["alice@medecin.test"]);
    let (mut first, _cleaner) = one_expunged_under_the_other(&op).await;
    let answer = first.send("t STATUS INBOX (MESSAGES RECENT)").await;
    assert!(answer.contains("(MESSAGES 1 RECENT 1)"), "{answer}");
}

/// Sessions at the same state share one copy of the folder's messages (memory per idle
/// session); the one that changes it works on its own copy, so the others keep what they were
/// told; once told, they share again.
#[tokio::test]
async fn sessions_share_a_view_until_told_of_a_change() {
    let op = Operator::with(&["alice@medecin.test"]);
    let (mut first, cleaner) = one_expunged_under_the_other(&op).await;
    let view = |d: &Dialogue| d.0.selected.as_ref().expect("selected").messages.clone();
    assert_eq!(view(&first).len(), 2, "the first was not told of the expunge yet");
    assert_eq!(view(&cleaner).len(), 1);
    let mut late = op.connect();
    late.login("alice@medecin.test").await;
    let answer = late.send("s SELECT INBOX").await;
    assert!(
        answer.contains("* 1 EXISTS") && answer.contains("* 0 RECENT"),
        "{answer}"
    );
    assert!(Arc::ptr_eq(&view(&late), &view(&cleaner)), "the same state, one copy");
    assert!(!Arc::ptr_eq(&view(&first), &view(&late)));
    assert!(first.send("n NOOP").await.contains("* 1 EXPUNGE"));
    assert!(
        Arc::ptr_eq(&view(&first), &view(&late)),
        "caught up, the first shares it"
    );
    // A change by the first is its own until the others hear of it.
    assert!(first.send("t STORE 1 +FLAGS.SILENT (\\Flagged)").await.contains("t OK"));
    assert!(!Arc::ptr_eq(&view(&first), &view(&late)));
    assert!(view(&late)[0].flags.is_empty(), "the late session was not told yet");
    assert!(late.send("n NOOP").await.contains("* 1 FETCH (FLAGS (\\Flagged))"));
}

/// A page of header fields and ENVELOPE come from the header section alone, the second time
/// from the cache: the same answer as from the whole message, and a FETCH that also wants the
/// body still gets it.
#[tokio::test]
async fn header_fields_read_twice_answer_alike() {
    let op = Operator::with(&["alice@medecin.test"]);
    let mut s = op.connect();
    s.login("alice@medecin.test").await;
    let message = "Subject: bilan\r\nFrom: a@medecin.test\r\n\r\nSubject: pas un en-tete\r\n";
    let answer = s
        .send(&format!("a APPEND INBOX {{{}+}}\r\n{message}", message.len()))
        .await;
    assert!(answer.contains("a OK"), "{answer}");
    s.send("s SELECT INBOX").await;
    let page = "f FETCH 1 (ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)] RFC822.SIZE)";
    let first = s.send(page).await;
    assert!(
        first.contains("BODY[HEADER.FIELDS (SUBJECT)] {18}\r\nSubject: bilan\r\n\r\n")
            && first.contains(&format!("RFC822.SIZE {}", message.len()))
            && first.contains("\"bilan\""),
        "{first}"
    );
    assert_eq!(s.send(page).await, first);
    let both = s
        .send("g FETCH 1 (BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT])")
        .await;
    assert!(
        both.contains("BODY[TEXT] {25}\r\nSubject: pas un en-tete\r\n"),
        "{both}"
    );
}

/// A session that APPENDs to the folder it holds read-write is the first told of the message:
/// \Recent is its own, in its answer and its FETCH; another session holding the folder and the
/// next to SELECT it see the message without the mark (RFC 3501 §2.3.2: one session only).
#[tokio::test]
async fn the_appending_session_takes_recent_of_what_it_appends() {
    let op = Operator::with(&["alice@medecin.test"]);
    let (mut writer, mut other, mut later) = (op.connect(), op.connect(), op.connect());
    for s in [&mut writer, &mut other, &mut later] {
        s.login("alice@medecin.test").await;
    }
    assert!(writer.send("s SELECT INBOX").await.contains("* 0 EXISTS"));
    assert!(other.send("s SELECT INBOX").await.contains("* 0 EXISTS"));
    let answer = writer.send("a APPEND INBOX {23+}\r\nSubject: bilan\r\n\r\nHello").await;
    assert!(
        answer.contains("* 1 EXISTS") && answer.contains("* 1 RECENT") && answer.contains("a OK"),
        "{answer}"
    );
    let answer = writer.send("f FETCH 1 FLAGS").await;
    assert!(answer.contains("FLAGS (\\Recent)"), "{answer}");
    let answer = other.send("n NOOP").await;
    assert!(
        answer.contains("* 1 EXISTS") && answer.contains("* 0 RECENT"),
        "{answer}"
    );
    let answer = later.send("s SELECT INBOX").await;
    assert!(
        answer.contains("* 1 EXISTS") && answer.contains("* 0 RECENT"),
        "{answer}"
    );
    // Appended to another folder, the message stays \Recent for whoever selects it first.
    let answer = writer
        .send("a APPEND Drafts {23+}\r\nSubject: bilan\r\n\r\nHello")
        .await;
    assert!(answer.contains("a OK"), "{answer}");
    let answer = later.send("s SELECT Drafts").await;
    assert!(answer.contains("* 1 RECENT"), "{answer}");
}

/// A session that EXAMINEs a folder hears of a new message without taking its \Recent; the
/// next session to SELECT it gets it (RFC 3501 §2.3.2), however the views are shared.
#[tokio::test]
async fn recent_is_left_to_the_next_read_write_session() {
    let op = Operator::with(&["alice@medecin.test"]);
    let (mut watcher, mut writer, mut reader) = (op.connect(), op.connect(), op.connect());
    for s in [&mut watcher, &mut writer, &mut reader] {
        s.login("alice@medecin.test").await;
    }
    assert!(watcher.send("e EXAMINE INBOX").await.contains("* 0 EXISTS"));
    let answer = writer.send("a APPEND INBOX {23+}\r\nSubject: bilan\r\n\r\nHello").await;
    assert!(answer.contains("a OK"), "{answer}");
    let answer = watcher.send("n NOOP").await;
    assert!(
        answer.contains("* 1 EXISTS") && answer.contains("* 0 RECENT"),
        "{answer}"
    );
    let answer = reader.send("s SELECT INBOX").await;
    assert!(
        answer.contains("* 1 EXISTS") && answer.contains("* 1 RECENT"),
        "{answer}"
    );
}
