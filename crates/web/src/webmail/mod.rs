//! The webmail: folders, message list, reading, writing with the directory, search and
//! settings. Plain HTML pages that work without JavaScript; a small script (`app.js`, no
//! framework) adds live updates, recipient autocomplete, drag and drop, autosaved drafts and
//! keyboard shortcuts. It reads and writes through the same mail service as IMAP, and sends
//! through the same submission rules as port 587.

mod actions;
mod compose;
mod events;
mod folders;
mod frame;
mod list;
mod outgoing;
mod read;
mod sanitize;
mod search;
mod settings;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use confiance_mail::MailService;
use confiance_smtp::SmtpConfig;
use confiance_store::{Account, Mailbox, MailboxId};

use crate::WebState;
use crate::account::{Accounts, Session, error_page, see_other, store};
use crate::html::{Lang, t};

/// What the webmail needs beside the account pages.
pub struct Webmail {
    pub svc: Arc<MailService>,
    pub smtp: Arc<SmtpConfig>,
}

/// A logged-in professional's request: the session, their account and folders.
pub(crate) struct Ctx {
    pub session: Session,
    pub accounts: Arc<Accounts>,
    pub mail: Arc<Webmail>,
    pub account: Account,
    pub folders: Vec<Mailbox>,
}

impl Ctx {
    pub fn lang(&self) -> Lang {
        self.session.lang()
    }

    /// The account's folder with this id; another account's id is not found.
    pub fn folder(&self, id: i64) -> Option<&Mailbox> {
        self.folders.iter().find(|f| f.id == MailboxId(id))
    }

    /// The folder with this RFC 6154 role (`\Sent`, `\Drafts`, `\Trash`, `\Junk`).
    pub fn special(&self, role: &str) -> Option<&Mailbox> {
        self.folders.iter().find(|f| f.special_use.as_deref() == Some(role))
    }

    pub fn inbox(&self) -> Option<&Mailbox> {
        self.folders.iter().find(|f| f.name == "INBOX")
    }

    /// Saves the session and answers.
    pub async fn respond(self, response: impl axum::response::IntoResponse) -> Response {
        self.session.respond(&self.accounts, response).await
    }

    /// An error page inside the session.
    pub async fn fail(self, status: StatusCode, message: &str) -> Response {
        let page = error_page(self.lang(), status, message);
        self.respond(page).await
    }

    pub async fn not_found(self) -> Response {
        let msg = t(
            self.lang(),
            "Ce message ou ce dossier n'existe pas (ou plus).",
            "This message or folder does not exist (any more).",
        );
        self.fail(StatusCode::NOT_FOUND, msg).await
    }

    pub async fn store_failed(self) -> Response {
        let msg = t(
            self.lang(),
            "La messagerie ne répond pas ; réessayez dans un instant.",
            "The mail store is not answering; please try again in a moment.",
        );
        self.fail(StatusCode::SERVICE_UNAVAILABLE, msg).await
    }
}

/// The session's account and folders, or the login page.
pub(crate) async fn open(state: &WebState, session: Session) -> Result<Ctx, Response> {
    let (Some(accounts), Some(mail)) = (state.accounts.clone(), state.webmail.clone()) else {
        return Err(error_page(
            Lang::Fr,
            StatusCode::NOT_FOUND,
            "Le webmail n'est pas configuré sur ce serveur.",
        ));
    };
    let Some(id) = session.account() else {
        return Err(session.respond(&accounts, see_other("/connexion")).await);
    };
    let found = store(&accounts, move |s| Ok((s.account(id)?, s.mailboxes(id)?))).await;
    match found {
        Some((Some(account), folders)) => Ok(Ctx {
            session,
            accounts,
            mail,
            account,
            folders,
        }),
        _ => Err(session.respond(&accounts, see_other("/connexion")).await),
    }
}

/// Largest request the compose form may send: the message size the server accepts, plus the
/// form's own overhead (base64 is not used on the way in; multipart adds little).
fn compose_limit(mail: Option<&Webmail>) -> usize {
    mail.map_or(30 << 20, |m| m.smtp.max_message_size as usize + (1 << 20))
}

pub fn routes(state: &WebState) -> Router<WebState> {
    Router::new()
        .route("/webmail", get(list::home))
        .route("/webmail/app.css", get(frame::css))
        .route("/webmail/app.js", get(frame::js))
        .route("/webmail/dossier/{id}", get(list::page))
        .route("/webmail/message/{id}/{uid}", get(read::page))
        .route("/webmail/message/{id}/{uid}/piece/{n}", get(read::attachment))
        .route("/webmail/message/{id}/{uid}/action", post(actions::message))
        .route("/webmail/message/{id}/{uid}/accuse", post(actions::receipt))
        .route(
            "/webmail/ecrire",
            get(compose::page)
                .post(compose::post)
                .layer(DefaultBodyLimit::max(compose_limit(state.webmail.as_deref()))),
        )
        .route("/webmail/destinataire", get(compose::recipient))
        .route("/webmail/recherche", get(search::page))
        .route("/webmail/dossiers", get(folders::page).post(folders::post))
        .route("/webmail/reglages", get(settings::page).post(settings::post))
        .route("/webmail/raccourcis", get(settings::shortcuts))
        .route("/webmail/evenements", get(events::stream))
}
