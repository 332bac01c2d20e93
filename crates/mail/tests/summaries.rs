//! Messages stored before summaries existed get theirs from `summarise_missing`, and then list
//! by sender like the others.

use std::sync::Arc;

use confiance_mail::MailService;
use confiance_store::*;

#[tokio::test]
async fn older_messages_are_summarised_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = confiance_store::open(dir.path()).unwrap();
    let files = std::sync::Arc::new(BlobStore::open(dir.path().join("blobs"), false).unwrap());
    let svc = MailService::new(store.clone(), files);
    let alice = store.create_account("alice@medecin.test", "hash", 1 << 20).unwrap();
    let inbox = store.mailbox(alice, "INBOX").unwrap().unwrap();
    // Stored as an older version did: blob written, row without summary.
    let bytes = b"From: Dr Zo\xc3\xa9 Martin <zoe@pro.test>\r\nSubject: Bilan\r\n\r\nx\r\n".to_vec();
    let blobs = BlobStore::open(dir.path().join("blobs"), false).unwrap();
    let blob = blobs.put(&bytes).unwrap();
    store.append(&[NewMessage {
        mailbox: inbox.id,
        blob,
        size: bytes.len() as u64,
        internal_date: 1_700_000_000,
        internal_tz_minutes: 0,
        flags: vec![],
        recent: true,
        summary: None,
    }]);
    // And one delivered now, with its summary.
    svc.deliver(
        vec![inbox.id],
        Arc::new(b"From: anne@pro.test\r\nSubject: Ordonnance\r\n\r\ny\r\n".to_vec()),
        vec![],
        (1_700_000_060, 0),
    )
    .await
    .unwrap();
    assert_eq!(store.unsummarised(alice, 10).unwrap().len(), 1);
    assert_eq!(svc.summarise_missing().await.unwrap(), 1);
    assert_eq!(svc.summarise_missing().await.unwrap(), 0);
    let query = ListQuery {
        sort: SortKey::Sender,
        ascending: true,
        unread_only: false,
        flagged_only: false,
        attachments_only: false,
        offset: 0,
        limit: 10,
    };
    let (_, rows) = store.list_messages(inbox.id, &query).unwrap();
    let subjects: Vec<String> = rows.into_iter().map(|r| r.summary.unwrap().subject).collect();
    assert_eq!(subjects, ["Ordonnance", "Bilan"], "anne before dr zoé martin");
}
