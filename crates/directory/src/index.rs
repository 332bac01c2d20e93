//! The in-memory search index of a snapshot, rebuilt at load (a few seconds at national scale)
//! rather than stored: the snapshot stays the one source of truth.
//!
//! - A sorted dictionary of terms, so that a prefix is a contiguous range of term ids.
//! - Postings (term → documents) to find candidates, and the reverse (document → terms with
//!   the field they came from) to check the other words of a query and score a candidate.
//! - A bigram index of the words (term → its padded letter pairs), to find the words within
//!   one or two edits of a misspelt query word without comparing it to every word.
//!
//! Filters (profession, postcode, BAL type…) and exact identifiers are terms too, spelt with a
//! leading `\x01` so they can never be confused with, or prefix-match, a word.

use crate::fold::{fold, name_terms, words};
use crate::model::{Activity, Interner, Snapshot, Text};

/// Where a term was found in a document; the search weighs them differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Field {
    Family = 0,
    /// The joined form of a compound family name (`jeanpierre`).
    FamilyJoined = 1,
    Given = 2,
    GivenJoined = 3,
    Organisation = 4,
    Service = 5,
    Commune = 6,
    /// An exact-match filter or identifier.
    Filter = 7,
}

impl Field {
    fn from_bits(b: u32) -> Field {
        match b {
            0 => Field::Family,
            1 => Field::FamilyJoined,
            2 => Field::Given,
            3 => Field::GivenJoined,
            4 => Field::Organisation,
            5 => Field::Service,
            6 => Field::Commune,
            _ => Field::Filter,
        }
    }
}

const TERM_BITS: u32 = 28;
const TERM_MASK: u32 = (1 << TERM_BITS) - 1;

/// Filter and identifier kinds, each a one-letter namespace after `\x01`.
pub mod filter {
    pub const PROFESSION: char = 'p';
    pub const SPECIALTY: char = 's';
    pub const POSTCODE: char = 'c';
    pub const COMMUNE: char = 'm';
    pub const DEPARTEMENT: char = 'd';
    pub const KIND: char = 'k';
    pub const HAS_MAILBOX: char = 'b';
    pub const RPPS: char = 'r';
    pub const NATIONAL_ID: char = 'n';
    pub const FINESS: char = 'f';
    pub const ADDRESS: char = '@';
    /// `p` a professional, `o` a structure's BAL.
    pub const ENTRY: char = 'e';

    pub fn term(kind: char, value: &str) -> String {
        format!("\u{1}{kind}{value}")
    }
}

/// Letters of the bigram alphabet: `^`, `$`, a–z, 0–9.
const ALPHABET: usize = 38;

fn symbol(b: u8) -> usize {
    match b {
        b'^' => 0,
        b'$' => 1,
        b'a'..=b'z' => 2 + (b - b'a') as usize,
        b'0'..=b'9' => 28 + (b - b'0') as usize,
        _ => 1,
    }
}

/// Word lengths told apart in the bigram lists; longer words share the last slot.
const LENGTHS: usize = 33;

fn gram_key(gram: u16, len: usize) -> usize {
    gram as usize * LENGTHS + len.min(LENGTHS - 1)
}

