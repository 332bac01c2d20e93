//! Several nodes on one PostgreSQL database (issue 19): real servers, real clients. Runs when
//! `CONFIANCE_TEST_POSTGRES` names a server (CI always sets it); says "skipped" otherwise.

mod common;

use std::path::Path;

use common::*;
use confiance_store::pg::TestDatabase;

fn storage(db: &TestDatabase, node: &str) -> String {
    format!("[storage]\nurl = \"{}\"\nnode = \"{node}\"\npool_size = 4\n", db.url)
}

/// Copies node 1's configuration and certificates: what a second node needs of the first.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_message_submitted_on_one_node_wakes_and_is_read_on_the_other() {
    let Some(db) = TestDatabase::create() else { return };
    let mut one = Operator::new_at("127.0.0.1", DOMAIN);
    one.launch(&["alice", "bob"], &storage(&db, "node-1"));
    let mut two = Operator::new_at("127.0.0.1", DOMAIN);
    copy_dir(&one.data_dir(), &two.data_dir());
    two.write_config(&storage(&db, "node-2"));
    two.spawn();

    let mut env = one.env();
    env.push(("NODE2_SUBMISSION".into(), two.submission.to_string()));
    let out = std::process::Command::new("python3")
        .arg(repo().join("tests/clients/nodes.py"))
        .envs(env)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}\n--- node 1\n{}\n--- node 2\n{}",
        text(&out),
        String::from_utf8_lossy(&out.stderr),
        one.log(),
        two.log()
    );
    println!("{}", text(&out));

    // With a database URL, the data directories hold configuration and certificates only.
    for node in [&one, &two] {
        for file in ["confiance.db", "queue.sqlite", "traces.sqlite", "blobs"] {
            assert!(!node.data_dir().join(file).exists(), "{file} was created");
        }
    }
    // A third node started with an empty data directory on this database refuses, rather than
    // make a second PKI and demo accounts beside the others.
    let three = Operator::new_at("127.0.0.1", DOMAIN);
    three.write_config(&storage(&db, "node-3"));
    let mut serve = std::process::Command::new(binary())
        .arg("--config")
        .arg(three.config_path())
        .arg("serve")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = serve.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = serve.kill();
            panic!("node 3 started with an empty data directory");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut serve.stderr.take().unwrap(), &mut err).unwrap();
    assert!(!status.success());
    assert!(err.contains("copiez") && err.contains("premier nœud"), "{err}");
    assert!(!three.data_dir().join("demo-accounts.txt").exists());

    // Both nodes' traces are in the one log the database keeps.
    let audit = one.cli_ok(&["traces", "--bal", &Operator::address("bob")], None);
    assert!(audit.contains("delivered"), "{audit}");
}

#[test]
fn a_wrong_database_url_is_a_clear_error_at_start() {
    let op = Operator::new_at("127.0.0.1", DOMAIN);
    op.write_config("[storage]\nurl = \"postgres://nobody:s3cret@127.0.0.1:1/none\"\n");
    let out = op.cli(&["init", "--no-demo"], None);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("PostgreSQL inaccessible"), "{err}");
    assert!(!err.contains("s3cret"), "the password is never shown: {err}");
    op.write_config("[storage]\nurl = \"mysql://x@h/db\"\n");
    let err = String::from_utf8_lossy(&op.cli(&["init", "--no-demo"], None).stderr).into_owned();
    assert!(err.contains("postgres://"), "{err}");
}
