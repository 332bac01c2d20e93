//! The directory end to end: `directory generate` and `directory import` from the CLI, the
//! running server picking the new snapshot up, then the JSON API, the FHIR API (validated by
//! `fhir.resources`) and the search page over HTTPS; bad files rejected without losing the
//! directory in force.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::{Operator, text};

fn wait_for_directory(op: &Operator) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = op.python_output("directory.py", &["count", "martin"]);
        if out.status.success() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "directory never loaded: {}\n{}",
            text(&out),
            op.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Generated extracts (1/`divisor` of national size) in the operator's folder `extracts`:
/// the activity file and the BAL file.
fn generate_extracts(op: &Operator, divisor: u32) -> (PathBuf, PathBuf) {
    let extracts = op.dir.path().join("extracts");
    let divisor = divisor.to_string();
    let out = op.cli(
        &[
            "directory",
            "generate",
            "--out",
            extracts.to_str().unwrap(),
            "--divisor",
            &divisor,
        ],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    let file = |prefix: &str| {
        std::fs::read_dir(&extracts)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(prefix))
            .unwrap()
    };
    (
        file("PS_LibreAcces_Personne_activite_"),
        file("Extraction_Correspondance_MSSante_"),
    )
}

#[test]
fn import_then_search_over_https() {
    let op = Operator::start_with(&[], "[directory]\nreload_seconds = 1\n");
    op.python("directory.py", &["unavailable"]);

    let extracts = op.dir.path().join("extracts");
    let (activities, mailboxes) = generate_extracts(&op, 500);

    // A few broken lines: reported with their numbers, the rest imported.
    let mut lines = std::fs::read_to_string(&mailboxes).unwrap();
    lines.push_str("PER|pas-une-adresse|8|10000005479|810000005479\n");
    lines.push_str(&format!("XYZ|x@y.mssante.fr{}\n", "|".repeat(30)));
    let broken = op.dir.path().join("bal-abimees.txt");
    std::fs::write(&broken, lines).unwrap();
    let report = op.dir.path().join("rapport.tsv");
    let out = op.cli(
        &[
            "directory",
            "import",
            "--activities",
            activities.to_str().unwrap(),
            "--mailboxes",
            broken.to_str().unwrap(),
            "--report",
            report.to_str().unwrap(),
        ],
        None,
    );
    let said = text(&out);
    assert!(out.status.success(), "{said}");
    assert!(said.contains("2 ligne(s) écartée(s)"), "{said}");
    assert!(said.contains("ligne 1082: 5 fields where the header has 31"), "{said}");
    assert!(said.contains("not PER, ORG, APP or CAB"), "{said}");
    let report = std::fs::read_to_string(&report).unwrap();
    assert_eq!(report.lines().count(), 2, "{report}");

    wait_for_directory(&op);
    op.python("directory.py", &["all"]);

    // Not an extract at all: refused with the missing column named; the directory stays.
    let out = op.cli(
        &["directory", "import", "--mailboxes", activities.to_str().unwrap()],
        None,
    );
    assert!(!out.status.success());
    assert!(
        text(&out).contains("lacks the column \"Type de BAL\""),
        "{}",
        text(&out)
    );
    let out = op.cli(&["directory", "import"], None);
    assert!(
        !out.status.success() && text(&out).contains("rien à importer"),
        "{}",
        text(&out)
    );
    op.python("directory.py", &["all"]);

    // The same content again (the broken lines were all that differed) is recognised by its
    // digest; other content is not.
    let import = |args: &[&str]| {
        let mut all = vec!["directory", "import"];
        all.extend_from_slice(args);
        text(&op.cli(&all, None))
    };
    let both = [
        "--activities",
        activities.to_str().unwrap(),
        "--mailboxes",
        mailboxes.to_str().unwrap(),
    ];
    assert!(import(&both).contains("(contenu inchangé)"));
    assert!(!import(&both[..2]).contains("inchangé"));
    assert!(!import(&both).contains("inchangé"));

    // The zips the ANS publishes (made here by Python's zipfile, deflated) give the same content.
    let zip = |name: &str, members: &[&std::path::Path]| {
        let out_path = op.dir.path().join(name);
        let script = "import sys, zipfile, os\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n    for m in sys.argv[2:]:\n        z.write(m, os.path.basename(m))\n";
        let mut args = vec!["-c".to_string(), script.to_string(), out_path.display().to_string()];
        args.extend(members.iter().map(|m| m.display().to_string()));
        let out = std::process::Command::new("python3").args(&args).output().unwrap();
        assert!(out.status.success(), "{}", text(&out));
        out_path
    };
    let other = extracts.join("PS_LibreAcces_Dipl_AutExerc_202612040000.txt");
    std::fs::write(&other, "Type d'identifiant PP|Identifiant PP\n").unwrap();
    let ps_zip = zip("PS_LibreAcces_202612040000.zip", &[&other, &activities]);
    let mss_zip = zip("Extraction_Correspondance_MSSante_202612040000.zip", &[&mailboxes]);
    let said = import(&[
        "--activities",
        ps_zip.to_str().unwrap(),
        "--mailboxes",
        mss_zip.to_str().unwrap(),
    ]);
    assert!(said.contains("(contenu inchangé)"), "{said}");
    let said = import(&["--activities", mss_zip.to_str().unwrap()]);
    assert!(
        said.contains("ne contient aucun fichier PS_LibreAcces_Personne_activite_*.txt"),
        "{said}"
    );
    let said = import(&["--mailboxes", other.to_str().unwrap().replace(".txt", ".zip").as_str()]);
    assert!(said.contains("cannot open"), "{said}");
    let status = text(&op.cli(&["directory", "status"], None));
    assert!(
        status.contains("professionnels") && status.contains("empreinte"),
        "{status}"
    );

    // The CLI search finds what the API finds.
    let out = text(&op.cli(&["directory", "search", "kowalczik"], None));
    assert!(
        out.contains("sebastien.kowalczyk@masseur-kinesitherapeute.mssante.fr [PER]"),
        "{out}"
    );
}

