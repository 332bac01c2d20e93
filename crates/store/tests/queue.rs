//! The suite every outbound queue backend must pass, run on SQLite and on PostgreSQL (when
//! `CONFIANCE_TEST_POSTGRES` names a server; CI always sets it). Each case opens handles in
//! the name of one or more nodes over one fresh queue.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use confiance_store::pg::TestDatabase;
use confiance_store::pg::queue::PgQueue;
use confiance_store::queue::{LEASE_SECS, NewQueued, QueuedAddress, now};
use confiance_store::{Queue, SqliteQueue};

/// Opens a handle on the case's queue in a node's name.
type Open<'a> = &'a dyn Fn(&str) -> Arc<dyn Queue>;

/// Runs a case on both backends, each on a queue of its own.
macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            use super::*;

            #[test]
            fn sqlite() {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("queue.sqlite");
                super::$case(&|node| Arc::new(SqliteQueue::open(&path, node).unwrap()));
            }

            #[test]
            fn postgres() {
                let Some(db) = TestDatabase::create() else { return };
                super::$case(&|node| Arc::new(PgQueue::open(&db.url, 4, node).unwrap()));
            }
        }
    )*};
}

on_both_backends!(
    lifecycle,
    a_restart_gives_back_only_its_own_leases,
    a_dead_nodes_leases_end_and_a_live_nodes_are_renewed,
    nodes_claiming_at_once_take_each_recipient_once,
);

fn rcpt(a: &str) -> QueuedAddress {
    QueuedAddress {
        address: a.into(),
        orcpt: Some(format!("rfc822;{a}")),
        notify: Some("FAILURE".into()),
    }
}

fn message<'a>(id: &'a str, recipients: &[&str]) -> NewQueued<'a> {
    NewQueued {
        id,
        sender: "a@x.test",
        envid: Some("E1"),
        ret_full: true,
        body: b"Subject: s\r\n\r\nbody \xff\x00\r\n",
        recipients: recipients.iter().map(|a| rcpt(a)).collect(),
    }
}

fn lifecycle(open: Open) {
    let q = open("node-1");
    q.enqueue(&[message("M1", &["b@Y.test", "c@z.test"])]).unwrap();
    let m = q.message("M1").unwrap().expect("stored");
    assert_eq!(
        (m.sender.as_str(), m.envid.as_deref(), m.ret_full),
        ("a@x.test", Some("E1"), true)
    );
    assert_eq!(
        m.body, b"Subject: s\r\n\r\nbody \xff\x00\r\n",
        "the body comes back byte for byte"
    );
    let due = q.take_due(now(), 10).unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!(due[0].domain, "y.test");
    assert_eq!(due[0].orcpt.as_deref(), Some("rfc822;b@Y.test"));
    assert!(!due[0].bounce && !due[0].delay_notified);
    assert!(
        q.take_due(now(), 10).unwrap().is_empty(),
        "leased recipients are not due twice"
    );
    assert!(q.defer(due[0].id, now() + 3600, "421 busy").unwrap());
    q.finish(&[due[1].id]).unwrap();
    assert_eq!(q.len().unwrap(), 1);
    assert!(q.message("M1").unwrap().is_some());
    assert!(q.take_due(now(), 10).unwrap().is_empty());
    assert_eq!(q.retry(Some("M1")).unwrap(), 1);
    let again = q.take_due(now(), 10).unwrap();
    assert_eq!(again[0].attempts, 1);
    assert_eq!(again[0].last_error.as_deref(), Some("421 busy"));
    q.set_delay_notified(again[0].id).unwrap();
    assert!(q.list().unwrap()[0].delay_notified);
    // A restart releases what the stopped run had taken.
    assert_eq!(q.release_leases().unwrap(), 1);
    assert_eq!(q.bounce("M1").unwrap(), 1);
    let bounced = q.take_due(now(), 10).unwrap();
    assert!(bounced[0].bounce);
    q.finish(&[bounced[0].id]).unwrap();
    assert!(
        q.message("M1").unwrap().is_none(),
        "the message goes with its last recipient"
    );
    assert!(q.is_empty().unwrap());
    // Unknown names and ids change nothing and fail nothing.
    assert_eq!(q.delete("nope").unwrap(), 0);
    assert_eq!(q.bounce("nope").unwrap(), 0);
    q.finish(&[]).unwrap();
    q.finish(&[987_654]).unwrap();
    assert!(!q.defer(987_654, 0, "x").unwrap());
    q.enqueue(&[message("M2", &["d@w.test"]), message("M3", &["e@w.test"])])
        .unwrap();
    assert_eq!(q.delete("M2").unwrap(), 1);
    assert_eq!(q.list().unwrap().len(), 1);
    // A message id is unique: a second one under the same id is refused whole.
    assert!(q.enqueue(&[message("M3", &["f@w.test"])]).is_err());
    assert_eq!(q.len().unwrap(), 1);
}

