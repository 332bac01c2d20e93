//! Structures (FINESS) and their BALs (issue 16), through the CLI and the real server: a
//! FINESS with a wrong key is refused by name, a BAL's type never changes, an organisational
//! BAL receives from a professional, and a suspended one refuses mail with 550 5.2.1.

mod common;

use common::*;

const FINESS: &str = "750712184";

/// The submission of one message from `from` to `to`, as swaks reports it.
fn send(op: &Operator, from: &str, to: &str) -> (bool, String) {
    let auth = ["--auth", "PLAIN", "--auth-user", from, "--auth-password", PASSWORD];
    let mail = ["--from", from, "--to", to, "--h-Subject", "Demande de rendez-vous"];
    op.swaks(&[&auth[..], &mail].concat())
}

#[test]
fn a_structure_holds_bals_of_a_fixed_type() {
    let op = Operator::start(&["docteur"]);
    let cli = |args: &[&str]| {
        let out = op.cli(args, None);
        (out.status.success(), text(&out))
    };
    // A mistyped digit: the error names the key; a malformed number says what a FINESS is.
    let (ok, out) = cli(&["structure", "add", "750712185", "--name", "CHU"]);
    assert!(
        !ok && out.contains("750712185") && out.contains("clé de contrôle"),
        "{out}"
    );
    let (ok, out) = cli(&["structure", "add", "75071218", "--name", "CHU"]);
    assert!(!ok && out.contains("9 caractères"), "{out}");
    let (ok, out) = cli(&["structure", "add", FINESS, "--name", "Centre hospitalier de Test"]);
    assert!(ok, "{out}");
    let (ok, out) = cli(&["structure", "add", FINESS, "--name", "Autre"]);
    assert!(!ok && out.contains("existe déjà"), "{out}");

    let secretariat = op.mailbox("secretariat");
    let add = |address: &str, kind: &str, finess: &str| {
        let name = "Secrétariat de cardiologie";
        cli(&[
            "bal",
            "add",
            address,
            "--type",
            kind,
            "--structure",
            finess,
            "--name",
            name,
        ])
    };
    let (ok, out) = add(&op.mailbox("orpheline"), "org", "130786049");
    assert!(!ok && out.contains("aucune structure de ce numéro"), "{out}");
    let (ok, out) = add(&secretariat, "org", FINESS);
    assert!(ok && out.contains("BAL ORG créée"), "{out}");
    // The same address again, as another type: refused, the type stays.
    let (ok, out) = add(&secretariat, "app", FINESS);
    assert!(!ok && out.contains("ne change jamais"), "{out}");
    let per = ["--type", "PER", "--rpps", "10000005479", "--family", "X"];
    let (ok, out) = cli(&[&["account", "publish", &secretariat][..], &per].concat());
    assert!(
        !ok && out.contains("type ORG") && out.contains("never changes"),
        "{out}"
    );
    let (ok, out) = cli(&["account", "publish", &secretariat, "--type", "ORG", "--finess", FINESS]);
    assert!(ok, "{out}");

    // Administrators: a professional by RPPS, a staff member by e-mail; nothing else.
    let (ok, out) = cli(&["structure", "admin", "add", FINESS, "10000005479"]);
    assert!(ok && out.contains("810000005479"), "{out}");
    let (ok, out) = cli(&["structure", "admin", "add", FINESS, "cadre@chu-test.fr"]);
    assert!(ok, "{out}");
    let (ok, out) = cli(&["structure", "admin", "add", FINESS, "10102727017"]);
    assert!(!ok && out.contains("clé de contrôle"), "{out}");
    let (ok, out) = cli(&["structure", "admin", "add", "130786049", "cadre@chu-test.fr"]);
    assert!(!ok && out.contains("aucune structure de ce numéro"), "{out}");
    let (_, out) = cli(&["structure", "list"]);
    assert!(
        out.contains(&format!("{secretariat} (ORG)")) && out.contains("cadre@chu-test.fr"),
        "{out}"
    );

    // The organisational BAL receives from a professional; suspended, it refuses with 5.2.1
    // and says why in French; resumed, it receives again.
    let docteur = Operator::address("docteur");
    let (ok, out) = send(&op, &docteur, &secretariat);
    assert!(ok && out.contains("250 2.0.0"), "{out}");
    let (ok, out) = cli(&["bal", "suspend", &secretariat]);
    assert!(ok, "{out}");
    let (ok, out) = send(&op, &docteur, &secretariat);
    assert!(!ok && out.contains("550 5.2.1") && out.contains("suspendue"), "{out}");
    let (ok, out) = cli(&["bal", "resume", &secretariat]);
    assert!(ok, "{out}");
    let (ok, out) = send(&op, &docteur, &secretariat);
    assert!(ok && out.contains("250 2.0.0"), "{out}");
    let (_, out) = cli(&["account", "list"]);
    let line = out.lines().find(|l| l.starts_with(&secretariat)).unwrap_or_default();
    assert!(line.contains("\tORG\t") && line.ends_with("active"), "{out}");
    let log = op.log();
    assert!(log.contains("reason=\"suspended\""), "{log}");

    // Deleted, the BAL is archived first: its folders as mbox files, its mail readable.
    let (ok, out) = cli(&["bal", "delete", &secretariat]);
    assert!(!ok && out.contains("--yes"), "{out}");
    let (ok, out) = cli(&["bal", "delete", &secretariat, "--yes"]);
    assert!(
        ok && out.contains("BAL supprimée") && out.contains("2 messages"),
        "{out}"
    );
    let archive = out
        .lines()
        .find_map(|l| l.strip_prefix("Archive : "))
        .and_then(|l| l.split(" (").next())
        .expect("the archive's folder");
    let inbox = std::fs::read_to_string(std::path::Path::new(archive).join("INBOX.mbox")).unwrap();
    assert_eq!(
        inbox.matches("\nSubject: Demande de rendez-vous\n").count(),
        2,
        "{inbox}"
    );
    assert!(inbox.starts_with("From MAILER-DAEMON "), "{inbox}");
    let (_, out) = cli(&["account", "list"]);
    assert!(!out.contains(&secretariat), "{out}");
}

