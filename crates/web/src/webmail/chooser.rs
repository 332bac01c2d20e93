//! The mailbox chooser: a professional who may open several BALs (their own, and
//! organisational ones shared with them) picks the one the webmail shows.

use axum::http::StatusCode;
use axum::response::Response;

use super::{Ctx, PostedForm};
use crate::account::layout::csrf;
use crate::account::see_other;
use crate::html::{escape, t};

pub async fn page(ctx: Ctx) -> Response {
    let lang = ctx.lang();
    let token = csrf(&ctx.session.data.csrf);
    let items: String = ctx
        .choices
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let kind = if i == 0 {
                t(lang, "votre BAL personnelle", "your own mailbox")
            } else {
                t(lang, "BAL partagée avec vous", "mailbox shared with you")
            };
            let current = if a.id == ctx.account.id {
                format!(r#" <span class="hint">({})</span>"#, t(lang, "affichée", "shown"))
            } else {
                String::new()
            };
            format!(
                r#"<li><form method="post" action="/webmail/bal" class="inline">{token}<button name="bal" value="{}" class="secondary">{}</button></form> <span class="hint">{kind}</span>{current}</li>"#,
                a.id.0,
                escape(&a.address)
            )
        })
        .collect();
    let main = format!(
        r#"<h1>{title}</h1><p>{intro}</p><ul class="attachments">{items}</ul>"#,
        title = t(lang, "Choisir une BAL", "Choose a mailbox"),
        intro = t(
            lang,
            "Vous pouvez ouvrir plusieurs boîtes aux lettres. Laquelle afficher ?",
            "You may open several mailboxes. Which one should be shown?"
        ),
    );
    let title = t(lang, "Choisir une BAL", "Choose a mailbox");
    ctx.page(title, None, &main).await
}

pub async fn choose(PostedForm { mut ctx, form }: PostedForm) -> Response {
    let wanted = form.get("bal").and_then(|b| b.parse::<i64>().ok());
    let Some(account) = ctx.choices.iter().find(|a| Some(a.id.0) == wanted).cloned() else {
        let msg = t(
            ctx.lang(),
            "Cette BAL n'est pas partagée avec vous.",
            "This mailbox is not shared with you.",
        );
        return ctx.fail(StatusCode::FORBIDDEN, msg).await;
    };
    tracing::info!(target: "audit", event = "mailbox_opened", account = %account.address, by = ctx.own.0);
    ctx.session.data.mailbox = Some(account.id.0);
    ctx.respond(see_other("/webmail")).await
}
