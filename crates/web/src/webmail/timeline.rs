//! Proof of exchange: the timeline of a message the BAL sent, recipient by recipient —
//! submitted, delivered into a BAL here or handed to which operator, delivered there, read,
//! taken in or refused by the recipient's software — built from the audit trail and the
//! reports received (`confiance_mail::reports`), and exported as a JSON document signed by
//! the operator, which a professional can keep in the patient's file.
//!
//! Only the BAL that sent a message sees its timeline, and only the traces of its own
//! sending: a message of another BAL carrying the same Message-ID (forged or copied) shows
//! nothing of the original's journey.

use std::collections::BTreeMap;

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use mail_parser::{MessageParser, MimeHeaders};
use sha2::{Digest, Sha256};

use askama::Template;

use super::Ctx;
use super::frame::Frame;
use super::read::{Loaded, load};
use crate::i18n::Tr;

/// One trace of a message's journey, as the audit trail keeps it.
#[derive(Debug, Clone)]
pub struct Step {
    pub at_ms: i64,
    pub event: String,
    pub bal: Option<String>,
    pub peer: Option<String>,
    pub detail: Vec<(String, String)>,
}

impl Step {
    fn get(&self, name: &str) -> Option<&str> {
        self.detail.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// The operator's signature of a proof.
pub struct Seal {
    /// `ES256` or `RS256`.
    pub algorithm: &'static str,
    pub signature: Vec<u8>,
    /// The certificate whose key signed, PEM.
    pub certificate: String,
}

/// Where timelines come from (the audit trail) and who signs proofs (the operator's key).
/// Blocking: called on the blocking pool.
pub trait Journal: Send + Sync + 'static {
    /// The traces of a Message-ID (`<…>` as the field writes it), oldest first.
    fn steps(&self, message_id: &str) -> Vec<Step>;
    fn seal(&self, payload: &[u8]) -> Option<Seal>;
}

/// What happened for one recipient, in order: (time, what was said).
struct Row {
    recipient: String,
    events: Vec<(String, String)>,
}

fn when(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&chrono::Local).format("%d/%m/%Y %H:%M:%S").to_string())
        .unwrap_or_default()
}

/// The steps of `bal`'s own sending of `message_id`, or nothing when it did not send it.
fn own(steps: Vec<Step>, bal: &str) -> Vec<Step> {
    let is = |v: Option<&str>| v.is_some_and(|v| v.eq_ignore_ascii_case(bal));
    if !steps.iter().any(|s| s.event == "sent" && is(s.bal.as_deref())) {
        return Vec::new();
    }
    steps
        .into_iter()
        .filter(|s| match s.event.as_str() {
            "sent" | "report" => is(s.bal.as_deref()),
            "delivered" | "relayed" | "relay_deferred" | "relay_failed" => is(s.get("sender")),
            _ => false,
        })
        .collect()
}

/// What a step says, in the user's words; `None` for a step that concerns every recipient.
fn said(tr: Tr, s: &Step) -> Option<(String, String)> {
    let text = match s.event.as_str() {
        "delivered" => (s.bal.clone()?, tr.text_of("proof.delivered-here").to_string()),
        "relayed" => (
            s.get("recipient")?.to_string(),
            tr.fill("proof.relayed", &[("operator", s.peer.as_deref().unwrap_or(""))]),
        ),
        "relay_deferred" => (
            s.get("recipient")?.to_string(),
            tr.text_of("proof.deferred").to_string(),
        ),
        "relay_failed" => (s.get("recipient")?.to_string(), tr.text_of("proof.failed").to_string()),
        "report" => {
            let kind = confiance_mail::reports::Kind::from_trace(s.get("kind")?, s.get("code").unwrap_or_default());
            (s.get("recipient")?.to_string(), report_text(tr, &kind))
        }
        _ => return None,
    };
    Some(text)
}

/// What a report received says of one recipient, in the user's words (the message page).
pub fn report_text(tr: Tr, kind: &confiance_mail::reports::Kind) -> String {
    use confiance_mail::reports::Kind;
    let key = match kind {
        Kind::Delivered => "proof.report-delivered",
        Kind::Relayed => "proof.report-relayed",
        Kind::Delayed => "proof.report-delayed",
        Kind::Failed => "proof.report-failed",
        Kind::Displayed => "proof.report-displayed",
        Kind::Processed => "proof.report-processed",
        Kind::IntegrationError { code, .. } => {
            let label = integration_error(tr, code);
            return tr.fill("proof.report-integration-error", &[("code", code), ("label", &label)]);
        }
        Kind::NotRead(_) => "proof.report-not-read",
    };
    tr.text_of(key).to_string()
}