fn a_restart_gives_back_only_its_own_leases(open: Open) {
    let (one, two) = (open("node-1"), open("node-2"));
    one.enqueue(&[message("M1", &["a@y.test", "b@y.test", "c@y.test"])])
        .unwrap();
    let mine = one.take_due(now(), 2).unwrap();
    assert_eq!(mine.len(), 2);
    let theirs = two.take_due(now(), 10).unwrap();
    assert_eq!(theirs.len(), 1, "the other node takes what is left");
    // Node 2 restarts: its attempt is due again; node 1's, still being delivered, are not.
    assert_eq!(two.release_leases().unwrap(), 1);
    let after = two.take_due(now(), 10).unwrap();
    assert_eq!(after.iter().map(|r| r.id).collect::<Vec<_>>(), [theirs[0].id]);
    // A node cannot defer or give back another's recipient.
    assert!(!two.defer(mine[0].id, now() + 3600, "not mine").unwrap());
    two.release(mine[1].id).unwrap();
    assert!(two.take_due(now(), 10).unwrap().is_empty());
    let listed = one.list().unwrap();
    assert!(listed.iter().all(|r| r.attempts == 0 && r.last_error.is_none()));
}

fn a_dead_nodes_leases_end_and_a_live_nodes_are_renewed(open: Open) {
    let (one, two) = (open("node-1"), open("node-2"));
    one.enqueue(&[message("M1", &["a@y.test", "b@y.test"])]).unwrap();
    let t = now();
    let taken = one.take_due(t, 10).unwrap();
    assert_eq!(taken.len(), 2);
    assert!(two.take_due(t + LEASE_SECS - 1, 10).unwrap().is_empty());
    // However late its renewal, a node never takes its own recipients a second time.
    assert!(one.take_due(t + 10 * LEASE_SECS, 10).unwrap().is_empty());
    // Node 1 works on: renewed, its leases outlast the first term.
    assert_eq!(one.renew_leases(t + 30).unwrap(), 2);
    assert!(two.take_due(t + LEASE_SECS + 1, 10).unwrap().is_empty());
    // Node 1 dies (no more renewals): once the lease ends, node 2 takes them.
    let rescued = two.take_due(t + 30 + LEASE_SECS + 1, 10).unwrap();
    assert_eq!(rescued.len(), 2);
    assert_eq!(one.renew_leases(t + 100).unwrap(), 0, "node 1 lost them");
    assert!(
        !one.defer(taken[0].id, t + 3600, "late").unwrap(),
        "no longer its lease"
    );
    assert!(
        one.list()
            .unwrap()
            .iter()
            .all(|r| r.attempts == 0 && r.last_error.is_none())
    );
    two.finish(&[rescued[0].id, rescued[1].id]).unwrap();
    assert!(one.is_empty().unwrap());
}

