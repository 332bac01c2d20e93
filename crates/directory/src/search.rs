//! Searching the index: every word of the query must match (exactly, as a prefix while typing,
//! or within one or two edits), every filter must hold, and the results are ranked so that a
//! full-name match beats a partial one, a family name beats a given name, and an exact word
//! beats a misspelt one. Ties go alphabetically.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use confiance_core::MailboxKind;

use crate::fold::{allowed_edits, distance, words};
use crate::index::{Field, Index, bigrams, commune_key, filter};
use crate::view::EntryKind;

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
    /// Only professionals, or only structures' BAL.
    pub entry: Option<EntryKind>,
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
    /// `total` is a lower bound: a word just begun matched too many entries to count.
    pub more: bool,
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
    /// Where the prefix range stops when it drives the search (first round): its first
    /// PREFIX_CAP postings. Later rounds and checks use the whole range.
    capped: Option<u32>,
}

/// Postings a prefix may expand to (see [`Matcher::word`]).
const PREFIX_CAP: u64 = 50_000;

/// Words of a query taken into account (the rest is ignored): keeps the cost bounded and the
/// matchers countable in a byte.
const MAX_WORDS: usize = 16;

impl Matcher {
    fn quality(&self, t: u32) -> Option<Quality> {
        if let Ok(i) = self.terms.binary_search_by_key(&t, |e| e.0) {
            return Some(self.terms[i].1);
        }
        self.prefix
            .filter(|&(lo, hi)| (lo..hi).contains(&t))
            .map(|_| Quality::Prefix)
    }

    /// An upper bound of the documents it matches (as a driver: with the prefix capped).
    fn cost(&self, index: &Index, as_driver: bool) -> u64 {
        let exact: u64 = self.terms.iter().map(|&(t, _)| index.postings_len(t, t + 1)).sum();
        exact
            + self
                .prefix
                .map_or(0, |(lo, hi)| index.postings_len(lo, self.hi(hi, as_driver)))
    }

    fn hi(&self, hi: u32, as_driver: bool) -> u32 {
        match self.capped {
            Some(c) if as_driver => c,
            _ => hi,
        }
    }

