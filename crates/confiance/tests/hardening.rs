//! The operator against one hostile client at a time (issue « Harden the operator »): it must
//! neither stop, nor slow down for everyone, nor let anyone sign as a colleague. Each test
//! drives the real server with real clients from `tests/clients/hardening.py`.

mod common;

use common::*;

/// Audit lines of the server log with this reason for this account.
fn audited(op: &Operator, account: &str, reason: &str) -> usize {
    op.log()
        .lines()
        .filter(|l| l.contains(account) && l.contains(&format!("reason=\"{reason}\"")))
        .count()
}

/// 1,100 idle connections from 127.0.0.2 to the IMAP port of a server under `ulimit -n 1024`:
/// past the per-address limit they are told `BYE [UNAVAILABLE]`, the accept loop never dies,
/// and IMAPS, HTTPS and submission keep answering 127.0.0.1.
#[test]
fn an_idle_connection_flood_stops_nothing() {
    let mut op = Operator::start(&["cible"]);
    op.kill();
    op.spawn_with_file_limit(1024);
    op.wait_for_web();
    let out = op.python("hardening.py", &["flood", "1100", "cible"]);
    assert!(out.contains("flood ok"), "{out}");
    let log = op.log();
    assert!(log.contains("file limit") && log.contains("open_files=1024"), "{log}");
    assert!(log.contains("event=\"connection_refused\""), "{log}");
}

/// Silent clients are let go: 2 s before an IMAP login, 2 s for an HTTPS header.
#[test]
fn slow_clients_are_let_go() {
    let op = Operator::start_with(&[], "[limits]\nimap_login_seconds = 2\nweb_header_seconds = 2\n");
    op.wait_for_web();
    op.python("hardening.py", &["slow"]);
}

/// Anonymous GETs write no session row (a crawler once filled the disk with them); a
/// visitor's form is still protected by a CSRF token bound to their cookie.
#[test]
fn visitors_get_no_session_row() {
    let op = Operator::start(&[]);
    op.wait_for_web();
    let db = op.data_dir().join("confiance.db");
    op.python("hardening.py", &["crawl", "200", db.to_str().unwrap()]);
}

/// Two From: fields, two addresses in one, a group, a colleague's address, a colleague as
/// Sender:, two Subject: fields: each refused at DATA with 550 5.7.1 and traced.
#[test]
fn one_author_per_message_on_submission() {
    let op = Operator::start(&["moi", "collegue"]);
    let out = op.python("hardening.py", &["authors", "moi", "collegue"]);
    assert!(out.contains("authors ok"), "{out}");
    let log = op.log();
    assert!(
        log.contains("Le champ From: apparaît 2 fois") || log.contains("le champ From: apparaît 2 fois"),
        "{log}"
    );
    // The refusal is traced without the message's content.
    assert!(!log.contains("voici le compte rendu"), "message content in the log");
    let inbox = op.python("message_ids.py", &["collegue", "INBOX"]);
    assert_eq!(inbox.lines().count(), 1, "only the honest message arrived: {inbox}");
}

/// A message of 100,000 nested `<div>` opens at once in the webmail, as its text with a
/// notice (it once froze every service for 11 to 30 s); a message carried inside another is
/// shown (it was shown empty).
#[test]
fn hostile_messages_open_in_the_webmail() {
    let op = Operator::start_with(&[], "domains = [\"medecin.confiance.test\", \"pro.confiance.test\"]\n");
    op.wait_for_web();
    op.python("hardening.py", &["hostile-views"]);
}

/// A 30,000-level CREATE, 17 levels, a 300-byte level, a rename nesting too deep and a deep
/// subscription: all `NO [LIMIT]`; LIST stays small.
#[test]
fn folder_trees_are_bounded() {
    let op = Operator::start(&["arbre"]);
    op.python("hardening.py", &["folders", "arbre"]);
}

/// Thirty wrong LOGINs at once from one address, then the right password from that address
/// is refused, and from another accepted; the same on SMTP AUTH.
#[test]
fn password_bursts_are_throttled_per_address_and_account() {
    let op = Operator::start(&["medecin"]);
    op.python("hardening.py", &["login-burst", "medecin"]);
    let log = op.log();
    assert!(
        log.contains("throttled: too many failures from this address for this account"),
        "{log}"
    );
}

/// Sixty wrong web passwords posted at once check at most five (the lockout's count is taken
/// before the check), and an unknown address gets the same answers.
#[test]
fn parallel_web_logins_check_no_more_than_the_limit() {
    let op = Operator::start(&["secretariat"]);
    op.wait_for_web();
    let account = Operator::address("secretariat");
    op.python("hardening.py", &["web-burst", &account, "60"]);
    let checked = audited(&op, &account, "wrong password");
    assert!((1..=5).contains(&checked), "{checked} passwords checked");
    let unknown = Operator::address("personne");
    op.python("hardening.py", &["web-burst", &unknown, "60"]);
}

