//! Reading a message: its header, its body (HTML made safe, or plain text), its attachments to
//! download or preview, and what to do with it. Opening a message marks it read.

use axum::extract::{Path, Query};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use mail_parser::{Message, MessageParser, MimeHeaders, PartType};

use askama::Template;

use super::frame::{Frame, folder_name, long_date, ordered};
use super::list::{Row, Subject};
use super::{Ctx, logged};
use crate::html::Lang;
use crate::i18n::Tr;

/// Keyword of a message whose read receipt was answered (sent or declined), RFC 3503.
pub const MDN_SENT: &str = "$MDNSent";

/// Types a browser may show in the page. Anything else, SVG included (it can carry script),
/// is only downloaded.
const PREVIEWABLE: &[&str] = &["application/pdf", "image/png", "image/jpeg", "image/gif", "image/webp"];

/// `type/subtype` of a part, lower-case.
pub fn mime_type(part: &mail_parser::MessagePart) -> String {
    part.content_type()
        .map(|c| match c.subtype() {
            Some(sub) => format!("{}/{}", c.ctype(), sub),
            None => c.ctype().to_string(),
        })
        .unwrap_or_else(|| "application/octet-stream".into())
        .to_ascii_lowercase()
}

/// The name to show and to save an attachment under.
pub fn file_name(part: &mail_parser::MessagePart, n: usize) -> String {
    let name = part.attachment_name().unwrap_or_default();
    // No path, no control characters: a name, not a place on the disk.
    let name: String = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .collect();
    if name.trim().is_empty() {
        // A message carried as an attachment (message/rfc822) opens in a mail program as .eml.
        match part.body {
            PartType::Message(_) => format!("message-joint-{}.eml", n + 1),
            _ => format!("piece-jointe-{}", n + 1),
        }
    } else {
        name.trim().to_string()
    }
}

/// A body shown as its text (`templates/webmail/text.html`).
#[derive(Template)]
#[template(path = "webmail/text.html")]
struct TextBody<'a> {
    tr: Tr,
    /// The HTML was too large or too deep to sanitise: a notice says so.
    too_complex: bool,
    text: &'a str,
}

/// A message carried inside another (`templates/webmail/carried.html`).
#[derive(Template)]
#[template(path = "webmail/carried.html")]
struct Carried<'a> {
    tr: Tr,
    from: Vec<(String, String)>,
    subject: &'a str,
    date: String,
    /// Made safe like any other body.
    body: String,
}

/// The message's body as safe HTML: sanitised HTML when the sender wrote HTML, else the text.
/// HTML too large or too deeply nested to sanitise in reasonable time is shown as its text,
/// with a notice. The second value says whether remote images were dropped.
pub fn body_html(message: &Message, lang: Lang) -> (String, bool) {
    let mut too_complex = false;
    if let Some(part) = message.html_part(0)
        && let PartType::Html(html) = &part.body
    {
        match super::sanitize::within_bounds(html) {
            true => return super::sanitize::clean(html),
            false => too_complex = true,
        }
    }
    let text = message.body_text(0).unwrap_or_default();
    let body = TextBody {
        tr: Tr(lang),
        too_complex,
        text: &text,
    };
    (body.render().unwrap_or_default(), false)
}

/// Messages inside a message shown in the page; the others are only attachments.
const MAX_SHOWN_INSIDE: usize = 5;

/// A message carried inside another (message/rfc822, RFC 2046 §5.2.1): its sender, subject
/// and date, then its body made safe like any other.
fn carried_html(inner: &Message, lang: Lang) -> String {
    let carried = Carried {
        tr: Tr(lang),
        from: confiance_mail::summary::addresses(inner.from()),
        subject: inner.subject().unwrap_or_default(),
        date: inner.date().map(|d| d.to_rfc822()).unwrap_or_default(),
        body: body_html(inner, lang).0,
    };
    carried.render().unwrap_or_default()
}

/// A message of the account, read while holding a heavy slot (see `crate::heavy_slot`): kept
/// until the caller is done parsing it.
pub(crate) struct Loaded {
    pub listed: confiance_mail::model::Listed,
    pub bytes: std::sync::Arc<Vec<u8>>,
    pub slot: tokio::sync::OwnedSemaphorePermit,
}

