//! A newcomer's first hour, with only what the README and the operator print: a fresh data
//! directory with its demo BALs, the webmail opened with a demo password and the code the
//! development page shows, /compte naming this instance's host and ports, mail clients
//! configured from the autoconfiguration file alone, and `confiance dns` for what to publish.

mod common;

use common::{DOMAIN, Operator, text};

/// The browser walks of this file one at a time: each drives Chromium and a server, and three
/// at once on two cores slowed the other tests' servers past their start deadline.
static ONE_WALK: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_walk() -> std::sync::MutexGuard<'static, ()> {
    ONE_WALK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn a_newcomer_gets_in_with_what_the_operator_prints() {
    let _one = one_walk();
    let mut op = Operator::new_at("127.0.0.1", DOMAIN);
    op.write_config("");
    let out = op.cli(&["init"], None);
    assert!(out.status.success(), "{}", text(&out));
    let printed = text(&out);
    let web = format!("https://localhost:{}", op.web);
    assert!(
        printed.contains(&format!("Webmail : {web}/connexion")) && printed.contains(&format!("{web}/dev/messages")),
        "init does not say how to open the webmail:\n{printed}"
    );
    let demo = std::fs::read_to_string(op.data_dir().join("demo-accounts.txt")).unwrap();
    let (address, password) = demo
        .lines()
        .next()
        .and_then(|l| l.split_once('\t'))
        .expect("a demo BAL");
    assert!(printed.contains(address) && printed.contains(password));

    // The CLI speaks French, its help included.
    let help = op.cli_ok(&["account", "--help"], None);
    assert!(
        help.contains("Gère les BAL") && help.contains("Affiche cette aide") && !help.contains("Print help"),
        "{help}"
    );
    // So do its refusals of a command line, with clap's status.
    for (args, said) in [
        (
            &["accont"][..],
            "commande inconnue « accont »\n  vouliez-vous dire « account » ?",
        ),
        (&["account", "quota"][..], "il manque : <ADDRESS>, <BYTES>"),
        (
            &["account", "quota", "a@b.fr", "quatre"][..],
            "valeur « quatre » refusée pour <BYTES>",
        ),
        (&["--bavard"][..], "argument inattendu « --bavard »"),
    ] {
        let out = op.cli(args, None);
        assert!(
            out.status.code() == Some(2) && text(&out).contains(said) && !text(&out).contains("error:"),
            "{args:?}: {}",
            text(&out)
        );
    }
    // A new BAL's address keeps to the national form; the refusal says what would do.
    let out = op.cli(
        &["account", "add", &format!("élodie.dupont@{DOMAIN}"), "--password-stdin"],
        Some("Motdepasse1\n"),
    );
    assert!(
        !out.status.success() && text(&out).contains(&format!("Par exemple : elodie.dupont@{DOMAIN}")),
        "{}",
        text(&out)
    );

    // The development certificate names what clients type: localhost, this machine's name,
    // 127.0.0.1, and autoconfig.<domain> for each domain.
    let cert = op.run(
        "openssl",
        &[
            "x509",
            "-noout",
            "-ext",
            "subjectAltName",
            "-in",
            op.data_dir().join("tls/server.pem").to_str().unwrap(),
        ],
    );
    let names = text(&cert);
    for name in [
        "DNS:localhost",
        "IP Address:127.0.0.1",
        &format!("DNS:autoconfig.{DOMAIN}"),
    ] {
        assert!(names.contains(name), "{name} missing from {names}");
    }
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let machine = machine.trim().to_ascii_lowercase();
    if machine.contains(|c: char| c.is_ascii_alphanumeric()) && machine != "localhost" {
        assert!(
            names.contains(&format!("DNS:{machine}")),
            "{machine} missing from {names}"
        );
    }

    op.spawn();
    op.wait_for_web();

    // The browser: first login with the demo BAL, then /compte, on a desktop and a phone.
    let (out, shots) = op.walk(
        "first_run.mjs",
        "first-run",
        &[
            ("CONFIANCE_HOST", "localhost".to_string()),
            ("DEMO_ADDRESS", address.to_string()),
            ("DEMO_PASSWORD", password.to_string()),
        ],
    );
    assert!(
        out.status.success(),
        "first-run walk failed:\n{}\n--- server log\n{}",
        text(&out),
        op.log()
    );
    assert!(std::fs::read_dir(&shots).unwrap().count() >= 4);

    // A mail client that knows only the address: the autoconfiguration file, then IMAP and
    // SMTP on each endpoint it names, with the demo password.
    let said = op.python("autoconfig.py", &[address, password]);
    assert!(
        said.contains("imap SSL ok") && said.contains("smtp STARTTLS ok"),
        "{said}"
    );

    // What to publish in DNS names this instance's ports.
    let records = op.cli_ok(&["dns", "--domain", DOMAIN], None);
    assert!(
        records.contains(&format!("_imaps._tcp.{DOMAIN}.")) && records.contains(&format!(" {} localhost.", op.imaps)),
        "{records}"
    );
    let out = op.cli(&["dns", "--domain", "gmail.com"], None);
    assert!(
        !out.status.success() && text(&out).contains("n'est pas un domaine de cet opérateur"),
        "{}",
        text(&out)
    );
}

