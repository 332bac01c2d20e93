//! Mailbox lifecycle: suspension, reactivation, deletion, and the inactivity sweep of CNIL
//! AU-037 — a BAL nobody logged into for `inactivity_delete_days` is deleted, after notices to
//! the holder's personal e-mail `inactivity_notice_days` before, and never sooner than the
//! shortest notice delay after the last notice (time to object by logging in).

use std::sync::Arc;

use confiance_auth::notify::Notifier;
use confiance_mail::MailService;
use confiance_store::{Account, Store};

const DAY: i64 = 86_400;

#[derive(Clone, Debug)]
pub struct Rules {
    pub delete_after_days: u64,
    /// Days before deletion, any order.
    pub notice_days: Vec<u64>,
}

#[derive(Debug, Default)]
pub struct Sweep {
    pub notified: Vec<String>,
    pub deleted: Vec<String>,
    /// Due a notice that could not be sent (no personal e-mail, or the relay refused it): they
    /// are not deleted until one is, and the admin sees them listed.
    pub unnotified: Vec<(String, String)>,
}

fn notice_text(account: &Account, deletion_at: i64) -> String {
    let date = chrono::DateTime::from_timestamp(deletion_at, 0)
        .map(|d| d.format("%d/%m/%Y").to_string())
        .unwrap_or_default();
    format!(
        "Bonjour,\n\nVotre boîte aux lettres MSSanté {} n'a reçu aucune connexion depuis près d'un an.\n\
         Conformément aux règles de la CNIL (autorisation unique AU-037), elle sera supprimée avec ses messages le {date}.\n\
         Pour la conserver, il suffit de vous connecter avant cette date (webmail, logiciel ou client de messagerie).\n\n\
         Confiance MSSanté",
        account.address
    )
}

/// One pass over every account at time `now`.
pub async fn sweep(
    store: Arc<dyn Store>,
    svc: &MailService,
    notifier: &Notifier,
    rules: &Rules,
    now: i64,
) -> anyhow::Result<Sweep> {
    let mut out = Sweep::default();
    let mut notices: Vec<i64> = rules.notice_days.iter().map(|d| *d as i64).collect();
    notices.sort_unstable_by(|a, b| b.cmp(a));
    let shortest = notices.last().copied().unwrap_or(0);
    let s = store.clone();
    let accounts = tokio::task::spawn_blocking(move || s.accounts()).await??;
    for account in accounts {
        let since = account.last_login_at.unwrap_or(account.created_at);
        let deletion_at = since + rules.delete_after_days as i64 * DAY;
        let due = notices.iter().filter(|d| now >= deletion_at - *d * DAY).count() as u32;
        if due > account.inactivity_notices {
            let (s, id) = (store.clone(), account.id);
            let profile = tokio::task::spawn_blocking(move || s.profile(id)).await??;
            // The deletion date moves so that the holder always has the shortest delay to object.
            let shown = deletion_at.max(now + shortest * DAY);
            let sent = match profile.and_then(|p| p.personal_email) {
                Some(to) => notifier
                    .email(
                        &to,
                        "Votre BAL MSSanté va être supprimée",
                        &notice_text(&account, shown),
                    )
                    .await
                    .map_err(|e| e.to_string()),
                None => Err("pas d'e-mail personnel".to_string()),
            };
            if let Err(why) = sent {
                // CNIL AU-037: no deletion without a notice; one failure does not stop the sweep.
                tracing::warn!(target: "audit", event = "inactivity_notice_undeliverable", account = %account.address, reason = %why);
                out.unnotified.push((account.address.clone(), why));
                continue;
            }
            tracing::info!(target: "audit", event = "inactivity_notice", account = %account.address, notice = due);
            let s = store.clone();
            tokio::task::spawn_blocking(move || s.set_inactivity_notices(id, due, now)).await??;
            out.notified.push(account.address.clone());
            continue;
        }
        let all_sent = account.inactivity_notices as usize >= notices.len();
        let waited = account.inactivity_notice_at.is_none_or(|at| now >= at + shortest * DAY);
        if now >= deletion_at && all_sent && waited {
            svc.delete_account(&account).await?;
            out.deleted.push(account.address);
        }
    }
    Ok(out)
}
