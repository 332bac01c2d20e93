//! Writing to patients (Mon Espace Santé) through the real submission port with swaks: the INS
//! key checked at RCPT, 13 digits refused with the full address, the service address
//! accepted, a document hidden from the patient refused for them and accepted for a colleague;
//! then the webmail walk (`tests/browser/patients.mjs`): every Ségur fixture shown with its
//! patient and document type, a patient's message marked, a CDA viewed, a patient written to
//! with a structured document attached.

mod common;

use std::path::Path;

use base64::Engine;
use common::{Operator, PASSWORD, fixtures, text};
use confiance_segur::build::{self, Request, Sender, Source};

const PATIENT: &str = "279035121518989@patient.mssante.fr";

/// The real ANS whitelist (patient.mssante.fr is in it), and mail for patients routed to a
/// closed loopback port: it waits in the queue, nothing leaves the machine.
fn config() -> String {
    format!(
        "[trust]\nwhitelist = \"{}\"\n[relay.routes.\"patient.mssante.fr\"]\nhost = \"mx.patient.test\"\naddress = \"127.0.0.1:9\"\n",
        fixtures().join("listeblanchemssante-2025-03-13.xml").display()
    )
}

/// An archive of ours around an ANS CDA, for the CDA's own patient.
fn archive(cda: &str, hidden: bool) -> Vec<u8> {
    let bytes = std::fs::read(fixtures().join("segur/cda").join(cda)).unwrap();
    build::build(Request {
        source: Source::Cda(bytes),
        ins: None,
        sender: Sender {
            name: "Dr Paul Durand".into(),
            address: "paul.durand@medecin.confiance.test".into(),
            organisation: Some("Cabinet Durand".into()),
            application: "test".into(),
        },
        now: "20261207120000".into(),
        unique: 99,
        hidden_from_patient: hidden,
    })
    .unwrap()
    .zip
}

#[test]
fn patient_addresses_and_hidden_documents_at_submission() {
    let op = Operator::start_with(&["alice", "bob"], &config());
    let (alice, bob) = (Operator::address("alice"), Operator::address("bob"));
    let auth = ["--auth", "PLAIN", "--auth-user", &alice, "--auth-password", PASSWORD];
    let send = |to: &str, extra: &[&str]| {
        let mut args = vec!["--from", alice.as_str(), "--to", to, "--h-Subject", "Vos résultats"];
        args.extend_from_slice(&auth);
        args.extend_from_slice(extra);
        op.swaks(&args)
    };

    // A wrong key: refused at RCPT, the reason names the INS.
    let (ok, out) = send("279035121518988@patient.mssante.fr", &[]);
    assert!(
        !ok && out.contains("550 5.1.3") && out.contains("clé de l'INS invalide"),
        "{out}"
    );
    // The 13 digits of the social-security number: the reason gives the full address.
    let (ok, out) = send("2790351215189@patient.mssante.fr", &[]);
    assert!(
        !ok && out.contains("550 5.1.3") && out.contains(&format!("<{PATIENT}>")),
        "{out}"
    );
    // Not an INS at all.
    let (ok, out) = send("pas-un-ins@patient.mssante.fr", &[]);
    assert!(
        !ok && out.contains("550 5.1.3") && out.contains("n'est pas une adresse de patient"),
        "{out}"
    );
    // Corsica's 2A, and the domain's service address: accepted.
    let (ok, out) = send("253072A07300443@patient.mssante.fr", &[]);
    assert!(ok && out.contains("250 2.0.0"), "{out}");
    let (ok, out) = send("reponse.automatique-test@patient.mssante.fr", &[]);
    assert!(ok && out.contains("250 2.0.0"), "{out}");

    // A document flagged INVISIBLE_PATIENT: never to the patient, fine for a colleague.
    let dir = tempfile::tempdir().unwrap();
    let hidden = dir.path().join("IHE_XDM.ZIP");
    std::fs::write(&hidden, archive("LDL-SES_2022.01.xml", true)).unwrap();
    let attach = format!("@{}", hidden.display());
    let zip = [
        "--attach-type",
        "application/zip",
        "--attach-name",
        "IHE_XDM.ZIP",
        "--attach",
        &attach,
    ];
    let (ok, out) = send(PATIENT, &zip);
    assert!(
        !ok && out.contains("550 5.7.1") && out.contains("INVISIBLE_PATIENT"),
        "{out}"
    );
    let (ok, out) = send(&bob, &zip);
    assert!(ok && out.contains("250 2.0.0"), "{out}");
    // The same document, not hidden: to the patient.
    std::fs::write(&hidden, archive("LDL-SES_2022.01.xml", false)).unwrap();
    let (ok, out) = send(PATIENT, &zip);
    assert!(ok && out.contains("250 2.0.0"), "{out}");
    let log = op.log();
    assert!(log.contains("reason=\"patient address\""), "refusals are traced");
}

