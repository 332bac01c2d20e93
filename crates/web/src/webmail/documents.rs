//! Ségur structured documents in the webmail: what each `IHE_XDM.ZIP` or CDA attachment holds
//! (patient, INS, document type, author, date) shown above the message, and a viewer for one
//! document: its narrative sections, written anew as plain HTML by `confiance-segur`, or the
//! PDF a level-1 CDA wraps. What real senders get wrong (a wrong INS key, mismatched patient
//! identifiers, a missing file) is said as a warning; nothing is refused for it.

use axum::extract::Path;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use confiance_mail::structured::{self, Attached, Warning};
use mail_parser::MessageParser;

use askama::Template;

use super::Ctx;
use super::frame::Frame;
use super::read::{Loaded, load};
use crate::html::Lang;
use crate::i18n::Tr;

/// One document as the message page shows it.
pub struct Shown {
    /// Rank of the attachment, and of the document in it.
    pub attachment: usize,
    pub document: usize,
    pub patient: Option<String>,
    pub ins: Option<String>,
    pub ins_kind: String,
    pub kind: Option<String>,
    pub author: Option<String>,
    pub date: Option<String>,
    pub hidden_from_patient: bool,
    /// It has a narrative or a PDF to show.
    pub viewable: bool,
    pub warnings: Vec<String>,
}

fn warning(tr: Tr, w: &Warning) -> String {
    match w {
        Warning::InsKey(ins) => tr.fill("segur.warn-ins-key", &[("ins", ins)]),
        Warning::PatientMismatch { set, document } => {
            tr.fill("segur.warn-mismatch", &[("set", set), ("document", document)])
        }
        Warning::Missing(name) => tr.fill("segur.warn-missing", &[("name", name)]),
        Warning::Hash(name) | Warning::Size(name) => tr.fill("segur.warn-altered", &[("name", name)]),
        Warning::Unreadable(name, _) => tr.fill("segur.warn-unreadable", &[("name", name)]),
    }
}

fn author(d: &structured::Document) -> Option<String> {
    match (d.author(), d.organisation()) {
        (Some(a), Some(o)) => Some(format!("{a} ({o})")),
        (a, o) => a.or(o),
    }
}

/// The documents of a message's structured attachments; an attachment that could not be read
/// at all is one entry with its warning.
pub fn shown(attached: &[Attached], lang: Lang) -> Vec<Shown> {
    let tr = Tr(lang);
    let mut out = Vec::new();
    for a in attached {
        match &a.read {
            Ok(archive) => {
                let general: Vec<String> = archive.warnings.iter().map(|w| warning(tr, w)).collect();
                for (n, d) in archive.documents.iter().enumerate() {
                    let mut warnings: Vec<String> = d.warnings.iter().map(|w| warning(tr, w)).collect();
                    if n == 0 {
                        warnings.extend(general.iter().cloned());
                    }
                    out.push(Shown {
                        attachment: a.index,
                        document: n,
                        patient: d.patient_name(),
                        ins: d.ins().map(|i| i.matricule.clone()),
                        ins_kind: d.ins().map(|i| i.kind().to_string()).unwrap_or_default(),
                        kind: d.type_label().or(d.type_code()),
                        author: author(d),
                        date: d.date().and_then(|t| confiance_segur::cda::french_date(&t)),
                        hidden_from_patient: d.invisible_to_patient(),
                        viewable: d
                            .cda
                            .as_ref()
                            .is_some_and(|c| !c.sections.is_empty() || c.embedded.is_some()),
                        warnings,
                    });
                }
                if archive.documents.is_empty() {
                    out.push(unreadable(a, general));
                }
            }
            Err(_) => out.push(unreadable(a, vec![tr.text_of("segur.unreadable").to_string()])),
        }
    }
    out
}

fn unreadable(a: &Attached, warnings: Vec<String>) -> Shown {
    Shown {
        attachment: a.index,
        document: 0,
        patient: None,
        ins: None,
        ins_kind: String::new(),
        kind: Some(a.name.clone()),
        author: None,
        date: None,
        hidden_from_patient: false,
        viewable: false,
        warnings,
    }
}

#[derive(Template)]
#[template(path = "webmail/document.html")]
struct DocumentPage {
    tr: Tr,
    frame: Frame,
    back: String,
    pdf: Option<String>,
    shown: Shown,
    /// (title, safe HTML, depth)
    sections: Vec<(String, String, usize)>,
}

/// The document `d` of attachment `n`, read off the async workers.
async fn document(
    ctx: &Ctx,
    id: i64,
    uid: u32,
    n: usize,
    d: usize,
) -> Option<(Shown, confiance_mail::structured::Document)> {
    let Loaded { bytes, slot, .. } = load(ctx, id, uid).await?;
    let lang = ctx.lang();
    crate::off_workers(slot, move || {
        let message = MessageParser::default().parse(bytes.as_slice())?;
        let attached = structured::attached_at(&message, n)?;
        let shown = shown(std::slice::from_ref(&attached), lang)
            .into_iter()
            .find(|s| s.document == d)?;
        let doc = attached.read.ok()?.documents.into_iter().nth(d)?;
        Some((shown, doc))
    })
    .await
    .flatten()
}

/// `/webmail/message/{folder}/{uid}/document/{n}/{d}`: the viewer.
pub async fn page(ctx: Ctx, Path((id, uid, n, d)): Path<(i64, u32, usize, usize)>) -> Response {
    let Some((shown, doc)) = document(&ctx, id, uid, n, d).await else {
        return ctx.not_found().await;
    };
    let base = format!("/webmail/message/{id}/{uid}");
    let cda = doc.cda.unwrap_or_default();
    let pdf = cda
        .embedded
        .as_ref()
        .filter(|(media, _)| media == "application/pdf")
        .map(|_| format!("{base}/document/{n}/{d}/pdf"));
    let sections = cda
        .sections
        .into_iter()
        .map(|s| (s.title, s.html, s.depth.min(3)))
        .collect();
    let title = doc_title(&shown, &ctx);
    ctx.show_titled(&title, Some(id), |tr, frame, _| DocumentPage {
        tr,
        frame,
        back: base,
        pdf,
        shown,
        sections,
    })
    .await
}

fn doc_title(shown: &Shown, ctx: &Ctx) -> String {
    shown
        .kind
        .clone()
        .unwrap_or_else(|| Tr(ctx.lang()).text_of("segur.title").to_string())
}

/// `/webmail/message/{folder}/{uid}/document/{n}/{d}/pdf`: the PDF a level-1 CDA wraps, shown
/// in the viewer's frame with nothing active.
pub async fn pdf(ctx: Ctx, Path((id, uid, n, d)): Path<(i64, u32, usize, usize)>) -> Response {
    let found = document(&ctx, id, uid, n, d)
        .await
        .and_then(|(_, doc)| doc.cda?.embedded)
        .filter(|(media, bytes)| media == "application/pdf" && bytes.starts_with(b"%PDF-"));
    let Some((_, bytes)) = found else {
        return ctx.not_found().await;
    };
    let mut response = bytes.into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/pdf"));
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline; filename=\"document.pdf\""),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    ctx.respond(response).await
}
