//! Real clients against a real operator: Python's imaplib, curl (IMAP and SMTP), swaks and
//! mbsync, over verified TLS with the development authority.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;

#[test]
fn imaplib_covers_a_mail_client_day() {
    let op = Operator::start(&["client"]);
    op.python("imap_client.py", &["client"]);
}

/// Eight sessions on one BAL append, flag, copy, move and expunge at once for 20 s; every
/// answer keeps to the protocol and, at each checkpoint, every view agrees with the store
/// (`bench/imap-stress.sh` runs the same for as long as asked).
#[test]
fn concurrent_sessions_on_one_bal_agree() {
    let op = Operator::start(&["secretariat"]);
    let out = op.python("imap_stress.py", &["secretariat", "8", "20", "5"]);
    assert!(out.contains(" 0 errors"), "{out}");
}

/// SCRAM-SHA-256 on IMAP and submission, by a client written from the RFCs: the keys are made
/// when a password is set (`account add`, `account passwd`), or at the first PLAIN login of an
/// account that has none; a changed password, a wrong one, an unknown address and a password
/// SCRAM cannot carry are refused alike, and hostile exchanges get a precise BAD.
#[test]
fn scram_logs_in_without_sending_the_password() {
    let op = Operator::start(&["scram", "ancien", "hostile", "rafale"]);
    let scram = |args: &[&str]| assert_eq!(op.python("scram.py", args).trim(), "ok");
    scram(&["login", "scram", PASSWORD]);
    scram(&["refused", "scram", "Pas-le-bon-1"]);
    scram(&["same-answer", "scram", "personne"]);
    scram(&["hostile", "hostile", PASSWORD]);
    scram(&["burst", "rafale", PASSWORD]);

    // A new password has keys at once; the old one opens nothing.
    let out = op.cli(&["account", "passwd", &op.mailbox("scram")], Some("Nouveau-2027\n"));
    assert!(out.status.success(), "{}", text(&out));
    scram(&["login", "scram", "Nouveau-2027"]);
    scram(&["refused", "scram", PASSWORD]);

    // An account from before SCRAM has no keys: refused, until one PLAIN login makes them.
    scram(&["forget", "ancien", op.data_dir().join("confiance.db").to_str().unwrap()]);
    scram(&["refused", "ancien", PASSWORD]);
    assert_eq!(op.python("login_once.py", &["ancien", PASSWORD]).trim(), "accepted");
    scram(&["login-soon", "ancien", PASSWORD]);

    // SASLprep is not carried here: such a password opens with PLAIN only.
    op.add_account("accent", "Pâtisserie-2027");
    scram(&["refused", "accent", "Pâtisserie-2027"]);
    scram(&["plain", "accent", "Pâtisserie-2027"]);

    let log = op.log();
    assert!(
        log.contains("method=\"AUTHENTICATE SCRAM-SHA-256\"") && log.contains("credential=\"scram\""),
        "{log}"
    );
    assert!(
        !log.contains("Nouveau-2027") && !log.contains(PASSWORD),
        "a password in the log"
    );
    // The right password after the burst was refused by the throttle, not by the proof.
    let throttled = "reason=\"throttled: too many failures from this address for this account\"";
    assert!(
        log.lines().any(|l| l.contains("rafale@") && l.contains(throttled)),
        "{log}"
    );
}

#[test]
fn qresync_and_notify_resynchronise_clients() {
    let op = Operator::start(&["mobile"]);
    op.python("resync_notify.py", &["mobile"]);
}

#[test]
fn dsn_reports_success_when_asked_and_failure_always() {
    let op = Operator::start(&["sender", "receiver", "full"]);
    let out = op.cli(&["account", "quota", &Operator::address("full"), "1000"], None);
    assert!(out.status.success(), "{}", text(&out));
    op.python("dsn.py", &["sender", "receiver", "full"]);
}

