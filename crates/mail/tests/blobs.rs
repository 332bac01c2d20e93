//! Message files are removed by the blob directory's one owner: a second service on the same
//! data (a CLI command while the server runs) deletes rows and leaves the files to the owner,
//! and opening it removes nothing the owner is writing.

use std::sync::Arc;

use confiance_mail::MailService;
use confiance_store::BlobStore;

fn files_under(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.file_type().is_ok_and(|t| t.is_dir()) {
                    true => files_under(&e.path()),
                    false => 1,
                })
                .sum()
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn a_second_service_leaves_removals_to_the_owner() {
    let dir = tempfile::tempdir().unwrap();
    let blobs_dir = dir.path().join("blobs");
    let server = MailService::open(dir.path(), false).unwrap();
    assert!(server.owns_blobs());
    let store = confiance_store::open(dir.path()).unwrap();
    let alice = store.create_account("alice@medecin.test", "hash", 1 << 20).unwrap();
    let inbox = store.mailbox(alice, "INBOX").unwrap().unwrap();
    server
        .deliver(
            vec![inbox.id],
            Arc::new(b"Subject: a\r\n\r\nx\r\n".to_vec()),
            vec![],
            (0, 0),
        )
        .await
        .unwrap();
    let blob_count = |d: &std::path::Path| files_under(d) - files_under(&d.join("tmp")) - 1; // owner.lock
    assert_eq!(blob_count(&blobs_dir), 1);

    // A file the server is writing when the CLI opens the directory.
    let in_flight = blobs_dir.join("tmp").join(format!("{}-77", std::process::id()));
    std::fs::write(&in_flight, b"half a message").unwrap();

    let cli = MailService::new(
        confiance_store::open(dir.path()).unwrap(),
        Arc::new(BlobStore::open(&blobs_dir, false).unwrap()),
    );
    assert!(!cli.owns_blobs());
    assert!(
        in_flight.exists(),
        "opening the blob directory removed a file being written"
    );
    let account = cli.account(alice).await.unwrap().unwrap();
    cli.delete_account(&account).await.unwrap();
    assert!(cli.account(alice).await.unwrap().is_none());
    assert_eq!(blob_count(&blobs_dir), 1, "the CLI removed a blob file itself");
    assert_eq!(cli.collect_blobs().await.unwrap(), 0, "only the owner collects");

    assert_eq!(server.collect_blobs().await.unwrap(), 1);
    assert_eq!(blob_count(&blobs_dir), 0);
    assert_eq!(server.collect_blobs().await.unwrap(), 0, "each removal is done once");
    assert!(in_flight.exists());
}
