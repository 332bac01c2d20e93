//! HTTP for Confiance, over TLS only. For now the directory: a JSON search API for
//! autocomplete (`/api/annuaire`), a FHIR R4 API shaped like the Annuaire Santé's (`/fhir`),
//! and a search page in French (`/annuaire`). The webmail and activation come next.

pub mod account;
mod api;
mod fhir;
mod html;
mod page;
mod problem;
pub mod webmail;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Redirect;
use axum::routing::get;
use confiance_directory::LiveDirectory;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

pub use problem::Problem;

/// What the handlers share.
#[derive(Clone)]
pub struct WebState {
    pub directory: Arc<LiveDirectory>,
    /// Activation, login and account pages; `None` serves the directory alone.
    pub accounts: Option<Arc<account::Accounts>>,
    /// The webmail (with the accounts); `None` without a mail service.
    pub webmail: Option<Arc<webmail::Webmail>>,
}

/// Directory searches running at once: each holds a per-thread accumulator of the national
/// directory's size (~20 MB), so their number is bounded, not the blocking pool's 512.
static SEARCHES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(8);

/// Runs CPU work (a search: milliseconds) off the async workers, a few at a time.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let _permit = SEARCHES.acquire().await.ok()?;
    tokio::task::spawn_blocking(f).await.ok()
}

/// Every route, with the security headers every answer carries.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/annuaire", get(page::search))
        .route("/api/annuaire", get(api::search))
        .nest("/fhir", fhir::routes())
        .merge(webmail::routes(&state))
        .merge(account::routes())
        .with_state(state)
        .layer(axum::middleware::map_response(security_headers))
}

/// The webmail once logged in, the login page otherwise (the directory without accounts).
async fn home(axum::extract::State(state): axum::extract::State<WebState>, headers: axum::http::HeaderMap) -> Redirect {
    if state.accounts.is_none() {
        return Redirect::to("/annuaire");
    }
    let has_session = headers
        .get_all(header::COOKIE)
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.contains(account::session::COOKIE)));
    Redirect::to(if has_session { "/webmail" } else { "/connexion" })
}

/// No remote content, no framing, no sniffing, no referrer leaking a search for a patient's
/// doctor, HTTPS only.
async fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    let h = response.headers_mut();
    // A handler may set a narrower policy of its own (an attachment shown in the page).
    let set = |h: &mut axum::http::HeaderMap, name, value: &'static str| {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    };
    set(
        h,
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    );
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(h, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    response
}

/// Serves HTTPS (HTTP/1.1 and HTTP/2) on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, tls: Arc<rustls::ServerConfig>, app: Router) -> std::io::Result<()> {
    let mut tls = (*tls).clone();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    loop {
        let (tcp, peer) = listener.accept().await?;
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(std::time::Duration::from_secs(30), acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, "HTTPS handshake refused: {e}");
                    return;
                }
                Err(_) => return,
            };
            // A professional's card presented in the handshake, for `/cps/connexion`.
            let card = account::Card(confiance_auth::cps::of_connection(stream.get_ref().1));
            let service = TowerToHyperService::new(app.layer(axum::Extension(card)));
            if let Err(e) = auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%peer, "HTTPS connection ended: {e}");
            }
        });
    }
}
