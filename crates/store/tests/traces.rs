//! The suite every audit-trace backend must pass, run on SQLite and on PostgreSQL (when
//! `CONFIANCE_TEST_POSTGRES` names a server; CI always sets it).

use std::sync::Arc;

use confiance_store::pg::TestDatabase;
use confiance_store::pg::traces::PgTraces;
use confiance_store::{Trace, TraceQuery, Traces, open_traces};

/// Opens another handle on the case's trace log (another node's, on PostgreSQL).
type Open<'a> = &'a dyn Fn() -> Arc<dyn Traces>;

#[test]
fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let open = || open_traces(dir.path()).unwrap();
    records_reads_back_by_bal_and_event_then_purges_the_old(&open);
    handles_write_one_log(&open);
}

#[test]
fn postgres() {
    let Some(db) = TestDatabase::create() else { return };
    let open = || Arc::new(PgTraces::open(&db.url, 2).unwrap()) as Arc<dyn Traces>;
    records_reads_back_by_bal_and_event_then_purges_the_old(&open);
    handles_write_one_log(&open);
}

fn trace(at_ms: i64, event: &str, bal: &str) -> Trace {
    Trace {
        at_ms,
        event: event.into(),
        bal: Some(bal.into()),
        detail: vec![("method".into(), "psc".into()), ("note".into(), "« é \" ]".into())],
        ..Trace::default()
    }
}

fn all(log: &dyn Traces, query: &TraceQuery) -> Vec<Trace> {
    let mut seen = Vec::new();
    log.scan(query, &mut |t| {
        seen.push(t);
        true
    })
    .unwrap();
    seen
}

fn everything() -> TraceQuery<'static> {
    TraceQuery {
        since_ms: 0,
        until_ms: i64::MAX,
        ..TraceQuery::default()
    }
}

fn records_reads_back_by_bal_and_event_then_purges_the_old(open: Open) {
    let log = open();
    let mut full = trace(2_000, "sent", "a@x.mssante.fr");
    full.outcome = Some("success".into());
    full.actor = Some("810001234567".into());
    full.peer = Some("192.0.2.1".into());
    full.message_id = Some("<m1@x>".into());
    full.size = Some(u64::MAX);
    log.record(&[
        trace(1_000, "login", "a@x.mssante.fr"),
        full.clone(),
        trace(3_000, "login", "b@x.mssante.fr"),
    ])
    .unwrap();
    let q = TraceQuery {
        since_ms: 0,
        until_ms: 10_000,
        bal: Some("a@x.mssante.fr"),
        events: &["login"],
        ..TraceQuery::default()
    };
    let seen = all(&*log, &q);
    assert_eq!(seen, vec![trace(1_000, "login", "a@x.mssante.fr")]);
    assert_eq!(seen[0].get("note"), Some("« é \" ]"));
    let by_message = all(
        &*log,
        &TraceQuery {
            message_id: Some("<m1@x>"),
            ..everything()
        },
    );
    full.size = Some(i64::MAX as u64);
    assert_eq!(by_message, vec![full], "every field comes back (sizes bounded)");
    // `until` is excluded, and a scan stops when asked.
    assert_eq!(
        all(
            &*log,
            &TraceQuery {
                since_ms: 1_000,
                until_ms: 3_000,
                ..TraceQuery::default()
            }
        )
        .len(),
        2
    );
    let mut first = 0;
    log.scan(&everything(), &mut |_| {
        first += 1;
        false
    })
    .unwrap();
    assert_eq!(first, 1);
    assert_eq!(log.purge(2_500).unwrap(), 2);
    assert_eq!(all(&*log, &everything()).len(), 1);
    assert_eq!(log.purge(0).unwrap(), 0);
}

/// Two handles (two nodes) write to one log, read back as one timeline.
fn handles_write_one_log(open: Open) {
    let (one, two) = (open(), open());
    one.record(&[trace(10_000, "login", "c@x.mssante.fr")]).unwrap();
    two.record(&[trace(10_001, "read", "c@x.mssante.fr")]).unwrap();
    let q = TraceQuery {
        bal: Some("c@x.mssante.fr"),
        ..everything()
    };
    let events: Vec<String> = all(&*one, &q).into_iter().map(|t| t.event).collect();
    assert_eq!(events, ["login", "read"]);
}
