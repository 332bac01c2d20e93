//! The frame of every webmail page: a skip link, the header (search, write, settings, language,
//! logout), the folders with their unread counts, then the page. The stylesheet and script are
//! served from the binary and cached by the browser.

use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{FixedOffset, TimeZone};
use confiance_mail::model::{Folder, FolderCount};

use super::Ctx;
use crate::account::layout::csrf;
use crate::html::{Lang, escape, t};

const CSS: &str = include_str!("app.css");
const JS: &str = include_str!("app.js");

/// A digest of the stylesheet and script, in their URLs: a new build gets new URLs, so the
/// browser may keep an asset as long as it likes.
fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        use sha2::Digest;
        let digest = sha2::Sha256::new().chain_update(CSS).chain_update(JS).finalize();
        hex::encode(&digest[..6])
    })
}

fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    r
}

pub async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

pub async fn js() -> Response {
    asset(JS, "text/javascript; charset=utf-8")
}

/// A folder's name for people: the special folders in the page's language.
pub fn folder_name(lang: Lang, folder: &Folder) -> String {
    let special = match (folder.name.as_str(), folder.special_use.as_deref()) {
        ("INBOX", _) => Some(t(lang, "Boîte de réception", "Inbox")),
        (_, Some("\\Sent")) => Some(t(lang, "Envoyés", "Sent")),
        (_, Some("\\Drafts")) => Some(t(lang, "Brouillons", "Drafts")),
        (_, Some("\\Trash")) => Some(t(lang, "Corbeille", "Trash")),
        (_, Some("\\Junk")) => Some(t(lang, "Indésirables", "Junk")),
        _ => None,
    };
    special.map_or_else(|| folder.name.clone(), str::to_string)
}

/// Inbox, drafts, sent, junk, trash, then the professional's own folders by name.
pub fn ordered(folders: &[Folder]) -> Vec<&Folder> {
    let rank = |f: &Folder| match (f.name.as_str(), f.special_use.as_deref()) {
        ("INBOX", _) => 0,
        (_, Some("\\Drafts")) => 1,
        (_, Some("\\Sent")) => 2,
        (_, Some("\\Junk")) => 3,
        (_, Some("\\Trash")) => 4,
        _ => 5,
    };
    let mut out: Vec<&Folder> = folders.iter().collect();
    out.sort_by_key(|f| (rank(f), f.name.to_lowercase()));
    out
}

/// A date as a list shows it: the time today, the day otherwise; in the sender's offset.
/// The sender's UTC offset (UTC when out of range).
fn offset(tz_minutes: i32) -> FixedOffset {
    FixedOffset::east_opt(tz_minutes * 60).unwrap_or(FixedOffset::east_opt(0).expect("UTC"))
}

pub fn short_date(seconds: i64, tz_minutes: i32, now: i64) -> String {
    let offset = offset(tz_minutes);
    let Some(when) = offset.timestamp_opt(seconds, 0).single() else {
        return String::new();
    };
    let today = offset.timestamp_opt(now, 0).single().map(|n| n.date_naive());
    if Some(when.date_naive()) == today {
        when.format("%H:%M").to_string()
    } else {
        when.format("%d/%m/%Y").to_string()
    }
}

pub fn long_date(seconds: i64, tz_minutes: i32) -> String {
    offset(tz_minutes)
        .timestamp_opt(seconds, 0)
        .single()
        .map(|d| d.format("%d/%m/%Y %H:%M").to_string())
        .unwrap_or_default()
}

/// The folder list with unread counts; `current` is marked for screen readers.
fn folder_nav(ctx: &Ctx, counts: &[FolderCount], current: Option<i64>) -> String {
    let lang = ctx.lang();
    let mut items = String::new();
    for f in ordered(&ctx.folders) {
        let unseen = counts.iter().find(|c| c.mailbox == f.id).map_or(0, |c| c.unseen);
        let badge = if unseen > 0 {
            format!(
                r#" <span class="badge">{unseen}<span class="sr"> {}</span></span>"#,
                t(lang, "non lus", "unread")
            )
        } else {
            String::new()
        };
        let here = if current == Some(f.id.0) {
            r#" aria-current="page""#
        } else {
            ""
        };
        items.push_str(&format!(
            r#"<li><a href="/webmail/dossier/{}"{here}>{}{badge}</a></li>"#,
            f.id.0,
            escape(&folder_name(lang, f))
        ));
    }
    format!(
        r#"<nav id="dossiers" aria-label="{}"><ul>{items}</ul><p><a href="/webmail/dossiers">{}</a></p></nav>"#,
        t(lang, "Dossiers", "Folders"),
        t(lang, "Gérer les dossiers", "Manage folders"),
    )
}