/// A message of the account: its listing and bytes.
pub(crate) async fn load(ctx: &Ctx, folder: i64, uid: u32) -> Option<Loaded> {
    let mailbox = ctx.folder(folder)?.id;
    let listed = logged(ctx.mail.svc.listed(mailbox, uid).await).flatten()?;
    let slot = crate::heavy_slot().await;
    let bytes = ctx.mail.svc.read(&listed.meta.blob).await.ok()?;
    tracing::debug!(target: "audit", event = "read", protocol = "web", bal = %ctx.account.address, actor = ctx.actor(),
        folder = folder, uid, size = listed.meta.size);
    Some(Loaded { listed, bytes, slot })
}

/// What the page shows of a message, made off the async workers: the parse and the sanitiser
/// take time in proportion to the message.
struct View {
    from: Vec<(String, String)>,
    to: Vec<(String, String)>,
    cc: Vec<(String, String)>,
    /// Blind copies, which only the sender's own copy names.
    bcc: Vec<(String, String)>,
    subject: String,
    body: String,
    remote_dropped: bool,
    /// Name, type and size of each attachment.
    attachments: Vec<(String, String, usize)>,
    /// What the structured attachments (Ségur) hold.
    documents: Vec<super::documents::Shown>,
    /// The message closes an exchange with a patient (`X-MSS-MES: FIN`, `[FIN]`).
    closed: bool,
    /// A delivery or read report: (recipient, what it says), in plain words.
    reports: Vec<(String, String)>,
}

impl View {
    fn of(bytes: &[u8], lang: Lang) -> Option<View> {
        let message = MessageParser::default().parse(bytes)?;
        let documents = super::documents::shown(&confiance_mail::structured::attached(&message), lang);
        let closed = confiance_core::patient::closes_exchange(
            message.header("X-MSS-MES").and_then(|h| h.as_text()),
            message.subject().unwrap_or_default(),
        );
        let (mut body, remote_dropped) = body_html(&message, lang);
        // Messages carried inside (a forward as attachment, a report's returned message) are
        // shown below the body, one level deep, the first few.
        for inner in message
            .attachments()
            .filter_map(|p| match &p.body {
                PartType::Message(inner) => Some(inner),
                _ => None,
            })
            .take(MAX_SHOWN_INSIDE)
        {
            body.push_str(&carried_html(inner, lang));
        }
        Some(View {
            from: confiance_mail::summary::addresses(message.from()),
            to: confiance_mail::summary::addresses(message.to()),
            cc: confiance_mail::summary::addresses(message.cc()),
            bcc: confiance_mail::summary::addresses(message.bcc()),
            subject: message.subject().unwrap_or_default().to_string(),
            body,
            remote_dropped,
            attachments: message
                .attachments()
                .enumerate()
                .map(|(n, part)| (file_name(part, n), mime_type(part), part.contents().len()))
                .collect(),
            documents,
            closed,
            reports: confiance_mail::reports::read(bytes)
                .iter()
                .map(|r| (r.recipient.clone(), super::timeline::report_text(Tr(lang), &r.kind)))
                .collect(),
        })
    }
}

/// The other messages of this one's conversation (its thread by `References:`, else the same
/// subject without reply prefixes, RFC 5256), in every folder, newest first: what was sent and
/// received on it.
async fn conversation(ctx: &Ctx, thread: &str, subject: &str, folder: i64, uid: u32) -> Vec<Row> {
    const SHOWN: u32 = 20;
    let found = logged(
        ctx.mail
            .svc
            .conversation(ctx.account.id, thread.to_string(), subject.to_string(), SHOWN + 1)
            .await,
    )
    .unwrap_or_default();
    let now = crate::account::now();
    found
        .iter()
        .filter(|(f, l)| !(f.0 == folder && l.meta.uid == uid))
        .take(SHOWN as usize)
        .map(|(f, listed)| Row::placed(ctx, *f, listed, now))
        .collect()
}