/// The integration-error codes of a receiving PFI (IG-LPS error-codes), in words.
pub fn integration_error(tr: Tr, code: &str) -> String {
    let key = match code {
        "900" => "proof.error-900",
        "901" => "proof.error-901",
        "902" => "proof.error-902",
        "903" => "proof.error-903",
        "904" => "proof.error-904",
        "905" => "proof.error-905",
        _ => "proof.error-906",
    };
    tr.text_of(key).to_string()
}

#[derive(Template)]
#[template(path = "webmail/timeline.html")]
struct TimelinePage {
    tr: Tr,
    frame: Frame,
    back: String,
    subject: String,
    submitted: String,
    rows: Vec<Row>,
}

/// The message's own bytes, its Message-ID and recipients, read off the async workers.
struct Sent {
    message_id: String,
    subject: String,
    recipients: Vec<String>,
    sha256: String,
    /// Name, size and SHA-256 of each attachment.
    attachments: Vec<(String, usize, String)>,
}

async fn sent(ctx: &Ctx, id: i64, uid: u32) -> Option<Sent> {
    let Loaded { bytes, slot, .. } = load(ctx, id, uid).await?;
    crate::off_workers(slot, move || {
        let m = MessageParser::default().parse(bytes.as_slice())?;
        let mut recipients: Vec<String> = confiance_mail::summary::addresses(m.to())
            .into_iter()
            .map(|a| a.1)
            .collect();
        recipients.extend(confiance_mail::summary::addresses(m.cc()).into_iter().map(|a| a.1));
        Some(Sent {
            message_id: format!("<{}>", m.message_id()?),
            // The structured-document prefix is for software (Réf. #2 ECO.2.1.3), not people.
            subject: super::list::Subject::of(m.subject().unwrap_or_default(), false).text,
            recipients,
            sha256: hex::encode(Sha256::digest(bytes.as_slice())),
            attachments: m
                .attachments()
                .map(|p| {
                    (
                        p.attachment_name().unwrap_or_default().to_string(),
                        p.contents().len(),
                        hex::encode(Sha256::digest(p.contents())),
                    )
                })
                .collect(),
        })
    })
    .await
    .flatten()
}

async fn steps(ctx: &Ctx, message_id: &str) -> Vec<Step> {
    let Some(journal) = ctx.mail.journal.clone() else {
        return Vec::new();
    };
    let (id, bal) = (message_id.to_string(), ctx.account.address.clone());
    tokio::task::spawn_blocking(move || own(journal.steps(&id), &bal))
        .await
        .unwrap_or_default()
}

fn rows(tr: Tr, recipients: &[String], steps: &[Step]) -> Vec<Row> {
    let mut by: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for r in recipients {
        by.entry(r.to_lowercase()).or_default();
    }
    for s in steps {
        if let Some((recipient, text)) = said(tr, s) {
            by.entry(recipient.to_lowercase())
                .or_default()
                .push((when(s.at_ms), text));
        }
    }
    by.into_iter()
        .map(|(recipient, events)| Row { recipient, events })
        .collect()
}

/// `/webmail/message/{folder}/{uid}/suivi`.
pub(crate) async fn page(ctx: Ctx, Path((id, uid)): Path<(i64, u32)>) -> Response {
    let Some(sent) = sent(&ctx, id, uid).await else {
        return ctx.not_found().await;
    };
    let steps = steps(&ctx, &sent.message_id).await;
    let Some(submitted) = steps.iter().find(|s| s.event == "sent").map(|s| when(s.at_ms)) else {
        return ctx.not_found().await;
    };
    let tr = Tr(ctx.lang());
    let rows = rows(tr, &sent.recipients, &steps);
    let title = tr.text_of("proof.title").to_string();
    ctx.show_titled(&title, Some(id), |tr, frame, _| TimelinePage {
        tr,
        frame,
        back: format!("/webmail/message/{id}/{uid}"),
        subject: sent.subject,
        submitted,
        rows,
    })
    .await
}

