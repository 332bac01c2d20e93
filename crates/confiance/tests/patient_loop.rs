//! The patients' side in a box: `confiance authority` makes a trust space holding operator A
//! (professionals) and a patients' operator serving patient.mssante.fr (`[patients]
//! serve_domain`), each on its own loopback address with its own certificate, mail between
//! them over mutual TLS. A professional writes to a patient, the patient reads and answers,
//! the professional's timeline shows delivery and reading, the professional closes the
//! exchange, and the patient's next answer is refused with the reason
//! (`tests/clients/patient_loop.py`); then the patient's webmail in Chromium
//! (`tests/browser/patient_webmail.mjs`).

mod common;

use common::{Operator, operator_config, repo, text};

const SPEC: &str = r#"
name = "ESPACE PATIENTS TEST"

[[operator]]
name = "OPERATEUR A"
structure_id = "1750000001"
hosts = ["mx.a.test"]
domains = ["a.test"]

[[operator]]
name = "MON ESPACE SANTE TEST"
structure_id = "1750000009"
hosts = ["mx.patient.test"]
domains = ["patient.mssante.fr"]
"#;

const PATIENT: &str = "279035121518989";
const PATIENT_PASSWORD: &str = "Vaccin2026";

#[test]
fn a_professional_and_a_patient_over_mutual_tls() {
    let (_space, root) = common::authority_space(SPEC);
    let mut a = Operator::new_at("127.0.9.2", "a.test");
    let mut p = Operator::new_at("127.0.9.3", "patient.mssante.fr");
    a.tls_override = Some((root.join("ca/root.pem"), "mx.a.test".into()));
    p.tls_override = Some((root.join("ca/root.pem"), "mx.patient.test".into()));
    let config_a = operator_config(&root, "mx.a.test", &[("patient.mssante.fr", "mx.patient.test", &p)]);
    let config_p = format!(
        "domains = [\"patient.mssante.fr\"]\n{}[patients]\nserve_domain = \"patient.mssante.fr\"\n",
        operator_config(&root, "mx.patient.test", &[("a.test", "mx.a.test", &a)])
    );
    a.launch(&["alice", "bob"], &config_a);
    p.launch(&[], &config_p);

    // Patients' BALs are named by their INS: a wrong key or the 13 digits are refused.
    for bad in ["279035121518988", "2790351215189"] {
        let out = p.cli(
            &["account", "add", &p.mailbox(bad), "--password-stdin"],
            Some("Patient2026\n"),
        );
        assert!(
            !out.status.success() && text(&out).contains("INS"),
            "{bad}: {}",
            text(&out)
        );
    }

    // A patient's BAL, with the personal e-mail their login codes go to.
    let patient = p.mailbox(PATIENT);
    p.cli_ok(
        &[
            "account",
            "add",
            &patient,
            "--password-stdin",
            "--email",
            "dominique@example.org",
        ],
        Some(&format!("{PATIENT_PASSWORD}\n")),
    );
    let out = std::process::Command::new("python3")
        .arg(repo().join("tests/clients/patient_loop.py"))
        .arg(&patient)
        .envs(a.env())
        .env("PATIENT_HOST", &p.ip)
        .env("PATIENT_IMAPS", p.imaps.to_string())
        .env("PATIENT_SUBMISSION", p.submission.to_string())
        .env("PATIENT_TLS_NAME", "mx.patient.test")
        .env("PATIENT_PASSWORD", PATIENT_PASSWORD)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "patient loop: {}\n--- A\n{}\n--- patients\n{}",
        text(&out),
        a.log(),
        p.log()
    );
    // The first message's timeline at A: handed to the patients' operator, delivered into the
    // patient's BAL there (its DSN), displayed (the patient's MDN).
    let said: serde_json::Value = serde_json::from_slice(out.stdout.trim_ascii()).unwrap();
    let id = said["message_id"].as_str().unwrap();
    let timeline = a.cli_ok(&["traces", "--message", id], None);
    assert!(timeline.contains("sent") && timeline.contains("relayed"), "{timeline}");
    assert!(
        timeline.contains("peer=mx.patient.test") || timeline.contains("mx.patient.test"),
        "{timeline}"
    );
    assert!(timeline.contains("kind=delivered"), "{timeline}");
    assert!(timeline.contains("kind=displayed"), "{timeline}");
    // The patient's webmail: no new conversation, an answer, the closed exchange.
    let (walk, _) = p.walk(
        "patient_webmail.mjs",
        "patient-webmail",
        &[
            ("PATIENT_ADDRESS", patient.clone()),
            ("PATIENT_PASSWORD", PATIENT_PASSWORD.into()),
        ],
    );
    assert!(
        walk.status.success(),
        "patient webmail: {}\n--- patients\n{}",
        text(&walk),
        p.log()
    );
    // Both refusals are in the patients' operator's audit trail.
    let log = p.log();
    assert!(log.contains("professional did not write first"), "{log}");
    assert!(log.contains("exchange closed"), "{log}");
}