/// `/webmail/message/{folder}/{uid}`.
pub async fn page(ctx: Ctx, Path((id, uid)): Path<(i64, u32)>) -> Response {
    let Some(Loaded { listed, bytes, slot }) = load(&ctx, id, uid).await else {
        return ctx.not_found().await;
    };
    let lang = ctx.lang();
    let folder = ctx.folder(id).cloned().expect("loaded from this folder");
    let seen = listed.meta.flags.iter().any(|f| f == "\\Seen");
    if !seen {
        logged(
            ctx.mail
                .svc
                .flag_one(ctx.account.id, folder.id, uid, "\\Seen", true)
                .await,
        );
    }
    let view = crate::off_workers(slot, move || View::of(&bytes, lang)).await.flatten();
    let Some(View {
        from,
        to,
        cc,
        bcc,
        subject,
        body,
        remote_dropped,
        attachments: parts,
        documents,
        closed,
        reports,
    }) = view
    else {
        let msg = Tr(lang).text_of("message.unreadable");
        return ctx.fail(StatusCode::UNPROCESSABLE_ENTITY, msg).await;
    };
    let summary = listed.summary.clone().unwrap_or_default();
    // A patient writing from Mon Espace Santé: their INS is the address's local part.
    let patients = &ctx.mail.smtp.patients;
    let patient = from
        .first()
        .map(|(_, address)| address.as_str())
        .filter(|a| patients.is_patient(a) && !patients.is_service(a))
        .and_then(|a| a.split_once('@'))
        .map(|(ins, _)| ins.to_string());
    let attachments = parts
        .into_iter()
        .map(|(name, kind, size)| Attachment {
            xdm: name.eq_ignore_ascii_case(confiance_mail::summary::XDM_ARCHIVE),
            preview: PREVIEWABLE.contains(&kind.as_str()),
            pdf: kind == "application/pdf",
            size: super::frame::human_size(size as u64, lang),
            name,
        })
        .collect();
    // RFC 8098: a receipt is only sent when the professional agrees (Réf. #2 ECO.3.1.6);
    // never asked for one's own messages (their Sent and Drafts copies carry the request).
    let own = matches!(folder.special_use.as_deref(), Some("\\Sent" | "\\Drafts"))
        || summary
            .receipt_to
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case(&ctx.account.address));
    let answered = listed.meta.flags.iter().any(|f| f == MDN_SENT);
    let receipt_to = summary.receipt_to.clone().filter(|_| !answered && !own);
    let shown = Subject::of(&subject, summary.xdm);
    let title = match subject.trim().is_empty() {
        true => Tr(lang).text_of("row.no-subject").to_string(),
        false => shown.text.clone(),
    };
    let destinations = ordered(&ctx.folders)
        .into_iter()
        .filter(|f| f.id.0 != id)
        .map(|f| (f.id.0, folder_name(lang, f)))
        .collect();
    let conversation = conversation(&ctx, &summary.thread, &subject, id, uid).await;
    let sent = folder.special_use.as_deref() == Some("\\Sent") && ctx.mail.journal.is_some();
    // Without a Trash folder, or in it, deleting is for good (see `actions::message`).
    let for_good = ctx.special("\\Trash").is_none_or(|trash| trash.id == folder.id);
    ctx.show_titled(&title, Some(id), |tr, frame, _| MessagePage {
        tr,
        frame,
        folder: id,
        uid,
        base: format!("/webmail/message/{id}/{uid}"),
        back: folder_name(lang, &folder),
        subject: shown,
        from,
        to,
        cc,
        bcc,
        date: long_date(listed.meta.internal_date, listed.meta.internal_tz_minutes),
        flagged: listed.meta.flags.iter().any(|f| f == "\\Flagged"),
        destinations,
        for_good,
        receipt_to,
        remote_dropped,
        body,
        attachments,
        documents,
        patient,
        closed,
        sent,
        reports,
        conversation,
    })
    .await
}

/// An attachment as the page lists it.
struct Attachment {
    name: String,
    size: String,
    /// The IHE XDM archive of a structured document (Réf. #2 ECO.2.1.1).
    xdm: bool,
    /// Shown in the page too: a PDF in a frame, an image as an image.
    preview: bool,
    pdf: bool,
}

