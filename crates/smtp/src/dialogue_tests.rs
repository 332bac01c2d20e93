//! In-process dialogues: submission sessions driven by byte strings over the real mailbox
//! service and queue, with no socket, so the rules of MAIL, RCPT and DATA are tested beside
//! their code. The real-server tests (`crates/confiance/tests/`) cover TLS, the MX with
//! certificates, and real clients.

use std::sync::Arc;
use std::time::Duration;

use confiance_mail::MailService;
use confiance_store::Queue;

use crate::server::Role;
use crate::session::{Next, Session};
use crate::{Outbound, SmtpConfig};

const PASSWORD: &str = "Correct-horse-42";
const ALICE: &str = "alice@medecin.test";
const BOB: &str = "bob@medecin.test";

struct Operator {
    svc: Arc<MailService>,
    cfg: Arc<SmtpConfig>,
    queue: Arc<dyn Queue>,
    _dir: tempfile::TempDir,
}

fn tls() -> Arc<rustls::ServerConfig> {
    confiance_trust::tls::self_signed("localhost").unwrap()
}

impl Operator {
    fn new() -> Operator {
        let dir = tempfile::tempdir().unwrap();
        let store = confiance_store::open(dir.path()).unwrap();
        let hash = confiance_auth::hash_password(PASSWORD).unwrap();
        for a in [ALICE, BOB] {
            store.create_account(a, &hash, 1 << 20).unwrap();
        }
        let files = confiance_store::BlobStore::open(dir.path().join("blobs"), false).unwrap();
        let svc = MailService::new(store.clone(), Arc::new(files));
        let entry = |domain: &str, cn: &str| confiance_trust::whitelist::WhitelistEntry {
            domain: domain.into(),
            description: domain.into(),
            dn: format!("CN={cn},OU=318751275100020,O=TEST,C=FR"),
        };
        let xml = confiance_trust::whitelist::to_xml(
            "2026-12-06T00:00:00Z",
            &[
                entry("medecin.test", "mx.medecin.test"),
                entry("autre.test", "mx.autre.test"),
            ],
        );
        let list = dir.path().join("listeblanche.xml");
        std::fs::write(&list, xml).unwrap();
        let (whitelist, _) =
            confiance_trust::WhitelistSource::open(&list.to_string_lossy(), None, &dir.path().join("kept.xml"))
                .unwrap();
        let queue = confiance_store::open_queue(dir.path()).unwrap();
        let throttle = confiance_auth::throttle::Throttle::new(confiance_auth::throttle::ThrottleLimits {
            per_account: 10,
            per_address: 100,
            penalty: Duration::from_secs(60),
        });
        let cfg = Arc::new(SmtpConfig {
            tls: tls(),
            mx_tls: tls(),
            hostname: "mx.medecin.test".into(),
            domains: vec!["medecin.test".into()],
            postmaster: None,
            max_message_size: 4096,
            max_recipients: 3,
            trusted_networks: Vec::new(),
            command_timeout: Duration::from_secs(300),
            handshake_timeout: Duration::from_secs(5),
            limits: confiance_net::Limits {
                max_connections: 10,
                max_per_address: 10,
            },
            logins: Arc::new(confiance_auth::Logins::new(store, throttle, None, Duration::ZERO)),
            whitelist: Arc::new(whitelist),
            outbound: Arc::new(Outbound {
                queue: queue.clone(),
                wake: tokio::sync::Notify::new(),
            }),
            app_rate: Arc::new(crate::rate::StructureRate::new(600)),
            patients: Default::default(),
            patient_side: false,
        });
        Operator {
            svc,
            cfg,
            queue,
            _dir: dir,
        }
    }

    /// A submission session as after the TLS handshake of port 465.
    fn connect(&self) -> Dialogue {
        let mut session = Session::new(
            self.svc.clone(),
            self.cfg.clone(),
            Role::Submission,
            "127.0.0.1:1".into(),
            false,
        );
        session.tls = Some("TLSv1.3".into());
        Dialogue(session)
    }

    async fn inbox_count(&self, address: &str) -> usize {
        let inbox = self.svc.inbox_of(address.into(), None).await.unwrap().unwrap();
        self.svc.messages(inbox.id).await.unwrap().len()
    }
}

struct Dialogue(Session);

impl Dialogue {
    /// One command line; the reply, with the continuation the server asks for.
    async fn send(&mut self, line: &str) -> (String, Next) {
        let mut out = String::new();
        let next = self.0.command(line.as_bytes(), &mut out).await;
        (out, next)
    }

    async fn reply(&mut self, line: &str) -> String {
        self.send(line).await.0
    }

    /// The answer to a line of an AUTH exchange.
    async fn auth_line(&mut self, line: &str) -> (String, Next) {
        let mut out = String::new();
        let next = self.0.auth_response(line.as_bytes(), &mut out).await;
        (out, next)
    }

    async fn logged_in(&mut self, address: &str) {
        assert!(self.reply("EHLO cabinet.test").await.contains("AUTH PLAIN LOGIN"));
        let plain = confiance_auth::sasl::encode_base64(format!("\0{address}\0{PASSWORD}").as_bytes());
        assert_eq!(
            self.reply(&format!("AUTH PLAIN {plain}")).await,
            "235 2.7.0 Authentication successful\r\n"
        );
    }

