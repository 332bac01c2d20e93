//! The audit trail in the store and the monthly indicators (issue 16), against the real server:
//! a month's traffic made by real clients (swaks, curl) is read back with `confiance traces`
//! and counted by `confiance indicators`; traces past their retention are purged.

mod common;

use common::*;

const FINESS: &str = "750712184";

fn month(op: &Operator) -> String {
    text(&op.run("date", &["+%Y-%m"])).trim().to_string()
}

/// One message from `from` to `to` over the submission port, with more swaks arguments.
fn send(op: &Operator, from: &str, password: &str, to: &str, more: &[&str]) -> (bool, String) {
    let auth = ["--auth", "PLAIN", "--auth-user", from, "--auth-password", password];
    let mail = [
        "--from",
        from,
        "--to",
        to,
        "--h-Subject",
        "Compte rendu de consultation",
    ];
    op.swaks(&[&auth[..], &mail, more].concat())
}

/// The value of one indicator row of a JSON answer (0 when the row is absent).
fn value(rows: &serde_json::Value, scope: &str, indicator: &str, detail: &str) -> u64 {
    rows.as_array()
        .expect("an array of rows")
        .iter()
        .find(|r| r["portee"] == scope && r["indicateur"] == indicator && r["detail"] == detail)
        .map_or(0, |r| r["valeur"].as_u64().expect("a count"))
}