/// A whole webmail page. `flash` is plain text; `main` is HTML.
pub fn page(ctx: &mut Ctx, title: &str, counts: &[FolderCount], current: Option<i64>, main: &str) -> Html<String> {
    let lang = ctx.lang();
    let (html_lang, other, other_label) = match lang {
        Lang::Fr => ("fr", "en", "English"),
        Lang::En => ("en", "fr", "Français"),
    };
    // Shown once.
    let flash = ctx
        .session
        .data
        .flash
        .take()
        .map(|f| format!(r#"<p class="flash" role="status">{}</p>"#, escape(&f)))
        .unwrap_or_default();
    let alert = ctx
        .session
        .data
        .alert
        .take()
        .map(|a| format!(r#"<p class="error" role="alert">{}</p>"#, escape(&a)))
        .unwrap_or_default();
    Html(format!(
        r##"<!doctype html>
<html lang="{html_lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — Confiance MSSanté</title>
<link rel="stylesheet" href="/webmail/app.css?v={version}">
<script type="module" src="/webmail/app.js?v={version}"></script>
</head>
<body data-csrf="{csrf_value}">
<a class="skip" href="#contenu">{skip}</a>
<header class="bar">
<a class="brand" href="/webmail">Confiance</a>
<form role="search" action="/webmail/recherche" class="quick"><label class="sr" for="q">{search}</label><input id="q" name="texte" type="search" placeholder="{search}" data-key="/"></form>
<a class="button" href="/webmail/ecrire" data-key="c">{write}</a>
{address}
<a href="/webmail/reglages">{settings}</a>
<a href="?lang={other}" lang="{other}">{other_label}</a>
<form method="post" action="/deconnexion" class="inline">{csrf}<button class="link">{logout}</button></form>
</header>
<div class="layout">
{nav}
<main id="contenu" tabindex="-1">
<p id="annonce" class="sr" role="status" aria-live="polite"></p>
{alert}{flash}{main}
</main>
</div>
</body>
</html>"##,
        title = escape(title),
        version = version(),
        csrf_value = escape(&ctx.session.data.csrf),
        csrf = csrf(&ctx.session.data.csrf),
        skip = t(lang, "Aller au contenu", "Skip to content"),
        search = t(lang, "Rechercher dans les messages", "Search messages"),
        write = t(lang, "Écrire", "Write"),
        address = if ctx.choices.len() > 1 {
            format!(
                r#"<a class="who" href="/webmail/bal" title="{}">{}</a>"#,
                t(lang, "Changer de BAL", "Switch mailbox"),
                escape(&ctx.account.address)
            )
        } else {
            format!(r#"<span class="who">{}</span>"#, escape(&ctx.account.address))
        },
        settings = t(lang, "Réglages", "Settings"),
        logout = t(lang, "Se déconnecter", "Log out"),
        nav = folder_nav(ctx, counts, current),
    ))
}

/// The folders' counts, or none when the store failed (the page still shows).
pub async fn counts(ctx: &Ctx) -> Vec<FolderCount> {
    let account = ctx.account.id;
    super::logged(ctx.mail.svc.folder_counts(account).await).unwrap_or_default()
}

/// The folder choices of a "move to" form, without `except`.
pub fn folder_options(ctx: &Ctx, except: i64) -> String {
    ordered(&ctx.folders)
        .into_iter()
        .filter(|f| f.id.0 != except)
        .map(|f| {
            format!(
                r#"<option value="{}">{}</option>"#,
                f.id.0,
                escape(&folder_name(ctx.lang(), f))
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_short_today_and_in_the_senders_offset() {
        let noon_paris = 1_795_431_600; // 2026-11-23 12:00 +01:00
        assert_eq!(short_date(noon_paris, 60, noon_paris + 3600), "12:00");
        assert_eq!(short_date(noon_paris, 60, noon_paris + 86_400), "23/11/2026");
        assert_eq!(long_date(noon_paris, 0), "23/11/2026 11:00");
    }
}