#[test]
fn suspension_ends_the_open_sessions_at_once() {
    let op = Operator::start(&["docteur", "collegue"]);
    let config = op.config_path();
    let out = op.python("suspension.py", &["docteur", binary(), config.to_str().unwrap()]);
    assert!(out.contains("ok"), "{out}");
    // Nobody logs in again while it is suspended.
    let user = format!("{}:{PASSWORD}", Operator::address("docteur"));
    let inbox = format!("imaps://127.0.0.1:{}/INBOX", op.imaps);
    let ca = op.ca();
    let again = op.run("curl", &["-sS", "--cacert", ca.to_str().unwrap(), "-u", &user, &inbox]);
    assert!(!again.status.success(), "{}", text(&again));
    let log = op.log();
    assert!(log.contains("sessions_ended"), "{log}");
}

#[test]
fn an_applicative_bal_sends_with_its_structure_s_certificate() {
    let mut op = Operator::new_at("127.0.0.1", DOMAIN);
    op.smtp_extra = "app_messages_per_minute = 3\n".into();
    op.launch(&["docteur"], "");
    let cli = |args: &[&str]| op.cli_ok(args, None);
    let (app, org) = (op.mailbox("dpi"), op.mailbox("secretariat"));
    cli(&["structure", "add", FINESS, "--name", "Centre hospitalier de Test"]);
    cli(&["structure", "add", "130786049", "--name", "Laboratoire sans logiciel"]);
    cli(&[
        "bal",
        "add",
        &app,
        "--type",
        "app",
        "--structure",
        FINESS,
        "--name",
        "DPI",
    ]);
    cli(&[
        "bal",
        "add",
        &org,
        "--type",
        "org",
        "--structure",
        FINESS,
        "--name",
        "Secrétariat",
    ]);
    let certs = op.data_dir().join("applications");
    let dir = certs.to_str().unwrap();
    cli(&[
        "authority",
        "application",
        "--structure",
        FINESS,
        "--name",
        "DPI de test",
        "--out",
        dir,
    ]);
    cli(&[
        "authority",
        "application",
        "--structure",
        "130786049",
        "--name",
        "SIL",
        "--out",
        dir,
    ]);
    let out = op.cli(
        &[
            "authority",
            "application",
            "--structure",
            "750712185",
            "--name",
            "X",
            "--out",
            dir,
        ],
        None,
    );
    assert!(
        !out.status.success() && text(&out).contains("clé de contrôle"),
        "{}",
        text(&out)
    );
    let made = op.cli(&["bal", "token", &app, "--label", "DPI sans certificat"], None);
    assert!(made.status.success(), "{}", text(&made));
    let stdout = String::from_utf8_lossy(&made.stdout).to_string();
    let token = stdout.lines().last().unwrap_or_default().trim().to_string();
    let file = |f: &str| certs.join(f).to_str().unwrap().to_string();
    let docteur = Operator::address("docteur");
    let out = op.python(
        "app_bal.py",
        &[
            &app,
            &org,
            &file(&format!("{FINESS}.pem")),
            &file(&format!("{FINESS}.key")),
            &file("130786049.pem"),
            &file("130786049.key"),
            &token,
            &docteur,
        ],
    );
    assert!(out.contains("ok"), "{out}");
    // The professional's own sending is not the structure's: untouched by its rate.
    let (ok, out) = send(&op, &docteur, &docteur);
    assert!(ok, "{out}");
    let log = op.log();
    assert!(
        log.contains("credential=\"organisation certificate\"") && log.contains("structure sending rate"),
        "{log}"
    );
}

