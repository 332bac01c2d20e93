//! Directory search benchmark. Loads a snapshot (made by `confiance directory import`),
//! indexes it, and runs the same 1,000 mixed queries (full names, prefixes while typing,
//! typos, filters by profession, commune and département, structures) against Confiance's
//! index and against a plain SQLite FTS5 table built from the same snapshot. Reports p50/p99
//! latency for both, and recall@5 of the committed quality queries for both.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Parser;
use confiance_directory::fold::folded;
use confiance_directory::generate::QUERIES;
use confiance_directory::index::commune_key;
use confiance_directory::{Directory, Query, Snapshot};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rusqlite::Connection;

#[derive(Parser)]
struct Args {
    /// The snapshot (data/directory/annuaire.snapshot).
    snapshot: PathBuf,
    /// Where to build the FTS5 baseline (a scratch file).
    #[arg(long, default_value = "/tmp/confiance-bench-fts5.sqlite")]
    fts5: PathBuf,
    #[arg(long, default_value_t = 1000)]
    queries: usize,
    /// Skip the FTS5 baseline (while tuning).
    #[arg(long)]
    no_baseline: bool,
}

/// The mixed workload, drawn from the snapshot with a fixed seed.
fn workload(s: &Snapshot, n: usize) -> Vec<Query> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut out = Vec::with_capacity(n);
    let q = |text: String| Query {
        text,
        limit: 10,
        ..Query::default()
    };
    while out.len() < n {
        let p = &s.people[rng.gen_range(0..s.people.len())];
        let family = folded(s.text(p.family_name));
        let given = folded(s.text(p.given_name));
        let place = p.activities.first().copied().unwrap_or_default();
        let kind = out.len() % 8;
        let query = match kind {
            0 => q(format!("{given} {family}")),
            1 => {
                let len = family.len().clamp(1, 3 + rng.gen_range(0..4));
                q(family.chars().take(len).collect())
            }
            2 => {
                let mut chars: Vec<char> = family.chars().collect();
                if chars.len() >= 5 {
                    let i = rng.gen_range(1..chars.len() - 1);
                    chars.swap(i, i + 1);
                }
                q(format!("{} {given} ", chars.into_iter().collect::<String>()))
            }
            3 => Query {
                profession: Some(s.text(p.profession).to_string()),
                ..q(format!("{family} "))
            },
            4 => Query {
                commune: Some(s.text(place.commune).to_string()),
                ..q(format!("{family} "))
            },
            5 => q(format!("{family} {}", commune_key(s.text(place.commune)))),
            6 => Query {
                departement: Some(s.text(place.departement).to_string()),
                profession: Some(s.text(p.profession).to_string()),
                ..q(family.chars().take(2).collect())
            },
            _ => {
                let g = &s.organisations[rng.gen_range(0..s.organisations.len())];
                let words: Vec<String> = folded(s.text(g.name)).split(' ').map(str::to_string).collect();
                let service = folded(s.text(g.mailbox.service));
                let start = rng.gen_range(0..words.len().saturating_sub(1).max(1));
                let two = words[start..(start + 2).min(words.len())].join(" ");
                q(format!("{two} {}", service.chars().take(4).collect::<String>()))
            }
        };
        if !query.text.trim().is_empty() {
            out.push(query);
        }
    }
    out
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

fn report(name: &str, mut times: Vec<Duration>) -> f64 {
    times.sort();
    let mean = times.iter().sum::<Duration>().as_secs_f64() * 1000.0 / times.len() as f64;
    let (p50, p99) = (percentile(&times, 0.5), percentile(&times, 0.99));
    println!(
        "{name:<22} p50 {p50:7.3} ms   p99 {p99:7.3} ms   mean {mean:7.3} ms   max {:7.3} ms",
        percentile(&times, 1.0)
    );
    p99
}

