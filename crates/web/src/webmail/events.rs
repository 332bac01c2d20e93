//! Live updates: a server-sent event each time one of the account's folders changes (the same
//! notifications IMAP IDLE uses). The page then refreshes its list and counts. A stream lasts
//! ten minutes at most, so a locked or ended session is noticed at the browser's reconnection.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::stream;
use tokio::sync::broadcast::error::RecvError;

use super::Ctx;

const LIFETIME: Duration = Duration::from_secs(600);

pub async fn stream(ctx: Ctx) -> Response {
    let changes = ctx.mail.svc.subscribe(ctx.account.id);
    let end = tokio::time::Instant::now() + LIFETIME;
    let events = stream::unfold(changes, move |mut changes| async move {
        let event = tokio::select! {
            changed = changes.recv() => match changed {
                Ok(folder) => Event::default().event("changement").data(folder.0.to_string()),
                // Missed some: the page refreshes everything anyway.
                Err(RecvError::Lagged(_)) => Event::default().event("changement").data("*"),
                Err(RecvError::Closed) => return None,
            },
            _ = tokio::time::sleep_until(end) => return None,
        };
        Some((Ok::<_, Infallible>(event), changes))
    });
    // Not through `respond`: a stream open for minutes is not activity of the professional.
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(20)))
        .into_response()
}