    /// DATA and the message (already unstuffed, as the connection loop hands it over).
    async fn data(&mut self, message: &str) -> String {
        let (reply, next) = self.send("DATA").await;
        assert!(matches!(next, Next::Data), "{reply}");
        let mut out = String::new();
        self.0.deliver(message.as_bytes().to_vec(), &mut out).await;
        out
    }
}

fn message(from: &str) -> String {
    format!("From: <{from}>\r\nTo: <{BOB}>\r\nSubject: Bilan\r\n\r\nBonjour.\r\n")
}

#[tokio::test]
async fn a_professional_writes_to_a_colleague_and_to_another_operator() {
    let op = Operator::new();
    let mut s = op.connect();
    s.logged_in(ALICE).await;
    assert_eq!(
        s.reply(&format!("MAIL FROM:<{ALICE}>")).await,
        "250 2.1.0 Sender OK\r\n"
    );
    assert_eq!(s.reply(&format!("RCPT TO:<{BOB}>")).await, "250 2.1.5 Recipient OK\r\n");
    assert!(s.reply("RCPT TO:<confrere@autre.test>").await.starts_with("250 2.1.5"));
    let outside = s.reply("RCPT TO:<ami@gmail.test>").await;
    assert!(
        outside.starts_with("550 5.7.1 gmail.test n'est pas une messagerie sécurisée de santé"),
        "{outside}"
    );
    assert!(s.reply("RCPT TO:<nobody@medecin.test>").await.starts_with("550 5.1.1"));
    let done = s.data(&message(ALICE)).await;
    assert!(done.starts_with("250 2.0.0 Ok: queued as "), "{done}");
    assert_eq!(op.inbox_count(BOB).await, 1);
    assert_eq!(
        op.queue.len().unwrap(),
        1,
        "the other operator's copy waits in the queue"
    );
}

#[tokio::test]
async fn nobody_signs_as_a_colleague() {
    let op = Operator::new();
    let mut s = op.connect();
    s.logged_in(ALICE).await;
    let as_bob = s.reply(&format!("MAIL FROM:<{BOB}>")).await;
    assert!(
        as_bob.starts_with("553 5.7.1 Sender <bob@medecin.test> is not the authenticated mailbox"),
        "{as_bob}"
    );
    s.reply(&format!("MAIL FROM:<{ALICE}>")).await;
    s.reply(&format!("RCPT TO:<{BOB}>")).await;
    let refused = s.data(&message(BOB)).await;
    assert!(
        refused.starts_with("550 5.7.1 Le champ From: doit être votre adresse"),
        "{refused}"
    );
    let two = s.reply(&format!("MAIL FROM:<{ALICE}>")).await;
    assert!(two.starts_with("250"), "a refused DATA ends the transaction: {two}");
    s.reply(&format!("RCPT TO:<{BOB}>")).await;
    let two_from = format!("From: <{ALICE}>\r\nFrom: <{BOB}>\r\nSubject: x\r\n\r\ny\r\n");
    assert!(s.data(&two_from).await.starts_with("550 5.7.1 Message refusé"));
    assert_eq!(op.inbox_count(BOB).await, 0, "nothing refused was delivered");
}

#[tokio::test]
async fn sizes_counts_and_the_sasl_exchange() {
    let op = Operator::new();
    let mut s = op.connect();
    assert!(s.reply("EHLO cabinet.test").await.contains("SIZE 4096"));
    // AUTH LOGIN in two steps, then cancelled; a wrong password reads like an unknown address.
    let (challenge, next) = s.send("AUTH LOGIN").await;
    assert!(
        matches!(next, Next::AuthContinue(ref c) if c == "334 VXNlcm5hbWU6\r\n"),
        "{challenge}"
    );
    let (_, next) = s
        .auth_line(&confiance_auth::sasl::encode_base64(ALICE.as_bytes()))
        .await;
    assert!(matches!(next, Next::AuthContinue(ref c) if c == "334 UGFzc3dvcmQ6\r\n"));
    assert_eq!(s.auth_line("*").await.0, "501 5.0.0 Authentication cancelled\r\n");
    let wrong = confiance_auth::sasl::encode_base64(format!("\0{ALICE}\0nope").as_bytes());
    let unknown = confiance_auth::sasl::encode_base64(b"\0nobody@medecin.test\0nope");
    let a = s.reply(&format!("AUTH PLAIN {wrong}")).await;
    assert_eq!(a, s.reply(&format!("AUTH PLAIN {unknown}")).await);
    assert!(a.starts_with("535"), "{a}");
    let other = confiance_auth::sasl::encode_base64(format!("{BOB}\0{ALICE}\0{PASSWORD}").as_bytes());
    assert!(
        s.reply(&format!("AUTH PLAIN {other}"))
            .await
            .starts_with("535 5.7.8 Acting as another")
    );
    s.logged_in(ALICE).await;
    let big = s.reply(&format!("MAIL FROM:<{ALICE}> SIZE=5000")).await;
    assert!(big.starts_with("552 5.3.4"), "{big}");
    s.reply(&format!("MAIL FROM:<{ALICE}>")).await;
    for i in 0..3 {
        s.reply(&format!("RCPT TO:<r{i}@autre.test>")).await;
    }
    assert!(s.reply(&format!("RCPT TO:<{BOB}>")).await.starts_with("452 4.5.3"));
}