#[test]
fn a_month_of_traffic_is_traced_and_counted() {
    let op = Operator::start(&["docteur", "infirmiere"]);
    let cli = |args: &[&str]| {
        let out = op.cli(args, None);
        (out.status.success(), text(&out))
    };
    let month_at_start = month(&op);
    let (docteur, infirmiere) = (Operator::address("docteur"), Operator::address("infirmiere"));
    let secretariat = op.mailbox("secretariat");
    assert!(cli(&["structure", "add", FINESS, "--name", "Centre hospitalier de Test"]).0);
    let (ok, out) = cli(&[
        "bal",
        "add",
        &secretariat,
        "--type",
        "org",
        "--structure",
        FINESS,
        "--name",
        "Secrétariat de cardiologie",
    ]);
    assert!(ok, "{out}");

    // The traffic: three messages of the doctor's (one carrying a Ségur document and naming
    // its practice software), one of the nurse's, a wrong password, and the nurse reading over
    // IMAP with curl.
    let segur = [
        "--add-header",
        "X-MSS-CODECDA: 11488-4",
        "--add-header",
        "X-MSS-NIL: DEV935997",
    ];
    for (from, to, more) in [
        (&docteur, &infirmiere, &segur[..]),
        (&docteur, &infirmiere, &[][..]),
        (&docteur, &secretariat, &[][..]),
        (&infirmiere, &docteur, &[][..]),
    ] {
        let (ok, out) = send(&op, from, PASSWORD, to, more);
        assert!(ok && out.contains("250 2.0.0"), "{out}");
    }
    let (ok, out) = send(&op, &infirmiere, "pas-le-bon", &docteur, &[]);
    assert!(!ok && out.contains("535"), "{out}");
    let ca = op.ca();
    let inbox = format!("imaps://127.0.0.1:{}/INBOX;UID=1", op.imaps);
    let user = format!("{infirmiere}:{PASSWORD}");
    let read = op.run("curl", &["-sS", "--cacert", ca.to_str().unwrap(), "-u", &user, &inbox]);
    assert!(text(&read).contains("X-MSS-NIL: DEV935997"), "{}", text(&read));

    // The trail of the organisational BAL: its creation by the admin at the shell, the
    // delivery with its Message-ID and size; never the subject.
    let today = text(&op.run("date", &["+%Y-%m-%d"])).trim().to_string();
    // The server writes its traces within a second; a few tries cover a loaded machine.
    let trail = |bal: &str, more: &[&str], awaited: &str| {
        let args = [&["traces", "--bal", bal, "--since", &today][..], more].concat();
        let mut out = String::new();
        for _ in 0..40 {
            let (ok, o) = cli(&args);
            assert!(ok, "{o}");
            out = o;
            if out.contains(awaited) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
        out
    };
    let org = trail(&secretariat, &[], "  delivered  ");
    assert!(org.contains("bal_created") && org.contains("acteur=cli:"), "{org}");
    let delivered = org
        .lines()
        .find(|l| l.contains("  delivered  "))
        .expect("a delivery trace");
    assert!(
        delivered.contains("message_id=<") && delivered.contains("taille=") && delivered.contains("origin=internal"),
        "{delivered}"
    );
    let nurse = trail(&infirmiere, &["--event", "read", "--event", "login"], "  read  ");
    assert!(
        nurse.contains("read") && nurse.contains("protocol=imap") && nurse.contains("uids=1"),
        "{nurse}"
    );
    assert!(
        nurse.contains("resultat=failure") && nurse.contains("resultat=success"),
        "a failed login is traced as well as the good ones: {nurse}"
    );
    let (_, everything) = cli(&["traces", "--since", &today, "--format", "csv"]);
    assert!(everything.starts_with("horodatage;evenement;"), "{everything}");
    assert!(
        !everything.contains("Compte rendu"),
        "a subject reached the trail: {everything}"
    );
    let (_, json) = cli(&[
        "traces", "--bal", &docteur, "--since", &today, "--event", "sent", "--format", "json",
    ]);
    let sent: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON Lines"))
        .collect();
    assert_eq!(sent.len(), 3, "{json}");
    assert!(sent.iter().any(|t| t["detail"]["codecda"] == "11488-4"), "{json}");

    // The indicators of the month, national and by scope.
    let month = month(&op);
    if month != month_at_start {
        eprintln!("the month changed during the test: its traffic is split, the counts are not checked");
        return;
    }
    let (ok, out) = cli(&["indicators", "--month", &month, "--format", "json"]);
    assert!(ok, "{out}");
    let rows: serde_json::Value = serde_json::from_str(out.trim()).expect("a JSON array");
    let n = |indicator: &str, detail: &str| value(&rows, "national", indicator, detail);
    assert_eq!(n("bal", "PER:active"), 2, "{out}");
    assert_eq!(n("bal", "ORG:active"), 1, "{out}");
    assert_eq!(n("messages_envoyes", "total"), 4, "{out}");
    assert_eq!(n("messages_envoyes", "interne"), 4, "{out}");
    assert_eq!(n("messages_envoyes", "operateurs"), 0, "{out}");
    assert_eq!(n("messages_recus", "interne"), 4, "{out}");
    assert_eq!(n("messages_segur", "envoyes"), 1, "{out}");
    assert_eq!(n("messages_segur", "recus"), 1, "{out}");
    assert_eq!(n("logiciel", "DEV935997"), 1, "{out}");
    assert_eq!(n("logiciel", "aucun"), 3, "{out}");
    // Four submissions and one IMAP login with the password; the wrong one counts nowhere.
    assert_eq!(n("connexions", "mot_de_passe"), 5, "{out}");
    assert_eq!(n("bal_actives", "PER"), 2, "{out}");
    assert_eq!(n("bal_actives", "ORG"), 0, "{out}");
    // The structure and its département see the organisational BAL's mail only.
    assert_eq!(value(&rows, FINESS, "messages_recus", "total"), 1, "{out}");
    assert_eq!(value(&rows, FINESS, "bal", "ORG:active"), 1, "{out}");
    assert_eq!(value(&rows, "75", "messages_recus", "total"), 1, "{out}");
    let (ok, csv) = cli(&["indicators", "--month", &month, "--structure", FINESS]);
    assert!(ok, "{csv}");
    assert!(csv.starts_with("mois;portee;indicateur;detail;valeur\n"), "{csv}");
    assert!(
        csv.lines()
            .skip(1)
            .all(|l| l.starts_with(&format!("{month};{FINESS};"))),
        "{csv}"
    );

    // The "Connexions" file: the day of each BAL's last connection, empty for none.
    let (ok, conn) = cli(&["indicators", "--month", &month, "--connexions"]);
    assert!(ok, "{conn}");
    assert!(conn.contains(&format!("{docteur};PER;{today}")), "{conn}");
    assert!(conn.contains(&format!("{secretariat};ORG;\n")), "{conn}");

    // Bad input gets a precise error.
    let (ok, out) = cli(&["indicators", "--month", "2026-13"]);
    assert!(!ok && out.contains("2026-13") && out.contains("mois"), "{out}");
    let (ok, out) = cli(&["indicators", "--month", &month, "--structure", "750712185"]);
    assert!(!ok && out.contains("clé de contrôle"), "{out}");
    let (ok, out) = cli(&["traces", "--since", "01/12/2026"]);
    assert!(!ok && out.contains("date illisible"), "{out}");
}

#[test]
fn traces_past_their_retention_are_purged() {
    let op = Operator::start_with(&["docteur"], "[traces]\nretention = \"3s\"\n");
    let docteur = Operator::address("docteur");
    let (ok, out) = send(&op, &docteur, PASSWORD, &docteur, &[]);
    assert!(ok, "{out}");
    let sent = || {
        let out = op.cli(&["traces", "--bal", &docteur, "--event", "sent"], None);
        text(&out).lines().filter(|l| l.contains("  sent  ")).count()
    };
    let started = std::time::Instant::now();
    while sent() == 0 && started.elapsed().as_secs() < 5 {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(sent(), 1, "the trace is recorded first");
    // The server purges four times within a retention this short.
    while sent() > 0 && started.elapsed().as_secs() < 20 {
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert_eq!(sent(), 0, "a trace older than the retention is gone\n{}", op.log());
    assert!(
        op.log().contains("audit traces past their retention purged"),
        "{}",
        op.log()
    );
    let out = op.cli(&["traces", "purge"], None);
    assert!(
        out.status.success() && text(&out).contains("durée de conservation (3s)"),
        "{}",
        text(&out)
    );
    // A retention that is no duration is refused before anything starts.
    std::fs::write(op.config_path(), "[traces]\nretention = \"six mois\"\n").unwrap();
    let out = op.cli(&["traces"], None);
    assert!(
        !out.status.success() && text(&out).contains("traces.retention"),
        "{}",
        text(&out)
    );
}
