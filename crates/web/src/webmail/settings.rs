//! Webmail settings: the signature here; notifications, directory choices, password, second
//! factor and devices (app passwords) on the account page, linked from here. And the list of
//! keyboard shortcuts.

use axum::response::Response;

use super::{Ctx, PostedForm};
use crate::account::layout::csrf;
use crate::account::see_other;
use crate::html::{escape, t};

const MAX_SIGNATURE: usize = 2000;

pub async fn page(ctx: Ctx) -> Response {
    let lang = ctx.lang();
    let account = ctx.account.id;
    let signature = ctx.accounts.registry.signature(account).await.unwrap_or_default();
    let main = format!(
        r#"<h1>{title}</h1>
<h2>{sig_title}</h2>
<form method="post" action="/webmail/reglages">{csrf}<label for="signature">{sig_l}</label><textarea id="signature" name="signature" rows="5" maxlength="{MAX_SIGNATURE}" aria-describedby="signature-aide">{signature}</textarea><p class="hint" id="signature-aide">{sig_hint}</p><button>{save}</button></form>
<h2>{account_title}</h2>
<ul>
<li><a href="/compte#notifications">{notifications}</a></li>
<li><a href="/compte#annuaire">{directory}</a></li>
<li><a href="/compte#second-facteur">{security}</a> · <a href="/compte#mot-de-passe">{password}</a></li>
<li><a href="/compte#appareils">{devices}</a></li>
</ul>
<h2>{keys_title}</h2>
<p><a href="/webmail/raccourcis">{keys}</a></p>"#,
        title = t(lang, "Réglages", "Settings"),
        sig_title = t(lang, "Signature", "Signature"),
        csrf = csrf(&ctx.session.data.csrf),
        sig_l = t(
            lang,
            "Signature ajoutée à vos messages",
            "Signature added to your messages"
        ),
        signature = escape(&signature),
        sig_hint = t(
            lang,
            "Par exemple : Dr Jeanne Martin, médecin généraliste, 01 23 45 67 89.",
            "For example: Dr Jeanne Martin, general practitioner, 01 23 45 67 89."
        ),
        save = t(lang, "Enregistrer", "Save"),
        account_title = t(lang, "Mon compte", "My account"),
        notifications = t(lang, "Notifications des nouveaux messages", "New-mail notifications"),
        directory = t(
            lang,
            "Choix de l'annuaire (liste rouge, mobile) et dématérialisation",
            "Directory choices (liste rouge, mobile) and dématérialisation"
        ),
        security = t(
            lang,
            "Second facteur (code par e-mail, SMS ou application)",
            "Second factor (code by e-mail, SMS or app)"
        ),
        password = t(lang, "Mot de passe", "Password"),
        devices = t(
            lang,
            "Appareils : mots de passe d'application des logiciels et clients de messagerie",
            "Devices: app passwords of software and mail clients"
        ),
        keys_title = t(lang, "Clavier", "Keyboard"),
        keys = t(lang, "Raccourcis clavier", "Keyboard shortcuts"),
    );
    let title = t(lang, "Réglages", "Settings");
    ctx.page(title, None, &main).await
}

pub async fn post(PostedForm { mut ctx, form }: PostedForm) -> Response {
    let lang = ctx.lang();
    let signature: String = form
        .get("signature")
        .map(|s| s.replace("\r\n", "\n").trim_end().chars().take(MAX_SIGNATURE).collect())
        .unwrap_or_default();
    let account = ctx.account.id;
    if ctx.accounts.registry.set_signature(account, signature).await.is_none() {
        return ctx.store_failed().await;
    }
    ctx.session.data.flash = Some(t(lang, "Signature enregistrée.", "Signature saved.").into());
    ctx.respond(see_other("/webmail/reglages")).await
}

/// The keyboard shortcuts `app.js` offers; `data-key` attributes on the pages carry them.
pub const SHORTCUTS: &[(&str, &str, &str)] = &[
    ("c", "Écrire un message", "Write a message"),
    ("/", "Rechercher", "Search"),
    ("j", "Message suivant dans la liste", "Next message in the list"),
    ("k", "Message précédent dans la liste", "Previous message in the list"),
    ("n", "Page suivante", "Next page"),
    ("p", "Page précédente", "Previous page"),
    ("u", "Revenir à la liste", "Back to the list"),
    ("r", "Répondre", "Reply"),
    ("a", "Répondre à tous", "Reply all"),
    ("f", "Transférer", "Forward"),
    ("s", "Suivre / ne plus suivre", "Flag / unflag"),
    ("m", "Marquer comme non lu", "Mark as unread"),
    ("#", "Supprimer", "Delete"),
    ("?", "Cette liste", "This list"),
];

pub async fn shortcuts(ctx: Ctx) -> Response {
    let lang = ctx.lang();
    let rows: String = SHORTCUTS
        .iter()
        .map(|(key, fr, en)| {
            format!(
                "<tr><td><kbd>{}</kbd></td><td>{}</td></tr>",
                escape(key),
                t(lang, fr, en)
            )
        })
        .collect();
    let main = format!(
        r#"<h1>{title}</h1><p>{intro}</p><table><caption class="sr">{title}</caption><thead><tr><th scope="col">{key}</th><th scope="col">{action}</th></tr></thead><tbody>{rows}</tbody></table>"#,
        title = t(lang, "Raccourcis clavier", "Keyboard shortcuts"),
        intro = t(
            lang,
            "Hors d'un champ de saisie. Tab et Entrée suffisent aussi pour tout faire.",
            "Outside a text field. Tab and Enter are also enough to do everything."
        ),
        key = t(lang, "Touche", "Key"),
        action = t(lang, "Action", "Action"),
    );
    let title = t(lang, "Raccourcis clavier", "Keyboard shortcuts");
    ctx.page(title, None, &main).await
}
