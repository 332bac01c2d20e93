//! A folder's messages, 25 to a page, newest first by default; sorted by date, sender or
//! subject; filtered to unread, flagged or with attachments.

use std::collections::HashMap;

use axum::extract::{Path, Query};
use axum::response::Response;
use confiance_mail::model::{ListQuery, Listed, MessageSummary, SortKey};

use askama::Template;

use super::frame::{Frame, folder_name, short_date};
use super::{Ctx, logged};
use crate::account::{now, see_other};
use crate::i18n::Tr;

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
            "/webmail/dossier/{folder}?tri={}&ordre={}",
            Self::sort_name(sort),
            if ascending { "asc" } else { "desc" }
        );
        if let Some(f) = filter {
            q.push_str(&format!("&filtre={f}"));
        }
        if page > 1 {
            q.push_str(&format!("&page={page}"));
        }
        q
    }
}

/// A subject as a person reads it: the MSSanté structured-document prefix becomes a label
/// (Réf. #2 ECO.3.1.3 hides `XDM/1.0/DDM+`); an empty one reads « (sans objet) ».
pub struct Subject {
    pub structured: bool,
    pub text: String,
}

impl Subject {
    pub fn of(subject: &str, xdm: bool) -> Subject {
        match subject.strip_prefix(confiance_segur::SUBJECT_PREFIX) {
            Some(rest) => Subject {
                structured: true,
                text: rest.to_string(),
            },
            None => Subject {
                structured: xdm,
                text: subject.to_string(),
            },
        }
    }
}

/// One row of a list (`templates/webmail/row.html`): status, correspondent, subject (the
/// link), the folder in a search, date.
pub struct Row {
    pub folder: i64,
    pub uid: u32,
    pub unread: bool,
    pub flagged: bool,
    pub attachment: bool,
    pub who: String,
    pub subject: Subject,
    /// The start of the text, under the subject.
    pub snippet: String,
    pub place: Option<String>,
    pub date: String,
    /// A folder's rows may be ticked for an action on several; a search's span folders.
    pub pick: bool,
}

impl Row {
    /// A row of a list that spans folders (a search, a conversation): its folder named in
    /// the reader's language, and no box to tick.
    pub fn placed(ctx: &Ctx, folder: confiance_mail::model::FolderId, row: &Listed, now: i64) -> Row {
        let place = ctx
            .folders
            .iter()
            .find(|f| f.id == folder)
            .map(|f| folder_name(ctx.lang(), f));
        Row::of(folder.0, row, false, now, Some(place.unwrap_or_default()))
    }

    pub fn of(folder: i64, row: &Listed, show_recipients: bool, now: i64, place: Option<String>) -> Row {
        let empty = MessageSummary::default();
        let s = row.summary.as_ref().unwrap_or(&empty);
        let who = if show_recipients {
            s.recipients.clone()
        } else if s.from_name.is_empty() {
            s.from_address.clone()
        } else {
            s.from_name.clone()
        };
        Row {
            folder,
            uid: row.meta.uid,
            unread: !row.meta.flags.iter().any(|f| f == "\\Seen"),
            flagged: row.meta.flags.iter().any(|f| f == "\\Flagged"),
            attachment: s.attachments > 0,
            who,
            subject: Subject::of(&s.subject, s.xdm),
            snippet: s.snippet.clone(),
            pick: place.is_none(),
            place,
            date: short_date(row.meta.internal_date, row.meta.internal_tz_minutes, now),
        }
    }
}

/// A column header that sorts; the current one says its direction (aria-sort).
struct Header {
    label: &'static str,
    href: String,
    aria_sort: Option<&'static str>,
    arrow: &'static str,
}

struct Filter {
    label: &'static str,
    href: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "webmail/list.html")]
struct ListPage {
    tr: Tr,
    frame: Frame,
    name: String,
    folder: i64,
    total: u64,
    filters: Vec<Filter>,
    headers: Vec<Header>,
    rows: Vec<Row>,
    page: u32,
    pages: u32,
    previous: Option<String>,
    next: Option<String>,
    /// This page's address, where an action on ticked messages comes back to.
    here: String,
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
    let Some((total, listed)) = logged(ctx.mail.svc.list(folder.id, query).await) else {
        return ctx.store_failed().await;
    };
    let pages = total.div_ceil(PAGE_SIZE as u64).max(1) as u32;
    let sent_like = matches!(folder.special_use.as_deref(), Some("\\Sent" | "\\Drafts"));
    let now = now();
    let rows = listed.iter().map(|r| Row::of(id, r, sent_like, now, None)).collect();
    let header = |key: SortKey, label: &'static str| {
        let current = view.sort == key;
        let ascending = if current { !view.ascending } else { key != SortKey::Date };
        let (aria_sort, arrow) = match (current, view.ascending) {
            (false, _) => (None, ""),
            (true, true) => (Some("ascending"), " ▲"),
            (true, false) => (Some("descending"), " ▼"),
        };
        Header {
            label,
            href: view.link(id, 1, key, ascending, view.filter),
            aria_sort,
            arrow,
        }
    };
    let who = if sent_like { "list.recipients" } else { "list.sender" };
    let headers = vec![
        header(SortKey::Sender, who),
        header(SortKey::Subject, "list.subject"),
        header(SortKey::Date, "list.date"),
    ];
    let filters = [
        (None, "list.all"),
        (Some("nonlus"), "list.unread"),
        (Some("suivis"), "list.flagged"),
        (Some("pj"), "list.attachments"),
    ]
    .into_iter()
    .map(|(f, label)| Filter {
        label,
        href: view.link(id, 1, view.sort, view.ascending, f),
        current: view.filter == f,
    })
    .collect();
    let previous = (view.page > 1).then(|| view.link(id, view.page - 1, view.sort, view.ascending, view.filter));
    let next = (view.page < pages).then(|| view.link(id, view.page + 1, view.sort, view.ascending, view.filter));
    let name = folder_name(lang, &folder);
    let here = view.link(id, view.page, view.sort, view.ascending, view.filter);
    ctx.show_titled(&name.clone(), Some(id), |tr, frame, _| ListPage {
        here,
        tr,
        frame,
        name,
        folder: id,
        total,
        filters,
        headers,
        rows,
        page: view.page.min(pages),
        pages,
        previous,
        next,
    })
    .await
}