fn nodes_claiming_at_once_take_each_recipient_once(open: Open) {
    const MESSAGES: usize = 60;
    const PER_MESSAGE: usize = 5;
    let setup = open("setup");
    let ids: Vec<String> = (0..MESSAGES).map(|i| format!("M{i}")).collect();
    let addresses: Vec<String> = (0..PER_MESSAGE).map(|i| format!("r{i}@y.test")).collect();
    let addresses: Vec<&str> = addresses.iter().map(String::as_str).collect();
    let batch: Vec<NewQueued> = ids.iter().map(|id| message(id, &addresses)).collect();
    setup.enqueue(&batch).unwrap();

    let claimed = Arc::new(Mutex::new(Vec::new()));
    let nodes = [open("node-1"), open("node-2")];
    std::thread::scope(|s| {
        for node in &nodes {
            for _ in 0..4 {
                let claimed = claimed.clone();
                s.spawn(move || {
                    loop {
                        let due = node.take_due(now(), 7).unwrap();
                        if due.is_empty() {
                            break;
                        }
                        let ids: Vec<i64> = due.iter().map(|r| r.id).collect();
                        claimed.lock().unwrap().extend(ids.iter().copied());
                        node.finish(&ids).unwrap();
                    }
                });
            }
        }
    });
    let claimed = claimed.lock().unwrap();
    let distinct: HashSet<_> = claimed.iter().collect();
    assert_eq!(claimed.len(), MESSAGES * PER_MESSAGE, "every recipient claimed once");
    assert_eq!(distinct.len(), claimed.len(), "no recipient claimed twice");
    assert!(setup.is_empty().unwrap());
    for id in &ids {
        // Workers finishing recipients of one message at once must not strand it.
        assert!(setup.message(id).unwrap().is_none(), "{id} went with its recipients");
    }
}

/// A queue file written before leases had names (a `leased` flag): opened by this version, its
/// recipients are all still there, the interrupted one due again.
#[test]
fn an_older_sqlite_queue_file_is_upgraded_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queue.sqlite");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE queued_message(id TEXT PRIMARY KEY, sender TEXT NOT NULL, envid TEXT,
                 ret_full INTEGER NOT NULL, arrival INTEGER NOT NULL, body BLOB NOT NULL);
             CREATE TABLE queued_recipient(id INTEGER PRIMARY KEY AUTOINCREMENT,
                 message TEXT NOT NULL REFERENCES queued_message(id) ON DELETE CASCADE,
                 address TEXT NOT NULL, domain TEXT NOT NULL, orcpt TEXT, notify TEXT,
                 attempts INTEGER NOT NULL DEFAULT 0, next_attempt INTEGER NOT NULL,
                 leased INTEGER NOT NULL DEFAULT 0, bounce INTEGER NOT NULL DEFAULT 0,
                 delay_notified INTEGER NOT NULL DEFAULT 0, last_error TEXT);
             CREATE INDEX queued_recipient_due ON queued_recipient(next_attempt) WHERE leased = 0;
             CREATE INDEX queued_recipient_message ON queued_recipient(message);
             INSERT INTO queued_message VALUES ('M1', 'a@x.test', NULL, 0, 1, x'41');
             INSERT INTO queued_recipient(message, address, domain, next_attempt, leased)
                 VALUES ('M1', 'b@y.test', 'y.test', 1, 1), ('M1', 'c@y.test', 'y.test', 1, 0);",
        )
        .unwrap();
    }
    let q = SqliteQueue::open(&path, "node-1").unwrap();
    assert_eq!(q.len().unwrap(), 2);
    assert_eq!(
        q.take_due(now(), 10).unwrap().len(),
        2,
        "the interrupted attempt is due again"
    );
    drop(q);
    // Opened again: nothing to do, nothing lost.
    let q = SqliteQueue::open(&path, "node-1").unwrap();
    assert_eq!(q.len().unwrap(), 2);
    // A file from a newer version is refused, not misread.
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    drop(q);
    assert!(matches!(
        SqliteQueue::open(&path, "node-1"),
        Err(confiance_store::StoreError::NewerSchema { found: 99, .. })
    ));
}