/// `/webmail/message/{folder}/{uid}/preuve`: the signed proof, a JSON document.
pub(crate) async fn proof(ctx: Ctx, Path((id, uid)): Path<(i64, u32)>) -> Response {
    let Some(sent) = sent(&ctx, id, uid).await else {
        return ctx.not_found().await;
    };
    let steps = steps(&ctx, &sent.message_id).await;
    if !steps.iter().any(|s| s.event == "sent") {
        return ctx.not_found().await;
    }
    let rfc3339 = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|t| t.to_rfc3339())
            .unwrap_or_default()
    };
    let journey: Vec<serde_json::Value> = steps
        .iter()
        .map(|s| {
            let mut fields = serde_json::Map::new();
            fields.insert("horodatage".into(), rfc3339(s.at_ms).into());
            fields.insert("evenement".into(), s.event.clone().into());
            for key in ["recipient", "kind", "code", "status", "id"] {
                if let Some(v) = s.get(key).filter(|v| !v.is_empty()) {
                    fields.insert(key.into(), v.into());
                }
            }
            if let Some(p) = &s.peer {
                fields.insert("operateur".into(), p.clone().into());
            }
            if s.event == "delivered" {
                fields.insert("recipient".into(), s.bal.clone().unwrap_or_default().into());
            }
            serde_json::Value::Object(fields)
        })
        .collect();
    let payload = serde_json::json!({
        "format": "confiance-preuve-echange/1",
        "genere_le": chrono::Utc::now().to_rfc3339(),
        "operateur": ctx.mail.smtp.hostname,
        "bal": ctx.account.address,
        "message_id": sent.message_id,
        "destinataires": sent.recipients,
        "sha256_message": sent.sha256,
        "pieces_jointes": sent.attachments.iter().map(|(n, size, h)| serde_json::json!({"nom": n, "taille": size, "sha256": h})).collect::<Vec<_>>(),
        "parcours": journey,
    })
    .to_string();
    let journal = ctx.mail.journal.clone();
    let bytes = payload.clone().into_bytes();
    let seal = match journal {
        Some(j) => tokio::task::spawn_blocking(move || j.seal(&bytes)).await.ok().flatten(),
        None => None,
    };
    let signature = seal.map(|s| {
        serde_json::json!({
            "algorithme": s.algorithm,
            "valeur": base64::engine::general_purpose::STANDARD.encode(s.signature),
            "certificat": s.certificate,
            "portee": "octets UTF-8 du champ contenu",
        })
    });
    tracing::info!(target: "audit", event = "proof_exported", bal = %ctx.account.address, actor = ctx.actor(), message_id = %sent.message_id);
    let document = serde_json::json!({"contenu": payload, "signature": signature});
    let mut response = serde_json::to_vec_pretty(&document).unwrap_or_default().into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"preuve-echange.json\""),
    );
    ctx.respond(response).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(event: &str, bal: &str, detail: &[(&str, &str)]) -> Step {
        Step {
            at_ms: 0,
            event: event.into(),
            bal: (!bal.is_empty()).then(|| bal.into()),
            peer: None,
            detail: detail.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }

    #[test]
    fn only_the_sending_bal_sees_its_own_journey() {
        let steps = vec![
            step("sent", "alice@a.fr", &[]),
            step("relayed", "", &[("sender", "alice@a.fr"), ("recipient", "x@b.fr")]),
            step("relayed", "", &[("sender", "mallory@a.fr"), ("recipient", "y@b.fr")]),
            step(
                "report",
                "alice@a.fr",
                &[("recipient", "x@b.fr"), ("kind", "displayed")],
            ),
            step(
                "report",
                "mallory@a.fr",
                &[("recipient", "y@b.fr"), ("kind", "displayed")],
            ),
            step("delivered", "bob@a.fr", &[("sender", "alice@a.fr")]),
        ];
        let alice = own(steps.clone(), "alice@a.fr");
        assert_eq!(alice.len(), 4);
        // Mallory sent a message with the same Message-ID: she sees her own steps only.
        let mallory = own(
            [steps.clone(), vec![step("sent", "mallory@a.fr", &[])]].concat(),
            "mallory@a.fr",
        );
        assert!(
            mallory
                .iter()
                .all(|s| s.bal.as_deref() == Some("mallory@a.fr") || s.get("sender") == Some("mallory@a.fr"))
        );
        // Someone who did not send it sees nothing.
        assert!(own(steps, "bob@a.fr").is_empty());
    }
}
