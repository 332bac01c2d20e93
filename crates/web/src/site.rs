//! The one layout of every page outside the webmail: login, activation, the account, the
//! directory, the PSC sandbox (and the admin pages to come). The operator's name, the
//! navigation and the language switch sit in the same header on each
//! (`templates/site/layout.html`); the pieces forms are made of (labelled fields, notices,
//! the CSRF field) are macros in `templates/site/pieces.html`.

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::html::Lang;
use crate::i18n::Tr;

/// The product's name in every header and title.
pub const BRAND: &str = "Confiance MSSanté";

const CSS: &str = include_str!("site.css");

/// A digest of the stylesheet in its URL: a new build gets a new URL, so the browser may keep
/// the sheet as long as it likes.
fn version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| digest(&[CSS]))
}

/// The first 12 hex digits of the SHA-256 of `parts`.
pub(crate) fn digest(parts: &[&str]) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for p in parts {
        h.update(p);
    }
    hex::encode(&h.finalize()[..6])
}

/// A static asset of the binary, cached for a year (its URL changes with its content).
pub(crate) fn asset(body: &'static str, kind: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    r
}

pub async fn css() -> Response {
    asset(CSS, "text/css; charset=utf-8")
}

/// The site's icon, a white cross on the webmail's blue, also at `/favicon.ico` where browsers
/// look without being told.
pub async fn icon() -> Response {
    asset(include_str!("favicon.svg"), "image/svg+xml")
}

/// Which part of the site a page belongs to, marked in the navigation.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Section {
    Mail,
    Directory,
    Account,
}

/// What the layout shows around a page.
pub struct Layout {
    pub lang: &'static str,
    pub other_lang: &'static str,
    pub other_label: &'static str,
    /// Where the language switch leads (the same page in the other language).
    pub switch: String,
    pub title: String,
    pub version: &'static str,
    /// The directory's results need the width; forms read better narrow.
    pub wide: bool,
    /// Links to the mail and the account (not on a directory served alone).
    pub mail: bool,
    pub logged_in: bool,
    pub section: Section,
    /// Shown once, plain text (escaped by the template).
    pub flash: Option<String>,
    pub error: Option<String>,
}

impl Layout {
    pub fn new(lang: Lang, title: &str, section: Section) -> Layout {
        let (code, other_lang, other_label) = (lang.code(), lang.other().code(), lang.other().own_name());
        Layout {
            lang: code,
            other_lang,
            other_label,
            switch: format!("?lang={other_lang}"),
            title: title.to_string(),
            version: version(),
            wide: false,
            mail: true,
            logged_in: false,
            section,
            flash: None,
            error: None,
        }
    }

    pub fn flash(mut self, flash: Option<&str>) -> Layout {
        self.flash = flash.map(str::to_string);
        self
    }

    pub fn error(mut self, error: Option<&str>) -> Layout {
        self.error = error.map(str::to_string);
        self
    }

    pub fn logged_in(mut self, on: bool) -> Layout {
        self.logged_in = on;
        self
    }
}

/// A page's HTML; a template that cannot render (it never should) is logged and answered
/// with a sentence instead of half a page.
pub fn render(page: &impl Template) -> Html<String> {
    Html(page.render().unwrap_or_else(|e| {
        tracing::error!("page not rendered: {e}");
        "La page n'a pas pu être affichée ; réessayez. / The page could not be shown; try again.".into()
    }))
}

/// A form page: 200, or `refused` (422 for a form to correct, 401 for a failed login) when it
/// shows an error.
pub fn form(page: &impl Template, error: bool, refused: StatusCode) -> Response {
    let status = if error { refused } else { StatusCode::OK };
    (status, render(page)).into_response()
}

#[derive(Template)]
#[template(path = "site/error.html")]
struct ErrorPage {
    l: Layout,
    tr: Tr,
}

/// Something went wrong: the sentence that says what, and the way back.
pub fn error_page(lang: Lang, status: StatusCode, message: &str) -> Response {
    error_titled(lang, status, "site.error-title", message)
}

/// The same, under the catalogue's `title`.
pub fn error_titled(lang: Lang, status: StatusCode, title: &str, message: &str) -> Response {
    let tr = Tr(lang);
    let l = Layout::new(lang, tr.text_of(title), Section::Account).error(Some(message));
    (status, render(&ErrorPage { l, tr })).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Template)]
    #[template(
        source = "{% extends \"site/layout.html\" %}{% block main %}<p>x</p>{% endblock %}",
        ext = "html"
    )]
    struct Probe {
        l: Layout,
        tr: Tr,
    }

    /// The header is the same everywhere: brand, navigation, language switch; what a person
    /// typed is escaped in the title and the notices.
    #[test]
    fn the_layout_has_the_header_and_escapes() {
        let l = Layout::new(Lang::Fr, "<b>Titre</b>", Section::Directory).error(Some("a < b"));
        let html = Probe { l, tr: Tr(Lang::Fr) }.render().unwrap();
        assert!(html.contains(r#"<html lang="fr">"#), "{html}");
        assert!(
            html.contains(r#"<a class="brand" href="/">Confiance MSSanté</a>"#),
            "{html}"
        );
        assert!(
            html.contains(r#"<a href="/annuaire" aria-current="page">Annuaire</a>"#),
            "{html}"
        );
        assert!(html.contains(r#"<a href="?lang=en" lang="en">English</a>"#), "{html}");
        assert!(
            html.contains("&lt;b&gt;Titre&lt;/b&gt;") && !html.contains("<b>Titre"),
            "{html}"
        );
        assert!(
            html.contains(r#"<p class="error" role="alert" id="erreur">a &lt; b</p>"#),
            "{html}"
        );
        assert!(!html.contains("/compte"), "no account link before login: {html}");

        // Logged in: the account is one click away. A directory served alone links no mail.
        let l = Layout::new(Lang::En, "x", Section::Account).logged_in(true);
        let html = Probe { l, tr: Tr(Lang::En) }.render().unwrap();
        assert!(
            html.contains(r#"<a href="/compte" aria-current="page">My account</a>"#),
            "{html}"
        );
        let mut l = Layout::new(Lang::Fr, "x", Section::Directory);
        l.mail = false;
        let html = Probe { l, tr: Tr(Lang::Fr) }.render().unwrap();
        assert!(!html.contains("/webmail"), "{html}");
    }
}
