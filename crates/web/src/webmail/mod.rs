//! The webmail: folders, message list, reading, writing with the directory, search and
//! settings. Plain HTML pages that work without JavaScript; a small script (`app.js`, no
//! framework) adds live updates, recipient autocomplete, drag and drop, autosaved drafts and
//! keyboard shortcuts. It reads and writes through the same mail service as IMAP, and sends
//! through the same submission rules as port 587.

mod actions;
mod chooser;
mod compose;
mod documents;
mod events;
mod filters;
mod folders;
mod frame;
mod list;
mod outgoing;
mod patient;
mod read;
pub mod sanitize;
mod search;
mod settings;
pub mod timeline;

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::{get, post};
use confiance_mail::MailService;
use confiance_mail::model::{Account, Folder, FolderId};
use confiance_smtp::SmtpConfig;

use crate::WebState;
use crate::account::session::Posted;
use crate::account::{Accounts, Session, error_page, see_other};
use crate::html::Lang;

/// The value of a mail operation, or `None` once its failure is logged (the page then says
/// that saving or reading failed, never the error itself).
pub(crate) fn logged<T>(result: confiance_mail::Result<T>) -> Option<T> {
    result.map_err(|e| tracing::error!("mail: {e}")).ok()
}

/// What the webmail needs beside the account pages.
pub struct Webmail {
    pub svc: Arc<MailService>,
    pub smtp: Arc<SmtpConfig>,
    /// Sent messages' timelines and signed proofs; `None` shows none.
    pub journal: Option<Arc<dyn timeline::Journal>>,
}

/// A logged-in professional's request: the session, the BAL shown and its folders.
pub(crate) struct Ctx {
    pub session: Session,
    pub accounts: Arc<Accounts>,
    pub mail: Arc<Webmail>,
    /// The BAL shown: the professional's own, or one shared with them.
    pub account: Account,
    /// The professional's own BAL; `None` for a structure's staff, who have none.
    pub own: Option<confiance_mail::model::AccountId>,
    /// Who acts, for the audit trace: the professional's own address, or the staff e-mail.
    pub actor: String,
    /// Whether they may send as the BAL shown (their own, or the `send` right on a shared one).
    pub may_send: bool,
    /// Whether they may change its settings and filters (their own, or the `manage` right).
    pub may_manage: bool,
    /// A patient's BAL on the patients' side: they answer, they do not start a conversation.
    pub patient: bool,
    /// Every BAL they may open, their own first.
    pub choices: Vec<Account>,
    pub folders: Vec<Folder>,
}

impl Ctx {
    pub fn lang(&self) -> Lang {
        self.session.lang()
    }

    /// Who acts, for the audit trace: the professional's own address, or the staff e-mail.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// The account's folder with this id; another account's id is not found.
    pub fn folder(&self, id: i64) -> Option<&Folder> {
        self.folders.iter().find(|f| f.id == FolderId(id))
    }

    /// The folder with this RFC 6154 role (`\Sent`, `\Drafts`, `\Trash`, `\Junk`).
    pub fn special(&self, role: &str) -> Option<&Folder> {
        self.folders.iter().find(|f| f.special_use.as_deref() == Some(role))
    }

    pub fn inbox(&self) -> Option<&Folder> {
        self.folders.iter().find(|f| f.name == "INBOX")
    }

    /// A whole webmail page from its template: `make` gets the catalogue, the frame (header,
    /// folders, notices) and the folders' counts. `title` is a catalogue key.
    pub async fn show<T: askama::Template>(
        self,
        title: &'static str,
        current: Option<i64>,
        make: impl FnOnce(crate::i18n::Tr, frame::Frame, &[confiance_mail::model::FolderCount]) -> T,
    ) -> Response {
        let title = crate::i18n::Tr(self.lang()).text_of(title);
        self.show_titled(title, current, make).await
    }

    /// The same, with a title of the page's own (a folder's name, a subject).
    pub async fn show_titled<T: askama::Template>(
        mut self,
        title: &str,
        current: Option<i64>,
        make: impl FnOnce(crate::i18n::Tr, frame::Frame, &[confiance_mail::model::FolderCount]) -> T,
    ) -> Response {
        let counts = frame::counts(&self).await;
        let used = self.mail.svc.usage(self.account.id).await.ok();
        let away = filters::away_on(&self).await;
        let tr = crate::i18n::Tr(self.lang());
        let mut frame = frame::Frame::of(&mut self, title, &counts, used, current);
        frame.away = away;
        let html = frame::render(&make(tr, frame, &counts));
        self.respond(html).await
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
        let msg = crate::i18n::Tr(self.lang()).text_of("webmail.this-message-or-folder-does");
        self.fail(StatusCode::NOT_FOUND, msg).await
    }

    pub async fn store_failed(self) -> Response {
        let msg = crate::i18n::Tr(self.lang()).text_of("webmail.the-mail-store-is-not");
        self.fail(StatusCode::SERVICE_UNAVAILABLE, msg).await
    }
}