/// A hundred codes posted at once for one login check at most five.
#[test]
fn parallel_codes_check_no_more_than_the_limit() {
    let op = Operator::start_with(&[], "domains = [\"medecin.confiance.test\", \"pro.confiance.test\"]\n");
    op.wait_for_web();
    let out = op.python("hardening.py", &["code-burst", "100"]);
    let account = out.lines().rev().nth(1).expect("the address activated").to_string();
    let checked = audited(&op, &account, "wrong code");
    assert!((1..=5).contains(&checked), "{checked} codes checked:\n{}", op.log());
}

/// `RCPT TO:<postmaster>` is accepted (RFC 5321 §4.5.1) and delivered to the configured BAL;
/// a submitted message with a bare CR (`\r.\r` smuggling) is refused.
#[test]
fn postmaster_is_accepted_and_bare_cr_refused() {
    let mut op = Operator::new_at("127.0.0.1", DOMAIN);
    op.smtp_extra = "postmaster = \"secretariat@medecin.confiance.test\"\n".into();
    op.launch(&["envoyeur", "secretariat"], "");
    op.python("hardening.py", &["edges", "envoyeur", "secretariat"]);
}

fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Unmounts the small file system when the test ends, even by a panic.
struct Mounted(std::path::PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A full disk answers 452 4.3.1 (RFC 3463), keeps no partial file, and once room is made
/// again the same message is accepted. Needs root to mount a small tmpfs as the data directory.
#[test]
fn a_full_disk_answers_452_and_leaves_no_partial_file() {
    if !is_root() {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    let mut op = Operator::new_at("127.0.0.1", DOMAIN);
    let data = op.data_dir();
    std::fs::create_dir_all(&data).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16m", "tmpfs"])
        .arg(&data)
        .status()
        .unwrap();
    assert!(mounted.success(), "mount tmpfs");
    let _unmount = Mounted(data.clone());
    op.launch(&["plein"], "");
    // Fill what is left, 64 KiB at a time, until the file system says it is full.
    let filler = data.join("remplissage");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        while f.write_all(&chunk).is_ok() {}
    }
    op.python("hardening.py", &["full-disk", "plein"]);
    let tmp = std::fs::read_dir(data.join("blobs/tmp")).unwrap().count();
    assert_eq!(tmp, 0, "partial files left in blobs/tmp");
    std::fs::remove_file(&filler).unwrap();
    let out = op.python_output("hardening.py", &["full-disk", "plein"]);
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("250"),
        "with room again: {}",
        text(&out)
    );
    op.kill();
}

/// A client naming the server by its IP address in SNI (imaptest does, so does some practice
/// software) leaves no line in the log: rustls warns of it once per connection, a flood that
/// any client controls and that says nothing of ours.
#[test]
fn an_ip_address_in_sni_leaves_no_log_line() {
    let op = Operator::start(&[]);
    for _ in 0..3 {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let mut client = Command::new("openssl")
            .args([
                "s_client",
                "-quiet",
                "-crlf",
                "-ign_eof",
                "-connect",
                &format!("127.0.0.1:{}", op.imaps),
            ])
            .args(["-servername", "127.0.0.1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        client.stdin.take().unwrap().write_all(b"a LOGOUT\n").unwrap();
        let out = client.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(said.contains("* OK"), "no IMAP greeting over TLS: {said}");
    }
    let log = op.log();
    assert!(!log.contains("SNI"), "{log}");
}

/// Logins are taken on trust for a while once verified (one Argon2id per ten minutes, not per
/// LOGIN), but never past a change: a new password refuses the old one at once, however
/// recently it opened the BAL, and a suspended BAL opens to nobody.
#[test]
fn a_verified_password_is_not_trusted_past_a_change() {
    let op = Operator::start(&["poll"]);
    let login = |password: &str| op.python("login_once.py", &["poll", password]).trim().to_string();
    assert_eq!(login(PASSWORD), "accepted");
    assert_eq!(login(PASSWORD), "accepted");
    let out = op.cli(&["account", "passwd", &op.mailbox("poll")], Some("Nouveau-2027\n"));
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(login(PASSWORD), "refused", "the old password still opened the BAL");
    assert_eq!(login("Nouveau-2027"), "accepted");
    let out = op.cli(&["account", "suspend", &op.mailbox("poll")], None);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(login("Nouveau-2027"), "refused", "a suspended BAL opened");
}
