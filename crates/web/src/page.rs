//! `GET /annuaire`: the search page, in French (English with `?lang=en`), in the site's layout.
//! Plain HTML and a form: it works without JavaScript, with a keyboard and with a screen reader.

use askama::Template;
use axum::extract::{Query as QueryString, State};
use axum::response::{IntoResponse, Response};
use confiance_directory::view::Entry;
use confiance_directory::{Directory, Results};

use crate::api::{SearchParams, loaded, params};
use crate::html::{Lang, url_value};
use crate::i18n::Tr;
use crate::site::{self, Layout, Section};
use crate::{Problem, WebState};

/// An address for a `mailto:` URI (RFC 6068): everything but unreserved characters and `@`
/// percent-encoded.
fn mailto(address: &str) -> String {
    address
        .split('@')
        .map(url_value)
        .collect::<Vec<_>>()
        .join("@")
        .replace('+', "%20")
}

#[derive(Template)]
#[template(path = "directory/search.html")]
struct SearchPage<'a> {
    l: Layout,
    tr: Tr,
    q: &'a str,
    professions: Vec<(String, String)>,
    profession: &'a str,
    kind: &'a str,
    commune: &'a str,
    departement: &'a str,
    with_bal: bool,
    found: Option<&'a Results>,
    problem: Option<&'a str>,
    /// Where the directory comes from: the national extracts' file names, or one name for both.
    source: String,
    people: u64,
    bals: u64,
}

impl SearchPage<'_> {
    /// The catalogue key of a BAL type.
    fn kind_key(&self, kind: &str) -> &'static str {
        match kind {
            "PER" => "directory.kind-per",
            "ORG" => "directory.kind-org",
            "APP" => "directory.kind-app",
            _ => "directory.kind-cab",
        }
    }

    /// What an entry is: profession, specialty, RPPS.
    fn what(&self, e: &Entry) -> String {
        let mut what = Vec::new();
        what.extend(e.profession.as_ref().map(|p| p.label.clone()));
        what.extend(e.specialty.as_ref().map(|s| s.label.clone()));
        what.extend(e.rpps.as_ref().map(|r| format!("RPPS {r}")));
        what.join(" · ")
    }

    /// Where an entry practises, one line a place (places that say nothing left out).
    fn places(&self, e: &Entry) -> Vec<String> {
        e.places
            .iter()
            .map(|p| {
                [&p.organisation, &p.street, &p.postcode, &p.commune]
                    .into_iter()
                    .flatten()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .filter(|line| !line.is_empty())
            .collect()
    }

    fn mailto(&self, address: &str) -> String {
        mailto(address)
    }
}

/// What a search page shows around its results.
struct Shown<'a> {
    lang: Lang,
    /// A directory served alone has no mail to link to.
    mail: bool,
    found: Option<&'a Results>,
    error: Option<&'a Problem>,
}

fn render(p: &SearchParams, d: &Directory, shown: Shown) -> Response {
    let Shown {
        lang,
        mail,
        found,
        error,
    } = shown;
    let tr = Tr(lang);
    let mut l = Layout::new(lang, tr.text_of("directory.title"), Section::Directory);
    l.wide = true;
    l.mail = mail;
    // The switch keeps the words searched.
    l.switch = match lang {
        Lang::En => format!("/annuaire?q={}", url_value(&p.q)),
        Lang::Fr => format!("/annuaire?lang=en&q={}", url_value(&p.q)),
    };
    let professions = d
        .snapshot
        .professions
        .iter()
        .map(|&(c, l)| (d.snapshot.text(c).to_string(), d.snapshot.text(l).to_string()))
        .collect();
    let provenance = &d.snapshot.provenance;
    let page = SearchPage {
        l,
        tr,
        q: &p.q,
        professions,
        profession: p.profession.as_deref().unwrap_or(""),
        kind: p.kind.as_deref().unwrap_or(""),
        commune: p.commune.as_deref().unwrap_or(""),
        departement: p.departement.as_deref().unwrap_or(""),
        with_bal: matches!(p.bal.as_deref(), Some("1" | "true" | "on" | "oui")),
        found,
        problem: error.map(|e| e.detail.as_str()),
        source: if provenance.activities_file == provenance.mailboxes_file {
            crate::i18n::Tr(lang).fill("directory.source", &[("file", &provenance.activities_file)])
        } else {
            crate::i18n::Tr(lang).fill(
                "directory.sources",
                &[
                    ("activities", &provenance.activities_file),
                    ("mailboxes", &provenance.mailboxes_file),
                ],
            )
        },
        people: d.snapshot.people.len() as u64,
        bals: d.snapshot.mailbox_count() as u64,
    };
    let status = error.map_or(axum::http::StatusCode::OK, |e| e.status);
    (status, site::render(&page)).into_response()
}

pub async fn search(
    State(state): State<WebState>,
    parsed: Result<QueryString<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let mail = state.accounts.is_some();
    let directory = match loaded(&state) {
        Ok(d) => d,
        Err(p) => return p.into_response(),
    };
    let p = match params(parsed) {
        Ok(p) => p,
        Err(problem) => {
            let shown = Shown {
                lang: Lang::Fr,
                mail,
                found: None,
                error: Some(&problem),
            };
            return render(&SearchParams::default(), &directory, shown);
        }
    };
    let lang = if p.lang.as_deref() == Some("en") {
        Lang::En
    } else {
        Lang::Fr
    };
    let asked = !p.q.trim().is_empty()
        || [&p.profession, &p.commune, &p.departement, &p.kind]
            .iter()
            .any(|v| v.as_deref().is_some_and(|v| !v.is_empty()));
    let query = match p.to_query(25) {
        Ok(q) => q,
        Err(problem) => {
            let shown = Shown {
                lang,
                mail,
                found: None,
                error: Some(&problem),
            };
            return render(&p, &directory, shown);
        }
    };
    let found = if asked {
        let live = state.directory.clone();
        crate::blocking(move || live.search(&query)).await.flatten()
    } else {
        None
    };
    let shown = Shown {
        lang,
        mail,
        found: found.as_ref(),
        error: None,
    };
    render(&p, &directory, shown)
}