#[test]
fn own_mailboxes_are_published_and_the_liste_rouge_hides_them() {
    let mut op = Operator::new_at("127.0.0.1", common::DOMAIN);
    op.launch(&["jean.dupont"], "[directory]\nreload_seconds = 1\n");
    let jean = Operator::address("jean.dupont");
    let secretariat = Operator::address("secretariat");
    // The practice's organisational BAL, of its structure (issue 16).
    for args in [
        &["structure", "add", "750712184", "--name", "Cabinet médical des Lilas"][..],
        &[
            "bal",
            "add",
            &secretariat,
            "--type",
            "org",
            "--structure",
            "750712184",
            "--name",
            "Secrétariat",
        ],
    ] {
        let out = op.cli(args, None);
        assert!(out.status.success(), "{}", text(&out));
    }

    // The national file also lists Jean's address (published there before he chose the liste rouge).
    let (_, mailboxes) = generate_extracts(&op, 2000);
    let mut lines = std::fs::read_to_string(&mailboxes).unwrap();
    lines.push_str(&format!(
        "PER|{jean}|8|10000005479|810000005479|||||DUPONT|Jean|C|Civil|10|Médecin|||true||||||||||75002 PARIS|75002|75|France\n"
    ));
    std::fs::write(&mailboxes, lines).unwrap();
    let out = op.cli(
        &["directory", "import", "--mailboxes", mailboxes.to_str().unwrap()],
        None,
    );
    assert!(out.status.success(), "{}", text(&out));
    wait_for_directory(&op);
    let addresses = |q: &str| op.python("directory.py", &["addresses", q]);
    // A BAL on our own domain is shown only as we publish it, never from the national file.
    assert!(!addresses("jean dupont").contains(&jean));

    // Bad publications are refused with the reason.
    for (args, reason) in [
        (vec!["--rpps", "10000005478", "--family", "DUPONT"], "--rpps"),
        (vec!["--type", "XYZ"], "--type XYZ"),
        (vec!["--family", "DUPONT"], "--rpps et --family"),
        (
            vec!["--rpps", "10000005479", "--family", "DUPONT", "--profession", "99"],
            "pas un code TRE_G15",
        ),
    ] {
        let mut all = vec!["account", "publish", jean.as_str()];
        all.extend(args);
        let out = op.cli(&all, None);
        assert!(
            !out.status.success() && text(&out).contains(reason),
            "{reason}: {}",
            text(&out)
        );
    }
    let out = op.cli(
        &[
            "account",
            "publish",
            "personne@medecin.confiance.test",
            "--rpps",
            "10000005479",
        ],
        None,
    );
    assert!(
        !out.status.success() && text(&out).contains("aucune BAL"),
        "{}",
        text(&out)
    );

    // Published: the structure BAL appears, found by its service and place.
    let publish = |args: &[&str]| {
        let out = op.cli(&[&["account", "publish"], args].concat(), None);
        assert!(out.status.success(), "{}", text(&out));
    };
    publish(&[
        &secretariat,
        "--type",
        "ORG",
        "--organisation",
        "CABINET MEDICAL DES LILAS",
        "--service",
        "Secrétariat",
        "--postcode",
        "75020",
        "--commune",
        "Paris",
        "--dematerialisation",
        "true",
    ]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !addresses("secretariat lilas").contains(&secretariat) {
        assert!(Instant::now() < deadline, "own BAL never appeared\n{}", op.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let fhir = op.python(
        "directory.py",
        &["fhir-addresses", "Organization", "mailbox-mss", &secretariat],
    );
    assert_eq!(fhir.trim(), secretariat);

    let wait_for = |q: &str, present: bool| {
        let deadline = Instant::now() + Duration::from_secs(20);
        while addresses(q).contains(&jean) != present {
            assert!(
                Instant::now() < deadline,
                "{q}: expected present={present}\n{}",
                op.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    publish(&[
        &jean,
        "--rpps",
        "10000005479",
        "--family",
        "DUPONT",
        "--given",
        "Jean",
        "--profession",
        "10",
    ]);
    wait_for("jean dupont", true);

    // Jean chooses the liste rouge: his BAL disappears from every answer, national included.
    publish(&[
        &jean,
        "--rpps",
        "10000005479",
        "--family",
        "DUPONT",
        "--given",
        "Jean",
        "--liste-rouge",
    ]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while addresses("jean dupont").contains(&jean) {
        assert!(Instant::now() < deadline, "red-listed BAL still shown\n{}", op.log());
        std::thread::sleep(Duration::from_millis(200));
    }
    let fhir = op.python(
        "directory.py",
        &["fhir-addresses", "Practitioner", "mailbox-mss", &jean],
    );
    assert_eq!(fhir.trim(), "", "FHIR still shows a red-listed BAL");
    let fhir = op.python(
        "directory.py",
        &["fhir-addresses", "Practitioner", "identifier", "10000005479"],
    );
    assert!(!fhir.contains(&jean), "{fhir}");
    // Nor does his address find him any more (it would tell who holds it).
    assert_eq!(op.python("directory.py", &["count", &jean]).trim(), "0");
    let fhir = op.python("directory.py", &["fhir-addresses", "Practitioner", "name", &jean]);
    assert_eq!(fhir.trim(), "");

    // The export carries the published BAL only, in the ANS format.
    let out = op.cli(&["directory", "export"], None);
    let exported = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", text(&out));
    assert!(exported.starts_with("Type de BAL|Adresse BAL|"), "{exported}");
    assert!(exported.contains(&format!("ORG|{secretariat}|")), "{exported}");
    assert!(!exported.contains(&jean), "a red-listed BAL was exported: {exported}");
    assert!(
        text(&out).contains("1 BAL exportée(s), 1 en liste rouge"),
        "{}",
        text(&out)
    );

    // Withdrawn: gone, and the national copy of Jean's BAL does not come back either.
    publish(&[&jean, "--withdraw"]);
    publish(&[&secretariat, "--withdraw"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while addresses("secretariat lilas").contains(&secretariat) {
        assert!(Instant::now() < deadline, "withdrawn BAL still shown");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(!addresses("jean dupont").contains(&jean));
}
