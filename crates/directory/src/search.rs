//! Searching the index: every word of the query must match (exactly, as a prefix while typing,
//! or within one or two edits), every filter must hold, and the results are ranked so that a
//! full-name match beats a partial one, a family name beats a given name, and an exact word
//! beats a misspelt one. Ties go alphabetically.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use confiance_core::MailboxKind;

use crate::fold::{allowed_edits, distance, words};
use crate::index::{Field, Index, bigrams, commune_key, filter};

/// A directory search, as the API and the search page take it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Names, words of a place or an organisation, an RPPS, a FINESS, an address, a postcode.
    pub text: String,
    /// TRE_G15 profession code (`10` médecin).
    pub profession: Option<String>,
    /// Savoir-faire code (`SM54`).
    pub specialty: Option<String>,
    pub commune: Option<String>,
    pub postcode: Option<String>,
    pub departement: Option<String>,
    pub kind: Option<MailboxKind>,
    /// Only entries that have a BAL (what the webmail's autocomplete wants).
    pub with_mailbox: bool,
    pub limit: usize,
}

/// One result: a document of the index and its score.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    pub doc: u32,
    pub score: u32,
}

/// What a search found: the best hits and how many entries matched in all.
#[derive(Debug, Default)]
pub struct Found {
    pub hits: Vec<Hit>,
    pub total: usize,
}

/// How well a term matched a query word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Quality {
    Exact,
    Prefix,
    OneEdit,
    TwoEdits,
}

impl Quality {
    fn tenths(self) -> u32 {
        match self {
            Quality::Exact => 10,
            Quality::Prefix => 7,
            Quality::OneEdit => 6,
            Quality::TwoEdits => 4,
        }
    }
}

fn weight(field: Field) -> u32 {
    match field {
        Field::Family | Field::FamilyJoined => 100,
        Field::Given | Field::GivenJoined => 70,
        Field::Organisation | Field::Service => 45,
        Field::Commune => 35,
        Field::Filter => 0,
    }
}

/// What one query word or filter matches.
struct Matcher {
    /// Exact terms and near misses, sorted by term id.
    terms: Vec<(u32, Quality)>,
    /// Terms it is a prefix of (the word being typed).
    prefix: Option<(u32, u32)>,
    /// Filters take part in the match but not in the score.
    is_filter: bool,
}

impl Matcher {
    fn quality(&self, t: u32) -> Option<Quality> {
        if let Ok(i) = self.terms.binary_search_by_key(&t, |e| e.0) {
            return Some(self.terms[i].1);
        }
        self.prefix
            .filter(|&(lo, hi)| (lo..hi).contains(&t))
            .map(|_| Quality::Prefix)
    }

    /// An upper bound of the documents it matches.
    fn cost(&self, index: &Index) -> u64 {
        let exact: u64 = self.terms.iter().map(|&(t, _)| index.postings_len(t, t + 1)).sum();
        exact + self.prefix.map_or(0, |(lo, hi)| index.postings_len(lo, hi))
    }

    fn exact(index: &Index, term: &str) -> Matcher {
        Matcher {
            terms: index.find(term).map(|t| (t, Quality::Exact)).into_iter().collect(),
            prefix: None,
            is_filter: true,
        }
    }

    fn word(index: &Index, word: &str, typing: bool) -> Matcher {
        let mut terms: Vec<(u32, Quality)> = index.find(word).map(|t| (t, Quality::Exact)).into_iter().collect();
        let edits = allowed_edits(word.len());
        if edits > 0 {
            let grams = bigrams(word);
            // Each edit changes at most three bigrams (a transposition), so a word within
            // `edits` shares all but 3 × edits of the query's bigrams.
            let min = grams.len().saturating_sub(3 * edits as usize).max(1) as u8;
            index.bigram_neighbours(&grams, min, |t| {
                if let Some(d) = distance(word.as_bytes(), index.term(t).as_bytes(), edits).filter(|&d| d > 0) {
                    terms.push((t, if d == 1 { Quality::OneEdit } else { Quality::TwoEdits }));
                }
            });
        }
        terms.sort_unstable();
        let prefix = typing.then(|| index.range(word)).filter(|(lo, hi)| lo < hi);
        Matcher {
            terms,
            prefix,
            is_filter: false,
        }
    }

    fn docs(&self, index: &Index, out: &mut Vec<u32>) {
        for &(t, _) in &self.terms {
            out.extend_from_slice(index.postings(t));
        }
        if let Some((lo, hi)) = self.prefix {
            for t in lo..hi {
                out.extend_from_slice(index.postings(t));
            }
        }
        out.sort_unstable();
        out.dedup();
    }
}

