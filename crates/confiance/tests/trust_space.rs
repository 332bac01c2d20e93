//! A trust space on one machine: three Confiance operators made by `confiance authority`, each
//! on its own loopback address with its own certificate. A and B are listed in the whitelist;
//! C has a certificate from the same authority but is not listed. P is Postfix, configured as a
//! listed operator with its own certificate.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{Operator, operator_config, text, wait_for_log};

const SPEC: &str = r#"
name = "ESPACE TEST"

[[operator]]
name = "OPERATEUR A"
structure_id = "1750000001"
hosts = ["mx.a.test"]
domains = ["a.test"]

[[operator]]
name = "OPERATEUR B"
structure_id = "1750000002"
hosts = ["mx.b.test"]
domains = ["b.test", "b2.test"]

[[operator]]
name = "OPERATEUR C"
structure_id = "1750000003"
hosts = ["mx.c.test"]
domains = ["c.test"]
listed = false

[[operator]]
name = "OPERATEUR P"
structure_id = "1750000004"
hosts = ["mx.p.test"]
domains = ["p.test"]

[[operator]]
name = "OPERATEUR R"
structure_id = "1750000005"
hosts = ["mx.r.test"]
domains = ["r.test"]
revoked = true
"#;

/// Postfix's address in the space of the Postfix test.
const POSTFIX_IP: &str = "127.0.3.5";

struct Space {
    _dir: tempfile::TempDir,
    root: PathBuf,
    a: Operator,
    b: Operator,
    c: Operator,
    /// Port Postfix will listen on at POSTFIX_IP (A routes p.test there).
    postfix_port: u16,
}

