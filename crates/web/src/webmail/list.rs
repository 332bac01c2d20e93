//! A folder's messages, 25 to a page, newest first by default; sorted by date, sender or
//! subject; filtered to unread, flagged or with attachments.

use std::collections::HashMap;

use axum::extract::{Path, Query};
use axum::response::Response;
use confiance_mail::model::{ListQuery, Listed, MessageSummary, SortKey};

use super::frame::{folder_name, short_date};
use super::{Ctx, logged};
use crate::account::{now, see_other};
use crate::html::{Lang, escape, t};

pub const PAGE_SIZE: u32 = 25;

/// `/webmail`: the inbox.
pub async fn home(ctx: Ctx) -> Response {
    // Several BALs and none chosen yet: the chooser first.
    if ctx.choices.len() > 1 && ctx.session.data.mailbox.is_none() {
        return ctx.respond(see_other("/webmail/bal")).await;
    }
    let to = ctx
        .inbox()
        .map_or("/compte".to_string(), |f| format!("/webmail/dossier/{}", f.id.0));
    ctx.respond(see_other(&to)).await
}

/// The list's state, as its links carry it.
struct View {
    page: u32,
    sort: SortKey,
    ascending: bool,
    filter: Option<&'static str>,
}

impl View {
    fn parse(q: &HashMap<String, String>) -> View {
        let sort = match q.get("tri").map(String::as_str) {
            Some("expediteur") => SortKey::Sender,
            Some("objet") => SortKey::Subject,
            _ => SortKey::Date,
        };
        // Dates newest first, names and subjects A to Z, unless asked otherwise.
        let ascending = match q.get("ordre").map(String::as_str) {
            Some("asc") => true,
            Some("desc") => false,
            _ => sort != SortKey::Date,
        };
        let filter = match q.get("filtre").map(String::as_str) {
            Some("nonlus") => Some("nonlus"),
            Some("suivis") => Some("suivis"),
            Some("pj") => Some("pj"),
            _ => None,
        };
        let page = q.get("page").and_then(|p| p.parse().ok()).unwrap_or(1).max(1);
        View {
            page,
            sort,
            ascending,
            filter,
        }
    }

    fn sort_name(sort: SortKey) -> &'static str {
        match sort {
            SortKey::Date => "date",
            SortKey::Sender => "expediteur",
            SortKey::Subject => "objet",
        }
    }

    /// The query string of this view with some parts changed.
    fn link(&self, folder: i64, page: u32, sort: SortKey, ascending: bool, filter: Option<&str>) -> String {
        let mut q = format!(
            "/webmail/dossier/{folder}?tri={}&amp;ordre={}",
            Self::sort_name(sort),
            if ascending { "asc" } else { "desc" }
        );
        if let Some(f) = filter {
            q.push_str(&format!("&amp;filtre={f}"));
        }
        if page > 1 {
            q.push_str(&format!("&amp;page={page}"));
        }
        q
    }
}

/// The subject as a person reads it: the MSSanté structured-document prefix becomes a label
/// (Réf. #2 ECO.3.1.3 hides `XDM/1.0/DDM+`).
pub fn subject_html(lang: Lang, subject: &str, xdm: bool) -> String {
    let (structured, rest) = match subject.strip_prefix("XDM/1.0/DDM+") {
        Some(rest) => (true, rest),
        None => (xdm, subject),
    };
    let rest = if rest.trim().is_empty() {
        t(lang, "(sans objet)", "(no subject)").to_string()
    } else {
        escape(rest)
    };
    if structured {
        format!(
            r#"<span class="label">{}</span> {rest}"#,
            t(lang, "Document structuré", "Structured document")
        )
    } else {
        rest
    }
}