#[test]
fn swaks_submission_rules() {
    let op = Operator::start(&["alice", "bob"]);
    let (alice, bob) = (Operator::address("alice"), Operator::address("bob"));
    let auth = ["--auth", "PLAIN", "--auth-user", &alice, "--auth-password", PASSWORD];

    // STARTTLS, AUTH, delivery to a local mailbox, with a 10 MB attachment.
    let dir = tempfile::tempdir().unwrap();
    let attachment = dir.path().join("irm.pdf");
    let mut data = vec![0u8; 10 * 1000 * 1000];
    for (i, b) in data.iter_mut().enumerate() {
        *b = (i * 7919 % 251) as u8;
    }
    std::fs::write(&attachment, &data).unwrap();
    let attach = format!("@{}", attachment.display());
    let mut args = vec!["--from", &alice, "--to", &bob, "--h-Subject", "IRM genou"];
    args.extend_from_slice(&auth);
    args.extend_from_slice(&["--attach-type", "application/pdf", "--attach", &attach]);
    let (ok, out) = op.swaks(&args);
    assert!(ok && out.contains("250 2.0.0 Ok: queued"), "{out}");

    // Oversized: refused with 552 5.3.4 and the limit.
    let big = dir.path().join("big.bin");
    std::fs::write(&big, vec![b'x'; 26 * 1000 * 1000]).unwrap();
    let big_attach = format!("@{}", big.display());
    let mut args = vec!["--from", &alice, "--to", &bob];
    args.extend_from_slice(&auth);
    args.extend_from_slice(&["--attach", &big_attach]);
    let (ok, out) = op.swaks(&args);
    assert!(!ok && out.contains("552 5.3.4"), "{out}");

    // A recipient outside the trust space: 550 5.7.1 naming the rule, in French first.
    let mut args = vec!["--from", &alice, "--to", "jean@gmail.com"];
    args.extend_from_slice(&auth);
    let (ok, out) = op.swaks(&args);
    assert!(
        !ok && out.contains("550 5.7.1 gmail.com n'est pas une messagerie sécurisée de santé")
            && out.contains("gmail.com is not in the MSSanté trust space"),
        "{out}"
    );

    // An unknown mailbox of a hosted domain: 550 5.1.1.
    let nobody = Operator::address("personne");
    let mut args = vec!["--from", &alice, "--to", &nobody];
    args.extend_from_slice(&auth);
    let (ok, out) = op.swaks(&args);
    assert!(!ok && out.contains("550 5.1.1"), "{out}");

    // Sending as someone else: 553 5.7.1.
    let mut args = vec!["--from", &bob, "--to", &alice];
    args.extend_from_slice(&auth);
    let (ok, out) = op.swaks(&args);
    assert!(!ok && out.contains("553 5.7.1"), "{out}");

    // Wrong password: 535 5.7.8.
    let (ok, out) = op.swaks(&[
        "--from",
        &alice,
        "--to",
        &bob,
        "--auth",
        "LOGIN",
        "--auth-user",
        &alice,
        "--auth-password",
        "Nope1234",
    ]);
    assert!(!ok && out.contains("535 5.7.8"), "{out}");

    // Bob received exactly the one accepted message, attachment intact in size.
    let ids = op.python("message_ids.py", &["bob", "INBOX"]);
    assert_eq!(ids.lines().count(), 1, "{ids}");
}

#[test]
fn smtp_refuses_auth_and_mail_before_starttls() {
    let op = Operator::start(&["alice"]);
    let mut s = TcpStream::connect(("127.0.0.1", op.submission)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"EHLO x\r\nAUTH PLAIN AGFsaWNlAFNlY3JldDEyMw==\r\nMAIL FROM:<a@medecin.confiance.test>\r\nQUIT\r\n")
        .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.contains("250 STARTTLS"), "{reply}");
    assert!(
        !reply.contains("AUTH PLAIN"),
        "AUTH must not be offered in clear: {reply}"
    );
    assert!(reply.contains("538 5.7.11"), "{reply}");
    assert!(reply.contains("530 5.7.0"), "{reply}");
}

