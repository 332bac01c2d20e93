//! The committed search-quality queries over a generated directory (planted professionals
//! among generated ones), and the generated files read back without a bad line.

use confiance_directory::generate::{QUERIES, Scale, generate};
use confiance_directory::{Builder, Directory};

fn generated(scale: Scale) -> (Vec<u8>, Vec<u8>) {
    let (mut activities, mut mailboxes) = (Vec::new(), Vec::new());
    let done = generate(scale, &mut activities, &mut mailboxes, |_| {}).unwrap();
    assert_eq!(done.activity_rows, scale.activity_rows);
    assert_eq!(done.mailbox_rows, scale.mailbox_rows);
    (activities, mailboxes)
}

#[test]
fn generated_files_read_back_whole_and_the_same_seed_gives_the_same_files() {
    let scale = Scale::fraction(1000);
    let (activities, mailboxes) = generated(scale);
    let mut b = Builder::new();
    let a = b.activities(&activities[..], "a").unwrap();
    let m = b.mailboxes(&mailboxes[..], "m").unwrap();
    assert!(a.bad.is_empty(), "{:?}", &a.bad[..a.bad.len().min(5)]);
    assert!(m.bad.is_empty(), "{:?}", &m.bad[..m.bad.len().min(5)]);
    assert_eq!(a.rows, scale.activity_rows);
    assert_eq!(m.entries, scale.mailbox_rows);
    assert_eq!(b.duplicates, 0);
    let s = b.finish(0);
    let orgs = s.organisations.len() as f64 / scale.mailbox_rows as f64;
    assert!((0.1..0.25).contains(&orgs), "ORG share {orgs}");
    let again = generated(scale);
    assert!(again.0 == activities && again.1 == mailboxes);
}

#[test]
fn recall_at_5_of_the_committed_queries() {
    let (activities, mailboxes) = generated(Scale::fraction(100));
    let mut b = Builder::new();
    b.activities(&activities[..], "a").unwrap();
    b.mailboxes(&mailboxes[..], "m").unwrap();
    let d = Directory::new(b.finish(0));
    assert!(QUERIES.len() >= 50);
    let mut missed = Vec::new();
    for query in QUERIES {
        let q = query.query(5);
        let found = d.search(&q);
        let addresses: Vec<&str> = found
            .entries
            .iter()
            .flat_map(|e| e.mailboxes.iter().map(|m| m.address.as_str()))
            .collect();
        if !addresses.contains(&query.expected) {
            missed.push(format!("{:?} → {:?}", query.text, &addresses));
        }
    }
    let recall = 1.0 - missed.len() as f64 / QUERIES.len() as f64;
    println!("recall@5 = {recall:.3} over {} queries", QUERIES.len());
    assert!(
        missed.is_empty(),
        "recall@5 {recall:.3}, missed:\n{}",
        missed.join("\n")
    );
}
