//! The mailbox chooser: a professional who may open several BALs (their own, and
//! organisational ones shared with them) picks the one the webmail shows.

use axum::http::StatusCode;
use axum::response::Response;

use askama::Template;

use super::frame::Frame;
use super::{Ctx, PostedForm};
use crate::account::see_other;
use crate::i18n::Tr;

struct Bal {
    id: i64,
    address: String,
    /// The BAL the webmail shows now.
    shown: bool,
}

#[derive(Template)]
#[template(path = "webmail/chooser.html")]
struct ChooserPage {
    tr: Tr,
    frame: Frame,
    /// The professional's own first.
    bals: Vec<Bal>,
}

pub async fn page(ctx: Ctx) -> Response {
    let bals = ctx
        .choices
        .iter()
        .map(|a| Bal {
            id: a.id.0,
            address: a.address.clone(),
            shown: a.id == ctx.account.id,
        })
        .collect();
    ctx.show("chooser.title", None, |tr, frame, _| ChooserPage { tr, frame, bals })
        .await
}

pub async fn choose(PostedForm { mut ctx, form }: PostedForm) -> Response {
    let wanted = form.get("bal").and_then(|b| b.parse::<i64>().ok());
    let Some(account) = ctx.choices.iter().find(|a| Some(a.id.0) == wanted).cloned() else {
        let msg = Tr(ctx.lang()).text_of("chooser.not-shared");
        return ctx.fail(StatusCode::FORBIDDEN, msg).await;
    };
    tracing::info!(target: "audit", event = "mailbox_opened", bal = %account.address, actor = ctx.actor());
    ctx.session.data.mailbox = Some(account.id.0);
    ctx.respond(see_other("/webmail")).await
}
