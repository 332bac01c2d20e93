//! Dovecot's imaptest scripted compliance tests (../shared/fixtures/imaptest), run by our runner
//! against a real server over TLS. Every group must pass unless `tests/imaptest/ledger.txt`
//! lists it, with the RFC reason; a listed group that starts passing fails the test too, so the
//! ledger only ever shrinks.

mod common;

use std::collections::BTreeMap;

use common::*;

fn ledger() -> BTreeMap<String, (String, String)> {
    let text = std::fs::read_to_string(repo().join("tests/imaptest/ledger.txt")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut words = l.split_whitespace();
            let group = words.next().unwrap().to_string();
            let status = words.next().expect("status").to_string();
            let reason = words.collect::<Vec<_>>().join(" ");
            assert!(!reason.is_empty(), "ledger entry {group} needs a reason");
            (group, (status, reason))
        })
        .collect()
}

#[test]
fn imaptest_scripts_match_the_ledger() {
    let op = Operator::start(&["imaptest", "imaptest2"]);
    let scripts = fixtures().join("imaptest");
    let out = op.run(
        "python3",
        &[
            repo().join("tests/imaptest/run_imaptest.py").to_str().unwrap(),
            "--host",
            "127.0.0.1",
            "--port",
            &op.imaps.to_string(),
            "--tls",
            "--cafile",
            op.ca().to_str().unwrap(),
            "--user",
            &Operator::address("imaptest"),
            "--password",
            PASSWORD,
            "--user2",
            &Operator::address("imaptest2"),
            "--password2",
            PASSWORD,
            "--scripts",
            scripts.to_str().unwrap(),
        ],
    );
    let report = text(&out);
    assert!(out.status.success(), "runner failed:\n{report}");
    let mut results = BTreeMap::new();
    for line in report.lines() {
        for (prefix, status) in [("PASS ", "pass"), ("FAIL ", "fail"), ("SKIP ", "skip")] {
            if let Some(rest) = line.strip_prefix(prefix) {
                let group = rest.split(':').next().unwrap().trim().to_string();
                results.insert(group, (status, rest.to_string()));
            }
        }
    }
    let groups = std::fs::read_dir(&scripts)
        .unwrap()
        .flatten()
        .filter(|e| e.file_type().unwrap().is_file())
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            !n.contains('.') && n != "COPYING"
        })
        .count();
    assert_eq!(results.len(), groups, "every group must report:\n{report}");
    let ledger = ledger();
    let mut problems = Vec::new();
    for (group, (status, detail)) in &results {
        let expected = ledger.get(group).map(|(s, _)| s.as_str()).unwrap_or("pass");
        if *status != expected {
            problems.push(format!("{group}: expected {expected}, got {status}: {detail}"));
        }
    }
    for group in ledger.keys() {
        if !results.contains_key(group) {
            problems.push(format!("{group}: in the ledger but not among the scripts"));
        }
    }
    let passed = results.values().filter(|(s, _)| *s == "pass").count();
    eprintln!("imaptest: {passed} of {} groups pass", results.len());
    assert!(
        problems.is_empty(),
        "imaptest ledger mismatch:\n{}\n\nfull report:\n{report}",
        problems.join("\n")
    );
}