/// `[clients]` tells clients what stands in front of the listeners (a proxy, a port
/// redirection): /compte and the autoconfiguration follow it, and a bad host is refused at
/// start with the key named.
#[test]
fn the_clients_section_overrides_what_is_listened_on() {
    let op = Operator::start_with(
        &["reglages"],
        "[clients]\nhost = \"mail.exemple.test\"\nimaps_port = 993\nsubmission_port = 587\n",
    );
    op.wait_for_web();
    let said = op.python("autoconfig.py", &["--print", &op.mailbox("reglages")]);
    assert!(said.contains("imap mail.exemple.test 993 SSL"), "{said}");
    assert!(
        said.contains(&format!("imap mail.exemple.test {} STARTTLS", op.imap)),
        "{said}"
    );
    assert!(said.contains("smtp mail.exemple.test 587 STARTTLS"), "{said}");

    let bad = Operator::new_at("127.0.0.1", DOMAIN);
    bad.write_config("[clients]\nhost = \"pas un nom\"\n");
    let out = bad.cli(&["init", "--no-demo"], None);
    assert!(
        !out.status.success() && text(&out).contains("clients.host"),
        "{}",
        text(&out)
    );
}

/// An operator started with `init`'s demo BALs and a `secretariat` BAL, and the environment of
/// the walks that use them: the two demo addresses and passwords `init` wrote, the secretariat.
fn demo_bals_and_secretariat() -> (Operator, Vec<(&'static str, String)>) {
    let mut op = Operator::new_at("127.0.0.1", DOMAIN);
    op.write_config("");
    let out = op.cli(&["init"], None);
    assert!(out.status.success(), "{}", text(&out));
    op.add_account("secretariat", common::PASSWORD);
    op.spawn();
    op.wait_for_web();
    let demo = std::fs::read_to_string(op.data_dir().join("demo-accounts.txt")).unwrap();
    let demo: Vec<(&str, &str)> = demo.lines().filter_map(|l| l.split_once('\t')).collect();
    let [(jean, jean_password), (marie, marie_password)] = demo[..] else {
        panic!("two demo BALs: {demo:?}")
    };
    let walkers = vec![
        ("JEAN", jean.to_string()),
        ("JEAN_PASSWORD", jean_password.to_string()),
        ("MARIE", marie.to_string()),
        ("MARIE_PASSWORD", marie_password.to_string()),
        ("SECRETARIAT", op.mailbox("secretariat")),
    ];
    (op, walkers)
}

/// Every day with the demo BALs (`tests/browser/everyday.mjs`): Bcc, Reply-To and both
/// receipts at compose, the start of each message in the list, the quota, several messages
/// ticked at once, a drag onto a folder, printing, and a phone.
#[test]
fn everyday_webmail_with_the_demo_bals() {
    let _one = one_walk();
    let (op, walkers) = demo_bals_and_secretariat();
    let [jean, jean_password, marie] = [0, 1, 2].map(|i| walkers[i].1.clone());
    // Four messages already in Marie's inbox, sent with the demo password from a mail client.
    for n in 1..=4 {
        let (ok, said) = op.swaks(&[
            "--auth-user",
            &jean,
            "--auth-password",
            &jean_password,
            "--from",
            &jean,
            "--to",
            &marie,
            "--header",
            &format!("Subject: Compte rendu {n}"),
            "--body",
            &format!("Compte rendu de consultation numéro {n}."),
        ]);
        assert!(ok, "{said}");
    }
    let (out, shots) = op.walk("everyday.mjs", "everyday", &walkers);
    assert!(
        out.status.success(),
        "everyday walk failed:\n{}\n--- server log\n{}",
        text(&out),
        op.log()
    );
    assert!(std::fs::read_dir(&shots).unwrap().count() >= 5);
    // The blind copy reached the secretariat (beside Jean's other « Bilan annuel »), once.
    let ids = op.python("message_ids.py", &["secretariat", "INBOX"]);
    assert_eq!(ids.lines().count(), 2, "{ids}");
    assert_ne!(ids.lines().next(), ids.lines().nth(1), "{ids}");
    let log = op.log();
    assert!(log.contains("SUCCESS,FAILURE"), "no delivery report asked");
}

/// Out of office and filters (`tests/browser/away.mjs`): the form's mistakes said, forwarding
/// kept inside the trust space and away from patients, one automatic reply for two messages,
/// a rule filing the laboratory's mail, and the settings found again on a phone.
#[test]
fn out_of_office_and_filters_from_the_webmail() {
    let _one = one_walk();
    let (op, walkers) = demo_bals_and_secretariat();
    let (out, shots) = op.walk("away.mjs", "away", &walkers);
    assert!(
        out.status.success(),
        "away walk failed:\n{}\n--- server log\n{}",
        text(&out),
        op.log()
    );
    assert!(std::fs::read_dir(&shots).unwrap().count() >= 6);
    // The secretariat got a copy of each of Jean's three messages (the redirect runs before
    // the rule), and the traces say what the filter did without any message content.
    let ids = op.python("message_ids.py", &["secretariat", "INBOX"]);
    assert_eq!(ids.lines().count(), 3, "{ids}");
    let log = op.log();
    assert!(
        log.contains("event=\"filter_saved\"") && log.contains("event=\"vacation_sent\""),
        "{log}"
    );
    assert!(!log.contains("Pour une urgence"), "the reply's text is not traced");
}

/// A forgotten password (`tests/browser/recovery.mjs`): a professional through Pro Santé
/// Connect, a staff member with a code by e-mail and their authenticator; the staff member's
/// new password then opens their page, the old one no longer does.
#[test]
fn a_forgotten_password_has_a_way_back() {
    let _one = one_walk();
    let op = Operator::start(&[]);
    op.wait_for_web();
    let staff = "anne.oubli@chu-test.fr";
    let made = op.cli_ok(
        &["staff", "add", staff, "--name", "Anne Oubli", "--password-stdin"],
        Some(&format!("{}\n", common::PASSWORD)),
    );
    let secret = made
        .split("secret=")
        .nth(1)
        .and_then(|s| s.split('&').next())
        .expect("the authenticator key")
        .to_string();
    let (out, shots) = op.walk(
        "recovery.mjs",
        "recovery",
        &[("STAFF_EMAIL", staff.to_string()), ("STAFF_SECRET", secret)],
    );
    assert!(
        out.status.success(),
        "recovery walk failed:\n{}\n--- server log\n{}",
        text(&out),
        op.log()
    );
    assert!(std::fs::read_dir(&shots).unwrap().count() >= 4);
    let log = op.log();
    assert!(
        log.contains("method=\"psc_or_cps\""),
        "the professional's change is traced"
    );
    assert!(
        log.lines()
            .any(|l| l.contains("event=\"password_changed\"") && l.contains(staff) && l.contains("recovery")),
        "{log}"
    );
    assert!(
        log.contains("outcome=\"nothing_sent\""),
        "the unknown address got nothing"
    );
}
