//! What a professional does to a message: flag, mark unread, move, delete (to the trash; from
//! the trash, for good), and answer a read-receipt request.

use std::collections::HashMap;

use axum::extract::Path;
use axum::response::Response;
use confiance_mail::model::FolderId;
use confiance_mail::model::{FlagOp, FlagUpdate};

use super::logged;
use super::read::{MDN_SENT, load};
use super::{Ctx, PostedForm, outgoing};
use crate::account::see_other;

async fn set_flag(ctx: &Ctx, folder: FolderId, uids: &[u32], on: bool, flag: &str) -> bool {
    let update = FlagUpdate {
        uids: uids.to_vec(),
        op: if on { FlagOp::Add } else { FlagOp::Remove },
        flags: vec![flag.to_string()],
        unchanged_since: None,
    };
    logged(ctx.mail.svc.set_flags(ctx.account.id, folder, update).await).is_some()
}

/// Moves messages; `None` when the store refused (the quota of the destination).
async fn move_to(ctx: &Ctx, from: FolderId, uids: &[u32], to: FolderId) -> Option<()> {
    match ctx.mail.svc.copy(ctx.account.id, from, uids.to_vec(), to, true).await {
        Ok(_) => Some(()),
        Err(e) => {
            tracing::warn!(account = ctx.account.id.0, error = %e, "webmail move refused");
            None
        }
    }
}

/// What an action did, for the flash: each has a key whose plural counts the messages.
enum Done {
    Flagged,
    Unflagged,
    Read,
    Unread,
    Moved,
    Trashed,
    Deleted,
}

impl Done {
    fn key(&self) -> &'static str {
        match self {
            Done::Flagged => "actions.flagged",
            Done::Unflagged => "actions.unflagged",
            Done::Read => "actions.marked-read",
            Done::Unread => "actions.marked-unread",
            Done::Moved => "actions.moved",
            Done::Trashed => "actions.trashed",
            Done::Deleted => "actions.deleted",
        }
    }
}

/// Applies `action` to `uids` of `folder`: `Ok(None)` when the store failed, `Err` for an
/// action or a destination that does not exist here.
async fn apply(ctx: &Ctx, folder: FolderId, uids: &[u32], form: &HashMap<String, String>) -> Result<Option<Done>, ()> {
    let done = match form.get("action").map(String::as_str) {
        Some("suivre") => set_flag(ctx, folder, uids, true, "\\Flagged")
            .await
            .then_some(Done::Flagged),
        Some("ne-plus-suivre") => set_flag(ctx, folder, uids, false, "\\Flagged")
            .await
            .then_some(Done::Unflagged),
        Some("lu") => set_flag(ctx, folder, uids, true, "\\Seen").await.then_some(Done::Read),
        Some("non-lu") => set_flag(ctx, folder, uids, false, "\\Seen")
            .await
            .then_some(Done::Unread),
        Some("deplacer") => {
            let target = form.get("dossier").and_then(|d| d.parse::<i64>().ok());
            let target = target.and_then(|t| ctx.folder(t)).map(|f| f.id).ok_or(())?;
            move_to(ctx, folder, uids, target).await.map(|()| Done::Moved)
        }
        Some("supprimer") => match ctx.special("\\Trash").map(|f| f.id) {
            Some(trash) if trash != folder => move_to(ctx, folder, uids, trash).await.map(|()| Done::Trashed),
            // In the trash (or without one): deleted for good.
            _ => {
                let flagged = set_flag(ctx, folder, uids, true, "\\Deleted").await;
                let gone = flagged
                    && ctx
                        .mail
                        .svc
                        .expunge(ctx.account.id, folder, Some(uids.to_vec()))
                        .await
                        .is_ok();
                gone.then_some(Done::Deleted)
            }
        },
        _ => return Err(()),
    };
    Ok(done)
}

/// `POST /webmail/message/{folder}/{uid}/action`: one message, from its page.
pub async fn message(Path((id, uid)): Path<(i64, u32)>, PostedForm { ctx, form }: PostedForm) -> Response {
    let Some(folder) = ctx.folder(id).cloned() else {
        return ctx.not_found().await;
    };
    // Flags leave the message open; the others go back to the list.
    let back = match form.get("action").map(String::as_str) {
        Some("suivre" | "ne-plus-suivre") => format!("/webmail/message/{id}/{uid}"),
        _ => format!("/webmail/dossier/{id}"),
    };
    acted(ctx, folder.id, vec![uid], form, &back).await
}

/// `POST /webmail/dossier/{folder}/selection`: the messages ticked in a list (`m<uid>` fields),
/// or dragged onto a folder.
pub async fn selection(Path(id): Path<i64>, PostedForm { mut ctx, form }: PostedForm) -> Response {
    let Some(folder) = ctx.folder(id).cloned() else {
        return ctx.not_found().await;
    };
    let back = form
        .get("retour")
        .filter(|r| r.starts_with(&format!("/webmail/dossier/{id}")) && !r.contains("//"))
        .cloned()
        .unwrap_or_else(|| format!("/webmail/dossier/{id}"));
    let mut uids: Vec<u32> = form
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .filter_map(|(k, _)| k.strip_prefix('m')?.parse().ok())
        .collect();
    uids.sort_unstable();
    // A list shows 25 messages; a form naming more was not made by it.
    if uids.is_empty() || uids.len() > 200 {
        ctx.session.data.alert = Some(crate::i18n::Tr(ctx.lang()).text_of("actions.tick-first").into());
        return ctx.respond(see_other(&back)).await;
    }
    acted(ctx, folder.id, uids, form, &back).await
}

async fn acted(mut ctx: Ctx, folder: FolderId, uids: Vec<u32>, form: HashMap<String, String>, back: &str) -> Response {
    let lang = ctx.lang();
    let done = match apply(&ctx, folder, &uids, &form).await {
        Ok(Some(done)) => done,
        Ok(None) => return ctx.store_failed().await,
        Err(()) => {
            let msg = crate::i18n::Tr(lang).text_of("actions.unknown-action");
            return ctx.fail(axum::http::StatusCode::BAD_REQUEST, msg).await;
        }
    };
    tracing::info!(target: "audit", event = "webmail_action", bal = %ctx.account.address, actor = ctx.actor(),
        folder = folder.0, uids = ?uids, action = %form.get("action").cloned().unwrap_or_default());
    ctx.session.data.flash = Some(crate::i18n::Tr(lang).n(done.key(), uids.len() as u64).0);
    ctx.respond(see_other(back)).await
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
    set_flag(&ctx, mailbox, &[uid], true, MDN_SENT).await;
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
