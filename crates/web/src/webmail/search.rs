//! Search across every folder: sender, recipients, subject and dates through the summaries;
//! words of the text by reading the newest candidates' bodies.

use std::collections::HashMap;

use axum::extract::Query;
use axum::response::Response;
use chrono::NaiveDate;
use confiance_mail::model::SearchQuery;
use mail_parser::MessageParser;

use askama::Template;

use super::frame::Frame;
use super::list::Row;
use super::{Ctx, logged};
use crate::account::now;
use crate::i18n::Tr;

/// Results shown at most.
const SHOWN: usize = 100;
/// Messages whose text is read, at most, when words of the text are asked for.
const TEXT_SCAN: u32 = 2000;

fn day(value: Option<&String>) -> Option<i64> {
    let d = NaiveDate::parse_from_str(value?.trim(), "%Y-%m-%d").ok()?;
    Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp())
}

/// Lower-case without accents, so « resultat » finds « Résultat ».
fn fold(s: &str) -> String {
    confiance_directory::fold::fold(s)
}

pub async fn page(ctx: Ctx, Query(q): Query<HashMap<String, String>>) -> Response {
    let get = |k: &str| q.get(k).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let text = get("texte");
    let asked = ["de", "a", "objet", "texte", "du", "au"]
        .iter()
        .any(|k| get(k).is_some());
    let query = SearchQuery {
        from: get("de"),
        to: get("a"),
        subject: get("objet"),
        since: day(q.get("du")),
        // "au" is inclusive: up to the end of that day.
        before: day(q.get("au")).map(|d| d + 86_400),
        limit: if text.is_some() { TEXT_SCAN } else { SHOWN as u32 },
    };
    let account = ctx.account.id;
    let mut results = Vec::new();
    let mut scanned_all = true;
    if asked {
        // Messages stored before summaries existed are summarised first, so they can be found.
        // Normally none: `serve` does them all at start.
        if let Err(e) = ctx.mail.svc.summarise_account(account, 5000).await {
            tracing::warn!(account = account.0, "summaries before a search: {e}");
        }
        let Some(found) = logged(ctx.mail.svc.search(account, query).await) else {
            return ctx.store_failed().await;
        };
        scanned_all = found.len() < TEXT_SCAN as usize;
        match &text {
            None => results = found,
            Some(words) => {
                let words: Vec<String> = fold(words).split_whitespace().map(str::to_string).collect();
                for (mailbox, listed) in found {
                    if results.len() >= SHOWN {
                        break;
                    }
                    let mut haystack = listed
                        .summary
                        .as_ref()
                        .map(|s| format!("{} {} {} {}", s.from_name, s.from_address, s.recipients, s.subject))
                        .unwrap_or_default();
                    if let Ok(bytes) = ctx.mail.svc.read(&listed.meta.blob).await
                        && let Some(m) = MessageParser::default().parse(&bytes[..])
                    {
                        haystack.push(' ');
                        haystack.push_str(&m.body_text(0).unwrap_or_default());
                    }
                    let haystack = fold(&haystack);
                    if words.iter().all(|w| haystack.contains(w.as_str())) {
                        results.push((mailbox, listed));
                    }
                }
            }
        }
    }
    let mut listed: Vec<_> = results.iter().map(|(_, l)| l.clone()).collect();
    ctx.mail.svc.complete_summaries(&mut listed).await;
    let now = now();
    let rows = results
        .iter()
        .zip(&listed)
        .map(|((folder, _), listed)| Row::placed(&ctx, *folder, listed, now))
        .collect();
    let form = Form {
        text: get("texte").unwrap_or_default(),
        from: get("de").unwrap_or_default(),
        to: get("a").unwrap_or_default(),
        subject: get("objet").unwrap_or_default(),
        since: get("du").unwrap_or_default(),
        until: get("au").unwrap_or_default(),
    };
    let partial = text.is_some() && !scanned_all;
    ctx.show("search.title", None, |tr, frame, _| SearchPage {
        tr,
        frame,
        form,
        asked,
        partial,
        rows,
    })
    .await
}

/// What was asked, shown again in the form.
struct Form {
    text: String,
    from: String,
    to: String,
    subject: String,
    since: String,
    until: String,
}

#[derive(Template)]
#[template(path = "webmail/search.html")]
struct SearchPage {
    tr: Tr,
    frame: Frame,
    form: Form,
    asked: bool,
    /// Words of the text were looked for in the newest messages only.
    partial: bool,
    rows: Vec<Row>,
}
