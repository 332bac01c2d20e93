//! The professional's own folders: create, rename, delete. The special folders (inbox, sent,
//! drafts, trash, junk) stay, as every mail client expects them.

use axum::http::StatusCode;
use axum::response::Response;

use askama::Template;

use super::frame::{Frame, folder_name, ordered};
use super::{Ctx, PostedForm};
use crate::account::see_other;
use crate::html::Lang;
use crate::i18n::Tr;

/// IMAP's hierarchy separator here; a folder name may not hold it or control characters.
const DELIMITER: char = '/';

fn valid_name(name: &str) -> bool {
    let name = name.trim();
    !name.is_empty()
        && name.chars().count() <= 100
        && !name.chars().any(|c| c.is_control() || c == '*' || c == '%')
        && !name.eq_ignore_ascii_case("INBOX")
        && !name.starts_with(DELIMITER)
        && !name.ends_with(DELIMITER)
}

fn is_own(ctx: &Ctx, id: i64) -> Option<String> {
    ctx.folder(id)
        .filter(|f| f.special_use.is_none() && f.name != "INBOX")
        .map(|f| f.name.clone())
}

/// One folder of the page; the special ones cannot be renamed or deleted.
struct FolderRow {
    id: i64,
    /// As people read it (the special folders in the page's language).
    label: String,
    name: String,
    count: u64,
    own: bool,
}

#[derive(Template)]
#[template(path = "webmail/folders.html")]
struct FoldersPage {
    tr: Tr,
    frame: Frame,
    rows: Vec<FolderRow>,
}

pub async fn page(ctx: Ctx) -> Response {
    let lang = ctx.lang();
    let folders = ctx.folders.clone();
    ctx.show("folders.title", None, |tr, frame, counts| FoldersPage {
        tr,
        frame,
        rows: ordered(&folders)
            .into_iter()
            .map(|f| FolderRow {
                id: f.id.0,
                label: folder_name(lang, f),
                name: f.name.clone(),
                count: counts.iter().find(|c| c.mailbox == f.id).map_or(0, |c| c.total),
                own: f.special_use.is_none() && f.name != "INBOX",
            })
            .collect(),
    })
    .await
}

/// Why a folder operation failed, in the reader's language (never the store's own words).
fn why(lang: Lang, e: &confiance_mail::MailError) -> String {
    use confiance_mail::MailError;
    use confiance_mail::model::StoreError;
    match e {
        MailError::Limit(limit) => match lang {
            Lang::Fr => limit.french(),
            Lang::En => limit.to_string(),
        },
        MailError::Store(StoreError::MailboxExists) => {
            crate::i18n::Tr(lang).text_of("folders.a-folder-of-that-name").into()
        }
        _ => crate::i18n::Tr(lang).text_of("folders.the-change-could-not-be").into(),
    }
}

fn refused(lang: Lang, what: &str) -> String {
    Tr(lang).fill("folders.not-possible", &[("why", what)])
}

pub async fn post(PostedForm { mut ctx, form }: PostedForm) -> Response {
    let lang = ctx.lang();
    let account = ctx.account.id;
    let name = form.get("nom").map(|n| n.trim().to_string()).unwrap_or_default();
    let target = form.get("dossier").and_then(|d| d.parse::<i64>().ok());
    let bad_name = crate::i18n::Tr(lang).text_of("folders.a-folder-name-cannot-be");
    let svc = ctx.mail.svc.clone();
    let outcome: Result<&str, String> = match form.get("action").map(String::as_str) {
        Some("creer") if valid_name(&name) => {
            let n = name.clone();
            match svc.create_folder(account, n, None, DELIMITER).await {
                Ok(_) => Ok(crate::i18n::Tr(lang).text_of("folders.folder-created")),
                Err(e) => Err(refused(lang, &why(lang, &e))),
            }
        }
        Some("renommer") if valid_name(&name) => match target.and_then(|id| is_own(&ctx, id)) {
            Some(from) => match svc.rename_folder(account, from, name, DELIMITER).await {
                Ok(()) => Ok(crate::i18n::Tr(lang).text_of("folders.folder-renamed")),
                Err(e) => Err(refused(lang, &why(lang, &e))),
            },
            None => Err(refused(
                lang,
                crate::i18n::Tr(lang).text_of("folders.this-folder-cannot-be-renamed"),
            )),
        },
        Some("supprimer") => match target.and_then(|id| is_own(&ctx, id)) {
            Some(from) => match svc.delete_folder(account, from).await {
                Ok(()) => Ok(crate::i18n::Tr(lang).text_of("folders.folder-deleted")),
                Err(e) => Err(refused(lang, &why(lang, &e))),
            },
            None => Err(refused(
                lang,
                crate::i18n::Tr(lang).text_of("folders.this-folder-cannot-be-deleted"),
            )),
        },
        Some("creer" | "renommer") => Err(refused(lang, bad_name)),
        _ => {
            return ctx
                .fail(
                    StatusCode::BAD_REQUEST,
                    crate::i18n::Tr(lang).text_of("actions.unknown-action"),
                )
                .await;
        }
    };
    match outcome {
        Ok(said) => ctx.session.data.flash = Some(said.into()),
        Err(why) => ctx.session.data.alert = Some(why),
    }
    ctx.respond(see_other("/webmail/dossiers")).await
}

#[cfg(test)]
mod tests {
    use super::valid_name;

    #[test]
    fn folder_names() {
        assert!(valid_name("Patients/Dupont"));
        assert!(valid_name("Comptes rendus"));
        for bad in ["", "  ", "inbox", "a*b", "50%", "/x", "x/", "a\u{7}b"] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