/// The FTS5 baseline: one row per document, names and places as text, filters as tokens.
fn build_fts5(d: &Directory, path: &PathBuf) -> anyhow::Result<Connection> {
    let _ = std::fs::remove_file(path);
    let db = Connection::open(path)?;
    db.execute_batch(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;
         CREATE VIRTUAL TABLE docs USING fts5(names, places, filters, address UNINDEXED,
             tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3 4');",
    )?;
    let s = &d.snapshot;
    let tx = db.unchecked_transaction()?;
    {
        let mut insert =
            tx.prepare("INSERT INTO docs(rowid, names, places, filters, address) VALUES (?, ?, ?, ?, ?)")?;
        for doc in 0..d.index.docs() as u32 {
            let e = confiance_directory::Entry::of(s, doc);
            let names = [
                e.family_name.clone(),
                e.given_name.clone(),
                Some(e.display_name.clone()),
            ]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
            let mut places = Vec::new();
            let mut filters = Vec::new();
            if let Some(p) = &e.profession {
                filters.push(format!("p{}", p.code));
            }
            for p in &e.places {
                places.extend([p.organisation.clone(), p.commune.clone()].into_iter().flatten());
                if let Some(c) = &p.commune {
                    filters.push(format!("m{}", commune_key(c).replace(' ', "")));
                }
                if let Some(dep) = &p.departement {
                    filters.push(format!("d{dep}"));
                }
            }
            for m in &e.mailboxes {
                places.extend(m.service.clone());
            }
            let address = e.mailboxes.first().map(|m| m.address.clone()).unwrap_or_default();
            insert.execute(rusqlite::params![
                doc,
                names,
                places.join(" "),
                filters.join(" "),
                address
            ])?;
        }
    }
    tx.commit()?;
    Ok(db)
}

/// The FTS5 form of a query: each word a term, the last one a prefix; filters as tokens.
fn fts5_query(q: &Query) -> Option<String> {
    let words = confiance_directory::fold::words(&q.text);
    let typing = !q.text.ends_with(' ');
    let mut parts: Vec<String> = words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if typing && i + 1 == words.len() {
                format!("\"{w}\"*")
            } else {
                format!("\"{w}\"")
            }
        })
        .collect();
    if let Some(p) = &q.profession {
        parts.push(format!("filters:\"p{p}\""));
    }
    if let Some(c) = &q.commune {
        parts.push(format!("filters:\"m{}\"", commune_key(c).replace(' ', "")));
    }
    if let Some(d) = &q.departement {
        parts.push(format!("filters:\"d{}\"", d.to_lowercase()));
    }
    (!parts.is_empty()).then(|| parts.join(" AND "))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let t = Instant::now();
    let snapshot = Snapshot::read(&args.snapshot)?;
    let read = t.elapsed();
    let t = Instant::now();
    let d = Directory::new(snapshot);
    println!(
        "snapshot: {} professionals, {} structure BAL; read {:.1} s, indexed {:.1} s ({} terms, {} MB)",
        d.snapshot.people.len(),
        d.snapshot.organisations.len(),
        read.as_secs_f64(),
        t.elapsed().as_secs_f64(),
        d.index.terms(),
        d.index.memory() >> 20
    );
    let queries = workload(&d.snapshot, args.queries);

    // Confiance, twice: the first pass warms the caches as a running server's would be.
    for q in &queries {
        d.search(q);
    }
    let mut ours = Vec::with_capacity(queries.len());
    for q in &queries {
        let t = Instant::now();
        std::hint::black_box(d.search(q));
        ours.push(t.elapsed());
    }

    const KINDS: [&str; 8] = [
        "full name",
        "prefix",
        "typo",
        "+profession",
        "+commune",
        "name+place",
        "2 letters+filters",
        "structure",
    ];
    for (k, kind) in KINDS.iter().enumerate() {
        let times: Vec<Duration> = ours.iter().skip(k).step_by(8).copied().collect();
        report(&format!("  {kind}"), times);
    }
    if args.no_baseline {
        report("confiance", ours);
        return Ok(());
    }
    let t = Instant::now();
    let db = build_fts5(&d, &args.fts5)?;
    println!("fts5 baseline built in {:.1} s", t.elapsed().as_secs_f64());
    let mut stmt = db.prepare("SELECT rowid, address FROM docs WHERE docs MATCH ? ORDER BY rank LIMIT ?")?;
    let mut run_fts = |q: &Query, limit: usize| -> anyhow::Result<Vec<String>> {
        let Some(m) = fts5_query(q) else { return Ok(Vec::new()) };
        let rows = stmt.query_map(rusqlite::params![m, limit as i64], |r| r.get::<_, String>(1))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    };
    for q in &queries {
        run_fts(q, 10)?;
    }
    let mut theirs = Vec::with_capacity(queries.len());
    for q in &queries {
        let t = Instant::now();
        std::hint::black_box(run_fts(q, 10)?);
        theirs.push(t.elapsed());
    }

    println!(
        "{} mixed queries (names, prefixes, typos, filters, structures), top 10:",
        queries.len()
    );
    let p99_ours = report("confiance", ours);
    let p99_fts = report("fts5", theirs);
    println!("p99 ratio fts5 / confiance: {:.1}×", p99_fts / p99_ours);

    let (mut hit_ours, mut hit_fts) = (0, 0);
    for qq in QUERIES {
        let q = qq.query(5);
        let found = d.search(&q);
        if found
            .entries
            .iter()
            .any(|e| e.mailboxes.iter().any(|m| m.address == qq.expected))
        {
            hit_ours += 1;
        } else {
            println!(
                "  confiance missed {:?} (expected {}, {} matches)",
                q.text, qq.expected, found.total
            );
        }
        if run_fts(&q, 5)?.iter().any(|a| a == qq.expected) {
            hit_fts += 1;
        }
    }
    let n = QUERIES.len() as f64;
    println!(
        "recall@5 over the {} committed quality queries: confiance {:.3}, fts5 {:.3}",
        QUERIES.len(),
        hit_ours as f64 / n,
        hit_fts as f64 / n
    );
    Ok(())
}
