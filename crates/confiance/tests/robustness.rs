//! Account isolation, bad input, and crash safety, against a real operator.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

#[test]
fn accounts_are_isolated() {
    let op = Operator::start(&["owner", "intruder"]);
    op.python("isolation.py", &["owner", "intruder"]);
}

#[test]
fn bad_input_gets_precise_errors_and_loses_nothing() {
    let op = Operator::start(&["victim"]);
    op.python("bad_input.py", &["victim"]);
    // Still serving after all of it.
    op.python("message_ids.py", &["victim", "INBOX"]);
}

/// SIGKILL during a stream of submissions; after restart every message that got `250` is in
/// the mailbox exactly once (a message cut before its `250` may or may not be there, once).
#[test]
fn messages_acknowledged_before_a_crash_survive_it_exactly_once() {
    let mut op = Operator::start(&["crash"]);
    let mut child = Command::new("python3")
        .arg(repo().join("tests/clients/submit_stream.py"))
        .args(["crash", "100000"])
        .envs(op.env())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut acked = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.len() < 150 && Instant::now() < deadline {
        match lines.next() {
            Some(Ok(l)) => acked.push(l),
            _ => break,
        }
    }
    assert!(
        acked.len() >= 150,
        "only {} messages acknowledged before the deadline",
        acked.len()
    );
    op.kill();
    // Whatever the client still reads after the kill was acknowledged before it.
    for l in lines.map_while(Result::ok) {
        acked.push(l);
    }
    let _ = child.wait();
    op.spawn();
    let stored = op.python("message_ids.py", &["crash", "INBOX"]);
    let stored: Vec<&str> = stored.lines().collect();
    for id in &acked {
        let n = stored.iter().filter(|s| *s == id).count();
        assert_eq!(n, 1, "{id} acknowledged but found {n} times after the crash");
    }
    let mut unique = stored.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), stored.len(), "a message was stored twice");
    assert!(
        stored.len() <= acked.len() + 1,
        "more stored than sent: {} vs {}",
        stored.len(),
        acked.len()
    );
}

/// A CLI command whose reader went away (`confiance account list | head -1`) ends quietly, as
/// other Unix tools do, instead of panicking on the broken pipe.
#[test]
fn the_cli_survives_a_closed_pipe() {
    use std::os::unix::process::ExitStatusExt;
    let op = Operator::start(&["premier", "second"]);
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let out = Command::new(binary())
        .arg("--config")
        .arg(op.config_path())
        .args(["account", "list"])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        out.status.success() || out.status.signal() == Some(libc::SIGPIPE),
        "{:?}: {stderr}",
        out.status
    );
}

/// Quotas are given and shown as people write them; an unreadable size is refused, saying how
/// to write one, and changes nothing.
#[test]
fn the_cli_reads_and_prints_sizes_as_people_write_them() {
    let op = Operator::start(&["taille"]);
    let address = op.mailbox("taille");
    let set = op.cli(&["account", "quota", &address, "1,5 Go"], None);
    assert!(set.status.success(), "{}", text(&set));
    assert!(
        text(&set).contains("Quota de taille@") && text(&set).contains(" : 1,5 Go"),
        "{}",
        text(&set)
    );
    let bad = op.cli(&["account", "quota", &address, "4X"], None);
    assert!(
        !bad.status.success() && text(&bad).contains("taille illisible"),
        "{}",
        text(&bad)
    );
    let list = text(&op.cli(&["account", "list"], None));
    let line = list.lines().find(|l| l.starts_with(&address)).expect("listed");
    assert!(line.contains(" / 1,5 Go\t"), "{line}");
}
