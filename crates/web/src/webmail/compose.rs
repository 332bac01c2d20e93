//! Writing: a new message, a reply, a reply to all, a forward, or a draft taken up again.
//! Recipients come from the directory (autocomplete in `app.js`); an address outside the
//! MSSanté trust space is flagged before sending, and refused by the submission rules if sent.
//! Attachments are limited to 10 MB each. Nothing typed is lost: a refused message is kept in
//! Drafts and the form comes back with the reason.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Json;
use axum::extract::{Multipart, Query};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use confiance_mail::model::FolderId;
use mail_parser::MessageParser;

use askama::Template;

use super::frame::{self, Frame};
use super::outgoing::{self, Attachment, Draft};
use super::read::{file_name, load, mime_type};
use super::{Ctx, logged};
use crate::account::see_other;
use crate::i18n::Tr;

/// Largest attachment, as the issue and the peers' users expect.
pub const MAX_ATTACHMENT: usize = 10 << 20;

/// `F/U`: a message of the account, by folder id and UID.
fn reference(s: &str) -> Option<(i64, u32)> {
    let (f, u) = s.split_once('/')?;
    Some((f.parse().ok()?, u.parse().ok()?))
}

/// Addresses typed in a field: separated by commas, semicolons or lines; `Name <a@b>` gives
/// `a@b`. Returns the addresses and the pieces that are not addresses.
pub fn recipients(field: &str) -> (Vec<String>, Vec<String>) {
    let (mut ok, mut bad) = (Vec::new(), Vec::new());
    for piece in field.split([',', ';', '\n']).map(str::trim).filter(|p| !p.is_empty()) {
        let address = match (piece.rfind('<'), piece.rfind('>')) {
            (Some(a), Some(b)) if a < b => &piece[a + 1..b],
            _ => piece,
        };
        match confiance_core::Address::parse(address.trim()) {
            Ok(a) => {
                let a = a.to_string();
                if !ok.contains(&a) {
                    ok.push(a);
                }
            }
            Err(_) => bad.push(piece.to_string()),
        }
    }
    (ok, bad)
}

/// Whether mail to `address` can leave: a domain of this operator or of the trust space.
fn in_trust_space(mail: &super::Webmail, address: &str) -> bool {
    let Some((_, domain)) = address.rsplit_once('@') else {
        return false;
    };
    mail.smtp.hosts(domain) || mail.smtp.whitelist.current().contains(domain)
}