    fn exact(index: &Index, term: &str) -> Matcher {
        Matcher {
            terms: index.find(term).map(|t| (t, Quality::Exact)).into_iter().collect(),
            prefix: None,
            is_filter: true,
            capped: None,
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
            let k = edits as usize;
            let lengths = (word.len().saturating_sub(k).max(3), word.len() + k);
            index.bigram_neighbours(&grams, lengths, min, |t| {
                if let Some(d) = distance(word.as_bytes(), index.term(t).as_bytes(), edits).filter(|&d| d > 0) {
                    terms.push((t, if d == 1 { Quality::OneEdit } else { Quality::TwoEdits }));
                }
            });
        }
        terms.sort_unstable();
        let prefix = typing.then(|| index.range(word)).filter(|(lo, hi)| lo < hi);
        // A word just begun (`ma`) starts thousands of words: when it drives the search only
        // the alphabetically first PREFIX_CAP postings are read, and the count becomes a lower
        // bound. The ranking would put those first anyway (ties go alphabetically).
        let capped = prefix
            .filter(|&(lo, hi)| index.postings_len(lo, hi) > PREFIX_CAP)
            .map(|(lo, hi)| {
                let (mut a, mut b) = (lo + 1, hi);
                while a < b {
                    let mid = a + (b - a) / 2;
                    if index.postings_len(lo, mid) <= PREFIX_CAP {
                        a = mid + 1;
                    } else {
                        b = mid;
                    }
                }
                (a - 1).max(lo + 1)
            });
        Matcher {
            terms,
            prefix,
            is_filter: false,
            capped,
        }
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
        // Identification nationale: `8` + RPPS is indexed as the RPPS.
        12 if digits && token.starts_with('8') => Some(filter::term(filter::RPPS, &token[1..])),
        10 | 12 if digits => Some(filter::term(filter::NATIONAL_ID, token)),
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
        for (i, token) in tokens.iter().enumerate().take(MAX_WORDS) {
            if let Some(term) = identifier(token) {
                matchers.push(Matcher::exact(self, &term));
                continue;
            }
            let ws = words(token);
            for (j, w) in ws.iter().enumerate().take(MAX_WORDS) {
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
            (
                filter::ENTRY,
                q.entry.as_ref().map(|e| match e {
                    EntryKind::Person => "p".to_string(),
                    EntryKind::Organisation => "o".to_string(),
                }),
            ),
        ];
        for (kind, value) in filters {
            if let Some(v) = value.filter(|v| !v.trim().is_empty()) {
                matchers.push(Matcher::exact(self, &filter::term(kind, v.trim())));
            }
        }
        if matchers.is_empty() {
            return Found::default();
        }
        // The most selective first: each next matcher only narrows the candidates.
        matchers.sort_by_key(|m| m.cost(self, true));
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            // Only ever grown: every search leaves the accumulators it touched reset, so a
            // larger buffer (another directory searched on this thread) serves as well.
            if scratch.len() < self.docs() {
                *scratch = vec![Acc::default(); self.docs()];
            }
            let mut found = self.run(&matchers, q.limit.clamp(1, 200), &mut scratch);
            found.more = matchers[0].capped.is_some();
            found
        })
    }

    /// Matches and scores with one accumulator per document. A matcher whose posting lists
    /// are short is applied term by term (no document visited); one whose lists are long
    /// next to few remaining candidates is checked on each candidate's own terms.
    fn run(&self, matchers: &[Matcher], limit: usize, acc: &mut [Acc]) -> Found {
        let mut candidates: Vec<u32> = Vec::new();
        for (round, m) in matchers.iter().enumerate() {
            let round = round as u8;
            let by_postings = round == 0 || m.cost(self, false) <= candidates.len() as u64 * 24;
            if by_postings {
                let mut visit = |docs: &[u32], fields: &[Field], q: Quality| {
                    for (&d, &f) in docs.iter().zip(fields) {
                        let a = &mut acc[d as usize];
                        if round == 0 {
                            if !a.seen {
                                a.seen = true;
                                candidates.push(d);
                            }
                        } else if a.round < round {
                            // Not a candidate: missed an earlier matcher.
                            continue;
                        }
                        a.round = round + 1;
                        a.note(m, f, q);
                    }
                };
                for &(t, q) in &m.terms {
                    let (docs, fields) = self.postings_range(t, t + 1);
                    visit(docs, fields, q);
                }
                if let Some((lo, hi)) = m.prefix {
                    let (docs, fields) = self.postings_range(lo, m.hi(hi, round == 0));
                    visit(docs, fields, Quality::Prefix);
                }
            } else {
                for &d in &candidates {
                    let a = &mut acc[d as usize];
                    for (t, f) in self.doc_terms(d) {
                        if let Some(q) = m.quality(t) {
                            a.round = round + 1;
                            a.note(m, f, q);
                        }
                    }
                }
            }
            // Keep the candidates this matcher matched; bank their best score for it.
            candidates.retain(|&d| {
                let a = &mut acc[d as usize];
                if a.round == round + 1 {
                    a.score += a.best;
                    a.best = 0;
                    true
                } else {
                    *a = Acc::default();
                    false
                }
            });
            if candidates.is_empty() {
                break;
            }
        }
        let mut best: BinaryHeap<Reverse<(u32, Reverse<u32>, u32)>> = BinaryHeap::with_capacity(limit + 1);
        for &d in &candidates {
            let a = std::mem::take(&mut acc[d as usize]);
            let [family_words, given_words] = self.name_words(d);
            let mut score = a.score;
            // A query naming the whole family name (every word of it) beats one naming a part.
            if family_words > 0 && (a.family_whole || a.family_hits >= family_words) {
                score += 40;
            }
            if given_words > 0 && (a.given_whole || a.given_hits >= given_words) {
                score += 20;
            }
            best.push(Reverse((score, Reverse(self.name_rank(d)), d)));
            if best.len() > limit {
                best.pop();
            }
        }
        let mut ranked: Vec<(u32, Reverse<u32>, u32)> = best.into_iter().map(|Reverse(e)| e).collect();
        ranked.sort_unstable_by(|a, b| b.cmp(a));
        let hits: Vec<Hit> = ranked.into_iter().map(|(score, _, doc)| Hit { doc, score }).collect();
        Found {
            hits,
            total: candidates.len(),
            more: false,
        }
    }
}

/// Per-document state of one search.
#[derive(Debug, Clone, Copy, Default)]
struct Acc {
    /// How many matchers have matched so far.
    round: u8,
    /// Already in the candidate list.
    seen: bool,
    family_hits: u8,
    given_hits: u8,
    family_whole: bool,
    given_whole: bool,
    /// Best score for the current matcher, and the sum over the previous ones.
    best: u32,
    score: u32,
}

impl Acc {
    fn note(&mut self, m: &Matcher, field: Field, q: Quality) {
        if m.is_filter {
            return;
        }
        self.best = self.best.max(weight(field) * q.tenths() / 10);
        if q != Quality::Prefix {
            match field {
                Field::Family => self.family_hits = self.family_hits.saturating_add(1),
                Field::Given => self.given_hits = self.given_hits.saturating_add(1),
                Field::FamilyJoined => self.family_whole = true,
                Field::GivenJoined => self.given_whole = true,
                _ => {}
            }
        }
    }
}

thread_local! {
    /// One accumulator per document, reused by every search on this thread (reset as used).
    static SCRATCH: std::cell::RefCell<Vec<Acc>> = const { std::cell::RefCell::new(Vec::new()) };
}
