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
