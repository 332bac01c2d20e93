//! The whitelist from a URL: read at start, refreshed on a schedule, kept when a refresh fails,
//! and taken from the last good copy when the source is down at start.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Operator, text};

fn list(domains: &[&str]) -> String {
    let mut xml = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListeBlancheMSSante xmlns=\"https://listeblanche.mssante.fr/schema\">\n\
         <DateDeGeneration>2026-11-24T10:00:00Z</DateDeGeneration>\n<ListeDomaines>\n",
    );
    for d in domains {
        xml.push_str(&format!(
            "<Domaine><Nom>{d}</Nom><Description>X</Description>\
             <DNCertificatOperateur>CN=mx.{d},OU=1,O=X,C=FR</DNCertificatOperateur></Domaine>\n"
        ));
    }
    xml.push_str("</ListeDomaines>\n</ListeBlancheMSSante>\n");
    xml
}

/// Python's HTTP server on loopback, serving `dir`.
fn http_server(dir: &std::path::Path, port: u16) -> Child {
    let child = Command::new("python3")
        .args(["-m", "http.server", "--bind", "127.0.0.1", "--directory"])
        .arg(dir)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "http.server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn rcpt(op: &Operator, address: &str) -> String {
    op.python("trust_space.py", &["rcpt", "alice", address])
}

fn eventually(op: &Operator, address: &str, expected: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let reply = rcpt(op, address);
        if reply.starts_with(expected) {
            return;
        }
        assert!(Instant::now() < deadline, "RCPT {address}: {reply}\n{}", op.log());
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn whitelist_from_a_url_survives_its_outages() {
    let served = tempfile::tempdir().unwrap();
    let file = served.path().join("listeblanchemssante.xml");
    std::fs::write(&file, list(&["z.test", "y.test"])).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = http_server(served.path(), port);
    let config =
        format!("[trust]\nwhitelist = \"http://127.0.0.1:{port}/listeblanchemssante.xml\"\nrefresh_seconds = 1\n");
    let mut op = Operator::start_with(&["alice"], &config);
    assert!(rcpt(&op, "x@z.test").starts_with("250"), "{}", op.log());
    assert!(op.log().contains("whitelist loaded") && op.log().contains("domains=2"));

    // A truncated download is refused and the list in force stays.
    std::fs::write(&file, &list(&["y.test"])[..120]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !op.log().contains("whitelist refresh failed") {
        assert!(Instant::now() < deadline, "{}", op.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(rcpt(&op, "x@z.test").starts_with("250"));

    // A new list is taken: z.test has left the trust space.
    std::fs::write(&file, list(&["y.test"])).unwrap();
    eventually(&op, "x@z.test", "550");
    assert!(rcpt(&op, "x@y.test").starts_with("250"));

    // The server is gone: the refresh fails, and a restart uses the last good copy.
    server.kill().unwrap();
    let _ = server.wait();
    op.kill();
    op.spawn();
    assert!(op.log().contains("last good copy in force"), "{}", op.log());
    assert!(rcpt(&op, "x@y.test").starts_with("250"));
    assert!(rcpt(&op, "x@z.test").starts_with("550"));

    // The administrator's check of a copy: counts and rejected entries.
    let copy = served.path().join("copie.xml");
    std::fs::write(
        &copy,
        list(&["a.test", "bad..name"]).replace("</ListeBlancheMSSante>\n", ""),
    )
    .unwrap();
    let out = op.cli(&["whitelist", "check", copy.to_str().unwrap()], None);
    let report = text(&out);
    assert!(out.status.success(), "{report}");
    assert!(
        report.contains("domaines\t1") && report.contains("entrées écartées\t1"),
        "{report}"
    );
    assert!(report.contains("bad..name"), "{report}");
    let out = op.cli(&["whitelist", "check", "http://127.0.0.1:1/nothing.xml"], None);
    assert!(
        !out.status.success() && text(&out).contains("connexion impossible"),
        "{}",
        text(&out)
    );
}
