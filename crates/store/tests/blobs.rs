//! Message bodies in PostgreSQL (`PgBlobs`), run when `CONFIANCE_TEST_POSTGRES` names a server
//! (CI always sets it). The file store has its own tests beside its code.

use std::io::ErrorKind;

use confiance_store::pg::TestDatabase;
use confiance_store::pg::blobs::{CHUNK, GRACE_SECS, PgBlobs};
use confiance_store::{BlobId, BlobStore};

fn open() -> Option<(TestDatabase, PgBlobs)> {
    let db = TestDatabase::create()?;
    let blobs = PgBlobs::open(&db.url, 4).unwrap();
    Some((db, blobs))
}

fn chunks(db: &TestDatabase) -> i64 {
    let mut client = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    client
        .query_one("SELECT count(*) FROM blob_chunks", &[])
        .unwrap()
        .get(0)
}

#[test]
fn blobs_come_back_whole_and_are_kept_once() {
    let Some((db, blobs)) = open() else { return };
    let small = b"Subject: s\r\n\r\n\x00\xff body\r\n".to_vec();
    let large: Vec<u8> = (0..CHUNK * 2 + 12_345).map(|i| (i % 251) as u8).collect();
    for bytes in [&small, &large, &Vec::new()] {
        let id = blobs.put(bytes).unwrap();
        assert_eq!(id, BlobStore::id_of(bytes), "named as the file store names it");
        assert_eq!(&blobs.get(&id).unwrap(), bytes);
        let mut streamed = Vec::new();
        assert_eq!(blobs.copy_to(&id, &mut streamed).unwrap(), bytes.len() as u64);
        assert_eq!(&streamed, bytes);
        assert!(blobs.verify(&id).unwrap());
        assert_eq!(blobs.put(bytes).unwrap(), id, "the same bytes, the same blob");
    }
    blobs.sync().unwrap();
    assert_eq!(
        chunks(&db),
        1 + 3,
        "one row for the small one, three for the large, none for empty"
    );
    // Bad names and absent blobs are errors of their own, never another blob's bytes.
    let missing = BlobStore::id_of(b"never stored");
    assert_eq!(blobs.get(&missing).unwrap_err().kind(), ErrorKind::NotFound);
    let bad = BlobId("../../etc/passwd".into());
    assert_eq!(blobs.get(&bad).unwrap_err().kind(), ErrorKind::InvalidInput);
    // A damaged chunk is found by `verify`; a missing one by any read.
    let id = BlobStore::id_of(&large);
    let mut client = postgres::Client::connect(&db.url, postgres::NoTls).unwrap();
    client
        .execute(
            "UPDATE blob_chunks SET data = 'x'::bytea || substr(data, 2) WHERE hash = $1 AND seq = 1",
            &[&id.0],
        )
        .unwrap();
    assert!(!blobs.verify(&id).unwrap(), "a changed byte is seen");
    client
        .execute("DELETE FROM blob_chunks WHERE hash = $1 AND seq = 2", &[&id.0])
        .unwrap();
    assert_eq!(blobs.get(&id).unwrap_err().kind(), ErrorKind::InvalidData);
}

#[test]
fn nodes_storing_the_same_message_at_once_keep_one_copy() {
    let Some((db, one)) = open() else { return };
    let two = PgBlobs::open(&db.url, 4).unwrap();
    let bytes: Vec<u8> = (0..CHUNK + 7).map(|i| (i % 13) as u8).collect();
    let ids: Vec<BlobId> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let store = if i % 2 == 0 { &one } else { &two };
                let bytes = &bytes;
                s.spawn(move || store.put(bytes).unwrap())
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(ids.iter().all(|id| *id == ids[0]));
    assert_eq!(chunks(&db), 2);
    assert_eq!(two.get(&ids[0]).unwrap(), bytes);
}

#[test]
fn removal_spares_blobs_stored_or_reused_within_the_grace_period() {
    let Some((_db, blobs)) = open() else { return };
    let t = 1_000_000;
    let id = blobs.put_at(b"old message", t).unwrap();
    assert_eq!(
        blobs
            .remove_unused(std::slice::from_ref(&id), t + GRACE_SECS - 1)
            .unwrap(),
        0,
        "too recent"
    );
    assert_eq!(
        blobs
            .remove_unused(std::slice::from_ref(&id), t + GRACE_SECS + 1)
            .unwrap(),
        1
    );
    assert_eq!(blobs.get(&id).unwrap_err().kind(), ErrorKind::NotFound);
    // Stored again after its removal: whole again.
    assert_eq!(blobs.put_at(b"old message", t + 10_000).unwrap(), id);
    assert_eq!(blobs.get(&id).unwrap(), b"old message");
    // Reused (dedup) long after: the reuse counts from now, so a removal decided before the
    // message that reuses it is committed cannot take it.
    let later = t + 10_000 + GRACE_SECS;
    blobs.put_at(b"old message", later).unwrap();
    assert_eq!(
        blobs
            .remove_unused(std::slice::from_ref(&id), later + GRACE_SECS - 1)
            .unwrap(),
        0
    );
    assert_eq!(blobs.remove_unused(&[], later).unwrap(), 0);
    assert_eq!(blobs.get(&id).unwrap(), b"old message");
}
