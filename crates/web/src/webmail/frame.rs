//! The frame of every webmail page: a skip link, the header (search, write, settings, language,
//! logout), the folders with their unread counts, then the page. The stylesheet and script are
//! served from the binary and cached by the browser.

use axum::response::Response;
use chrono::{FixedOffset, TimeZone};
use confiance_mail::model::{Folder, FolderCount};

use super::Ctx;
use crate::html::Lang;
use crate::site::asset;
pub use crate::site::render;

const CSS: &str = include_str!("app.css");
const JS: &str = include_str!("app.js");

/// A digest of the stylesheet and script, in their URLs: a new build gets new URLs, so the
/// browser may keep an asset as long as it likes.
fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| crate::site::digest(&[CSS, JS]))
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
        ("INBOX", _) => Some(crate::i18n::Tr(lang).text_of("folder.inbox")),
        (_, Some("\\Sent")) => Some(crate::i18n::Tr(lang).text_of("folder.sent")),
        (_, Some("\\Drafts")) => Some(crate::i18n::Tr(lang).text_of("folder.drafts")),
        (_, Some("\\Trash")) => Some(crate::i18n::Tr(lang).text_of("folder.trash")),
        (_, Some("\\Junk")) => Some(crate::i18n::Tr(lang).text_of("folder.junk")),
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

/// One folder of the list, with its unread count; `current` is marked for screen readers.
pub struct NavItem {
    pub id: i64,
    pub name: String,
    pub unseen: u64,
    pub current: bool,
}

/// What every webmail page shows around its own content (`templates/webmail/frame.html`).
pub struct Frame {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub other_label: &'static str,
    pub title: String,
    pub version: &'static str,
    pub csrf: String,
    /// Several BALs may be opened: the address links to the chooser.
    pub can_switch: bool,
    pub address: String,
    /// The shared BAL's name when the professional acts for it (not their own BAL).
    pub acting_for: Option<String>,
    /// Shown once.
    pub alert: Option<String>,
    pub flash: Option<String>,
    pub nav: Vec<NavItem>,
    /// A patient's webmail: no new conversation, no directory.
    pub patient: bool,
    /// How full the BAL is (RFC 9208 STORAGE, as IMAP GETQUOTA says it).
    pub quota: Option<Quota>,
    /// The out-of-office reply the webmail set is on: every page says so, until it is off.
    pub away: bool,
}

impl Frame {
    /// `used`: the BAL's bytes, when the store said.
    pub fn of(ctx: &mut Ctx, title: &str, counts: &[FolderCount], used: Option<u64>, current: Option<i64>) -> Frame {
        let lang = ctx.lang();
        let (code, other_lang, other_label) = (lang.code(), lang.other().code(), lang.other().own_name());
        let nav = ordered(&ctx.folders)
            .into_iter()
            .map(|f| NavItem {
                id: f.id.0,
                name: folder_name(lang, f),
                unseen: counts.iter().find(|c| c.mailbox == f.id).map_or(0, |c| c.unseen),
                current: current == Some(f.id.0),
            })
            .collect();
        Frame {
            lang: code,
            other_lang,
            other_label,
            title: title.to_string(),
            version: version(),
            csrf: ctx.session.data.csrf.clone(),
            can_switch: ctx.choices.len() > 1,
            address: ctx.account.address.clone(),
            acting_for: (Some(ctx.account.id) != ctx.own).then(|| {
                ctx.account
                    .display_name
                    .clone()
                    .unwrap_or_else(|| ctx.account.address.clone())
            }),
            alert: ctx.session.data.alert.take(),
            flash: ctx.session.data.flash.take(),
            nav,
            patient: ctx.patient,
            quota: used.and_then(|u| Quota::of(u, ctx.account.quota_bytes, lang)),
            away: false,
        }
    }
}

/// A size for people, in the reader's language: `812 ko`, `1,5 Mo`, `2 Go` (multiples of
/// 1,024, as the quota counts).
pub(crate) fn human_size(bytes: u64, lang: Lang) -> String {
    let units = match lang {
        Lang::Fr => ["ko", "Mo", "Go"],
        Lang::En => ["KB", "MB", "GB"],
    };
    if bytes < 1 << 20 {
        return format!("{} {}", bytes.div_ceil(1024), units[0]);
    }
    let (value, unit) = match bytes >= 1 << 30 {
        true => (bytes as f64 / (1u64 << 30) as f64, units[2]),
        false => (bytes as f64 / (1u64 << 20) as f64, units[1]),
    };
    let shown = format!("{value:.1}");
    let shown = shown.strip_suffix(".0").unwrap_or(&shown);
    match lang {
        Lang::Fr => format!("{} {unit}", shown.replace('.', ",")),
        Lang::En => format!("{shown} {unit}"),
    }
}

/// The BAL's use of its quota, as the folder list shows it under a gauge.
pub struct Quota {
    pub percent: u64,
    pub said: String,
}

impl Quota {
    pub fn of(used: u64, limit: u64, lang: Lang) -> Option<Quota> {
        (limit > 0).then(|| {
            let percent = (used.saturating_mul(100) / limit).min(100);
            let said = crate::i18n::Tr(lang).fill(
                "webmail.quota",
                &[
                    ("used", &human_size(used, lang)),
                    ("limit", &human_size(limit, lang)),
                    ("percent", &percent.to_string()),
                ],
            );
            Quota { percent, said }
        })
    }
}

/// The folders' counts, or none when the store failed (the page still shows).
pub async fn counts(ctx: &Ctx) -> Vec<FolderCount> {
    let account = ctx.account.id;
    super::logged(ctx.mail.svc.folder_counts(account).await).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_quota_as_people_read_them() {
        assert_eq!(human_size(812, Lang::Fr), "1 ko");
        assert_eq!(human_size(1_572_864, Lang::Fr), "1,5 Mo");
        assert_eq!(human_size(2 << 30, Lang::Fr), "2 Go");
        assert_eq!(human_size(1_572_864, Lang::En), "1.5 MB");
        let q = Quota::of(1 << 30, 2 << 30, Lang::Fr).unwrap();
        assert_eq!(q.percent, 50);
        assert!(q.said.contains("1 Go") && q.said.contains("2 Go"), "{}", q.said);
        assert!(Quota::of(5, 0, Lang::Fr).is_none());
    }

    #[test]
    fn dates_are_short_today_and_in_the_senders_offset() {
        let noon_paris = 1_795_431_600; // 2026-11-23 12:00 +01:00
        assert_eq!(short_date(noon_paris, 60, noon_paris + 3600), "12:00");
        assert_eq!(short_date(noon_paris, 60, noon_paris + 86_400), "23/11/2026");
        assert_eq!(long_date(noon_paris, 0), "23/11/2026 11:00");
    }
}