/// `/webmail/destinataire?adresse=`: is this address inside the MSSanté trust space?
pub async fn recipient(ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Response {
    let address = q.get("adresse").cloned().unwrap_or_default();
    let (ok, _) = recipients(&address);
    let answer = match ok.first() {
        None => serde_json::json!({"valide": false, "mssante": false}),
        Some(a) => serde_json::json!({"valide": true, "mssante": in_trust_space(&ctx.mail, a)}),
    };
    ctx.respond(Json(answer)).await
}

/// The form, filled.
struct Form {
    draft: Draft,
    /// The message whose attachments may be carried (a forward, a draft), and which of them.
    source: Option<(i64, u32)>,
    kept: Vec<(usize, String, usize)>,
    /// The draft this form replaces when saved again.
    replaces: Option<(i64, u32)>,
}

/// The message ids of a message's References field.
fn references(message: &mail_parser::Message) -> Vec<String> {
    match message.references().as_text_list() {
        Some(list) => list.iter().map(|s| s.to_string()).collect(),
        None => message
            .references()
            .as_text()
            .map(|s| vec![s.to_string()])
            .unwrap_or_default(),
    }
}

fn quote(text: &str) -> String {
    text.lines().map(|l| format!("> {l}\n")).collect()
}

fn prefixed(prefix: &str, subject: &str) -> String {
    let lower = subject.to_lowercase();
    if lower.starts_with(&prefix.to_lowercase()) {
        subject.to_string()
    } else {
        format!("{prefix} {subject}")
    }
}

/// The form for `?repondre=`, `?repondre-tous=`, `?transferer=` or `?brouillon=`.
async fn prefill(ctx: &Ctx, q: &HashMap<String, String>, signature: &str) -> Option<Form> {
    let lang = ctx.lang();
    let sign = |body: String| {
        if signature.trim().is_empty() {
            body
        } else {
            format!("{body}\n\n-- \n{signature}")
        }
    };
    let mut form = Form {
        draft: Draft::default(),
        source: None,
        kept: Vec::new(),
        replaces: None,
    };
    let asked = ["repondre", "repondre-tous", "transferer", "brouillon"]
        .iter()
        .find_map(|m| q.get(*m).and_then(|r| reference(r)).map(|r| (*m, r)));
    let Some((mode, (folder, uid))) = asked else {
        if let Some(to) = q.get("a") {
            form.draft.to = recipients(to).0;
        }
        form.draft.body = sign(String::new());
        return Some(form);
    };
    let super::read::Loaded {
        listed,
        bytes,
        slot: _slot,
    } = load(ctx, folder, uid).await?;
    let message = MessageParser::default().parse(bytes.as_slice())?;
    let subject = message.subject().unwrap_or_default().to_string();
    let text = message.body_text(0).unwrap_or_default().to_string();
    let from = confiance_mail::summary::addresses(message.from());
    let reply_to = confiance_mail::summary::addresses(message.reply_to());
    let me = ctx.account.address.to_lowercase();
    let attachments = |form: &mut Form| {
        form.source = Some((folder, uid));
        form.kept = message
            .attachments()
            .enumerate()
            .map(|(n, p)| (n, file_name(p, n), p.contents().len()))
            .collect();
    };
    match mode {
        "brouillon" => {
            form.draft.to = confiance_mail::summary::addresses(message.to())
                .into_iter()
                .map(|a| a.1)
                .collect();
            form.draft.cc = confiance_mail::summary::addresses(message.cc())
                .into_iter()
                .map(|a| a.1)
                .collect();
            form.draft.bcc = confiance_mail::summary::addresses(message.bcc())
                .into_iter()
                .map(|a| a.1)
                .collect();
            form.draft.reply_to = reply_to.first().map(|a| a.1.clone());
            form.draft.subject = subject;
            form.draft.body = text.replace("\r\n", "\n");
            form.draft.receipt = listed.summary.as_ref().is_some_and(|s| s.receipt_to.is_some());
            form.draft.in_reply_to = message.in_reply_to().as_text().map(str::to_string);
            form.draft.references = references(&message);
            // References end with the parent; it is added back when the draft is written.
            if form.draft.references.last() == form.draft.in_reply_to.as_ref() {
                form.draft.references.pop();
            }
            attachments(&mut form);
            form.replaces = Some((folder, uid));
        }
        "transferer" => {
            let header = format!(
                "\n\n-------- {} --------\n{}: {}\n{}: {}\n{}: {}\n\n",
                crate::i18n::Tr(lang).text_of("compose.forwarded-message"),
                crate::i18n::Tr(lang).text_of("search.from"),
                confiance_mail::summary::display(&from),
                crate::i18n::Tr(lang).text_of("list.date"),
                frame::long_date(listed.meta.internal_date, listed.meta.internal_tz_minutes),
                crate::i18n::Tr(lang).text_of("list.subject"),
                subject
            );
            form.draft.subject = prefixed("TR:", &subject);
            form.draft.body = sign(String::new()) + &header + &text.replace("\r\n", "\n");
            attachments(&mut form);
        }
        _ => {
            let to = if reply_to.is_empty() { &from } else { &reply_to };
            form.draft.to = to.iter().map(|a| a.1.clone()).collect();
            if mode == "repondre-tous" {
                let mut others = confiance_mail::summary::addresses(message.to());
                others.extend(confiance_mail::summary::addresses(message.cc()));
                form.draft.cc = others
                    .into_iter()
                    .map(|a| a.1)
                    .filter(|a| a.to_lowercase() != me && !form.draft.to.contains(a))
                    .collect();
            }
            form.draft.subject = prefixed("RE:", &subject);
            let when = frame::long_date(listed.meta.internal_date, listed.meta.internal_tz_minutes);
            let who = confiance_mail::summary::display(&from);
            let wrote = Tr(lang).fill("compose.wrote", &[("when", &when), ("who", &who)]);
            form.draft.body = sign(String::new()) + &format!("\n\n{wrote}\n") + &quote(&text.replace("\r\n", "\n"));
            form.draft.in_reply_to = message.message_id().map(str::to_string);
            form.draft.references = references(&message);
        }
    }
    Some(form)
}

#[derive(Template)]
#[template(path = "webmail/compose.html")]
struct ComposePage {
    tr: Tr,
    frame: Frame,
    /// Editing a saved draft.
    draft: bool,
    max: usize,
    /// What the form carries back: the message answered or forwarded, the draft it replaces,
    /// the thread's identifiers.
    hidden: Vec<(&'static str, String)>,
    to: String,
    cc: String,
    bcc: String,
    reply_to: String,
    subject: String,
    body: String,
    /// Attachments of the answered, forwarded or drafted message: index, name, size.
    kept: Vec<(usize, String, usize)>,
    receipt: bool,
    delivery_report: bool,
    /// "Écrire à un patient": the patient part open.
    patient: bool,
    /// A patient writes: the parts for professionals are not shown.
    for_patient: bool,
    document_types: &'static [(&'static str, &'static str)],
}

/// `GET /webmail/ecrire`.
pub async fn page(ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Response {
    if !ctx.may_send {
        return refuse_sending(ctx).await;
    }
    // A patient answers a professional who wrote; they do not start a conversation (ENS Mon
    // Espace Santé): the form opens only as a reply or a draft of one.
    if ctx.patient && !["repondre", "brouillon"].iter().any(|m| q.contains_key(*m)) {
        let mut ctx = ctx;
        ctx.session.data.alert = Some(Tr(ctx.lang()).text_of("patient.only-reply").to_string());
        return ctx.respond(see_other("/webmail")).await;
    }
    let account = ctx.account.id;
    let signature = ctx.accounts.registry.signature(account).await.unwrap_or_default();
    let Some(form) = prefill(&ctx, &q, &signature).await else {
        return ctx.not_found().await;
    };
    let d = form.draft;
    let hidden = [
        ("source", form.source.map(|(f, u)| format!("{f}/{u}"))),
        ("brouillon", form.replaces.map(|(f, u)| format!("{f}/{u}"))),
        ("en-reponse-a", d.in_reply_to.clone()),
        ("references", (!d.references.is_empty()).then(|| d.references.join(" "))),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.map(|v| (name, v)))
    .collect();
    let for_patient = ctx.patient;
    ctx.show("webmail.write", None, |tr, frame, _| ComposePage {
        tr,
        frame,
        draft: form.replaces.is_some(),
        max: MAX_ATTACHMENT,
        hidden,
        to: d.to.join(", "),
        cc: d.cc.join(", "),
        bcc: d.bcc.join(", "),
        reply_to: d.reply_to.unwrap_or_default(),
        subject: d.subject,
        body: d.body,
        kept: form.kept,
        receipt: d.receipt,
        delivery_report: d.delivery_report,
        patient: q.contains_key("patient"),
        for_patient,
        document_types: super::patient::DOCUMENT_TYPES,
    })
    .await
}

/// What the compose form sent.
#[derive(Default)]
struct Posted {
    fields: HashMap<String, String>,
    kept: Vec<usize>,
    files: Vec<Attachment>,
    /// The file of "Joindre un document structuré" (a CDA or a PDF).
    document: Option<Attachment>,
    /// Files over the limit, by name.
    too_big: Vec<String>,
}

async fn read_form(mut multipart: Multipart) -> Result<Posted, String> {
    let mut posted = Posted::default();
    while let Some(mut field) = multipart.next_field().await.map_err(|e| e.body_text())? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "fichiers" || name == "document" {
            let file_name = field.file_name().unwrap_or_default().to_string();
            if file_name.is_empty() {
                continue;
            }
            let content_type = field.content_type().unwrap_or("application/octet-stream").to_string();
            // Read by chunks so an oversized file is refused without being held whole.
            let mut bytes = Vec::new();
            let mut over = false;
            while let Some(chunk) = field.chunk().await.map_err(|e| e.body_text())? {
                if bytes.len() + chunk.len() > MAX_ATTACHMENT {
                    over = true;
                    bytes = Vec::new();
                } else if !over {
                    bytes.extend_from_slice(&chunk);
                }
            }
            let file = Attachment {
                name: file_name,
                content_type,
                bytes,
            };
            match (over, name == "document") {
                (true, _) => posted.too_big.push(file.name),
                (false, true) => posted.document = Some(file),
                (false, false) => posted.files.push(file),
            }
        } else if name == "garder" {
            if let Ok(n) = field.text().await.map_err(|e| e.body_text())?.parse() {
                posted.kept.push(n);
            }
        } else {
            let value = field.text().await.map_err(|e| e.body_text())?;
            posted.fields.insert(name, value);
        }
    }
    Ok(posted)
}

/// The attachments carried from the source message; `None` when the source or one of the
/// kept attachments is gone (a draft saved from another tab, a message moved by IMAP).
async fn carried(ctx: &Ctx, source: Option<(i64, u32)>, kept: &[usize]) -> Option<Vec<Attachment>> {
    let Some((folder, uid)) = source else {
        return kept.is_empty().then(Vec::new);
    };
    if kept.is_empty() {
        return Some(Vec::new());
    }
    let super::read::Loaded { bytes, slot: _slot, .. } = load(ctx, folder, uid).await?;
    let message = MessageParser::default().parse(bytes.as_slice())?;
    let found: Vec<Attachment> = message
        .attachments()
        .enumerate()
        .filter(|(n, _)| kept.contains(n))
        .map(|(n, p)| {
            let kind = mime_type(p);
            Attachment {
                name: file_name(p, n),
                // mail-parser gave the text in UTF-8, whatever its charset was.
                content_type: if kind.starts_with("text/") {
                    format!("{kind}; charset=utf-8")
                } else {
                    kind
                },
                bytes: p.contents().to_vec(),
            }
        })
        .collect();
    (found.len() == kept.len()).then_some(found)
}

/// Stores `bytes` in a folder; the new UID.
async fn keep(ctx: &Ctx, folder: FolderId, bytes: Vec<u8>, flags: &[&str]) -> Option<u32> {
    let flags = flags.iter().map(|f| f.to_string()).collect();
    let results = ctx
        .mail
        .svc
        .deliver(
            vec![folder],
            Arc::new(bytes),
            flags,
            confiance_mail::internal_date_now(),
        )
        .await
        .ok()?;
    results.into_iter().next()?.ok().map(|a| a.uid)
}

/// Removes the draft a saved or sent form replaces.
async fn drop_draft(ctx: &Ctx, replaces: Option<(i64, u32)>) {
    let Some((folder, uid)) = replaces else { return };
    let Some(drafts) = ctx.special("\\Drafts").map(|f| f.id) else {
        return;
    };
    // Only a message of the Drafts folder is ever removed this way.
    if drafts.0 != folder {
        return;
    }
    let svc = &ctx.mail.svc;
    if logged(svc.flag_one(ctx.account.id, drafts, uid, "\\Deleted", true).await).is_some() {
        let _ = ctx.mail.svc.expunge(ctx.account.id, drafts, Some(vec![uid])).await;
    }
}

/// The answer to the browser: a redirect, or for the script (`X-Confiance: 1`) the place
/// to go and the draft now saved, so it can keep autosaving into it.
fn answer(script: bool, to: &str, draft: Option<(i64, u32)>) -> Response {
    if script {
        Json(serde_json::json!({
            "location": to,
            "brouillon": draft.map(|(f, u)| format!("{f}/{u}")),
        }))
        .into_response()
    } else {
        see_other(to)
    }
}

/// `POST /webmail/ecrire`: send, or save the draft.
/// A member without the send right on the BAL shown (issue 16): they read, they do not write.
pub(crate) async fn refuse_sending(ctx: Ctx) -> Response {
    let msg = Tr(ctx.lang()).text_of("compose.no-send-right");
    tracing::warn!(target: "audit", event = "refused", bal = %ctx.account.address, actor = ctx.actor(), reason = "no send right");
    ctx.fail(axum::http::StatusCode::FORBIDDEN, msg).await
}

pub async fn post(mut ctx: Ctx, headers: HeaderMap, multipart: Multipart) -> Response {
    if !ctx.may_send {
        return refuse_sending(ctx).await;
    }
    let lang = ctx.lang();
    let script = headers.get("x-confiance").is_some();
    let posted = match read_form(multipart).await {
        Ok(p) => p,
        Err(e) => {
            let msg = format!(
                "{} ({e})",
                crate::i18n::Tr(lang).text_of("compose.the-form-could-not-be")
            );
            return ctx.fail(StatusCode::BAD_REQUEST, &msg).await;
        }
    };
    if !ctx.session.csrf_ok(&posted.fields) {
        let msg = crate::i18n::Tr(lang).text_of("compose.this-form-has-expired-or");
        return ctx.fail(StatusCode::FORBIDDEN, msg).await;
    }
    let field = |k: &str| posted.fields.get(k).cloned().unwrap_or_default();
    let (to, bad_to) = recipients(&field("a"));
    let (cc, bad_cc) = recipients(&field("cc"));
    let (bcc, bad_bcc) = recipients(&field("cci"));
    // One address for answers, or none; several, or one unreadable, is said and kept typed.
    let (reply_to, bad_reply_to) = recipients(&field("repondre-a"));
    let reply_to_problem = !bad_reply_to.is_empty() || reply_to.len() > 1;
    let mut draft = Draft {
        to,
        cc,
        bcc,
        reply_to: reply_to.first().cloned().filter(|_| !reply_to_problem),
        subject: field("objet").trim().to_string(),
        body: field("corps"),
        receipt: posted.fields.contains_key("accuse"),
        delivery_report: posted.fields.contains_key("accuse-remise"),
        in_reply_to: posted.fields.get("en-reponse-a").filter(|s| !s.is_empty()).cloned(),
        references: field("references").split_whitespace().map(str::to_string).collect(),
        ..Draft::default()
    };
    let source = reference(&field("source"));
    let replaces = reference(&field("brouillon"));
    let carried = carried(&ctx, source, &posted.kept).await;
    let lost = carried.is_none();
    let mut attachments = carried.unwrap_or_default();
    attachments.extend(posted.files);
    let account = ctx.account.id;
    // A structure's BAL sends with its own name (`Secrétariat de cardiologie`), whoever acts
    // for it (the trace names them); a professional's with theirs.
    let from_name = match &ctx.account.display_name {
        Some(name) => name.clone(),
        None => {
            let profile = ctx.accounts.registry.profile(account).await.flatten();
            profile
                .map(|p| {
                    format!(
                        "{} {}",
                        p.given_name.unwrap_or_default(),
                        p.family_name.unwrap_or_default()
                    )
                })
                .unwrap_or_default()
        }
    };
    let from_name = from_name.trim().to_string();
    let sender = confiance_segur::build::Sender {
        name: from_name.clone(),
        address: ctx.account.address.clone(),
        organisation: None,
        application: format!("Confiance {}", env!("CARGO_PKG_VERSION")),
    };
    let for_patient = super::patient::Posted {
        ins: posted.fields.get("ins").map(String::as_str).unwrap_or_default(),
        closes: posted.fields.contains_key("fin"),
        document: posted.document,
        document_type: posted
            .fields
            .get("type-document")
            .map(String::as_str)
            .unwrap_or_default(),
        hidden_from_patient: posted.fields.contains_key("masque-patient"),
    };
    let patient_problems = super::patient::apply(
        &ctx.mail.smtp.patients,
        Tr(lang),
        for_patient,
        sender,
        &mut draft,
        &mut attachments,
    );
    let Ok(bytes) = outgoing::build(&from_name, &ctx.account.address, &draft, &attachments) else {
        return ctx.store_failed().await;
    };
    // What stops the sending, said in the user's words; the draft keeps everything typed.
    let mut problems = Vec::new();
    if lost {
        problems.push(
            crate::i18n::Tr(lang)
                .text_of("compose.the-kept-attachments-are-no")
                .into(),
        );
    }
    for name in &posted.too_big {
        problems.push(Tr(lang).fill("compose.too-big", &[("name", name)]));
    }
    problems.extend(patient_problems);
    for bad in bad_to.iter().chain(&bad_cc).chain(&bad_bcc) {
        problems.push(Tr(lang).fill("compose.not-an-address", &[("address", bad)]));
    }
    if reply_to_problem {
        problems.push(Tr(lang).fill("compose.bad-reply-to", &[("typed", field("repondre-a").trim())]));
    }
    let sending = field("action") != "brouillon";
    if sending && draft.to.is_empty() && draft.cc.is_empty() && draft.bcc.is_empty() && bad_to.is_empty() {
        problems.push(
            crate::i18n::Tr(lang)
                .text_of("compose.give-at-least-one-recipient")
                .into(),
        );
    }

    if sending && problems.is_empty() {
        let all: Vec<String> = draft.to.iter().chain(&draft.cc).chain(&draft.bcc).cloned().collect();
        let kind = match draft.delivery_report {
            true => confiance_smtp::Submission::MessageWithDeliveryReport,
            false => confiance_smtp::Submission::Message,
        };
        let sent = confiance_smtp::submit(
            &ctx.mail.svc,
            &ctx.mail.smtp,
            ctx.account.clone(),
            &all,
            bytes.clone(),
            kind,
        )
        .await;
        // Refusals are said in the user's language, without their codes.
        let french = lang == crate::html::Lang::Fr;
        match sent {
            Ok(done) => {
                if let Some(sent_folder) = ctx.special("\\Sent").map(|f| f.id) {
                    keep(&ctx, sent_folder, outgoing::with_bcc(bytes, &draft.bcc), &["\\Seen"]).await;
                }
                drop_draft(&ctx, replaces).await;
                tracing::info!(target: "audit", event = "webmail_sent", bal = %ctx.account.address, actor = ctx.actor(), id = %done.id, recipients = all.len(), refused = done.refused.len());
                let mut said = crate::i18n::Tr(lang).text_of("compose.message-sent").to_string();
                for (rcpt, why) in &done.refused {
                    said.push_str(&Tr(lang).fill(
                        "compose.refused-for",
                        &[("recipient", rcpt), ("why", why.sentence(french))],
                    ));
                }
                if done.refused.is_empty() {
                    ctx.session.data.flash = Some(said);
                } else {
                    ctx.session.data.alert = Some(said);
                }
                let to = ctx
                    .inbox()
                    .map_or("/webmail".into(), |f| format!("/webmail/dossier/{}", f.id.0));
                return ctx.respond(answer(script, &to, None)).await;
            }
            Err(not_sent) => {
                // Every recipient refused: their reasons say it all, not the closing reply.
                let mut why = match not_sent.refused.is_empty() {
                    true => Tr(lang).fill("compose.not-sent", &[("why", not_sent.reply.sentence(french))]),
                    false => Tr(lang).text_of("compose.not-sent-to-anyone").to_string(),
                };
                for (rcpt, reason) in &not_sent.refused {
                    why.push_str(&format!(" {rcpt} : {}.", reason.sentence(french)));
                }
                problems.push(why);
            }
        }
    }

    // Saved as a draft: asked for, or the sending was stopped.
    let Some(drafts) = ctx.special("\\Drafts").map(|f| f.id) else {
        return ctx.store_failed().await;
    };
    let Some(uid) = keep(
        &ctx,
        drafts,
        outgoing::with_bcc(bytes, &draft.bcc),
        &["\\Draft", "\\Seen"],
    )
    .await
    else {
        return ctx.store_failed().await;
    };
    // The draft replaced goes, unless it still holds attachments this save could not carry.
    if !lost {
        drop_draft(&ctx, replaces).await;
    }
    let saved = (drafts.0, uid);
    let to = format!("/webmail/ecrire?brouillon={}/{}", saved.0, saved.1);
    if problems.is_empty() {
        if !script {
            ctx.session.data.flash = Some(crate::i18n::Tr(lang).text_of("compose.draft-saved").into());
        }
    } else if !script || sending {
        problems.push(crate::i18n::Tr(lang).text_of("compose.your-message-is-kept-in").into());
        ctx.session.data.alert = Some(problems.join(" "));
    }
    ctx.respond(answer(script, &to, Some(saved))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipients_are_read_from_what_people_type() {
        let (ok, bad) = recipients("Dr Anne <anne@medecin.confiance.test>; bob@pro.confiance.test,\nnot an address, ");
        assert_eq!(ok, ["anne@medecin.confiance.test", "bob@pro.confiance.test"]);
        assert_eq!(bad, ["not an address"]);
        assert_eq!(recipients("a@b.fr, a@b.fr").0.len(), 1);
    }

    #[test]
    fn reply_prefixes_are_not_repeated() {
        assert_eq!(prefixed("RE:", "Re: Bilan"), "Re: Bilan");
        assert_eq!(prefixed("TR:", "Bilan"), "TR: Bilan");
    }
}
