//! Webmail settings: the signature here; notifications, directory choices, password, second
//! factor and devices (app passwords) on the account page, linked from here. And the list of
//! keyboard shortcuts.

use axum::response::Response;

use askama::Template;

use super::frame::Frame;
use super::{Ctx, PostedForm};
use crate::account::see_other;
use crate::i18n::Tr;

const MAX_SIGNATURE: usize = 2000;

#[derive(Template)]
#[template(path = "webmail/settings.html")]
struct SettingsPage {
    tr: Tr,
    frame: Frame,
    signature: String,
    max_signature: usize,
}

pub async fn page(ctx: Ctx) -> Response {
    let signature = ctx
        .accounts
        .registry
        .signature(ctx.account.id)
        .await
        .unwrap_or_default();
    ctx.show("webmail.settings", None, |tr, frame, _| SettingsPage {
        tr,
        frame,
        signature,
        max_signature: MAX_SIGNATURE,
    })
    .await
}

pub async fn post(PostedForm { mut ctx, form }: PostedForm) -> Response {
    let lang = ctx.lang();
    let signature: String = form
        .get("signature")
        .map(|s| s.replace("\r\n", "\n").trim_end().chars().take(MAX_SIGNATURE).collect())
        .unwrap_or_default();
    let account = ctx.account.id;
    if ctx.accounts.registry.set_signature(account, signature).await.is_none() {
        return ctx.store_failed().await;
    }
    ctx.session.data.flash = Some(crate::i18n::Tr(lang).text_of("settings.signature-saved").into());
    ctx.respond(see_other("/webmail/reglages")).await
}

/// The keyboard shortcuts `app.js` offers; `data-key` attributes on the pages carry them.
/// The keys app.js binds, and what each does (catalogue keys).
const SHORTCUTS: &[(&str, &str)] = &[
    ("c", "shortcut.write"),
    ("/", "shortcut.search"),
    ("j", "shortcut.next"),
    ("k", "shortcut.previous"),
    ("n", "shortcut.next-page"),
    ("p", "shortcut.previous-page"),
    ("u", "shortcut.list"),
    ("r", "shortcut.reply"),
    ("a", "shortcut.reply-all"),
    ("f", "shortcut.forward"),
    ("s", "shortcut.flag"),
    ("m", "shortcut.unread"),
    ("#", "shortcut.delete"),
    ("?", "shortcut.help"),
];

#[derive(Template)]
#[template(path = "webmail/shortcuts.html")]
struct ShortcutsPage {
    tr: Tr,
    frame: Frame,
    shortcuts: &'static [(&'static str, &'static str)],
}

pub async fn shortcuts(ctx: Ctx) -> Response {
    ctx.show("settings.shortcuts", None, |tr, frame, _| ShortcutsPage {
        tr,
        frame,
        shortcuts: SHORTCUTS,
    })
    .await
}
