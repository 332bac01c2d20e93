//! `GET /annuaire`: the search page, in French (English with `?lang=en`). Plain HTML and a
//! form: it works without JavaScript, with a keyboard and with a screen reader.

use axum::extract::{Query as QueryString, State};
use axum::response::{Html, IntoResponse, Response};
use confiance_directory::view::{Entry, MailboxView};
use confiance_directory::{Directory, Results};

use crate::api::{SearchParams, loaded, params};
use crate::html::{Lang, escape, t, url_value};
use crate::{Problem, WebState};

fn kind_label(lang: Lang, kind: &str) -> &'static str {
    match kind {
        "PER" => t(lang, "BAL personnelle", "personal mailbox"),
        "ORG" => t(lang, "BAL organisationnelle", "organisational mailbox"),
        "APP" => t(lang, "BAL applicative", "applicative mailbox"),
        _ => t(lang, "BAL de cabinet", "practice mailbox"),
    }
}

fn mailbox(lang: Lang, m: &MailboxView) -> String {
    let demat = match m.dematerialisation {
        Some(true) => t(
            lang,
            " · accepte la dématérialisation",
            " · accepts paperless documents",
        ),
        Some(false) => t(
            lang,
            " · n'accepte pas la dématérialisation",
            " · does not accept paperless documents",
        ),
        None => "",
    };
    let service = m
        .service
        .as_deref()
        .map(|s| format!(" · {}", escape(s)))
        .unwrap_or_default();
    format!(
        "<li><a href=\"mailto:{href}\">{a}</a> <span class=\"meta\">({}{service}{demat})</span></li>",
        kind_label(lang, m.kind),
        // Percent-encoded: `?` or `&` in a local part must not add headers to the link.
        href = escape(&mailto(&m.address)),
        a = escape(&m.address)
    )
}

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

fn entry(lang: Lang, e: &Entry) -> String {
    let mut what = Vec::new();
    if let Some(p) = &e.profession {
        what.push(escape(&p.label));
    }
    if let Some(s) = &e.specialty {
        what.push(escape(&s.label));
    }
    if let Some(r) = &e.rpps {
        what.push(format!("RPPS {}", escape(r)));
    }
    let places: String = e
        .places
        .iter()
        .map(|p| {
            let parts: Vec<String> = [&p.organisation, &p.street, &p.postcode, &p.commune]
                .into_iter()
                .flatten()
                .map(|v| escape(v))
                .collect();
            format!("<li>{}</li>", parts.join(", "))
        })
        .filter(|li| li != "<li></li>")
        .collect();
    let mailboxes = if e.mailboxes.is_empty() {
        format!(
            "<p class=\"meta\">{}</p>",
            t(lang, "Aucune BAL MSSanté publiée.", "No published MSSanté mailbox.")
        )
    } else {
        format!(
            "<ul class=\"bal\">{}</ul>",
            e.mailboxes.iter().map(|m| mailbox(lang, m)).collect::<String>()
        )
    };
    format!(
        "<li class=\"entry\"><article><h2>{}</h2><p class=\"meta\">{}</p>{}{mailboxes}</article></li>",
        escape(&e.display_name),
        what.join(" · "),
        if places.is_empty() {
            String::new()
        } else {
            format!("<ul class=\"places\">{places}</ul>")
        }
    )
}

fn options(selected: &Option<String>, items: &[(String, String)], any: &str) -> String {
    let mut out = format!("<option value=\"\">{}</option>", escape(any));
    for (code, label) in items {
        let sel = if selected.as_deref() == Some(code.as_str()) {
            " selected"
        } else {
            ""
        };
        out.push_str(&format!(
            "<option value=\"{}\"{sel}>{}</option>",
            escape(code),
            escape(label)
        ));
    }
    out
}

fn results(lang: Lang, r: &Results) -> String {
    let count = match (r.total, r.more) {
        (0, _) => t(lang, "Aucun résultat.", "No results.").to_string(),
        (n, true) => format!(
            "{} {n} {}",
            t(lang, "Plus de", "More than"),
            t(lang, "résultats", "results")
        ),
        (1, false) => t(lang, "1 résultat", "1 result").to_string(),
        (n, false) => format!("{n} {}", t(lang, "résultats", "results")),
    };
    format!(
        "<p id=\"count\" role=\"status\">{count}</p><ol class=\"results\">{}</ol>",
        r.entries.iter().map(|e| entry(lang, e)).collect::<String>()
    )
}

