//! The webmail end to end in Chromium (`tests/browser/webmail.mjs`): two professionals
//! activate their BAL, then read, reply with attachments to a correspondent found in the
//! directory by a misspelt name, search, move, flag and delete, and see mail arrive live;
//! axe-core checks every page.

mod common;

use common::{Operator, text};

#[test]
fn webmail_walk_in_chromium() {
    let op = Operator::start_with(
        &["secretariat"],
        "domains = [\"medecin.confiance.test\", \"pro.confiance.test\"]\n",
    );
    op.wait_for_web();
    // The practice's organisational BAL is shared with Zoë (test identity 899700735741).
    let shared = Operator::address("secretariat");
    let out = op.cli(&["account", "share", &shared, "--national-id", "899700735741"], None);
    assert!(out.status.success(), "{}", text(&out));
    let out = op.cli(&["account", "share", &shared, "--national-id", "12345"], None);
    assert!(
        !out.status.success() && text(&out).contains("IdNat_PS"),
        "{}",
        text(&out)
    );
    let (out, shots) = op.walk("webmail.mjs", "webmail", &[("SHARED_BAL", shared.clone())]);
    assert!(
        out.status.success(),
        "webmail walk failed:\n{}\n--- server log\n{}",
        text(&out),
        op.log()
    );
    // Élise's own listing says where she practises, as PSC's situation d'exercice gave it.
    let found = op.run(
        "curl",
        &[
            "-s",
            "--cacert",
            op.ca().to_str().unwrap(),
            &format!("https://127.0.0.1:{}/api/annuaire?q=orleans", op.web),
        ],
    );
    let found = text(&found);
    assert!(
        found.contains("CABINET MEDICAL DES LILAS") && found.contains("75020"),
        "{found}"
    );
    let taken = std::fs::read_dir(&shots).unwrap().count();
    assert!(taken >= 15, "a screenshot per page, {taken} taken");
    // What the webmail sent went through the submission rules, and the audit trace says so
    // without the content.
    let log = op.log();
    assert!(log.contains("event=\"mdn_sent\""), "{log}");
    // The read receipt went from the null reverse-path (RFC 8098 §3): the delivery traced just
    // before the receipt was said sent has an empty sender.
    let lines: Vec<&str> = log.lines().collect();
    let sent = lines.iter().position(|l| l.contains("event=\"mdn_sent\"")).unwrap();
    let delivery = lines[..sent]
        .iter()
        .rev()
        .find(|l| l.contains("event=\"delivered\""))
        .expect("the receipt's delivery");
    assert!(delivery.contains(" sender= "), "{delivery}");
    assert!(log.contains("event=\"webmail_sent\""), "{log}");
    assert!(!log.contains("Voici les résultats"), "message content in the log");
}