/// A query word that is an identifier is looked up exactly.
fn identifier(token: &str) -> Option<String> {
    let digits = token.bytes().all(|b| b.is_ascii_digit());
    if token.contains('@') {
        return Some(filter::term(filter::ADDRESS, &token.to_lowercase()));
    }
    match token.len() {
        11 if digits => Some(filter::term(filter::RPPS, token)),
        12 if digits => Some(filter::term(filter::NATIONAL_ID, token)),
        9 if digits || token.to_ascii_uppercase().starts_with("2A") || token.to_ascii_uppercase().starts_with("2B") => {
            Some(filter::term(filter::FINESS, &token.to_ascii_uppercase()))
        }
        5 if digits => Some(filter::term(filter::POSTCODE, token)),
        _ => None,
    }
}

impl Index {
    pub fn search(&self, q: &Query) -> Found {
        let mut matchers = Vec::new();
        let typing = !q.text.ends_with(char::is_whitespace);
        let tokens: Vec<&str> = q.text.split_whitespace().collect();
        for (i, token) in tokens.iter().enumerate() {
            if let Some(term) = identifier(token) {
                matchers.push(Matcher::exact(self, &term));
                continue;
            }
            let ws = words(token);
            for (j, w) in ws.iter().enumerate() {
                let last = i + 1 == tokens.len() && j + 1 == ws.len();
                matchers.push(Matcher::word(self, w, typing && last));
            }
        }
        let filters = [
            (filter::PROFESSION, q.profession.clone()),
            (filter::SPECIALTY, q.specialty.clone()),
            (filter::POSTCODE, q.postcode.clone()),
            (filter::COMMUNE, q.commune.as_deref().map(commune_key)),
            (filter::DEPARTEMENT, q.departement.clone()),
            (filter::KIND, q.kind.map(|k| k.code().to_string())),
            (filter::HAS_MAILBOX, q.with_mailbox.then(|| "1".to_string())),
        ];
        for (kind, value) in filters {
            if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
                matchers.push(Matcher::exact(self, &filter::term(kind, v.trim())));
            }
        }
        if matchers.is_empty() {
            return Found::default();
        }
        // Candidates come from the most selective matcher; the others are checked per document.
        let driver = (0..matchers.len()).min_by_key(|&i| matchers[i].cost(self)).unwrap_or(0);
        let mut candidates = Vec::new();
        matchers[driver].docs(self, &mut candidates);
        let limit = q.limit.clamp(1, 200);
        let mut best: BinaryHeap<Reverse<(u32, Reverse<u32>, u32)>> = BinaryHeap::with_capacity(limit + 1);
        let mut total = 0;
        let mut qualities = vec![None; matchers.len()];
        for &d in &candidates {
            if let Some(score) = self.score(d, &matchers, &mut qualities) {
                total += 1;
                best.push(Reverse((score, Reverse(self.name_rank(d)), d)));
                if best.len() > limit {
                    best.pop();
                }
            }
        }
        let mut ranked: Vec<(u32, Reverse<u32>, u32)> = best.into_iter().map(|Reverse(e)| e).collect();
        ranked.sort_unstable_by(|a, b| b.cmp(a));
        let hits: Vec<Hit> = ranked.into_iter().map(|(score, _, doc)| Hit { doc, score }).collect();
        Found { hits, total }
    }

    /// The score of a document if every matcher matches it.
    fn score(&self, d: u32, matchers: &[Matcher], best: &mut [Option<(u32, Field)>]) -> Option<u32> {
        best.iter_mut().for_each(|b| *b = None);
        let (mut family_hits, mut given_hits, mut family_whole, mut given_whole) = (0u8, 0u8, false, false);
        for (t, field) in self.doc_terms(d) {
            let mut hit = false;
            for (m, b) in matchers.iter().zip(best.iter_mut()) {
                let Some(q) = m.quality(t) else { continue };
                hit |= q != Quality::Prefix;
                let s = if m.is_filter {
                    1
                } else {
                    weight(field) * q.tenths() / 10
                };
                if b.is_none_or(|(old, _)| s > old) {
                    *b = Some((s, field));
                }
            }
            if hit {
                match field {
                    Field::Family => family_hits += 1,
                    Field::Given => given_hits += 1,
                    Field::FamilyJoined => family_whole = true,
                    Field::GivenJoined => given_whole = true,
                    _ => {}
                }
            }
        }
        let mut score = 0;
        for b in best.iter() {
            score += b.map(|(s, _)| s)?;
        }
        let [family_words, given_words] = self.name_words(d);
        // A query naming the whole family name (every word of it) beats one that names a part.
        if family_words > 0 && (family_whole || family_hits >= family_words) {
            score += 40;
        }
        if given_words > 0 && (given_whole || given_hits >= given_words) {
            score += 20;
        }
        Some(score)
    }
}