#[test]
fn staff_read_a_shared_bal_with_their_rights() {
    let op = Operator::start(&["docteur"]);
    let cli = |args: &[&str], stdin: Option<&str>| op.cli_ok(args, stdin);
    let org = op.mailbox("secretariat");
    cli(
        &["structure", "add", FINESS, "--name", "Centre hospitalier de Test"],
        None,
    );
    cli(
        &[
            "bal",
            "add",
            &org,
            "--type",
            "org",
            "--structure",
            FINESS,
            "--name",
            "Secrétariat",
        ],
        None,
    );
    let password = format!("{PASSWORD}\n");
    let secret = |out: String| {
        let uri = out
            .lines()
            .find(|l| l.starts_with("otpauth://"))
            .expect("an otpauth URI")
            .to_string();
        uri.split("secret=")
            .nth(1)
            .and_then(|s| s.split('&').next())
            .unwrap()
            .to_string()
    };
    let (reader, sender) = ("lecture@chu-test.fr", "envoi@chu-test.fr");
    let reader_secret = secret(cli(
        &["staff", "add", reader, "--name", "Anne Lecture", "--password-stdin"],
        Some(&password),
    ));
    let sender_secret = secret(cli(
        &["staff", "add", sender, "--name", "Paul Envoi", "--password-stdin"],
        Some(&password),
    ));
    let again = op.cli(
        &["staff", "add", reader, "--name", "X", "--password-stdin"],
        Some(&password),
    );
    assert!(
        !again.status.success() && text(&again).contains("existe déjà"),
        "{}",
        text(&again)
    );
    cli(
        &["bal", "member", "add", &org, reader, "--rights", "lecture,envoi"],
        None,
    );
    cli(&["bal", "member", "add", &org, sender, "--rights", "send"], None);
    // A professional of the PSC sandbox who has no BAL here (identity 5).
    cli(&["bal", "member", "add", &org, "99700870589", "--rights", "read"], None);
    let bad = op.cli(&["bal", "member", "add", &org, sender, "--rights", "read,delete"], None);
    assert!(!bad.status.success() && text(&bad).contains("delete"), "{}", text(&bad));
    let members = cli(&["bal", "member", "list", &org], None);
    assert!(
        members.contains(&format!("{reader}\tread,send")) && members.contains(&format!("{sender}\tsend")),
        "{members}"
    );
    // Something to read in the organisational BAL.
    let (ok, out) = send(&op, &Operator::address("docteur"), &org);
    assert!(ok, "{out}");
    let config = op.config_path();
    let out = op.python(
        "staff.py",
        &[
            &org,
            reader,
            &reader_secret,
            sender,
            &sender_secret,
            binary(),
            config.to_str().unwrap(),
        ],
    );
    assert!(out.contains("ok"), "{out}");
    let log = op.log();
    assert!(log.contains("reason=\"no read right\""), "{log}");
    assert!(log.contains("reason=\"no manage right\""), "{log}");
}