fn render(lang: Lang, p: &SearchParams, d: &Directory, found: Option<&Results>, error: Option<&Problem>) -> String {
    let professions: Vec<(String, String)> = d
        .snapshot
        .professions
        .iter()
        .map(|&(c, l)| (d.snapshot.text(c).to_string(), d.snapshot.text(l).to_string()))
        .collect();
    let kinds: Vec<(String, String)> = ["PER", "ORG", "APP", "CAB"]
        .iter()
        .map(|k| (k.to_string(), kind_label(lang, k).to_string()))
        .collect();
    let value = |v: &Option<String>| escape(v.as_deref().unwrap_or(""));
    let checked = if matches!(p.bal.as_deref(), Some("1" | "true" | "on" | "oui")) {
        " checked"
    } else {
        ""
    };
    let body = match (found, error) {
        (_, Some(e)) => format!("<p class=\"error\" role=\"alert\">{}</p>", escape(&e.detail)),
        (Some(r), None) => results(lang, r),
        (None, None) => String::new(),
    };
    let other = if lang == Lang::En {
        format!("<a href=\"/annuaire?q={}\" lang=\"fr\">Français</a>", url_value(&p.q))
    } else {
        format!(
            "<a href=\"/annuaire?lang=en&amp;q={}\" lang=\"en\">English</a>",
            url_value(&p.q)
        )
    };
    let provenance = &d.snapshot.provenance;
    format!(
        r#"<!doctype html>
<html lang="{html_lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0 auto; max-width: 60rem; padding: 1rem; color: #1a1a1a; }}
form {{ display: grid; gap: .75rem; grid-template-columns: repeat(auto-fit, minmax(12rem, 1fr)); align-items: end; }}
label {{ display: block; font-weight: 600; }}
input, select, button {{ font: inherit; padding: .4rem; width: 100%; box-sizing: border-box; }}
.q {{ grid-column: 1 / -1; }}
button {{ background: #00507a; color: #fff; border: 0; border-radius: .25rem; cursor: pointer; }}
.results {{ list-style: none; padding: 0; }}
.entry {{ border-bottom: 1px solid #ccc; padding: .5rem 0; }}
h2 {{ font-size: 1.1rem; margin: 0; }}
.meta {{ color: #4a4a4a; margin: .2rem 0; }}
.error {{ color: #a00000; font-weight: 600; }}
a {{ color: #00507a; }}
footer {{ margin-top: 2rem; color: #4a4a4a; font-size: .9rem; }}
</style>
</head>
<body>
<header><nav aria-label="{langs}">{other}</nav><h1>{title}</h1>
<p>{intro}</p></header>
<main>
<form method="get" action="/annuaire" role="search">
<input type="hidden" name="lang" value="{lang_value}">
<div class="q"><label for="q">{l_q}</label><input id="q" name="q" type="search" value="{q}" autocomplete="off" autofocus></div>
<div><label for="profession">{l_prof}</label><select id="profession" name="profession">{prof_options}</select></div>
<div><label for="type">{l_type}</label><select id="type" name="type">{kind_options}</select></div>
<div><label for="commune">{l_commune}</label><input id="commune" name="commune" value="{commune}"></div>
<div><label for="departement">{l_dep}</label><input id="departement" name="departement" value="{dep}" inputmode="text" size="3"></div>
<div><label><input type="checkbox" name="bal" value="1"{checked}> {l_bal}</label></div>
<div><button type="submit">{l_search}</button></div>
</form>
<section aria-label="{l_results}">{body}</section>
</main>
<footer>{l_source} : {activities} {mailboxes} — {people} {l_people}, {bal} BAL. {l_red}</footer>
</body>
</html>"#,
        html_lang = if lang == Lang::En { "en" } else { "fr" },
        title = t(lang, "Annuaire MSSanté", "MSSanté directory"),
        langs = t(lang, "Langue", "Language"),
        intro = t(
            lang,
            "Trouvez l'adresse de messagerie sécurisée d'un professionnel ou d'une structure : nom, lieu, RPPS, FINESS ou adresse. Les fautes de frappe sont tolérées.",
            "Find the secure mail address of a professional or a structure: name, place, RPPS, FINESS or address. Typos are tolerated."
        ),
        lang_value = if lang == Lang::En { "en" } else { "fr" },
        l_q = t(
            lang,
            "Nom, lieu, RPPS, FINESS ou adresse",
            "Name, place, RPPS, FINESS or address"
        ),
        q = escape(&p.q),
        l_prof = t(lang, "Profession", "Profession"),
        prof_options = options(&p.profession, &professions, t(lang, "Toutes", "All")),
        l_type = t(lang, "Type de BAL", "Mailbox type"),
        kind_options = options(&p.kind, &kinds, t(lang, "Tous", "All")),
        l_commune = t(lang, "Commune", "Town"),
        commune = value(&p.commune),
        l_dep = t(lang, "Département", "Département"),
        dep = value(&p.departement),
        l_bal = t(lang, "Seulement avec une BAL MSSanté", "Only with an MSSanté mailbox"),
        l_search = t(lang, "Rechercher", "Search"),
        l_results = t(lang, "Résultats", "Results"),
        l_source = t(lang, "Source", "Source"),
        activities = escape(&provenance.activities_file),
        mailboxes = escape(&provenance.mailboxes_file),
        people = d.snapshot.people.len(),
        l_people = t(lang, "professionnels", "professionals"),
        bal = d.snapshot.mailbox_count(),
        l_red = t(
            lang,
            "Les BAL inscrites en liste rouge n'apparaissent jamais.",
            "Mailboxes on the liste rouge (unlisted) never appear."
        ),
    )
}

pub async fn search(
    State(state): State<WebState>,
    parsed: Result<QueryString<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let directory = match loaded(&state) {
        Ok(d) => d,
        Err(p) => return p.into_response(),
    };
    let p = match params(parsed) {
        Ok(p) => p,
        Err(problem) => {
            let page = render(Lang::Fr, &SearchParams::default(), &directory, None, Some(&problem));
            return (problem.status, Html(page)).into_response();
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
            let page = render(lang, &p, &directory, None, Some(&problem));
            return (problem.status, Html(page)).into_response();
        }
    };
    let found = if asked {
        let live = state.directory.clone();
        crate::blocking(move || live.search(&query)).await.flatten()
    } else {
        None
    };
    Html(render(lang, &p, &directory, found.as_ref(), None)).into_response()
}
