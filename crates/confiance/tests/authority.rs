//! `confiance authority create` stands up a trust space whose whitelist names every operator
//! MTA, and whose certificates an operator can serve with.

mod common;

use std::process::Command;

use confiance_trust::Whitelist;
use confiance_trust::dn::Dn;

#[test]
fn authority_creates_a_usable_trust_space() {
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("espace.toml");
    std::fs::write(
        &spec,
        r#"
name = "ESPACE DE TEST"
[[operator]]
name = "OPERATEUR A"
structure_id = "1750000001"
hosts = ["mx.op-a.test"]
domains = ["medecin.op-a.test"]
[[operator]]
name = "OPERATEUR B"
structure_id = "33200000000001"
hosts = ["mx.op-b.test"]
domains = ["op-b.test"]
"#,
    )
    .unwrap();
    let out = dir.path().join("space");
    let run = Command::new(common::binary())
        .args(["authority", "create", "--spec"])
        .arg(&spec)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", common::text(&run));
    let w = Whitelist::parse(&std::fs::read(out.join("listeblanchemssante.xml")).unwrap()).unwrap();
    assert_eq!(w.domain_count(), 2);
    let a = Dn::parse("CN=mx.op-a.test,OU=1750000001,O=OPERATEUR A,C=FR").unwrap();
    assert!(w.allows("medecin.op-a.test", &a));
    assert!(!w.allows("op-b.test", &a));
    assert!(out.join("operators/mx.op-b.test/server.pem").exists());
    assert!(out.join("ca/root.pem").exists());

    // A spec error is explained, and nothing is half-created silently.
    std::fs::write(&spec, "name = \"X\"\n").unwrap();
    let run = Command::new(common::binary())
        .args(["authority", "create", "--spec"])
        .arg(&spec)
        .arg("--out")
        .arg(dir.path().join("bad"))
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(
        common::text(&run).contains("description d'espace de confiance illisible"),
        "{}",
        common::text(&run)
    );
}
