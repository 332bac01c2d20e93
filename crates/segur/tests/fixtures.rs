//! The real ANS documents of ../shared/fixtures/segur, read with their patient and type, and
//! archives built from them read back and passing the XDM structure checks.

use std::io::{Cursor, Write};
use std::path::PathBuf;

use confiance_segur::build::{self, Request, Sender, Source};
use confiance_segur::{Archive, Cda, Document, Ins, Metadata, Warning};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/segur")
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(fixtures().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// (file, document code, INS, whether the key of that INS is right)
const CDA: &[(&str, &str, &str)] = &[
    (
        "cda/IMG_CR_IMG_2024.01_CDA-R2-Niveau-1.xml",
        "18748-4",
        "279035121518989",
    ),
    (
        "cda/BIO-CR-BIO_2024.01_Microbiologie_V2.xml",
        "11502-2",
        "279035121518989",
    ),
    ("cda/LDL-SES_2022.01.xml", "11490-0", "279035121518989"),
    ("cda/eP-MED-DM_2022.01_PosoStruct.xml", "57833-6", "279035121518989"),
    ("cda/OBP-SCM_2024.01.xml", "89235-6", "277076322082910"),
    ("cda/VAC-NOTE_2023.01.xml", "87273-9", "279035121518989"),
];

fn sender() -> Sender {
    Sender {
        name: "Dr Anaïs Durand".into(),
        address: "anais.durand@medecin.confiance.test".into(),
        organisation: Some("Cabinet Durand".into()),
        application: "Confiance test".into(),
    }
}

#[test]
fn every_ans_cda_is_read_with_its_patient_and_type() {
    for (file, code, ins) in CDA {
        let doc = Document::from_cda(file, &read(file)).unwrap();
        let cda = doc.cda.as_ref().unwrap();
        assert_eq!(doc.type_code().as_deref(), Some(*code), "{file}");
        assert!(doc.type_label().is_some_and(|l| !l.is_empty()), "{file}");
        assert_eq!(doc.ins().unwrap().matricule, *ins, "{file}");
        assert!(doc.ins().unwrap().key_valid, "{file}");
        assert!(doc.patient_name().is_some_and(|n| n.len() > 3), "{file}");
        assert!(doc.author().is_some() && doc.date().is_some(), "{file}");
        assert_eq!(doc.confidentiality(), vec!["N".to_string()], "{file}");
        assert!(!doc.invisible_to_patient());
        if cda.embedded.is_none() {
            assert!(!cda.sections.is_empty(), "{file}: no narrative");
            for s in &cda.sections {
                assert!(!s.html.contains("<script") && !s.html.contains("href"), "{file}");
            }
        }
    }
    // The common test patient, and the birth name read apart from the used one.
    let doc = Document::from_cda("x", &read("cda/LDL-SES_2022.01.xml")).unwrap();
    assert_eq!(doc.patient_name().as_deref(), Some("PAT-TROIS DOMINIQUE"));
    let obp = Cda::read(&read("cda/OBP-SCM_2024.01.xml")).unwrap();
    assert_eq!(obp.patient.birth_family.as_deref(), Some("NESSI"));
    assert_eq!(obp.patient.ins.as_ref().unwrap().kind(), "INS-NIR");
    // Level 1: the PDF it wraps.
    let img = Cda::read(&read("cda/IMG_CR_IMG_2024.01_CDA-R2-Niveau-1.xml")).unwrap();
    let (media, pdf) = img.embedded.unwrap();
    assert_eq!(media, "application/pdf");
    assert!(pdf.starts_with(b"%PDF-"));
}

#[test]
fn a_wrong_ins_key_is_a_warning_not_a_refusal() {
    // ANS samples carry wrong keys (segur-documents.md §6): the document is still read.
    let text = String::from_utf8(read("cda/LDL-SES_2022.01.xml")).unwrap();
    let wrong = text.replace("279035121518989", "279035121518988");
    let doc = Document::from_cda("x", wrong.as_bytes()).unwrap();
    assert!(!doc.ins().unwrap().key_valid);
    assert_eq!(doc.warnings, vec![Warning::InsKey("279035121518988".into())]);
    assert_eq!(doc.type_code().as_deref(), Some("11490-0"));
    // Building for that patient is still possible: the sender's identity system decides, and
    // X-MSS-INS says the INS is not qualified.
    let built = build::build(Request {
        source: Source::Cda(wrong.into_bytes()),
        ins: Some(Ins::new("279035121518988", "1.2.250.1.213.1.4.10")),
        sender: sender(),
        now: "20261207120000".into(),
        unique: 3,
        hidden_from_patient: false,
    })
    .unwrap();
    assert!(built.headers.contains(&("X-MSS-INS", "N".into())));
}

#[test]
fn the_drimbox_metadata_fragment_is_read_tolerantly() {
    // A fragment with an undeclared ns3: prefix (see the fixture's SOURCES.md).
    let m = Metadata::read(&read("xdm/DRIM-M_DATA/KA202401/IHE_XDM/SS000001/METADATA.XML")).unwrap();
    let patient = m.patient.as_ref().unwrap();
    assert_eq!(
        (patient.matricule.as_str(), patient.oid.as_str()),
        ("162018885045327", "1.2.250.1.213.1.4.10")
    );
    assert_eq!(m.entries.len(), 2);
    let kos = &m.entries[0];
    assert_eq!(kos.type_code.as_ref().unwrap().code, "IMG-KOS");
    assert_eq!(kos.uri.as_deref(), Some("SS000001/KOS_1_1.DCM"));
    assert_eq!(kos.patient_name.as_deref(), Some("PAT-SIX Alain"));
    assert_eq!(m.author.as_deref(), Some("KIT DOC0036790"));
    assert_eq!(m.institution.as_deref(), Some("BCOM"));
    let signature = &m.entries[1];
    assert!(signature.confidentiality.iter().any(|c| c == "INVISIBLE_PATIENT"));

    // In an archive of its own, under SS000001 and not SUBSET01: its documents are named but
    // absent, which is said, not refused; the hidden signature is seen.
    let zip = zip_of(&[(
        "IHE_XDM/SS000001/METADATA.XML",
        &read("xdm/DRIM-M_DATA/KA202401/IHE_XDM/SS000001/METADATA.XML"),
    )]);
    let archive = Archive::read(zip).unwrap();
    assert_eq!(archive.documents.len(), 2);
    assert!(archive.invisible_to_patient());
    let kos = &archive.documents[0];
    assert_eq!(kos.type_code().as_deref(), Some("IMG-KOS"));
    assert_eq!(kos.ins().unwrap().matricule, "162018885045327");
    assert!(kos.warnings.contains(&Warning::Missing("SS000001/KOS_1_1.DCM".into())));
}

#[test]
fn the_cross_validator_request_shows_its_mismatched_patients() {
    let m = Metadata::read(&read("xdm/DRIM-M_DATA/Cross-validateur/XDS.xml")).unwrap();
    assert_eq!(m.patient.as_ref().unwrap().matricule, "162018885045327");
    let kos = m.entries.iter().find(|e| e.id == "DocumentKOS").unwrap();
    assert_eq!(kos.patient.as_ref().unwrap().matricule, "274075176079430");
    let zip = zip_of(&[(
        "IHE_XDM/SUBSET01/METADATA.XML",
        &read("xdm/DRIM-M_DATA/Cross-validateur/XDS.xml"),
    )]);
    let archive = Archive::read(zip).unwrap();
    let kos = archive
        .documents
        .iter()
        .find(|d| d.entry.as_ref().unwrap().id == "DocumentKOS")
        .unwrap();
    assert!(kos.warnings.contains(&Warning::PatientMismatch {
        set: "162018885045327".into(),
        document: "274075176079430".into()
    }));
    // The document entry's patient is the one shown (ECO.2.1.2).
    assert_eq!(kos.ins().unwrap().matricule, "274075176079430");
}

#[test]
fn archives_built_from_every_cda_read_back_and_pass_the_structure_checks() {
    for (file, code, ins) in CDA {
        let built = build::build(Request {
            source: Source::Cda(read(file)),
            ins: Some(Ins::new(ins, "1.2.250.1.213.1.4.10")),
            sender: sender(),
            now: "20261207120000".into(),
            unique: 0x1234_5678_9abc_def0_1122_3344_5566_7788,
            hidden_from_patient: false,
        })
        .unwrap();
        assert_eq!(build::check(&built.zip), Vec::<String>::new(), "{file}");
        assert!(built.headers.contains(&("X-MSS-CODECDA", code.to_string())), "{file}");
        assert!(
            built
                .headers
                .iter()
                .any(|(n, v)| *n == "X-MSS-INS" && (v == "O" || v == "N"))
        );
        let back = Archive::read(built.zip).unwrap();
        assert_eq!(back.documents.len(), 1);
        let doc = &back.documents[0];
        assert_eq!(doc.type_code().as_deref(), Some(*code));
        assert_eq!(doc.ins().unwrap().matricule, *ins);
        assert!(
            doc.cda.is_some() && doc.warnings.is_empty(),
            "{file}: {:?}",
            doc.warnings
        );
        assert!(!back.invisible_to_patient());
    }
    // The ANS test patient has every trait: a qualified INS.
    let built = build::build(Request {
        source: Source::Cda(read("cda/LDL-SES_2022.01.xml")),
        ins: Some(Ins::new("279035121518989", "1.2.250.1.213.1.4.10")),
        sender: sender(),
        now: "20261207120000".into(),
        unique: 7,
        hidden_from_patient: true,
    })
    .unwrap();
    assert!(built.headers.contains(&("X-MSS-INS", "O".into())));
    assert!(Archive::read(built.zip).unwrap().invisible_to_patient());
}

#[test]
fn a_pdf_is_archived_with_the_type_chosen() {
    let pdf = Cda::read(&read("cda/IMG_CR_IMG_2024.01_CDA-R2-Niveau-1.xml"))
        .unwrap()
        .embedded
        .unwrap()
        .1;
    let built = build::build(Request {
        source: Source::Pdf {
            bytes: pdf,
            type_code: "11490-0".into(),
            type_label: "Lettre de liaison à la sortie".into(),
            title: "Lettre de sortie".into(),
        },
        ins: Some(Ins::new("279035121518989", "1.2.250.1.213.1.4.8")),
        sender: sender(),
        now: "20261207120000".into(),
        unique: 42,
        hidden_from_patient: false,
    })
    .unwrap();
    // No CDA inside: no X-MSS-CODECDA nor X-MSS-INS (ECO.2.4.1).
    assert!(built.headers.is_empty());
    assert_eq!(build::check(&built.zip), Vec::<String>::new());
    let back = Archive::read(built.zip).unwrap();
    let doc = &back.documents[0];
    assert_eq!(doc.type_code().as_deref(), Some("11490-0"));
    assert_eq!(doc.type_label().as_deref(), Some("Lettre de liaison à la sortie"));
    assert_eq!(doc.author().as_deref(), Some("Dr Anaïs Durand"));
}

#[test]
fn wrong_input_is_refused_precisely() {
    let other = build::build(Request {
        source: Source::Cda(read("cda/OBP-SCM_2024.01.xml")),
        ins: Some(Ins::new("279035121518989", "1.2.250.1.213.1.4.8")),
        sender: sender(),
        now: "20261207120000".into(),
        unique: 1,
        hidden_from_patient: false,
    });
    assert!(matches!(other, Err(build::BuildError::OtherPatient { .. })));
    let not_pdf = build::build(Request {
        source: Source::Pdf {
            bytes: b"<html>".to_vec(),
            type_code: "x".into(),
            type_label: "x".into(),
            title: "x".into(),
        },
        ins: Some(Ins::new("279035121518989", "1.2.250.1.213.1.4.8")),
        sender: sender(),
        now: "20261207120000".into(),
        unique: 1,
        hidden_from_patient: false,
    });
    assert!(matches!(not_pdf, Err(build::BuildError::NotPdf)));
    // A PDF names no patient: without an INS given there is none.
    let pdf = Cda::read(&read("cda/IMG_CR_IMG_2024.01_CDA-R2-Niveau-1.xml"))
        .unwrap()
        .embedded
        .unwrap()
        .1;
    let nobody = build::build(Request {
        source: Source::Pdf {
            bytes: pdf,
            type_code: "11490-0".into(),
            type_label: "x".into(),
            title: "x".into(),
        },
        ins: None,
        sender: sender(),
        now: "20261207120000".into(),
        unique: 1,
        hidden_from_patient: false,
    });
    assert!(matches!(nobody, Err(build::BuildError::NoPatient)));
    assert!(matches!(
        Archive::read(b"PK not really".to_vec()),
        Err(confiance_segur::ArchiveError::NotZip(_))
    ));
    assert!(!build::check(b"nothing").is_empty());
}

#[test]
fn a_zip_bomb_costs_little() {
    // 40 MB of zeros compresses to a few dozen kB: the reader stops at its bound.
    let zeros = vec![0u8; 40 * 1024 * 1024];
    let mut cda = b"<ClinicalDocument>".to_vec();
    cda.extend_from_slice(&zeros);
    let zip = zip_of(&[("IHE_XDM/SUBSET01/DOC.XML", &cda)]);
    assert!(zip.len() < 1024 * 1024);
    let archive = Archive::read(zip).unwrap();
    assert!(archive.documents.is_empty());
    assert!(matches!(&archive.warnings[0], Warning::Unreadable(_, why) if why.contains("larger")));
}

#[test]
fn too_many_files_are_refused_before_any_is_read() {
    let names: Vec<String> = (0..=confiance_segur::archive::MAX_ENTRIES)
        .map(|i| format!("f{i}"))
        .collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &b""[..])).collect();
    assert!(matches!(
        Archive::read(zip_of(&files)),
        Err(confiance_segur::ArchiveError::TooManyEntries)
    ));
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}