#[derive(Template)]
#[template(path = "webmail/message.html")]
struct MessagePage {
    tr: Tr,
    frame: Frame,
    folder: i64,
    uid: u32,
    base: String,
    back: String,
    subject: Subject,
    from: Vec<(String, String)>,
    to: Vec<(String, String)>,
    cc: Vec<(String, String)>,
    bcc: Vec<(String, String)>,
    /// The conversation's other messages.
    conversation: Vec<Row>,
    date: String,
    flagged: bool,
    /// The other folders a message may move to.
    destinations: Vec<(i64, String)>,
    for_good: bool,
    /// Who asks for a read receipt, when it may still be sent.
    receipt_to: Option<String>,
    remote_dropped: bool,
    /// Sanitised HTML (see `sanitize`).
    body: String,
    attachments: Vec<Attachment>,
    documents: Vec<super::documents::Shown>,
    /// The sender's INS, when a patient wrote.
    patient: Option<String>,
    closed: bool,
    /// In Sent: the timeline of the sending can be shown.
    sent: bool,
    reports: Vec<(String, String)>,
}

/// `/webmail/message/{folder}/{uid}/piece/{n}[?apercu=1]`: an attachment, downloaded, or shown
/// in the page for the types a browser renders safely.
pub async fn attachment(
    ctx: Ctx,
    Path((id, uid, n)): Path<(i64, u32, usize)>,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    let Some(Loaded { bytes, slot, .. }) = load(&ctx, id, uid).await else {
        return ctx.not_found().await;
    };
    let found = crate::off_workers(slot, move || {
        let message = MessageParser::default().parse(bytes.as_slice())?;
        let part = message.attachments().nth(n)?;
        Some((file_name(part, n), mime_type(part), part.contents().to_vec()))
    })
    .await
    .flatten();
    let Some((name, kind, contents)) = found else {
        return ctx.not_found().await;
    };
    let inline = q.contains_key("apercu") && PREVIEWABLE.contains(&kind.as_str());
    let mut response = contents.into_response();
    let h = response.headers_mut();
    let shown_as = if inline {
        kind.as_str()
    } else {
        "application/octet-stream"
    };
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(shown_as).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    // RFC 6266 with RFC 8187 for the UTF-8 name, plus an ASCII fallback.
    let ascii: String = name
        .chars()
        .map(|c| if c.is_ascii() && c != '\\' { c } else { '_' })
        .collect();
    let disposition = format!(
        "{}; filename=\"{ascii}\"; filename*=UTF-8''{}",
        if inline { "inline" } else { "attachment" },
        crate::html::url_value(&name).replace('+', "%20")
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    if inline {
        // Shown inside the message page only, with nothing active.
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'self'",
            ),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("SAMEORIGIN"));
    }
    ctx.respond(response).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_carried_inside_is_shown_not_left_empty() {
        // The whole message is another message (a forward as attachment): once shown empty.
        let only = b"From: a@b.fr\r\nSubject: transfert\r\nContent-Type: message/rfc822\r\n\r\n\
From: Dr Dupont <c@d.fr>\r\nSubject: Compte rendu\r\n\r\nCorps du message joint\r\n";
        let view = View::of(only, Lang::Fr).unwrap();
        assert!(view.body.contains("Message joint"), "{}", view.body);
        assert!(view.body.contains("Corps du message joint") && view.body.contains("Compte rendu"));
        assert_eq!(view.attachments[0].0, "message-joint-1.eml");
        // Beside a text, and with HTML inside: cleaned like any body.
        let mixed = b"From: a@b.fr\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\
Content-Type: text/plain\r\n\r\nVoir ci-joint\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n\
From: c@d.fr\r\nContent-Type: text/html\r\n\r\n<p>Interne</p><script>alert(1)</script>\r\n--x--\r\n";
        let view = View::of(mixed, Lang::En).unwrap();
        assert!(view.body.contains("Voir ci-joint") && view.body.contains("Attached message"));
        assert!(
            view.body.contains("Interne") && !view.body.contains("<script"),
            "{}",
            view.body
        );
    }
}