/// Every webmail page starts from the session's BAL: logged out, the login page answers.
impl FromRequestParts<WebState> for Ctx {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Self, Self::Rejection> {
        let session = Session::from_request_parts(parts, state).await?;
        open(state, session).await
    }
}

/// A form posted to the webmail: its CSRF token checked, then the session's BAL.
pub(crate) struct PostedForm {
    pub ctx: Ctx,
    pub form: HashMap<String, String>,
}

impl FromRequest<WebState> for PostedForm {
    type Rejection = Response;

    async fn from_request(request: Request, state: &WebState) -> Result<Self, Self::Rejection> {
        let Posted { session, form } = Posted::from_request(request, state).await?;
        Ok(PostedForm {
            ctx: open(state, session).await?,
            form,
        })
    }
}

/// The session's account and folders, or the login page.
async fn open(state: &WebState, session: Session) -> Result<Ctx, Response> {
    let (Some(accounts), Some(mail)) = (state.accounts.clone(), state.webmail.clone()) else {
        return Err(error_page(
            Lang::Fr,
            StatusCode::NOT_FOUND,
            "Le webmail n'est pas configuré sur ce serveur.",
        ));
    };
    // A professional: their own BAL and those shared with them; a structure's staff member:
    // the BALs they may read. Checked at each request, so a withdrawn access ends at once.
    let (own, actor, found) = match (session.account(), session.member()) {
        (Some(own), _) => {
            let found = accounts.registry.bals_with_rights(own).await.flatten();
            let actor = found
                .as_ref()
                .and_then(|b| b.first())
                .map(|(a, _)| a.address.clone())
                .unwrap_or_default();
            (Some(own), actor, found)
        }
        (None, Some(email)) => {
            let readable: Vec<_> = accounts
                .registry
                .memberships(email.clone())
                .await
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, r)| r.read)
                .collect();
            if readable.is_empty() {
                // Nothing to read here: a staff member's page says so, and offers app passwords.
                let to = if session.data.staff.is_some() {
                    "/structure"
                } else {
                    "/connexion"
                };
                return Err(session.respond(&accounts, see_other(to)).await);
            }
            (None, email, Some(readable))
        }
        (None, None) => return Err(session.respond(&accounts, see_other("/connexion")).await),
    };
    let chosen = session.data.mailbox.map(confiance_mail::model::AccountId);
    let Some(bals) = found.filter(|b| !b.is_empty()) else {
        return Err(session.respond(&accounts, see_other("/connexion")).await);
    };
    let (shown, rights) = chosen
        .and_then(|c| bals.iter().find(|(a, _)| a.id == c).cloned())
        .unwrap_or_else(|| bals[0].clone());
    let Some(folders) = logged(mail.svc.folders(shown.id).await) else {
        return Err(session.respond(&accounts, see_other("/connexion")).await);
    };
    let mut session = session;
    if session.data.mailbox.is_some_and(|m| m != shown.id.0) {
        session.data.mailbox = None;
    }
    let patient = mail.smtp.patient_side && mail.smtp.patients.is_patient(&shown.address);
    Ok(Ctx {
        session,
        accounts,
        mail,
        account: shown,
        own,
        actor,
        may_send: rights.send,
        may_manage: rights.manage,
        patient,
        choices: bals.into_iter().map(|(a, _)| a).collect(),
        folders,
    })
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
        .route("/webmail/dossier/{id}/selection", post(actions::selection))
        .route("/webmail/message/{id}/{uid}", get(read::page))
        .route("/webmail/message/{id}/{uid}/piece/{n}", get(read::attachment))
        .route("/webmail/message/{id}/{uid}/document/{n}/{d}", get(documents::page))
        .route("/webmail/message/{id}/{uid}/suivi", get(timeline::page))
        .route("/webmail/message/{id}/{uid}/preuve", get(timeline::proof))
        .route("/webmail/message/{id}/{uid}/document/{n}/{d}/pdf", get(documents::pdf))
        .route("/webmail/message/{id}/{uid}/action", post(actions::message))
        .route("/webmail/message/{id}/{uid}/accuse", post(actions::receipt))
        .route(
            "/webmail/ecrire",
            get(compose::page)
                .post(compose::post)
                .layer(DefaultBodyLimit::max(compose_limit(state.webmail.as_deref()))),
        )
        .route("/webmail/destinataire", get(compose::recipient))
        .route("/webmail/ins", get(patient::check))
        .route("/webmail/recherche", get(search::page))
        .route("/webmail/dossiers", get(folders::page).post(folders::post))
        .route("/webmail/reglages", get(settings::page).post(settings::post))
        .route("/webmail/filtres", get(filters::page).post(filters::post))
        .route("/webmail/bal", get(chooser::page).post(chooser::choose))
        .route("/webmail/raccourcis", get(settings::shortcuts))
        .route("/webmail/evenements", get(events::stream))
}
