//! What a professional does to a message: flag, mark unread, move, delete (to the trash; from
//! the trash, for good), and answer a read-receipt request.

use axum::extract::Path;
use axum::response::Response;
use confiance_mail::model::FolderId;

use super::logged;
use super::read::{MDN_SENT, load};
use super::{Ctx, PostedForm, outgoing};
use crate::account::see_other;

async fn set_flag(ctx: &Ctx, folder: FolderId, uid: u32, on: bool, flag: &str) -> bool {
    logged(ctx.mail.svc.flag_one(ctx.account.id, folder, uid, flag, on).await).is_some()
}

/// Moves one message; `None` when the store refused (the quota of the destination).
async fn move_to(ctx: &Ctx, from: FolderId, uid: u32, to: FolderId) -> Option<()> {
    match ctx.mail.svc.copy(ctx.account.id, from, vec![uid], to, true).await {
        Ok(_) => Some(()),
        Err(e) => {
            tracing::warn!(account = ctx.account.id.0, error = %e, "webmail move refused");
            None
        }
    }
}

/// `POST /webmail/message/{folder}/{uid}/action`.
pub async fn message(Path((id, uid)): Path<(i64, u32)>, PostedForm { mut ctx, form }: PostedForm) -> Response {
    let Some(folder) = ctx.folder(id).cloned() else {
        return ctx.not_found().await;
    };
    let lang = ctx.lang();
    let here = format!("/webmail/message/{id}/{uid}");
    let list = format!("/webmail/dossier/{id}");
    let (ok, to, said) = match form.get("action").map(String::as_str) {
        Some("suivre") => (
            set_flag(&ctx, folder.id, uid, true, "\\Flagged").await,
            here,
            crate::i18n::Tr(lang).text_of("actions.message-flagged"),
        ),
        Some("ne-plus-suivre") => (
            set_flag(&ctx, folder.id, uid, false, "\\Flagged").await,
            here,
            crate::i18n::Tr(lang).text_of("actions.message-unflagged"),
        ),
        Some("non-lu") => (
            set_flag(&ctx, folder.id, uid, false, "\\Seen").await,
            list,
            crate::i18n::Tr(lang).text_of("actions.message-marked-as-unread"),
        ),
        Some("deplacer") => {
            let target = form.get("dossier").and_then(|d| d.parse::<i64>().ok());
            let Some(target) = target.and_then(|t| ctx.folder(t)).map(|f| f.id) else {
                return ctx.not_found().await;
            };
            (
                move_to(&ctx, folder.id, uid, target).await.is_some(),
                list,
                crate::i18n::Tr(lang).text_of("actions.message-moved"),
            )
        }
        Some("supprimer") => match ctx.special("\\Trash").map(|f| f.id) {
            Some(trash) if trash != folder.id => (
                move_to(&ctx, folder.id, uid, trash).await.is_some(),
                list,
                crate::i18n::Tr(lang).text_of("actions.message-moved-to-the-trash"),
            ),
            // In the trash (or without one): deleted for good.
            _ => {
                let flagged = set_flag(&ctx, folder.id, uid, true, "\\Deleted").await;
                let gone = flagged
                    && ctx
                        .mail
                        .svc
                        .expunge(ctx.account.id, folder.id, Some(vec![uid]))
                        .await
                        .is_ok();
                (
                    gone,
                    list,
                    crate::i18n::Tr(lang).text_of("actions.message-deleted-for-good"),
                )
            }
        },
        _ => {
            let msg = crate::i18n::Tr(lang).text_of("actions.unknown-action");
            return ctx.fail(axum::http::StatusCode::BAD_REQUEST, msg).await;
        }
    };
    if !ok {
        return ctx.store_failed().await;
    }
    tracing::info!(target: "audit", event = "webmail_action", bal = %ctx.account.address, actor = ctx.actor(), folder = id, uid, action = %form.get("action").cloned().unwrap_or_default());
    ctx.session.data.flash = Some(said.to_string());
    ctx.respond(see_other(&to)).await
}

/// `POST /webmail/message/{folder}/{uid}/accuse`: send the read receipt, or decline; either
/// way the request is not shown again ($MDNSent, RFC 3503).
pub async fn receipt(Path((id, uid)): Path<(i64, u32)>, PostedForm { mut ctx, form }: PostedForm) -> Response {
    if !ctx.may_send {
        return super::compose::refuse_sending(ctx).await;
    }
    let Some(super::read::Loaded { listed, bytes, slot }) = load(&ctx, id, uid).await else {
        return ctx.not_found().await;
    };
    let lang = ctx.lang();
    let mailbox = ctx.folder(id).map(|f| f.id).expect("loaded from this folder");
    let here = format!("/webmail/message/{id}/{uid}");
    if listed.meta.flags.iter().any(|f| f == MDN_SENT) {
        return ctx.respond(see_other(&here)).await;
    }
    let send = form.get("reponse").map(String::as_str) == Some("envoyer");
    if send {
        let Some(to) = listed.summary.as_ref().and_then(|s| s.receipt_to.clone()) else {
            return ctx.respond(see_other(&here)).await;
        };
        let mdn = outgoing::read_receipt(&ctx.account.address, &to, &bytes);
        // The original is read: its slot goes back before the receipt is submitted (fsync'd).
        drop(slot);
        let sent = confiance_smtp::submit(
            &ctx.mail.svc,
            &ctx.mail.smtp,
            ctx.account.clone(),
            std::slice::from_ref(&to),
            mdn,
            confiance_smtp::Submission::Report,
        )
        .await;
        if let Err(e) = sent {
            // The reason in the reader's words, never the SMTP reply.
            let french = lang == crate::html::Lang::Fr;
            let why = e.refused.first().map_or(&e.reply, |r| &r.1);
            let msg = format!(
                "{} {}",
                crate::i18n::Tr(lang).text_of("actions.the-read-receipt-could-not"),
                why.sentence(french)
            );
            return ctx.fail(axum::http::StatusCode::BAD_GATEWAY, &msg).await;
        }
        tracing::info!(target: "audit", event = "mdn_sent", bal = %ctx.account.address, actor = ctx.actor(), to = %to);
    }
    set_flag(&ctx, mailbox, uid, true, MDN_SENT).await;
    ctx.session.data.flash = Some(
        if send {
            crate::i18n::Tr(lang).text_of("actions.read-receipt-sent")
        } else {
            crate::i18n::Tr(lang).text_of("actions.no-read-receipt-will-be")
        }
        .to_string(),
    );
    ctx.respond(see_other(&here)).await
}