thread_local! {
    /// Shared-bigram counts per term, reused by every lookup on this thread (reset as used).
    static COUNTS: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The distinct padded bigrams of a word (`^ab$` → `^a`, `ab`, `b$`).
pub fn bigrams(word: &str) -> Vec<u16> {
    let padded: Vec<u8> = std::iter::once(b'^')
        .chain(word.bytes())
        .chain(std::iter::once(b'$'))
        .collect();
    let mut grams: Vec<u16> = padded
        .windows(2)
        .map(|w| (symbol(w[0]) * ALPHABET + symbol(w[1])) as u16)
        .collect();
    grams.sort_unstable();
    grams.dedup();
    grams
}

/// The index of one snapshot.
pub struct Index {
    /// Sorted terms, one buffer.
    term_data: String,
    term_offsets: Vec<u32>,
    /// Postings: documents of term `t` are `post_docs[post_offsets[t]..post_offsets[t + 1]]`.
    post_offsets: Vec<u32>,
    post_docs: Vec<u32>,
    /// The field of each posting, to score a whole posting list without visiting documents.
    post_fields: Vec<Field>,
    /// Terms of document `d` (term id | field << 28).
    doc_offsets: Vec<u32>,
    doc_terms: Vec<u32>,
    /// Words in the family and given names of each document, to tell a full-name match.
    name_words: Vec<[u8; 2]>,
    /// Each document's place in name order, to break ties alphabetically.
    name_rank: Vec<u32>,
    /// Bigram → words containing it.
    gram_offsets: Vec<u32>,
    gram_terms: Vec<u32>,
}

/// Collects the terms of each document in order. Terms are interned like the snapshot's
/// texts, and the words of each snapshot text are computed once: a national file repeats
/// the same communes and hospital names hundreds of thousands of times.
struct Collector {
    terms: Interner,
    /// For each snapshot text: where its word terms are in `memo_terms` (`u32::MAX`: not yet).
    memo: Vec<(u32, u32)>,
    memo_terms: Vec<u32>,
    doc_offsets: Vec<u32>,
    doc_terms: Vec<u32>,
    scratch: Vec<u32>,
    buf: String,
}

impl Collector {
    fn add(&mut self, term: &str, field: Field) {
        let id = self.terms.intern(term);
        self.scratch.push(id | (field as u32) << TERM_BITS);
    }

    /// The word terms of a snapshot text, then its joined form when it has several words.
    fn words_of(&mut self, s: &Snapshot, t: Text) -> (usize, usize) {
        let (start, len) = self.memo[t as usize];
        if start != u32::MAX {
            return (start as usize, len as usize);
        }
        let start = self.memo_terms.len();
        let (words, joined) = name_terms(s.text(t));
        for w in words.iter().chain(joined.iter()) {
            let id = self.terms.intern(w);
            self.memo_terms.push(id);
        }
        let len = self.memo_terms.len() - start;
        self.memo[t as usize] = (start as u32, len as u32);
        (start, len)
    }

    fn push(&mut self, start: usize, len: usize, field: Field) {
        for i in start..start + len {
            self.scratch.push(self.memo_terms[i] | (field as u32) << TERM_BITS);
        }
    }

    /// A name's words, and its joined form when compound; returns how many words.
    fn name(&mut self, s: &Snapshot, t: Text, field: Field, joined: Field) -> u8 {
        let (start, len) = self.words_of(s, t);
        let words = if len > 1 { len - 1 } else { len };
        self.push(start, words, field);
        self.push(start + words, len - words, joined);
        words.min(255) as u8
    }

    /// A text's words (no joined form: it would only add noise for places and structures).
    fn text(&mut self, s: &Snapshot, t: Text, field: Field) {
        let (start, len) = self.words_of(s, t);
        let words = if len > 1 { len - 1 } else { len };
        self.push(start, words, field);
    }

    /// Words of a text that is not in the snapshot as such.
    fn text_str(&mut self, text: &str, field: Field) {
        for w in words(text) {
            self.add(&w, field);
        }
    }

    fn filter(&mut self, kind: char, value: &str) {
        if !value.is_empty() {
            let mut buf = std::mem::take(&mut self.buf);
            buf.clear();
            buf.push('\u{1}');
            buf.push(kind);
            buf.push_str(value);
            self.add(&buf, Field::Filter);
            self.buf = buf;
        }
    }

    /// Ends a document: its terms, each once with its strongest field.
    fn end(&mut self) {
        // Sort by term then field, so the first of each term is its best (lowest) field.
        self.scratch.sort_unstable_by_key(|&e| (e & TERM_MASK, e >> TERM_BITS));
        self.scratch.dedup_by_key(|e| *e & TERM_MASK);
        self.doc_terms.extend_from_slice(&self.scratch);
        self.scratch.clear();
        self.doc_offsets.push(self.doc_terms.len() as u32);
    }
}

/// The département of a place: the published one, else from the postcode (`974xx` → `974`,
/// `20xxx` → Corsica is left to the published value).
fn departement<'a>(published: &'a str, postcode: &'a str) -> &'a str {
    if !published.is_empty() {
        return published;
    }
    match postcode.get(..2) {
        Some("97") | Some("98") => postcode.get(..3).unwrap_or(""),
        Some(d) if d != "20" => d,
        _ => "",
    }
}

fn place(c: &mut Collector, s: &Snapshot, a: &Activity) {
    c.text(s, a.organisation, Field::Organisation);
    c.text(s, a.commune, Field::Commune);
    c.filter(filter::PROFESSION, s.text(a.profession));
    c.filter(filter::SPECIALTY, s.text(a.specialty));
    c.filter(filter::POSTCODE, s.text(a.postcode));
    c.filter(filter::COMMUNE, &commune_key(s.text(a.commune)));
    c.filter(
        filter::DEPARTEMENT,
        departement(s.text(a.departement), s.text(a.postcode)),
    );
    c.filter(filter::FINESS, s.text(a.finess));
}

/// How a commune is matched by the filter: folded words, arrondissement and CEDEX dropped
/// (`Paris 2e  Arrondissement`, `PARIS CEDEX 02` → `paris`).
pub fn commune_key(name: &str) -> String {
    let words = words(name);
    let cut = words
        .iter()
        .position(|w| w == "cedex" || w == "arrondissement" || w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .unwrap_or(words.len());
    words[..cut].join(" ")
}

impl Index {
    pub fn build(s: &Snapshot) -> Index {
        let mut c = Collector {
            terms: Interner::default(),
            memo: vec![(u32::MAX, 0); s.texts.len()],
            memo_terms: Vec::new(),
            doc_offsets: vec![0],
            doc_terms: Vec::new(),
            scratch: Vec::new(),
            buf: String::new(),
        };
        let docs = s.people.len() + s.organisations.len();
        let mut name_words = Vec::with_capacity(docs);
        for p in &s.people {
            let family = c.name(s, p.family_name, Field::Family, Field::FamilyJoined);
            let given = c.name(s, p.given_name, Field::Given, Field::GivenJoined);
            name_words.push([family, given]);
            c.filter(filter::ENTRY, "p");
            // An RPPS is found as such (a 12-digit `8…` query is read as its RPPS); other
            // national identifiers (`0` + ADELI) as they are.
            let national = s.text(p.national_id);
            match national.strip_prefix('8') {
                Some(rpps) => c.filter(filter::RPPS, rpps),
                None => c.filter(filter::NATIONAL_ID, national),
            }
            c.filter(filter::PROFESSION, s.text(p.profession));
            c.filter(filter::SPECIALTY, s.text(p.specialty));
            for a in &p.activities {
                place(&mut c, s, a);
            }
            for m in &p.mailboxes {
                c.filter(filter::ADDRESS, s.text(m.address));
                c.filter(filter::KIND, m.kind.code());
                c.text(s, m.service, Field::Service);
            }
            if !p.mailboxes.is_empty() {
                c.filter(filter::HAS_MAILBOX, "1");
            }
            c.end();
        }
        for g in &s.organisations {
            // A structure's name and service are its "family and given names": a query naming
            // the structure finds its own BAL before the people who work there.
            let name = c.name(s, g.name, Field::Family, Field::FamilyJoined);
            let service = c.name(s, g.mailbox.service, Field::Given, Field::GivenJoined);
            let postcode = s.text(g.postcode);
            let commune = crate::import::commune_of(s.text(g.locality), postcode);
            c.text_str(commune, Field::Commune);
            c.filter(filter::POSTCODE, postcode);
            c.filter(filter::COMMUNE, &commune_key(commune));
            c.filter(filter::DEPARTEMENT, departement(s.text(g.departement), postcode));
            let structure = s.text(g.structure_id);
            // IdNat_Struct `1` + FINESS (TRE_G07).
            if let Some(finess) = structure.strip_prefix('1').filter(|f| f.len() == 9) {
                c.filter(filter::FINESS, finess);
            }
            let address = s.text(g.mailbox.address);
            // A structure is often known by its address (`chu-nantes`, `ch-pau`): its words
            // count, except the operator's own (`mssante`, `fr`).
            if let Some((local, domain)) = address.split_once('@') {
                c.text_str(local, Field::Service);
                let labels: Vec<&str> = domain.split('.').collect();
                for label in &labels[..labels.len().saturating_sub(2)] {
                    c.text_str(label, Field::Service);
                }
            }
            c.filter(filter::ADDRESS, address);
            c.filter(filter::KIND, g.mailbox.kind.code());
            c.filter(filter::HAS_MAILBOX, "1");
            name_words.push([name, service]);
            c.filter(filter::ENTRY, "o");
            c.end();
        }
        Index::finish(c, s, name_words)
    }

    fn finish(c: Collector, s: &Snapshot, name_words: Vec<[u8; 2]>) -> Index {
        let Collector {
            terms: names,
            mut doc_terms,
            doc_offsets,
            ..
        } = c;
        let names = names.finish();
        // Term ids in sorted order, so that a prefix is a range.
        let mut order: Vec<u32> = (0..names.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| names.get(a).cmp(names.get(b)));
        let mut remap = vec![0u32; names.len()];
        let mut term_data = String::with_capacity(names.data.len());
        let mut term_offsets = Vec::with_capacity(names.len() + 1);
        term_offsets.push(0);
        for (sorted, &old) in order.iter().enumerate() {
            remap[old as usize] = sorted as u32;
            term_data.push_str(names.get(old));
            term_offsets.push(term_data.len() as u32);
        }
        drop(names);
        let mut counts = vec![0u32; order.len() + 1];
        for e in doc_terms.iter_mut() {
            let t = remap[(*e & TERM_MASK) as usize];
            *e = t | (*e & !TERM_MASK);
            counts[t as usize + 1] += 1;
        }
        let mut post_offsets = counts;
        for i in 1..post_offsets.len() {
            post_offsets[i] += post_offsets[i - 1];
        }
        let mut fill = post_offsets.clone();
        let mut post_docs = vec![0u32; doc_terms.len()];
        let mut post_fields = vec![Field::Filter; doc_terms.len()];
        for d in 0..doc_offsets.len() - 1 {
            for &e in &doc_terms[doc_offsets[d] as usize..doc_offsets[d + 1] as usize] {
                let t = (e & TERM_MASK) as usize;
                post_docs[fill[t] as usize] = d as u32;
                post_fields[fill[t] as usize] = Field::from_bits(e >> TERM_BITS);
                fill[t] += 1;
            }
        }
        let mut index = Index {
            term_data,
            term_offsets,
            post_offsets,
            post_docs,
            post_fields,
            doc_offsets,
            doc_terms,
            name_words,
            name_rank: Vec::new(),
            gram_offsets: Vec::new(),
            gram_terms: Vec::new(),
        };
        index.build_bigrams();
        index.name_rank = name_rank(s);
        index
    }

    /// Bigram lists sorted by word length, so a lookup reads only the lengths within reach.
    fn build_bigrams(&mut self) {
        let words: Vec<u32> = (0..self.terms() as u32)
            .filter(|&t| {
                let w = self.term(t);
                w.len() >= 3 && !w.starts_with('\u{1}')
            })
            .collect();
        let mut offsets = vec![0u32; ALPHABET * ALPHABET * LENGTHS + 1];
        for &t in &words {
            let w = self.term(t);
            for g in bigrams(w) {
                offsets[gram_key(g, w.len()) + 1] += 1;
            }
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let mut fill = offsets.clone();
        let mut terms = vec![0u32; *offsets.last().unwrap_or(&0) as usize];
        for &t in &words {
            let w = self.term(t);
            for g in bigrams(w) {
                let k = gram_key(g, w.len());
                terms[fill[k] as usize] = t;
                fill[k] += 1;
            }
        }
        self.gram_offsets = offsets;
        self.gram_terms = terms;
    }

    pub fn terms(&self) -> usize {
        self.term_offsets.len() - 1
    }

    pub fn term(&self, t: u32) -> &str {
        &self.term_data[self.term_offsets[t as usize] as usize..self.term_offsets[t as usize + 1] as usize]
    }

    pub fn docs(&self) -> usize {
        self.doc_offsets.len() - 1
    }

    /// The id of an exact term.
    pub fn find(&self, term: &str) -> Option<u32> {
        let (lo, hi) = self.range(term);
        (lo < hi && self.term(lo) == term).then_some(lo)
    }

    /// The ids of the terms starting with `prefix`: `lo..hi`.
    pub fn range(&self, prefix: &str) -> (u32, u32) {
        let n = self.terms() as u32;
        let lo = partition(n, |t| self.term(t) < prefix);
        let hi = partition(n, |t| {
            let term = self.term(t);
            term < prefix || term.starts_with(prefix)
        });
        (lo, hi)
    }

    pub fn postings(&self, t: u32) -> &[u32] {
        self.postings_range(t, t + 1).0
    }

    /// The postings of the terms `lo..hi` (contiguous: terms are sorted), with their fields.
    pub fn postings_range(&self, lo: u32, hi: u32) -> (&[u32], &[Field]) {
        let (a, b) = (
            self.post_offsets[lo as usize] as usize,
            self.post_offsets[hi as usize] as usize,
        );
        (&self.post_docs[a..b], &self.post_fields[a..b])
    }

    /// How many documents the terms `lo..hi` point to, summed (an upper bound of their union).
    pub fn postings_len(&self, lo: u32, hi: u32) -> u64 {
        (self.post_offsets[hi as usize] - self.post_offsets[lo as usize]) as u64
    }

    /// The terms of a document and their fields.
    pub fn doc_terms(&self, d: u32) -> impl Iterator<Item = (u32, Field)> + '_ {
        self.doc_terms[self.doc_offsets[d as usize] as usize..self.doc_offsets[d as usize + 1] as usize]
            .iter()
            .map(|&e| (e & TERM_MASK, Field::from_bits(e >> TERM_BITS)))
    }

    pub fn name_words(&self, d: u32) -> [u8; 2] {
        self.name_words[d as usize]
    }

    pub fn name_rank(&self, d: u32) -> u32 {
        self.name_rank[d as usize]
    }

    /// The words of length `lengths` sharing at least `min` bigrams with `grams`.
    pub fn bigram_neighbours(&self, grams: &[u16], lengths: (usize, usize), min: u8, mut each: impl FnMut(u32)) {
        COUNTS.with(|counts| {
            let mut counts = counts.borrow_mut();
            // Only ever grown: every lookup resets the counts it touched.
            if counts.len() < self.terms() {
                *counts = vec![0u8; self.terms()];
            }
            let mut touched = Vec::new();
            for &g in grams {
                let a = self.gram_offsets[gram_key(g, lengths.0)] as usize;
                let b = self.gram_offsets[gram_key(g, lengths.1) + 1] as usize;
                for &t in &self.gram_terms[a..b] {
                    let c = &mut counts[t as usize];
                    if *c == 0 {
                        touched.push(t);
                    }
                    *c = c.saturating_add(1);
                }
            }
            for t in touched {
                if counts[t as usize] >= min {
                    each(t);
                }
                counts[t as usize] = 0;
            }
        })
    }

    /// Approximate memory held, in bytes.
    pub fn memory(&self) -> usize {
        self.term_data.len()
            + 4 * (self.term_offsets.len()
                + self.post_offsets.len()
                + self.post_docs.len()
                + self.post_fields.len() / 4
                + self.doc_offsets.len()
                + self.doc_terms.len()
                + self.name_rank.len()
                + self.gram_offsets.len()
                + self.gram_terms.len())
            + 2 * self.name_words.len()
    }
}

/// The first `i` in `0..n` where `before(i)` is false (`before` true then false).
fn partition(n: u32, before: impl Fn(u32) -> bool) -> u32 {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if before(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// Documents in alphabetical order of (family, given or organisation name).
fn name_rank(s: &Snapshot) -> Vec<u32> {
    let docs = s.people.len() + s.organisations.len();
    let keys = |d: usize| match s.people.get(d) {
        Some(p) => (p.family_name, p.given_name),
        None => {
            let g = &s.organisations[d - s.people.len()];
            (g.name, g.mailbox.service)
        }
    };
    // Rank each distinct name text once by its folded form, then sort documents by numbers.
    let mut texts: Vec<Text> = (0..docs)
        .flat_map(|d| {
            let (a, b) = keys(d);
            [a, b]
        })
        .collect();
    texts.sort_unstable();
    texts.dedup();
    let mut folded: Vec<(String, Text)> = texts.into_iter().map(|t| (fold(s.text(t)), t)).collect();
    folded.sort_unstable();
    let mut text_rank = vec![0u32; s.texts.len()];
    for (r, (_, t)) in folded.iter().enumerate() {
        text_rank[*t as usize] = r as u32;
    }
    drop(folded);
    let mut order: Vec<(u32, u32, u32)> = (0..docs)
        .map(|d| {
            let (a, b) = keys(d);
            (text_rank[a as usize], text_rank[b as usize], d as u32)
        })
        .collect();
    order.sort_unstable();
    let mut rank = vec![0u32; docs];
    for (r, &(_, _, d)) in order.iter().enumerate() {
        rank[d as usize] = r as u32;
    }
    rank
}
