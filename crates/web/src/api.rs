//! `GET /api/annuaire`: the directory search for autocomplete (webmail, practice software).
//! Parameters keep the French names the search page uses.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Query as QueryString, State};
use confiance_core::MailboxKind;
use confiance_directory::{Directory, Query, Results};
use serde::Deserialize;

use crate::{Problem, WebState};

#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    /// Names, place, RPPS, FINESS or address; the last word is completed while typing.
    #[serde(default)]
    pub q: String,
    pub profession: Option<String>,
    pub specialite: Option<String>,
    pub commune: Option<String>,
    pub code_postal: Option<String>,
    pub departement: Option<String>,
    /// PER, ORG, APP or CAB.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `1`: only entries with a BAL.
    pub bal: Option<String>,
    pub limit: Option<usize>,
    /// `en` for English labels on the page.
    pub lang: Option<String>,
}

fn nonempty(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

impl SearchParams {
    /// The index query, or a precise reason why the parameters are wrong.
    pub fn to_query(&self, default_limit: usize) -> Result<Query, Problem> {
        if self.q.chars().count() > 200 {
            return Err(Problem::bad_request("q: 200 caractères au plus"));
        }
        let kind = match nonempty(&self.kind) {
            Some(k) => Some(
                MailboxKind::from_code(&k)
                    .ok_or_else(|| Problem::bad_request(format!("type {k:?} : PER, ORG, APP ou CAB attendu")))?,
            ),
            None => None,
        };
        let profession = nonempty(&self.profession);
        if let Some(p) = &profession
            && !(p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(Problem::bad_request(format!(
                "profession {p:?} : un code TRE_G15 est attendu (10 médecin, 60 infirmier…)"
            )));
        }
        let postcode = nonempty(&self.code_postal);
        if let Some(c) = &postcode
            && !(c.len() == 5 && c.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(Problem::bad_request(format!("code_postal {c:?} : 5 chiffres attendus")));
        }
        let departement = nonempty(&self.departement).map(|d| d.to_ascii_uppercase());
        if let Some(d) = &departement
            && !(2..=3).contains(&d.len())
        {
            return Err(Problem::bad_request(format!(
                "departement {d:?} : 2 ou 3 caractères attendus (75, 2A, 974)"
            )));
        }
        let limit = self.limit.unwrap_or(default_limit);
        if !(1..=50).contains(&limit) {
            return Err(Problem::bad_request(format!("limit {limit} : entre 1 et 50")));
        }
        Ok(Query {
            text: self.q.clone(),
            profession,
            specialty: nonempty(&self.specialite).map(|s| s.to_ascii_uppercase()),
            commune: nonempty(&self.commune),
            postcode,
            departement,
            kind,
            with_mailbox: matches!(self.bal.as_deref(), Some("1" | "true" | "on" | "oui")),
            entry: None,
            limit,
        })
    }
}

/// The national directory in force (else our own BAL alone), or 503 with what to do.
pub fn loaded(state: &WebState) -> Result<Arc<Directory>, Problem> {
    state
        .directory
        .sources()
        .and_then(|mut s| s.pop())
        .map(|s| s.directory)
        .ok_or_else(|| Problem::unavailable("aucun annuaire importé : `confiance directory import`"))
}

/// The query string, or a problem naming the parameter that could not be read.
pub fn params(
    parsed: Result<QueryString<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<SearchParams, Problem> {
    parsed
        .map(|QueryString(p)| p)
        .map_err(|e| Problem::bad_request(e.body_text()))
}

pub async fn search(
    State(state): State<WebState>,
    parsed: Result<QueryString<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Results>, Problem> {
    let query = params(parsed)?.to_query(10)?;
    loaded(&state)?;
    // Searching is CPU work of a few milliseconds: off the async workers.
    let live = state.directory.clone();
    let results = crate::blocking(move || live.search(&query))
        .await
        .flatten()
        .ok_or_else(|| Problem::unavailable("la recherche a échoué"))?;
    Ok(Json(results))
}
