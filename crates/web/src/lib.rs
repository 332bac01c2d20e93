//! HTTP for Confiance, over TLS only. For now the directory: a JSON search API for
//! autocomplete (`/api/annuaire`), a FHIR R4 API shaped like the Annuaire Santé's (`/fhir`),
//! and a search page in French (`/annuaire`). The webmail and activation come next.

pub mod account;
mod api;
mod clients;
mod fhir;
mod html;
mod i18n;
mod page;
mod problem;
mod site;
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

pub use clients::MailClients;
pub use problem::Problem;

/// What the handlers share.
#[derive(Clone)]
pub struct WebState {
    pub directory: Arc<LiveDirectory>,
    /// Activation, login and account pages; `None` serves the directory alone.
    pub accounts: Option<Arc<account::Accounts>>,
    /// The webmail (with the accounts); `None` without a mail service.
    pub webmail: Option<Arc<webmail::Webmail>>,
    /// The month's usage figures the structure console draws; `None` draws none.
    pub indicators: Option<Arc<dyn Indicators>>,
    /// The host and ports mail clients use, for /compte and the autoconfiguration.
    pub clients: Arc<MailClients>,
}

/// The figures of one scope: (indicator, detail) → value, as `confiance indicators` names them.
pub type Figures = std::collections::BTreeMap<(String, String), u64>;

/// Where the console's figures come from (the operator's indicators, computed from the accounts
/// and the audit trail). Blocking: called on the blocking pool.
pub trait Indicators: Send + Sync + 'static {
    /// For the month `YYYY-MM`: the figures of the structure, of its département and of the
    /// nation, in that order.
    fn figures(&self, finess: &str, month: &str) -> Option<[Figures; 3]>;
}

/// Directory searches running at once: each holds a per-thread accumulator of the national
/// directory's size (~20 MB), so their number is bounded, not the blocking pool's 512.
static SEARCHES: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(8);

/// Runs CPU work (a search: milliseconds) off the async workers, a few at a time.
pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let _permit = SEARCHES.acquire().await.ok()?;
    tokio::task::spawn_blocking(f).await.ok()
}

/// Opening a message: its bytes read, parsed and its HTML sanitised take memory and CPU in
/// proportion to the message (a 25 MB message holds tens of MB while parsed), so at most one
/// per core runs at a time and the others wait their turn; a hostile message slows its reader
/// only, and 16 readers of a 24 MB message hold two of them at once, not sixteen.
pub(crate) async fn heavy_slot() -> tokio::sync::OwnedSemaphorePermit {
    static HEAVY: std::sync::OnceLock<Arc<tokio::sync::Semaphore>> = std::sync::OnceLock::new();
    let slots = HEAVY.get_or_init(|| {
        Arc::new(tokio::sync::Semaphore::new(
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2),
        ))
    });
    slots.clone().acquire_owned().await.expect("never closed")
}

/// Runs `f` (parsing, sanitising) on the blocking pool, holding `slot` until it is done: a
/// request cancelled meanwhile (an HTTP/2 reset) does not free the slot while the work goes on.
pub(crate) async fn off_workers<T: Send + 'static>(
    slot: tokio::sync::OwnedSemaphorePermit,
    f: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    tokio::task::spawn_blocking(move || {
        let done = f();
        drop(slot);
        done
    })
    .await
    .ok()
}

/// Every route, with the security headers every answer carries.
pub fn router(state: WebState) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/annuaire", get(page::search))
        .route("/site.css", get(site::css))
        .route("/favicon.svg", get(site::icon))
        .route("/favicon.ico", get(site::icon))
        .route("/api/annuaire", get(api::search))
        .route("/.well-known/autoconfig/mail/config-v1.1.xml", get(clients::autoconfig))
        .route("/mail/config-v1.1.xml", get(clients::autoconfig))
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

/// How long HTTPS connections may take and how many there may be.
#[derive(Clone, Copy, Debug)]
pub struct Connections {
    pub limits: confiance_net::Limits,
    /// A request's header must arrive within this (slowloris holds workers otherwise).
    pub header_timeout: std::time::Duration,
    /// A connection on which nothing moves for this long is closed (keep-alive, HTTP/2). Live
    /// updates of the webmail send a comment every 20 s, so they stay open.
    pub idle_timeout: std::time::Duration,
}

/// Serves HTTPS (HTTP/1.1 and HTTP/2) on `listener` for ever, within `limits`.
pub async fn serve(listener: TcpListener, tls: Arc<rustls::ServerConfig>, app: Router, limits: Connections) {
    let mut busy = (*tls).clone();
    busy.alpn_protocols = vec![b"http/1.1".to_vec()];
    let busy = TlsAcceptor::from(Arc::new(busy));
    let mut tls = (*tls).clone();
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(tls));
    confiance_net::serve(
        listener,
        "HTTPS",
        limits.limits,
        move |tcp, peer| connection(tcp, peer, acceptor.clone(), app.clone(), limits),
        move |tcp, _| refuse(tcp, busy.clone()),
    )
    .await
}

async fn connection(
    tcp: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    acceptor: TlsAcceptor,
    app: Router,
    limits: Connections,
) {
    let stream = match tokio::time::timeout(limits.header_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::debug!(%peer, "HTTPS handshake refused: {e}");
            return;
        }
        Err(_) => return,
    };
    // A professional's card presented in the handshake, for `/cps/connexion`.
    let card = account::Card(confiance_auth::cps::of_connection(stream.get_ref().1));
    let client = account::Client(peer.ip());
    let service = TowerToHyperService::new(app.layer(axum::Extension(card)).layer(axum::Extension(client)));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder
        .http2()
        .timer(hyper_util::rt::TokioTimer::new())
        .max_concurrent_streams(64);
    let stream = confiance_net::Idle::new(stream, limits.idle_timeout);
    if let Err(e) = builder.serve_connection(TokioIo::new(stream), service).await {
        tracing::debug!(%peer, "HTTPS connection ended: {e}");
    }
}

/// Over the connection limits: 503 with a page in French and English, then close.
async fn refuse(tcp: tokio::net::TcpStream, busy: TlsAcceptor) {
    const BODY: &str =
        "Le service est très sollicité : réessayez dans un instant.\nThe service is busy: try again in a moment.\n";
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nRetry-After: 10\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    confiance_net::refuse(tcp, Some(busy), answer.into_bytes()).await
}