/// A message carrying `files` (name, type, bytes), written where the walk's seeder finds it.
fn eml(dir: &Path, n: usize, from: &str, subject: &str, files: &[(&str, &str, Vec<u8>)]) {
    let b64 = |b: &[u8]| {
        let s = base64::engine::general_purpose::STANDARD.encode(b);
        s.as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned() + "\r\n")
            .collect::<String>()
    };
    let mut m = format!(
        "From: {from}\r\nTo: {{to}}\r\nSubject: {subject}\r\nMessage-ID: <segur-{n}@medecin.confiance.test>\r\n\
         MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=limite\r\n\r\n\
         --limite\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nDocument ci-joint.\r\n"
    );
    for (name, kind, bytes) in files {
        m.push_str(&format!(
            "--limite\r\nContent-Type: {kind}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{}",
            b64(bytes)
        ));
    }
    m.push_str("--limite--\r\n");
    std::fs::write(dir.join(format!("{n:02}.eml")), m).unwrap();
}

fn zip_of(files: &[(&str, Vec<u8>)]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in files {
        zip.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

#[test]
fn patients_and_segur_documents_in_chromium() {
    let op = Operator::start_with(&[], &config());
    op.wait_for_web();
    let mail = tempfile::tempdir().unwrap();
    let doctor = "Dr Paul Durand <paul.durand@medecin.confiance.test>";
    let cda = fixtures().join("segur/cda");
    let mut n = 0;
    // Every ANS CDA, in an archive of ours.
    let mut names: Vec<String> = std::fs::read_dir(&cda)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".xml"))
        .collect();
    names.sort();
    for name in &names {
        n += 1;
        let subject = format!("XDM/1.0/DDM+{name}");
        eml(
            mail.path(),
            n,
            doctor,
            &subject,
            &[("IHE_XDM.ZIP", "application/zip", archive(name, false))],
        );
    }
    // The two ANS metadata files, each as the metadata of an archive (their documents are not
    // published: they are named, missing, and said so).
    let xdm = fixtures().join("segur/xdm/DRIM-M_DATA");
    for (name, path) in [
        ("KA202401", xdm.join("KA202401/IHE_XDM/SS000001/METADATA.XML")),
        ("Cross-validateur", xdm.join("Cross-validateur/XDS.xml")),
    ] {
        n += 1;
        let zip = zip_of(&[("IHE_XDM/SS000001/METADATA.XML", std::fs::read(path).unwrap())]);
        eml(
            mail.path(),
            n,
            doctor,
            &format!("XDM/1.0/DDM+{name}"),
            &[("IHE_XDM.ZIP", "application/zip", zip)],
        );
    }
    // A patient's reply from Mon Espace Santé, with a bare CDA.
    n += 1;
    eml(
        mail.path(),
        n,
        &format!("Dominique PAT-TROIS <{PATIENT}>"),
        "Ma note de vaccination",
        &[(
            "note.xml",
            "text/xml",
            std::fs::read(cda.join("VAC-NOTE_2023.01.xml")).unwrap(),
        )],
    );
    let (out, _) = op.walk(
        "patients.mjs",
        "patients",
        &[
            ("SEED_DIR", mail.path().display().to_string()),
            ("SEED_COUNT", n.to_string()),
            ("CDA_FILE", cda.join("LDL-SES_2022.01.xml").display().to_string()),
        ],
    );
    assert!(
        out.status.success(),
        "patients walk failed:\n{}\n--- server log\n{}",
        text(&out),
        op.log()
    );
    // What the walk sent went through the submission rules: an archive to the patient, the
    // exchange closed, waiting in the queue for Mon Espace Santé.
    let log = op.log();
    assert!(log.contains("event=\"webmail_sent\""), "{log}");
    assert!(log.contains("patients=1"), "{log}");
    assert!(log.contains("codecda=\"11490-0\""), "{log}");
}
