//! Writing to a patient's Mon Espace Santé mailbox and attaching a Ségur document, from the
//! compose form: the INS field (checked as it is typed; 13 digits get their key), patient
//! addresses typed in To/Cc checked the same way, "Clore l'échange" (`X-MSS-MES: FIN`,
//! Réf. #2 ECO.2.2.8) and "Joindre un document structuré", which builds the `IHE_XDM.ZIP`
//! with its `X-MSS-CODECDA` and `X-MSS-INS` fields (ECO.2.4.1–2.4.2).

use std::collections::HashMap;

use axum::Json;
use axum::extract::Query;
use axum::response::Response;
use confiance_core::patient::INS_NIR_OID;
use confiance_core::{PatientAddressError, PatientDomain};
use confiance_segur::build::{self, BuildError, Request, Sender, Source};
use confiance_segur::{Ins, SUBJECT_PREFIX, XDM_ARCHIVE};

use super::Ctx;
use super::outgoing::{Attachment, Draft};
use crate::i18n::Tr;

/// Document types offered for a PDF (LOINC, JDV_J07-XdsTypeCode-CISIS).
pub const DOCUMENT_TYPES: &[(&str, &str)] = &[
    ("11490-0", "Lettre de liaison à la sortie d'un établissement de soins"),
    ("11488-4", "Compte rendu de consultation"),
    ("11502-2", "Compte rendu d'examens biologiques"),
    ("18748-4", "Compte rendu d'imagerie médicale"),
    ("57833-6", "Prescription de produits de santé"),
    ("87273-9", "Note de vaccination"),
];

/// The reason, in the user's words, why `typed` is not a patient's address.
pub fn problem(tr: Tr, typed: &str, e: &PatientAddressError) -> String {
    match e {
        PatientAddressError::MissingKey { full } => {
            tr.fill("patient.missing-key", &[("typed", typed), ("address", full)])
        }
        PatientAddressError::WrongKey => tr.fill("patient.wrong-key", &[("typed", typed)]),
        PatientAddressError::NotIns => tr.fill("patient.not-ins", &[("typed", typed)]),
    }
}

/// `/webmail/ins?valeur=`: the patient's address for an INS being typed, or why not.
pub async fn check(ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Response {
    let typed = q.get("valeur").map(|v| v.trim().to_string()).unwrap_or_default();
    let tr = Tr(ctx.lang());
    let answer = match ctx.mail.smtp.patients.address_for(&typed) {
        Ok(address) => {
            serde_json::json!({"adresse": address, "message": tr.fill("patient.address", &[("address", &address)])})
        }
        Err(e) => {
            // For 13 digits the key is proposed, to be taken with one click (the INS field then
            // holds all 15).
            let proposed = match &e {
                PatientAddressError::MissingKey { full } => full.split_once('@').map(|(ins, _)| ins.to_string()),
                _ => None,
            };
            serde_json::json!({
                "adresse": null,
                "proposee": proposed,
                "action": tr.text_of("patient.use-key"),
                "message": problem(tr, &typed, &e),
            })
        }
    };
    ctx.respond(Json(answer)).await
}

/// What the patient part of the form adds to a message.
pub struct Posted<'a> {
    pub ins: &'a str,
    pub closes: bool,
    pub document: Option<Attachment>,
    pub document_type: &'a str,
    pub hidden_from_patient: bool,
}

/// Applies the patient part of the form to `draft` and `attachments`; returns what stops the
/// sending, in the user's words.
pub fn apply(
    patients: &PatientDomain,
    tr: Tr,
    posted: Posted,
    sender: Sender,
    draft: &mut Draft,
    attachments: &mut Vec<Attachment>,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut ins = None;
    if !posted.ins.trim().is_empty() {
        match patients.address_for(posted.ins) {
            Ok(address) => {
                ins = address.split_once('@').map(|(m, _)| m.to_string());
                if !draft.to.contains(&address) {
                    draft.to.push(address);
                }
            }
            Err(e) => problems.push(problem(tr, posted.ins.trim(), &e)),
        }
    }
    // Addresses typed in To, Cc and Cci are held to the same rule as the INS field.
    for address in draft
        .to
        .iter()
        .chain(&draft.cc)
        .chain(&draft.bcc)
        .filter(|a| patients.is_patient(a))
    {
        match patients.check(address) {
            Ok(Some(nir)) => {
                ins.get_or_insert_with(|| nir.as_str().to_string());
            }
            Ok(None) => {}
            Err(e) => problems.push(problem(tr, address, &e)),
        }
    }
    draft.closes = posted.closes;
    let to_patient = draft
        .to
        .iter()
        .chain(&draft.cc)
        .chain(&draft.bcc)
        .any(|a| patients.is_patient(a) && !patients.is_service(a));
    if posted.hidden_from_patient && to_patient && posted.document.is_some() {
        problems.push(tr.text_of("patient.hidden-document").to_string());
    }
    let Some(mut file) = posted.document else {
        return problems;
    };
    let is_pdf = file.bytes.starts_with(b"%PDF-");
    let source = match is_pdf {
        true => {
            let (code, label) = DOCUMENT_TYPES
                .iter()
                .find(|(c, _)| *c == posted.document_type)
                .copied()
                .unwrap_or(DOCUMENT_TYPES[0]);
            let title = file.name.trim_end_matches(".pdf").trim_end_matches(".PDF").to_string();
            Source::Pdf {
                bytes: file.bytes.clone(),
                type_code: code.into(),
                type_label: label.into(),
                title,
            }
        }
        // Only a PDF is attached again beside its archive: a CDA's bytes move into it.
        false => Source::Cda(std::mem::take(&mut file.bytes)),
    };
    let now = chrono::Utc::now().format("%Y%m%d%H%M%S").to_string();
    let unique = u128::from_be_bytes(confiance_auth::otp::random_bytes::<16>());
    let built = build::build(Request {
        source,
        // The patient written to; without one, the CDA's own (a PDF then has none).
        ins: ins.map(|m| Ins::new(&m, INS_NIR_OID)),
        sender,
        now,
        unique,
        hidden_from_patient: posted.hidden_from_patient,
    });
    match built {
        Ok(built) => {
            if draft.subject.trim().is_empty() {
                // The subject convention of structured documents (Réf. #2 ECO.2.1.3):
                // `XDM/1.0/DDM+<libellé> <NOM> <prénom> <date de naissance>`.
                let who = built.patient_name.clone().unwrap_or_default();
                let born = built.patient_birth.clone().unwrap_or_default();
                draft.subject = format!("{SUBJECT_PREFIX}{} {who} {born}", built.title)
                    .trim()
                    .to_string();
            }
            draft
                .headers
                .extend(built.headers.into_iter().map(|(n, v)| (n.to_string(), v)));
            attachments.push(Attachment {
                name: XDM_ARCHIVE.into(),
                content_type: "application/zip".into(),
                bytes: built.zip,
            });
            // The readable copy beside the archive (ECO.2.1.5).
            if is_pdf {
                attachments.push(file);
            }
        }
        Err(BuildError::NotCda(_) | BuildError::NotPdf) => {
            problems.push(tr.fill("patient.document-unreadable", &[("name", &file.name)]))
        }
        Err(BuildError::NoPatient) => problems.push(tr.text_of("patient.document-needs-ins").to_string()),
        Err(BuildError::OtherPatient { document, given }) => problems.push(tr.fill(
            "patient.document-other-patient",
            &[("document", &document), ("given", &given)],
        )),
    }
    problems
}