/// Creates the space and starts the three operators on 127.0.`net`.2 to .4: each test has its
/// own network, so that tests running at once never reach for the same address and port.
fn space(net: u8) -> Space {
    let (dir, root) = common::authority_space(SPEC);
    let mut a = Operator::new_at(&format!("127.0.{net}.2"), "a.test");
    let mut b = Operator::new_at(&format!("127.0.{net}.3"), "b.test");
    let mut c = Operator::new_at(&format!("127.0.{net}.4"), "c.test");
    for (op, host) in [(&mut a, "mx.a.test"), (&mut b, "mx.b.test"), (&mut c, "mx.c.test")] {
        op.tls_override = Some((root.join("ca/root.pem"), host.into()));
    }
    // A sends b.test to B, and b2.test (also B's, in the whitelist) to C: a hijacked route.
    let postfix_port = std::net::TcpListener::bind((POSTFIX_IP, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut config_a = operator_config(
        &root,
        "mx.a.test",
        &[("b.test", "mx.b.test", &b), ("b2.test", "mx.c.test", &c)],
    );
    config_a.push_str(&format!(
        "[relay.routes.\"p.test\"]\nhost = \"mx.p.test\"\naddress = \"{POSTFIX_IP}:{postfix_port}\"\n"
    ));
    let config_b = format!(
        "domains = [\"b.test\", \"b2.test\"]\n{}",
        operator_config(&root, "mx.b.test", &[("a.test", "mx.a.test", &a)])
    );
    let config_c = operator_config(&root, "mx.c.test", &[("a.test", "mx.a.test", &a)]);
    a.launch(&["alice"], &config_a);
    b.launch(&["bob"], &config_b);
    c.launch(&["carole"], &config_c);
    Space {
        _dir: dir,
        root,
        a,
        b,
        c,
        postfix_port,
    }
}

#[test]
fn operators_exchange_mail_both_ways_and_refuse_strangers() {
    let s = space(1);
    let (alice, bob) = (s.a.mailbox("alice"), s.b.mailbox("bob"));

    // A → B, and B → A: mutual TLS, whitelist checks both ends, X-MSS-* headers intact.
    s.a.python("trust_space.py", &["send", "alice", "Resultats IRM", &bob]);
    let got = s.b.python("trust_space.py", &["wait", "bob", "Resultats IRM", "1"]);
    for h in [
        "X-MSS-NIL: DEV935997",
        "X-MSS-CODECDA: 34112-3,PRESC-BIO",
        "X-MSS-INS: O",
    ] {
        assert!(got.contains(h), "{h} lost on the way:\n{got}");
    }
    assert!(got.contains("by mx.b.test (Confiance) with ESMTPS"), "{got}");
    assert_eq!(
        got.matches("Return-Path:").count(),
        1,
        "only the final delivery adds Return-Path:\n{got}"
    );
    assert!(got.contains("by mx.a.test (Confiance) with ESMTPSA"), "{got}");
    assert!(
        got.contains("\r\n..ligne avec point") || got.contains("\r\n.ligne avec point"),
        "{got}"
    );
    assert!(!got.contains("\r\n..ligne"), "dot-stuffing leaked into the message");
    s.b.python("trust_space.py", &["send", "bob", "Re Resultats IRM", &alice]);
    s.a.python("trust_space.py", &["send", "alice", "Merci", &bob]);
    s.a.python("trust_space.py", &["wait", "alice", "Re Resultats IRM", "1"]);
    s.b.python("trust_space.py", &["wait", "bob", "Merci", "1"]);
    // Each hop is traced: envelope, Message-ID, peer DN, TLS version and suite, status.
    let log = wait_for_log(&s.a, "event=\"relayed\"");
    let hop = log.lines().find(|l| l.contains("event=\"relayed\"")).unwrap();
    for part in ["<Resultats.IRM@test>", "CN=mx.b.test", "TLSv1_3", "status=250", &bob] {
        assert!(hop.contains(part), "{part} missing from the trace: {hop}");
    }
    assert!(!log.contains("Compte rendu"), "message content in the log");

    // C holds a certificate from the authority but is not in the whitelist: A refuses it, and
    // C's sender gets a failure report that says why.
    s.c.python("trust_space.py", &["send", "carole", "Demande de C", &alice]);
    let report =
        s.c.python("trust_space.py", &["wait", "carole", "=?utf-8?q?=C3=89chec", "1"]);
    assert!(report.contains("Action: failed"), "{report}");
    assert!(
        report.contains("not in the MSSanté trust space") || report.contains("not in the MSSanté"),
        "{report}"
    );
    assert!(report.contains(&alice), "{report}");
    let log = wait_for_log(&s.a, "event=\"mx_refused\"");
    assert!(
        log.contains("Sender domain c.test is not in the MSSanté trust space"),
        "{log}"
    );

    // b2.test is B's in the whitelist, but A's route leads to C: C's certificate is not listed
    // for b2.test, so nothing is sent and alice learns why.
    let stranger = "x@b2.test".to_string();
    s.a.python("trust_space.py", &["send", "alice", "Route detournee", &stranger]);
    let report =
        s.a.python("trust_space.py", &["wait", "alice", "=?utf-8?q?=C3=89chec", "1"]);
    assert!(report.contains("Status: 5.7.1"), "{report}");
    assert!(report.contains("does not list for b2.test"), "{report}");
    assert!(
        report.contains("Subject: Route detournee"),
        "the report carries the header back"
    );
    assert!(!report.contains("Compte rendu"), "RET=HDRS must not return the body");
    wait_for_log(&s.a, "event=\"relay_peer_refused\"");
    assert!(!s.c.log().contains("Route detournee"));

    // Recipients outside the trust space are refused at RCPT, in words a professional reads.
    let out =
        s.a.python_output("trust_space.py", &["send", "alice", "Vers Gmail", "x@gmail.com"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("550") && text(&out).contains("gmail.com is not in the"),
        "{}",
        text(&out)
    );

    // By hand on B's MX: no certificate, the wrong domain for the certificate, a relay attempt,
    // a certificate from another authority.
    let root = s.root.clone();
    let cert = |h: &str| root.join(format!("operators/{h}/server.pem")).display().to_string();
    let key = |h: &str| root.join(format!("operators/{h}/server.key")).display().to_string();
    let probe = s.b.python("trust_space.py", &["mx", "-", "-", &alice, &bob]);
    assert!(
        probe.contains("MAIL FROM -> 530 5.7.0 A client certificate is required"),
        "{probe}"
    );
    let probe = s.b.python(
        "trust_space.py",
        &["mx", &cert("mx.c.test"), &key("mx.c.test"), &alice, &bob],
    );
    assert!(
        probe.contains("MAIL FROM -> 550 5.7.1 Certificate") && probe.contains("is not listed for a.test"),
        "{probe}"
    );
    let probe = s.b.python(
        "trust_space.py",
        &["mx", &cert("mx.a.test"), &key("mx.a.test"), &alice, "z@c.test"],
    );
    assert!(probe.contains("MAIL FROM -> 250"), "{probe}");
    assert!(probe.contains("RCPT TO -> 550 5.7.1 Relaying denied"), "{probe}");
    // A message that went through 60 relays is looping (RFC 5321 §6.3).
    let probe = s.b.python(
        "trust_space.py",
        &["mx", &cert("mx.a.test"), &key("mx.a.test"), &alice, &bob, "loop"],
    );
    assert!(probe.contains("554 5.4.6 Mail loop"), "{probe}");
    // The author must be of the delivering operator: never one of B's users, never a domain
    // the certificate is not listed for, one From only; null-sender mail is a report.
    let author = |sender: &str, header: &str| {
        s.b.python(
            "trust_space.py",
            &[
                "mx",
                &cert("mx.a.test"),
                &key("mx.a.test"),
                sender,
                &bob,
                &format!("header={header}"),
            ],
        )
    };
    let probe = author(&alice, &format!("From: {bob}"));
    assert!(
        probe.contains("From -> 550 5.7.1") && probe.contains("hébergé ici"),
        "{probe}"
    );
    let probe = author(&alice, "From: x@p.test");
    assert!(
        probe.contains("From -> 550 5.7.1") && probe.contains("is not listed for"),
        "{probe}"
    );
    let probe = author(&alice, &format!("From: {alice}|From: x@a.test"));
    assert!(
        probe.contains("From -> 550 5.7.1") && probe.contains("2 fois"),
        "{probe}"
    );
    let probe = author(
        "",
        &format!("From: {bob}|Content-Type: multipart/report; report-type=delivery-status"),
    );
    assert!(
        probe.contains("From -> 550 5.7.1") && probe.contains("hébergé ici"),
        "{probe}"
    );
    let probe = author("", &format!("From: {alice}"));
    assert!(
        probe.contains("From -> 550 5.7.1") && probe.contains("multipart/report"),
        "{probe}"
    );
    let report = "Content-Type: multipart/report; report-type=delivery-status";
    let probe = author("", &format!("From: x@p.test|{report}"));
    assert!(
        probe.contains("From -> 550 5.7.1") && probe.contains("is not listed for"),
        "{probe}"
    );
    let probe = author("", &format!("From: MAILER-DAEMON@mx.a.test|{report}"));
    assert!(
        probe.contains("From -> 250"),
        "a report from the MTA's own name: {probe}"
    );
    let probe = author(&alice, &format!("From: {alice}|Sender: {bob}"));
    assert!(
        probe.contains("From -> 550 5.7.1") && probe.contains("(Sender:)"),
        "{probe}"
    );
    let probe = author(&alice, &format!("From: {alice}|Fr om: {bob}"));
    assert!(
        probe.contains("From -> 550 5.7.1") && probe.contains("RFC 5322 §2.2"),
        "{probe}"
    );
    let probe = author(&alice, &format!("From: {alice}"));
    assert!(probe.contains("From -> 250"), "{probe}");
    let other = Operator::start(&[]);
    let probe = s.b.python(
        "trust_space.py",
        &[
            "mx",
            &other.data_dir().join("tls/server.pem").display().to_string(),
            &other.data_dir().join("tls/server.key").display().to_string(),
            &alice,
            &bob,
        ],
    );
    assert!(
        probe.contains("TLS -> refused") || probe.contains("MAIL FROM -> 530"),
        "{probe}"
    );
    assert!(
        !probe.contains("MAIL FROM -> 250"),
        "a foreign authority's certificate was accepted: {probe}"
    );
    // R is listed, but its certificate is revoked in the authority's CRL.
    let r_sender = "r@r.test".to_string();
    let probe = s.b.python(
        "trust_space.py",
        &["mx", &cert("mx.r.test"), &key("mx.r.test"), &r_sender, &bob],
    );
    assert!(
        probe.contains("TLS -> refused"),
        "a revoked certificate was accepted: {probe}"
    );
    let log = wait_for_log(&s.b, "Revoked");
    assert!(log.contains("event=\"tls_refused\""), "{log}");
    wait_for_log(&s.b, "event=\"tls_refused\"");
}

#[test]
fn a_peer_down_defers_then_delivers_once_even_across_a_crash() {
    let mut s = space(2);
    let bob = s.b.mailbox("bob");
    s.c.kill();
    s.b.kill();
    for i in 0..5 {
        s.a.python(
            "trust_space.py",
            &["send", "alice", &format!("Pendant la panne {i}"), &bob],
        );
    }
    // Deferred, visible to the administrator with the reason.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = s.a.cli(&["queue", "list"], None);
        let listing = text(&out);
        if listing.contains("cannot connect") {
            assert!(listing.contains("5 destinataires en attente"), "{listing}");
            break;
        }
        assert!(Instant::now() < deadline, "not deferred:\n{listing}\n{}", s.a.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    // After two seconds in the queue (delay_notice_seconds), each sender hears of the delay once.
    let report =
        s.a.python("trust_space.py", &["wait", "alice", "=?utf-8?q?Remise_retard", "5"]);
    assert!(
        report.contains("Action: delayed") && report.contains("Status: 4.4.1"),
        "{report}"
    );
    assert!(report.contains("nouvelles tentatives suivront"), "{report}");
    // The operator is killed with its queue full, and comes back after its peer.
    s.a.kill();
    s.b.spawn();
    s.a.spawn();
    for i in 0..5 {
        s.b.python(
            "trust_space.py",
            &["wait", "bob", &format!("Pendant la panne {i}"), "1"],
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !text(&s.a.cli(&["queue", "list"], None)).contains("0 destinataire en attente") {
        assert!(Instant::now() < deadline, "queue not empty");
        std::thread::sleep(Duration::from_millis(100));
    }

    // Administrator's hands: a message to a dead peer is bounced on request, one is deleted.
    s.b.kill();
    s.a.python("trust_space.py", &["send", "alice", "A retourner", &bob]);
    s.a.python("trust_space.py", &["send", "alice", "A supprimer", &bob]);
    let id_of = |listing: &str, subject_index: usize| -> String {
        listing
            .lines()
            .nth(subject_index)
            .unwrap()
            .split('\t')
            .next()
            .unwrap()
            .to_string()
    };
    std::thread::sleep(Duration::from_millis(500));
    let listing = text(&s.a.cli(&["queue", "list"], None));
    let (first, second) = (id_of(&listing, 0), id_of(&listing, 1));
    assert!(s.a.cli(&["queue", "bounce", &first], None).status.success());
    assert!(s.a.cli(&["queue", "delete", &second], None).status.success());
    // An id the queue does not hold is an error for every command, so a script notices.
    for verb in ["delete", "bounce", "retry"] {
        let bad = s.a.cli(&["queue", verb, "NOSUCHID"], None);
        assert!(
            !bad.status.success() && text(&bad).contains("aucun message en file n'a l'identifiant NOSUCHID"),
            "queue {verb}: {}",
            text(&bad)
        );
    }
    let report =
        s.a.python("trust_space.py", &["wait", "alice", "=?utf-8?q?=C3=89chec", "1"]);
    assert!(
        report.contains("returned to the sender by the operator's administrator"),
        "{report}"
    );
    assert!(text(&s.a.cli(&["queue", "list"], None)).contains("0 destinataire en attente"));
}

/// Postfix as the MTA of operator P: its own TLS stack and queue, requiring our client
/// certificate on the way in and verifying ours (`secure`) on the way out.
struct Postfix {
    dir: tempfile::TempDir,
}

impl Postfix {
    fn etc(&self) -> PathBuf {
        self.dir.path().join("etc")
    }

    fn start(space: &Path, port: u16, a: &Operator) -> Postfix {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let run = |cmd: &mut std::process::Command| {
            let out = cmd.output().expect("postfix must be installed (.ci/run installs it)");
            assert!(out.status.success(), "{cmd:?}: {}", text(&out));
        };
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        for sub in ["etc", "spool", "data", "mail"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        run(std::process::Command::new("chown").arg("postfix").arg(d.join("data")));
        run(std::process::Command::new("chown")
            .arg("nobody:nogroup")
            .arg(d.join("mail")));
        let master = std::fs::read_to_string("/etc/postfix/master.cf").unwrap();
        let master: Vec<String> = master
            .lines()
            .map(|l| {
                if l.starts_with("smtp      inet") {
                    format!("{POSTFIX_IP}:{port} inet n - n - - smtpd")
                } else {
                    l.to_string()
                }
            })
            .collect();
        std::fs::write(d.join("etc/master.cf"), master.join("\n") + "\n").unwrap();
        let op = space.join("operators/mx.p.test");
        let main = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {d}/spool\ndata_directory = {d}/data\nmail_owner = postfix\n\
             inet_interfaces = loopback-only\ninet_protocols = ipv4\n\
             myhostname = mx.p.test\nmydomain = p.test\nmydestination =\nmynetworks = {POSTFIX_IP}/32\n\
             alias_maps =\nalias_database =\nbiff = no\nmaillog_file = {d}/maillog\nmaillog_file_prefixes = {d}\n\
             virtual_mailbox_domains = p.test\nvirtual_mailbox_base = {d}/mail\n\
             virtual_mailbox_maps = inline:{{ paul@p.test=paul/ }}\n\
             virtual_uid_maps = static:65534\nvirtual_gid_maps = static:65534\n\
             smtpd_tls_security_level = encrypt\nsmtpd_tls_cert_file = {op}/server.pem\n\
             smtpd_tls_key_file = {op}/server.key\nsmtpd_tls_CAfile = {root}\n\
             smtpd_tls_ask_ccert = yes\nsmtpd_tls_req_ccert = yes\nsmtpd_tls_loglevel = 1\n\
             smtp_tls_security_level = secure\nsmtp_tls_CAfile = {root}\n\
             smtp_tls_cert_file = {op}/server.pem\nsmtp_tls_key_file = {op}/server.key\nsmtp_tls_loglevel = 1\n\
             smtp_tls_policy_maps = inline:{{ {{ [{ip}]:{mx} = secure match=mx.a.test }} }}\n\
             transport_maps = inline:{{ a.test=smtp:[{ip}]:{mx} }}\n\
             smtp_dns_support_level = disabled\n",
            d = d.display(),
            op = op.display(),
            root = space.join("ca/root.pem").display(),
            ip = a.ip,
            mx = a.mx,
        );
        std::fs::write(d.join("etc/main.cf"), main).unwrap();
        let etc = d.join("etc");
        run(std::process::Command::new("postconf")
            .arg("-c")
            .arg(&etc)
            .args(["-F", "*/*/chroot = n"]));
        let _ = std::process::Command::new("postfix")
            .arg("-c")
            .arg(&etc)
            .arg("check")
            .output();
        run(std::process::Command::new("postfix").arg("-c").arg(&etc).arg("start"));
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect((POSTFIX_IP, port)).is_err() {
            assert!(Instant::now() < deadline, "Postfix did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Postfix { dir }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("maillog")).unwrap_or_default()
    }

    /// Messages in paul's Maildir.
    fn mailbox(&self) -> Vec<String> {
        let new = self.dir.path().join("mail/paul/new");
        std::fs::read_dir(new)
            .map(|d| d.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect())
            .unwrap_or_default()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = std::process::Command::new("postfix")
            .arg("-c")
            .arg(self.etc())
            .arg("stop")
            .output();
    }
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

#[test]
fn postfix_is_a_peer_over_mutual_tls() {
    if !is_root() {
        // Postfix's master must start as root; CI runs as root, so there this test always runs.
        eprintln!("skipped: running Postfix as a peer needs root");
        return;
    }
    let s = space(3);
    let postfix = Postfix::start(&s.root, s.postfix_port, &s.a);
    let alice = s.a.mailbox("alice");

    // Confiance → Postfix: Postfix demands our certificate and gets it.
    s.a.python("trust_space.py", &["send", "alice", "Pour Postfix", "paul@p.test"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let delivered = loop {
        if let Some(m) = postfix
            .mailbox()
            .into_iter()
            .find(|m| m.contains("Subject: Pour Postfix"))
        {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "not at Postfix; its log:\n{}\nA's log:\n{}",
            postfix.log(),
            s.a.log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        delivered.contains("X-MSS-NIL: DEV935997") && delivered.contains("X-MSS-INS: O"),
        "{delivered}"
    );
    let log = postfix.log();
    assert!(log.contains("TLS connection established from"), "{log}");

    // Postfix → Confiance: Postfix verifies our certificate (`secure`) and presents its own,
    // which the whitelist lists for p.test.
    let message = "From: paul@p.test\nTo: alice@a.test\nSubject: Depuis Postfix\nMessage-ID: <pf1@p.test>\nX-MSS-NIL: PF0001\n\nBonjour.\n";
    let mut sendmail = std::process::Command::new("/usr/sbin/sendmail")
        .arg("-C")
        .arg(postfix.etc())
        .args(["-f", "paul@p.test", &alice])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    sendmail.stdin.take().unwrap().write_all(message.as_bytes()).unwrap();
    assert!(sendmail.wait().unwrap().success());
    let got = s.a.python("trust_space.py", &["wait", "alice", "Depuis Postfix", "1"]);
    assert!(got.contains("X-MSS-NIL: PF0001"), "{got}");
    assert!(got.contains("by mx.a.test (Confiance) with ESMTPS"), "{got}");
    let log = postfix.log();
    assert!(
        log.contains("Verified TLS connection established to"),
        "Postfix did not verify us:\n{log}"
    );
    assert!(s.a.log().contains("CN=mx.p.test"), "{}", s.a.log());
}