#[test]
fn the_console_walk_creates_a_bal_staff_and_rights_then_suspends() {
    let op = Operator::start(&["docteur"]);
    let cli = |args: &[&str], stdin: Option<&str>| op.cli_ok(args, stdin);
    cli(
        &["structure", "add", FINESS, "--name", "Centre hospitalier de Test"],
        None,
    );
    let admin = "cadre@chu-test.fr";
    let made = cli(
        &["staff", "add", admin, "--name", "Claire Cadre", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
    );
    let secret = made
        .split("secret=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .unwrap()
        .to_string();
    cli(&["structure", "admin", "add", FINESS, admin], None);
    // One message this month, outside the structure: the console's national figure.
    let (ok, out) = send(&op, &Operator::address("docteur"), &Operator::address("docteur"));
    assert!(ok, "{out}");
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (out, shots) = op.walk(
        "console.mjs",
        "console",
        &[
            ("FINESS", FINESS.into()),
            ("ADMIN_EMAIL", admin.to_string()),
            ("ADMIN_PASSWORD", PASSWORD.into()),
            ("ADMIN_SECRET", secret.clone()),
        ],
    );
    assert!(out.status.success(), "console walk: {}\n{}", text(&out), op.log());
    let json = String::from_utf8_lossy(&out.stdout);
    let walked: serde_json::Value = serde_json::from_str(json.lines().last().unwrap_or_default()).expect("JSON");
    let bal = walked["bal"].as_str().unwrap().replace("%40", "@");
    // What the console did is what the store holds: the BAL (suspended), the member's rights.
    let list = cli(&["account", "list"], None);
    let line = list.lines().find(|l| l.starts_with(&bal)).unwrap_or_default();
    assert!(line.contains("\tORG\t") && line.ends_with("suspendue"), "{list}");
    let members = cli(&["bal", "member", "list", &bal], None);
    assert_eq!(members.trim(), "anne.martin@chu-test.fr\tread", "{members}");
    // The trail names the administrator as the actor of each change.
    let trail = cli(
        &[
            "traces",
            "--event",
            "member_set",
            "--event",
            "staff_suspended",
            "--event",
            "bal_suspended",
        ],
        None,
    );
    assert_eq!(
        trail.lines().filter(|l| l.contains(&format!("acteur={admin}"))).count(),
        4,
        "{trail}"
    );
    assert!(std::fs::read_dir(&shots).unwrap().count() >= 7, "a screenshot per step");
}

#[test]
fn structure_bals_are_published_with_their_structure() {
    let op = Operator::start(&[]);
    let cli = |args: &[&str]| op.cli_ok(args, None);
    cli(&[
        "structure",
        "add",
        FINESS,
        "--name",
        "Centre hospitalier de Test",
        "--address",
        "1 rue de la Paix, 75012 Paris",
    ]);
    let (org, app) = (op.mailbox("secretariat"), op.mailbox("dpi"));
    cli(&[
        "bal",
        "add",
        &org,
        "--type",
        "org",
        "--structure",
        FINESS,
        "--name",
        "Secrétariat de cardiologie",
    ]);
    cli(&[
        "bal",
        "add",
        &app,
        "--type",
        "app",
        "--structure",
        FINESS,
        "--name",
        "DPI",
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let organization = loop {
        let out = op.python_output("directory.py", &["fhir-organization", &org]);
        if out.status.success() {
            break String::from_utf8_lossy(&out.stdout).to_string();
        }
        assert!(std::time::Instant::now() < deadline, "{}\n{}", text(&out), op.log());
        std::thread::sleep(std::time::Duration::from_millis(300));
    };
    let r: serde_json::Value = serde_json::from_str(organization.trim()).expect("an Organization");
    assert_eq!(r["name"], "Centre hospitalier de Test", "{r}");
    let ids: Vec<&str> = r["identifier"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["value"].as_str())
        .collect();
    assert!(ids.contains(&format!("1{FINESS}").as_str()), "{r}");
    assert_eq!(r["address"][0]["postalCode"], "75012", "{r}");
    // The national directory's export file lists it with the structure (IdNat_Struct, name).
    let export = op.cli(&["directory", "export"], None);
    let export = String::from_utf8_lossy(&export.stdout).to_string();
    let line = export.lines().find(|l| l.contains(&org)).unwrap_or_default();
    assert!(
        line.starts_with("ORG|")
            && line.contains(&format!("|1{FINESS}|"))
            && line.contains("Centre hospitalier de Test"),
        "{export}"
    );
    // The applicative BAL is published too; withdrawn, the organisational one goes.
    let out = op.python("directory.py", &["fhir-addresses", "Organization", "mailbox-mss", &app]);
    assert_eq!(out.trim(), app);
    cli(&["account", "publish", &org, "--withdraw"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while op
        .python_output("directory.py", &["fhir-organization", &org])
        .status
        .success()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "a withdrawn BAL stays published\n{}",
            op.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(300));
    }
}
