//! Search across every folder: sender, recipients, subject and dates through the summaries;
//! words of the text by reading the newest candidates' bodies.

use std::collections::HashMap;

use axum::extract::Query;
use axum::response::Response;
use chrono::NaiveDate;
use confiance_mail::model::SearchQuery;
use mail_parser::MessageParser;

use super::frame::folder_name;
use super::list::row;
use super::{Ctx, logged};
use crate::account::now;
use crate::html::{escape, t};

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
    let lang = ctx.lang();
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
    let mut rows: Vec<_> = results.iter().map(|(_, l)| l.clone()).collect();
    ctx.mail.svc.complete_summaries(&mut rows).await;
    let now = now();
    let body: String = results
        .iter()
        .zip(&rows)
        .map(|((mailbox, _), listed)| {
            let place = ctx
                .folders
                .iter()
                .find(|f| f.id == *mailbox)
                .map(|f| folder_name(lang, f));
            row(
                lang,
                mailbox.0,
                listed,
                false,
                now,
                Some(place.as_deref().unwrap_or("")),
            )
        })
        .collect();
    let value = |k: &str| escape(&get(k).unwrap_or_default());
    let outcome = if !asked {
        String::new()
    } else if rows.is_empty() {
        format!(
            r#"<p class="empty" role="status">{}</p>"#,
            t(lang, "Aucun message trouvé.", "No message found.")
        )
    } else {
        let limit_note = if text.is_some() && !scanned_all {
            format!(
                r#"<p class="hint">{}</p>"#,
                t(
                    lang,
                    "Le texte n'a été cherché que dans les 2 000 messages les plus récents : précisez l'expéditeur ou les dates pour remonter plus loin.",
                    "The text was searched in the 2,000 most recent messages only: give the sender or dates to go further back."
                )
            )
        } else {
            String::new()
        };
        format!(
            r#"<p role="status">{count} {found}</p>{limit_note}<table class="messages"><caption class="sr">{caption}</caption><thead><tr><th scope="col"><span class="sr">{state}</span></th><th scope="col">{from}</th><th scope="col">{subject}</th><th scope="col">{folder}</th><th scope="col">{date}</th></tr></thead><tbody>{body}</tbody></table>"#,
            count = rows.len(),
            found = t(lang, "message(s) trouvé(s)", "message(s) found"),
            caption = t(lang, "Résultats", "Results"),
            state = t(lang, "État", "Status"),
            from = t(lang, "Expéditeur", "Sender"),
            subject = t(lang, "Objet", "Subject"),
            folder = t(lang, "Dossier", "Folder"),
            date = t(lang, "Date", "Date"),
        )
    };
    let main = format!(
        r#"<h1>{title}</h1>
<form method="get" action="/webmail/recherche" class="search-form">
<div class="field"><label for="s-texte">{text_l}</label><input id="s-texte" name="texte" type="text" value="{texte}"></div>
<div class="field"><label for="s-de">{from_l}</label><input id="s-de" name="de" type="text" value="{de}"></div>
<div class="field"><label for="s-a">{to_l}</label><input id="s-a" name="a" type="text" value="{a}"></div>
<div class="field"><label for="s-objet">{subject_l}</label><input id="s-objet" name="objet" type="text" value="{objet}"></div>
<div class="field"><label for="s-du">{since_l}</label><input id="s-du" name="du" type="date" value="{du}"></div>
<div class="field"><label for="s-au">{until_l}</label><input id="s-au" name="au" type="date" value="{au}"></div>
<p><button>{search}</button></p>
</form>
{outcome}"#,
        title = t(lang, "Rechercher", "Search"),
        text_l = t(
            lang,
            "Mots (objet, correspondants, texte)",
            "Words (subject, correspondents, text)"
        ),
        from_l = t(lang, "De", "From"),
        to_l = t(lang, "À", "To"),
        subject_l = t(lang, "Objet", "Subject"),
        since_l = t(lang, "Reçu à partir du", "Received from"),
        until_l = t(lang, "Reçu jusqu'au", "Received until"),
        search = t(lang, "Rechercher", "Search"),
        texte = value("texte"),
        de = value("de"),
        a = value("a"),
        objet = value("objet"),
        du = value("du"),
        au = value("au"),
    );
    let title = t(lang, "Rechercher", "Search");
    ctx.page(title, None, &main).await
}
