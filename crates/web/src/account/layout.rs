//! The frame of the account pages: French first (`?lang=en` for English), plain HTML forms
//! that work without JavaScript, labels on every field, errors announced to screen readers.

use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::html::{Lang, escape, t};

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:0 auto;max-width:44rem;padding:1rem;color:#1a1a1a}\
header{display:flex;justify-content:space-between;align-items:baseline;border-bottom:2px solid #00507a;margin-bottom:1rem}\
header a.brand{font-weight:700;color:#00507a;text-decoration:none;font-size:1.2rem}\
form{display:grid;gap:.8rem;margin:1rem 0}label{font-weight:600}\
input[type=text],input[type=email],input[type=tel],input[type=password],select{font:inherit;padding:.45rem;width:100%;box-sizing:border-box}\
fieldset{border:1px solid #bbb;border-radius:.3rem;display:grid;gap:.4rem}\
fieldset label,.check label{font-weight:400}\
button{font:inherit;padding:.55rem 1rem;background:#00507a;color:#fff;border:0;border-radius:.25rem;cursor:pointer;justify-self:start}\
button.secondary{background:#fff;color:#00507a;border:1px solid #00507a}\
.error{color:#a00000;font-weight:600}.flash{background:#eef6fb;border-left:4px solid #00507a;padding:.5rem}\
.steps{list-style:none;display:flex;gap:.5rem;padding:0;flex-wrap:wrap}.steps li{padding:.2rem .5rem;border-radius:.2rem;background:#eee}\
.steps li[aria-current]{background:#00507a;color:#fff}.hint{color:#4a4a4a;font-size:.9rem;margin:0}\
code.secret{font-size:1.1rem;letter-spacing:.1rem;background:#f3f3f3;padding:.2rem .4rem}\
dl{display:grid;grid-template-columns:max-content 1fr;gap:.3rem 1rem}dt{font-weight:600}\
a{color:#00507a}.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem;text-align:left}";

/// The four steps of activation, as the national service names them.
pub fn steps(lang: Lang, current: u8) -> String {
    let names = [
        t(lang, "Identification", "Identification"),
        t(lang, "Choix de l'adresse", "Address"),
        t(lang, "Paramètres du compte", "Account settings"),
        t(lang, "Récapitulatif", "Summary"),
    ];
    let items: String = names
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let current = if i as u8 + 1 == current {
                r#" aria-current="step""#
            } else {
                ""
            };
            format!("<li{current}>{}. {n}</li>", i + 1)
        })
        .collect();
    format!(
        r#"<ol class="steps" aria-label="{}">{items}</ol>"#,
        t(lang, "Étapes de l'activation", "Activation steps")
    )
}

/// A whole page. `flash` and `error` are plain text (escaped here); `body` is HTML.
pub fn page(lang: Lang, title: &str, flash: Option<&str>, error: Option<&str>, body: &str) -> Html<String> {
    let (html_lang, other, other_label) = match lang {
        Lang::Fr => ("fr", "en", "English"),
        Lang::En => ("en", "fr", "Français"),
    };
    let flash = flash
        .map(|f| format!(r#"<p class="flash" role="status">{}</p>"#, escape(f)))
        .unwrap_or_default();
    let error = error
        .map(|e| format!(r#"<p class="error" role="alert" id="erreur">{}</p>"#, escape(e)))
        .unwrap_or_default();
    Html(format!(
        r#"<!doctype html>
<html lang="{html_lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} — Confiance MSSanté</title>
<style>{STYLE}</style>
</head>
<body>
<header><a class="brand" href="/">Confiance MSSanté</a><a href="?lang={other}" lang="{other}">{other_label}</a></header>
<main>
<h1>{title}</h1>
{flash}{error}{body}
</main>
</body>
</html>"#,
        title = escape(title),
    ))
}

/// A form page: 200, or `refused` (422 for a form to correct, 401 for a failed login) when it
/// shows an error.
pub fn form_page(
    lang: Lang,
    title: &str,
    flash: Option<&str>,
    error: Option<&str>,
    body: &str,
    refused: StatusCode,
) -> Response {
    let status = if error.is_some() { refused } else { StatusCode::OK };
    (status, page(lang, title, flash, error, body)).into_response()
}

pub fn error_page(lang: Lang, status: StatusCode, message: &str) -> Response {
    let title = t(lang, "Une erreur est survenue", "Something went wrong");
    let back = format!(
        r#"<p><a href="/">{}</a></p>"#,
        t(lang, "Retour à l'accueil", "Back to the start")
    );
    (status, page(lang, title, None, Some(message), &back)).into_response()
}

/// A hidden CSRF field for every form.
pub fn csrf(token: &str) -> String {
    format!(r#"<input type="hidden" name="csrf" value="{}">"#, escape(token))
}

pub fn checked(on: bool) -> &'static str {
    if on { " checked" } else { "" }
}

/// The national password rule, as every password field explains it.
pub fn password_rule(lang: Lang) -> &'static str {
    t(
        lang,
        "Au moins 8 caractères, dont une majuscule, une minuscule et un chiffre.",
        "At least 8 characters, with an upper-case letter, a lower-case letter and a digit.",
    )
}