/// One row of a list: status, correspondent, subject (the link), date.
pub fn row(
    lang: Lang,
    folder: i64,
    row: &Listed,
    show_recipients: bool,
    now: i64,
    folder_label: Option<&str>,
) -> String {
    let empty = MessageSummary::default();
    let s = row.summary.as_ref().unwrap_or(&empty);
    let unread = !row.meta.flags.iter().any(|f| f == "\\Seen");
    let flagged = row.meta.flags.iter().any(|f| f == "\\Flagged");
    let who = if show_recipients {
        s.recipients.clone()
    } else if s.from_name.is_empty() {
        s.from_address.clone()
    } else {
        s.from_name.clone()
    };
    let mut status = String::new();
    if unread {
        status.push_str(&format!(
            r#"<span class="dot" title="{0}"><span class="sr">{0}</span></span>"#,
            t(lang, "Non lu", "Unread")
        ));
    }
    if flagged {
        status.push_str(&format!(
            r#"<span class="flag" title="{0}"><svg aria-hidden="true" width="12" height="14" viewBox="0 0 12 14"><path d="M2 13V1h8l-2 3 2 3H2" fill="currentColor"/></svg><span class="sr">{0}</span></span>"#,
            t(lang, "Suivi", "Flagged")
        ));
    }
    if s.attachments > 0 {
        status.push_str(&format!(
            r#"<span class="clip" title="{0}"><svg aria-hidden="true" width="12" height="14" viewBox="0 0 12 14"><path d="M8 3v7a2 2 0 0 1-4 0V3a1.3 1.3 0 0 1 2.6 0v6.5" fill="none" stroke="currentColor" stroke-width="1.3"/></svg><span class="sr">{0}</span></span>"#,
            t(lang, "Pièce jointe", "Attachment")
        ));
    }
    let place = folder_label
        .map(|l| format!(r#"<td>{}</td>"#, escape(l)))
        .unwrap_or_default();
    format!(
        r#"<tr{cls}><td class="status">{status}</td><td class="who">{who}</td><td><a class="subject" href="/webmail/message/{folder}/{uid}">{subject}</a></td>{place}<td class="date">{date}</td></tr>"#,
        cls = if unread { r#" class="unread""# } else { "" },
        who = escape(&who),
        uid = row.meta.uid,
        subject = subject_html(lang, &s.subject, s.xdm),
        date = short_date(row.meta.internal_date, row.meta.internal_tz_minutes, now),
    )
}

/// `/webmail/dossier/{id}`.
pub async fn page(ctx: Ctx, Path(id): Path<i64>, Query(q): Query<HashMap<String, String>>) -> Response {
    let Some(folder) = ctx.folder(id).cloned() else {
        return ctx.not_found().await;
    };
    let lang = ctx.lang();
    let view = View::parse(&q);
    let query = ListQuery {
        sort: view.sort,
        ascending: view.ascending,
        unread_only: view.filter == Some("nonlus"),
        flagged_only: view.filter == Some("suivis"),
        attachments_only: view.filter == Some("pj"),
        offset: (view.page - 1).saturating_mul(PAGE_SIZE),
        limit: PAGE_SIZE,
    };
    let Some((total, rows)) = logged(ctx.mail.svc.list(folder.id, query).await) else {
        return ctx.store_failed().await;
    };
    let pages = total.div_ceil(PAGE_SIZE as u64).max(1) as u32;
    let sent_like = matches!(folder.special_use.as_deref(), Some("\\Sent" | "\\Drafts"));
    let name = folder_name(lang, &folder);
    let now = now();
    let body: String = rows.iter().map(|r| row(lang, id, r, sent_like, now, None)).collect();

    // Column headers sort; the current one says its direction (aria-sort).
    let header = |key: SortKey, label: &str| {
        let current = view.sort == key;
        let ascending = if current { !view.ascending } else { key != SortKey::Date };
        let aria = match (current, view.ascending) {
            (false, _) => String::new(),
            (true, true) => r#" aria-sort="ascending""#.into(),
            (true, false) => r#" aria-sort="descending""#.into(),
        };
        let arrow = match (current, view.ascending) {
            (false, _) => "",
            (true, true) => " ▲",
            (true, false) => " ▼",
        };
        format!(
            r#"<th scope="col"{aria}><a href="{}">{label}{arrow}</a></th>"#,
            view.link(id, 1, key, ascending, view.filter)
        )
    };
    let who_label = if sent_like {
        t(lang, "Destinataires", "Recipients")
    } else {
        t(lang, "Expéditeur", "Sender")
    };
    let filters: String = [
        (None, t(lang, "Tous", "All")),
        (Some("nonlus"), t(lang, "Non lus", "Unread")),
        (Some("suivis"), t(lang, "Suivis", "Flagged")),
        (Some("pj"), t(lang, "Avec pièces jointes", "With attachments")),
    ]
    .iter()
    .map(|(f, label)| {
        let here = if view.filter == *f {
            r#" aria-current="true""#
        } else {
            ""
        };
        format!(
            r#"<li><a href="{}"{here}>{label}</a></li>"#,
            view.link(id, 1, view.sort, view.ascending, *f)
        )
    })
    .collect();
    let table = if rows.is_empty() {
        format!(
            r#"<p class="empty">{}</p>"#,
            t(lang, "Aucun message ici.", "No messages here.")
        )
    } else {
        format!(
            r#"<table class="messages"><caption class="sr">{caption}</caption><thead><tr><th scope="col"><span class="sr">{state}</span></th>{who}{subject}{date}</tr></thead><tbody>{body}</tbody></table>"#,
            caption = escape(&name),
            state = t(lang, "État", "Status"),
            who = header(SortKey::Sender, who_label),
            subject = header(SortKey::Subject, t(lang, "Objet", "Subject")),
            date = header(SortKey::Date, t(lang, "Date", "Date")),
        )
    };
    let mut pager = String::new();
    if view.page > 1 {
        pager.push_str(&format!(
            r#"<a href="{}" rel="prev" data-key="p">{}</a> "#,
            view.link(id, view.page - 1, view.sort, view.ascending, view.filter),
            t(lang, "← Page précédente", "← Previous page")
        ));
    }
    pager.push_str(&format!(
        "<span>{} {} {} {pages}</span>",
        t(lang, "Page", "Page"),
        view.page.min(pages),
        t(lang, "sur", "of")
    ));
    if view.page < pages {
        pager.push_str(&format!(
            r#" <a href="{}" rel="next" data-key="n">{}</a>"#,
            view.link(id, view.page + 1, view.sort, view.ascending, view.filter),
            t(lang, "Page suivante →", "Next page →")
        ));
    }
    let main = format!(
        r#"<h1>{title} <span class="count">({count})</span></h1>
<nav aria-label="{filter_label}"><ul class="filters">{filters}</ul></nav>
<div id="liste" data-folder="{id}">{table}</div>
<nav class="pager" aria-label="{pages_label}">{pager}</nav>"#,
        title = escape(&name),
        // « (1 message) », « (0 message) » in French, "(0 messages)" in English.
        count = crate::i18n::Tr(lang).n("count.messages", total).0,
        filter_label = t(lang, "Filtrer", "Filter"),
        pages_label = t(lang, "Pages", "Pages"),
    );
    ctx.page(&name, Some(id), &main).await
}