#[test]
fn curl_speaks_imap_and_smtp() {
    let op = Operator::start(&["alice", "bob"]);
    let ca = op.ca();
    let ca = ca.to_str().unwrap();
    let (alice, bob) = (Operator::address("alice"), Operator::address("bob"));
    let dir = tempfile::tempdir().unwrap();
    let mail = dir.path().join("mail.eml");
    std::fs::write(
        &mail,
        format!("From: {alice}\r\nTo: {bob}\r\nSubject: Lettre de liaison\r\n\r\nBonjour confrere.\r\n"),
    )
    .unwrap();
    let smtp = format!("smtp://127.0.0.1:{}", op.submission);
    let userpass = format!("{alice}:{PASSWORD}");
    let out = op.run(
        "curl",
        &[
            "-sS",
            "--ssl-reqd",
            "--cacert",
            ca,
            &smtp,
            "--mail-from",
            &alice,
            "--mail-rcpt",
            &bob,
            "-u",
            &userpass,
            "-T",
            mail.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "curl smtp: {}", text(&out));

    let bob_pass = format!("{bob}:{PASSWORD}");
    let inbox = format!("imaps://127.0.0.1:{}/INBOX;UID=1", op.imaps);
    let out = op.run("curl", &["-sS", "--cacert", ca, "-u", &bob_pass, &inbox]);
    let body = text(&out);
    assert!(
        out.status.success() && body.contains("Bonjour confrere."),
        "curl imap fetch: {body}"
    );
    assert!(body.contains("Received: from"), "trace header missing: {body}");
    assert!(
        body.contains("Message-ID: <"),
        "Message-ID must be added when missing: {body}"
    );

    // STARTTLS on the clear port, required by curl.
    let plain = format!("imap://127.0.0.1:{}/", op.imap);
    let out = op.run("curl", &["-sS", "--ssl-reqd", "--cacert", ca, "-u", &bob_pass, &plain]);
    assert!(
        out.status.success() && text(&out).contains("INBOX"),
        "curl imap list: {}",
        text(&out)
    );
}

/// mbsync both ways, logged in with SCRAM-SHA-256 by Cyrus SASL.
#[test]
fn mbsync_syncs_both_ways() {
    let op = Operator::start(&["sync"]);
    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("mail");
    std::fs::create_dir_all(&local).unwrap();
    let config = dir.path().join("mbsyncrc");
    std::fs::write(
        &config,
        format!(
            "IMAPAccount confiance\nHost localhost\nPort {port}\nUser {user}\nPass {PASSWORD}\nSSLType IMAPS\n\
             CertificateFile {ca}\n\nIMAPStore remote\nAccount confiance\n\nMaildirStore local\nPath {local}/\n\
             Inbox {local}/INBOX\nSubFolders Verbatim\n\nChannel sync\nFar :remote:\nNear :local:\nPatterns *\n\
             Create Both\nExpunge Both\nSyncState *\n",
            port = op.imaps,
            user = Operator::address("sync"),
            ca = op.ca().display(),
            local = local.display(),
        ),
    )
    .unwrap();
    let mbsync = |op: &Operator| {
        let out = op.run("mbsync", &["-c", config.to_str().unwrap(), "-a"]);
        assert!(out.status.success(), "mbsync: {}\n{}", text(&out), op.log());
    };
    // Server → local: a message delivered on the server appears in the Maildir.
    op.python("append.py", &["sync", "INBOX", "<from-server@test>"]);
    mbsync(&op);
    let files = |folder: &str| -> Vec<String> {
        let mut v = Vec::new();
        for sub in ["cur", "new"] {
            if let Ok(rd) = std::fs::read_dir(local.join(folder).join(sub)) {
                for e in rd.flatten() {
                    v.push(std::fs::read_to_string(e.path()).unwrap());
                }
            }
        }
        v
    };
    assert!(
        files("INBOX").iter().any(|m| m.contains("<from-server@test>")),
        "not synced down"
    );
    assert!(
        local.join("Sent").exists() && local.join("Trash").exists(),
        "special folders not created"
    );

    // Local → server: a message written into the Maildir reaches the server's Drafts.
    let name = format!("{}.1.localhost:2,S", 1_700_000_000);
    std::fs::write(
        local.join("Drafts/cur").join(name),
        "From: sync@medecin.confiance.test\r\nSubject: brouillon\r\nMessage-ID: <from-local@test>\r\n\r\ntexte\r\n",
    )
    .unwrap();
    mbsync(&op);
    let ids = op.python("message_ids.py", &["sync", "Drafts"]);
    assert_eq!(ids.trim(), "<from-local@test>");
    // A second run changes nothing and duplicates nothing.
    mbsync(&op);
    let ids = op.python("message_ids.py", &["sync", "INBOX"]);
    assert_eq!(ids.trim(), "<from-server@test>");
    // mbsync logs in with SCRAM-SHA-256 through Cyrus SASL, which refuses more than 65,536
    // rounds: a second SCRAM client, written by others.
    let log = op.log();
    assert!(
        log.contains("method=\"AUTHENTICATE SCRAM-SHA-256\" credential=\"scram\""),
        "{log}"
    );
}

/// Filters written by a mail client over ManageSieve (RFC 5804) and run at delivery: fileinto
/// with a flag, redirect :copy to another BAL, one out-of-office reply per correspondent and
/// none to bulk mail, a forward outside the trust space kept home; and the hostile cases (no
/// login before TLS, the same refusal for a wrong password and an unknown address, scripts that
/// do not parse, an oversized command, another BAL's scripts).
#[test]
fn sieve_filters_from_a_client_run_at_delivery() {
    let op = Operator::start(&["cabinet", "confrere", "remplacant", "plein"]);
    let out = op.cli(&["account", "quota", &Operator::address("plein"), "100"], None);
    assert!(out.status.success(), "{}", text(&out));
    let out = op.python("sieve.py", &["cabinet", "confrere", "remplacant", "plein"]);
    assert!(out.contains("sieve ok"), "{out}");
    let log = op.log();
    for event in ["vacation_sent", "filter_kept", "forwarded", "redirect_failed"] {
        assert!(log.contains(&format!("event=\"{event}\"")), "no {event} in\n{log}");
    }
    assert!(log.contains("reason=\"automatic message not forwarded\""), "{log}");
}
