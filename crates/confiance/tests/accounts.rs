//! Accounts end to end: activation in Chromium (Playwright) with the PSC sandbox, login with
//! password + code and with an authenticator app, then mail clients with an app password and
//! with PSC tokens (XOAUTH2, OAUTHBEARER), then the lifecycle from the CLI: suspension,
//! reactivation, and the CNIL inactivity sweep (notices, then deletion).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Operator, repo, text};

/// The JSON line a browser script prints last.
fn last_line(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .last()
        .unwrap_or_default()
        .to_string()
}

fn field<'a>(json: &'a str, key: &str) -> &'a str {
    let start = json
        .find(&format!("\"{key}\":\""))
        .unwrap_or_else(|| panic!("{key} missing in {json}"))
        + key.len()
        + 4;
    &json[start..start + json[start..].find('"').unwrap()]
}

#[test]
fn activation_login_mail_clients_and_lifecycle() {
    let op = Operator::start_with(
        &[],
        "domains = [\"medecin.confiance.test\", \"pro.confiance.test\"]\n[notify]\nnew_mail_check_seconds = 1\n",
    );
    op.wait_for_web();

    // A test CPS card for a pharmacist, from the development persons CA.
    let cards = op.dir.path().join("cartes");
    let out = op.cli(
        &[
            "authority",
            "cps",
            "--national-id",
            "899700075122",
            "--family",
            "PHARMACH",
            "--given",
            "Carole",
            "--title",
            "Pharmacien",
            "--out",
            cards.to_str().unwrap(),
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let (card, card_key) = (cards.join("899700075122.pem"), cards.join("899700075122.key"));
    let out = op.cli(
        &[
            "authority",
            "cps",
            "--national-id",
            "99700075122",
            "--family",
            "X",
            "--given",
            "Y",
            "--title",
            "Médecin",
            "--out",
            "/tmp",
        ],
        None,
    );
    assert!(
        !out.status.success() && text(&out).contains("IdNat_PS"),
        "{}",
        text(&out)
    );

    // The browser walk (screenshots kept under target/screenshots/activation).
    let shots = repo().join("target/screenshots/activation");
    let out = Command::new("node")
        .arg(repo().join("tests/browser/activation.mjs"))
        .envs(op.env())
        .env("SCREENSHOTS", &shots)
        .env("BASE_DOMAIN", "confiance.test")
        .env("CPS_CERT", &card)
        .env("CPS_KEY", &card_key)
        .output()
        .expect("node must be installed (.ci/run installs the browser tests' packages)");
    assert!(
        out.status.success(),
        "browser walk failed:\n{}\n--- server log\n{}",
        text(&out),
        op.log()
    );
    let json = last_line(&out);
    let elise = field(&json, "elise");
    let martin = field(&json, "martin1");
    assert_eq!(elise, "elise-marie.dorleans@medecin.confiance.test");
    assert_eq!(martin, "jean.martin@medecin.confiance.test");
    assert_eq!(field(&json, "martin2"), "jean.martin2@medecin.confiance.test");
    assert!(std::fs::read_dir(&shots).unwrap().count() >= 9, "a screenshot per step");

    let carole = field(&json, "carole");
    assert_eq!(carole, "carole.pharmach@pro.confiance.test");

    // Mail clients: the card (SASL EXTERNAL), an app password, and PSC tokens of the sandbox.
    let data = op.data_dir();
    let (server, server_key) = (data.join("tls/server.pem"), data.join("tls/server.key"));
    // The server certificate of another authority (a second development PKI).
    let elsewhere = tempfile::tempdir().unwrap();
    let made = op.cli(
        &["--data-dir", elsewhere.path().to_str().unwrap(), "init", "--no-demo"],
        None,
    );
    assert!(made.status.success(), "{}", text(&made));
    let (foreign, foreign_key) = (
        elsewhere.path().join("tls/server.pem"),
        elsewhere.path().join("tls/server.key"),
    );
    op.python(
        "accounts.py",
        &[
            "card",
            carole,
            elise,
            card.to_str().unwrap(),
            card_key.to_str().unwrap(),
            foreign.to_str().unwrap(),
            foreign_key.to_str().unwrap(),
            server.to_str().unwrap(),
            server_key.to_str().unwrap(),
        ],
    );
    op.python(
        "accounts.py",
        &["app-password", elise, field(&json, "app_password"), "Clinique2026"],
    );
    let secret = std::fs::read_to_string(op.data_dir().join("psc-bac-a-sable/client-secret")).unwrap();
    // Carole's BAL is shared with Jean Martin: his token opens it too, when he names it.
    let out = op.cli(&["account", "share", carole, "--national-id", "899700771191"], None);
    assert!(out.status.success(), "{}", text(&out));
    op.python("accounts.py", &["token", "0", martin, elise, secret.trim(), carole]);

    op.python("accounts.py", &["csrf", elise, "Clinique2026"]);

    // She asked to be told of new mail on her personal e-mail: told, without the content.
    op.python(
        "accounts.py",
        &[
            "notice",
            elise,
            field(&json, "app_password"),
            "elise.dorleans@example.org",
        ],
    );

    // The audit trace names methods and identities, never a secret.
    let log = op.log();
    assert!(
        log.contains("event=\"activation\"") || log.contains("event=activation"),
        "{log}"
    );
    assert!(log.contains("899700367917"));
    assert!(!log.contains("Clinique2026") && !log.contains(field(&json, "app_password")));

    // Suspension closes every door; reactivation opens them again.
    let out = op.cli(&["account", "suspend", elise], None);
    assert!(out.status.success(), "{}", text(&out));
    op.python("accounts.py", &["refused", elise, field(&json, "app_password")]);
    op.python("web_login.py", &["suspended", "2"]);
    let out = op.cli(&["account", "reactivate", elise], None);
    assert!(out.status.success(), "{}", text(&out));
    op.python(
        "accounts.py",
        &["app-password", elise, field(&json, "app_password"), "Clinique2026"],
    );

    // CNIL AU-037: notices 30 and 7 days before deletion, deletion after the last delay.
    let now = chrono::Utc::now();
    let at = |days: i64| (now + chrono::Duration::days(days)).to_rfc3339();
    let sweep = |days: i64| {
        let out = op.cli(&["account", "sweep", "--now", &at(days)], None);
        assert!(out.status.success(), "{}", text(&out));
        text(&out)
    };
    assert!(sweep(300).contains("0 BAL averties, 0 supprimées"));
    let first = sweep(340);
    assert!(first.contains(&format!("avertie : {elise}")), "{first}");
    assert!(
        first.contains("elise.dorleans@example.org"),
        "the notice goes to the personal e-mail: {first}"
    );
    assert!(
        first.contains(&format!(
            "non avertie (pas d'e-mail personnel), donc conservée : {martin}"
        )),
        "no notice, no deletion: {first}"
    );
    assert!(sweep(341).contains("0 BAL averties"), "a notice is sent once");
    assert!(sweep(360).contains(&format!("avertie : {elise}")));
    let early = sweep(366);
    assert!(
        !early.contains("supprimée :"),
        "not before 7 days after the last notice: {early}"
    );
    let deleted = sweep(368);
    assert!(deleted.contains(&format!("supprimée : {elise}")), "{deleted}");
    assert!(!deleted.contains(&format!("supprimée : {martin}")), "{deleted}");
    let list = text(&op.cli(&["account", "list"], None));
    assert!(!list.contains(elise), "{list}");
    let out = op.cli(&["account", "sweep", "--now", "demain"], None);
    assert!(
        !out.status.success() && text(&out).contains("RFC 3339") || text(&out).contains("expected"),
        "{}",
        text(&out)
    );
}

/// A child process killed when the test ends, even by a panic.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The relying party against an independent OpenID provider (npm `oidc-provider`) set up with
/// PSC's claims, as `psc.mode = "external"` would use the real PSC: activation in Chromium,
/// then a mail client's opaque token checked by introspection.
#[test]
fn pro_sante_connect_against_an_independent_provider() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("https://127.0.0.1:{port}");
    let mut op = Operator::new_at("127.0.0.1", common::DOMAIN);
    let secret = op.dir.path().join("psc-secret");
    std::fs::write(&secret, "un-secret-de-test-assez-long\n").unwrap();
    let data = op.data_dir();
    let config = format!(
        "domains = [\"medecin.confiance.test\", \"pro.confiance.test\"]\n\
         [psc]\nmode = \"external\"\nissuer = \"{issuer}\"\nclient_id = \"confiance\"\n\
         client_secret_file = \"{}\"\nca_file = \"{}\"\ntoken_check = \"introspection\"\n",
        secret.display(),
        data.join("ca/root.pem").display()
    );
    op.launch(&[], &config);
    op.wait_for_web();

    let log = std::fs::File::create(op.dir.path().join("oidc-provider.log")).unwrap();
    let provider = Command::new("node")
        .arg(repo().join("tests/browser/oidc-provider.mjs"))
        .env("PORT", port.to_string())
        .env("CERT", data.join("tls/server.pem"))
        .env("KEY", data.join("tls/server.key"))
        .env("CLIENT_SECRET", "un-secret-de-test-assez-long")
        .env("REDIRECT_URI", format!("https://127.0.0.1:{}/psc/retour", op.web))
        .current_dir(repo().join("tests/browser"))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("node must be installed");
    let _provider = Killed(provider);
    let discovery = format!("{issuer}/.well-known/openid-configuration");
    let deadline = Instant::now() + Duration::from_secs(30);
    while op.http_status(&discovery) != "200" {
        assert!(Instant::now() < deadline, "oidc-provider did not start");
        std::thread::sleep(Duration::from_millis(200));
    }

    let out = Command::new("node")
        .arg(repo().join("tests/browser/independent-psc.mjs"))
        .envs(op.env())
        .env("ISSUER", &issuer)
        .env("CLIENT_SECRET", "un-secret-de-test-assez-long")
        .env("BASE_DOMAIN", "confiance.test")
        .env("NODE_EXTRA_CA_CERTS", data.join("ca/root.pem"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "walk with oidc-provider failed:\n{}\n--- server log\n{}",
        text(&out),
        op.log()
    );
    let json = last_line(&out);
    let address = field(&json, "address");
    assert_eq!(address, "helene.muller-ludenscheidt@pro.confiance.test");
    op.python("accounts.py", &["bearer", address, field(&json, "access_token")]);
    assert!(op.log().contains("899700870589"));
}

/// Codes through real channels (an SMTP relay and an SMS gateway, run by the client script),
/// the idle lock, and the lockout after failed logins, with a browser's cookies and forms.
#[test]
fn codes_by_relay_and_gateway_idle_lock_and_lockout() {
    let ports: Vec<std::net::TcpListener> = (0..2)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let (smtp, sms) = (
        ports[0].local_addr().unwrap().port(),
        ports[1].local_addr().unwrap().port(),
    );
    drop(ports);
    let op = Operator::start_with(
        &[],
        &format!(
            "domains = [\"medecin.confiance.test\", \"pro.confiance.test\"]\n\
             [accounts]\nidle_lock_minutes = 1\n\
             [notify]\nsmtp_relay = \"127.0.0.1:{smtp}\"\nsms_gateway = \"http://127.0.0.1:{sms}/sms\"\n"
        ),
    );
    op.wait_for_web();
    op.python("web_login.py", &[&smtp.to_string(), &sms.to_string()]);
    let log = op.log();
    assert!(log.contains("event=\"notice_sent\" channel=\"sms\""), "{log}");
    assert!(log.contains("reason=\"locked\""), "{log}");
}
