//! The suite every `Store` backend must pass. Written once, run against SQLite and against
//! PostgreSQL (when `CONFIANCE_TEST_POSTGRES` names a server; CI always sets it).

use confiance_store::*;

fn new_message(mailbox: MailboxId, blob: &str, size: u64, flags: &[&str]) -> NewMessage {
    NewMessage {
        mailbox,
        blob: BlobId(blob.repeat(64 / blob.len())),
        size,
        internal_date: 1_700_000_000,
        internal_tz_minutes: 60,
        flags: flags.iter().map(|s| s.to_string()).collect(),
        recent: true,
        summary: None,
    }
}

fn suite(store: &dyn Store) {
    // Accounts get the special-use folders, and addresses are unique.
    let alice = store.create_account("alice@medecin.test", "hash", 1000).unwrap();
    let bob = store.create_account("bob@medecin.test", "hash", 10_000).unwrap();
    assert!(matches!(
        store.create_account("alice@medecin.test", "h", 1),
        Err(StoreError::AccountExists)
    ));
    let names: Vec<_> = store.mailboxes(alice).unwrap().into_iter().map(|m| m.name).collect();
    assert_eq!(names, ["Drafts", "INBOX", "Junk", "Sent", "Trash"]);
    // Directory listings: set, replaced, withdrawn; red-listed ones are kept (and flagged).
    assert!(store.listings().unwrap().is_empty());
    let mut listing = DirectoryListing {
        kind: confiance_core::MailboxKind::Personal,
        national_id: Some("810000005479".into()),
        structure_id: None,
        civility: Some("Docteur".into()),
        family_name: Some("DUPONT".into()),
        given_name: Some("Jean".into()),
        profession: Some(("10".into(), "Médecin".into())),
        specialty: None,
        service: None,
        organisation: None,
        postcode: Some("75002".into()),
        locality: Some("75002 PARIS".into()),
        departement: Some("75".into()),
        dematerialisation: Some(true),
        red_list: false,
    };
    store.set_listing(alice, Some(&listing)).unwrap();
    listing.red_list = true;
    store.set_listing(bob, Some(&listing)).unwrap();
    let listed = store.listings().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0].0, "alice@medecin.test");
    assert!(!listed[0].1.red_list && listed[1].1.red_list);
    assert_eq!(listed[1].1, listing);
    store.set_listing(bob, None).unwrap();
    assert_eq!(store.listings().unwrap().len(), 1);

    // A structure's BAL: of its structure, its type fixed; no listing of another type.
    store.add_structure("750712184", "CH de Test", None).unwrap();
    assert!(matches!(
        store.add_structure("750712184", "Autre", None),
        Err(StoreError::StructureExists)
    ));
    let bal = |address: &'static str, finess: &'static str| NewStructureBal {
        address,
        kind: confiance_core::MailboxKind::Organisational,
        finess,
        display_name: "Secrétariat",
        quota_bytes: 1000,
    };
    assert!(matches!(
        store.create_structure_bal(&bal("x@medecin.test", "130786049")),
        Err(StoreError::NoSuchStructure)
    ));
    let org = store
        .create_structure_bal(&bal("secretariat@medecin.test", "750712184"))
        .unwrap();
    let account = store.account(org).unwrap().unwrap();
    assert_eq!(account.kind, confiance_core::MailboxKind::Organisational);
    assert_eq!(account.structure.as_deref(), Some("750712184"));
    assert_eq!(account.display_name.as_deref(), Some("Secrétariat"));
    assert_eq!(
        store.account(alice).unwrap().unwrap().kind,
        confiance_core::MailboxKind::Personal
    );
    assert!(matches!(
        store.set_listing(org, Some(&listing)),
        Err(StoreError::KindFixed(k)) if k == "ORG"
    ));
    assert!(store.add_structure_admin("750712184", "810000005479").unwrap());
    assert!(!store.add_structure_admin("750712184", "810000005479").unwrap());
    assert_eq!(store.structure_admins("750712184").unwrap(), ["810000005479"]);
    assert_eq!(store.structures().unwrap()[0].name, "CH de Test");
    let sent = store.mailbox(alice, "Sent").unwrap().unwrap();
    assert_eq!(sent.special_use.as_deref(), Some("\\Sent"));
    assert!(sent.subscribed);

    // Append assigns increasing UIDs and modseqs and counts the quota.
    let inbox = store.mailbox(alice, "INBOX").unwrap().unwrap();
    let r = store.append(&[
        new_message(inbox.id, "a", 300, &["\\seen", "$Label"]),
        new_message(inbox.id, "b", 300, &[]),
    ]);
    let uids: Vec<u32> = r.iter().map(|r| r.as_ref().unwrap().uid).collect();
    assert_eq!(uids, [1, 2]);
    assert_eq!(store.usage(alice).unwrap(), 600);
    let state = store.messages(inbox.id).unwrap();
    let msgs = state.messages;
    assert_eq!(msgs[0].flags, ["$Label", "\\Seen"]);
    assert!(msgs[1].modseq > msgs[0].modseq);
    // The view's modseq is the folder's, read with its messages.
    assert_eq!(state.highest_modseq, msgs[1].modseq);
    assert_eq!(
        state.highest_modseq,
        store.mailbox(alice, "INBOX").unwrap().unwrap().highest_modseq
    );

    // Over quota: refused, the others of the batch stored.
    let r = store.append(&[
        new_message(inbox.id, "c", 500, &[]),
        new_message(inbox.id, "d", 100, &[]),
    ]);
    assert!(matches!(
        r[0],
        Err(StoreError::QuotaExceeded { used: 600, limit: 1000 })
    ));
    assert_eq!(r[1].as_ref().unwrap().uid, 3);

    // All or nothing: the second message does not fit, so neither is stored.
    let before = store.messages(inbox.id).unwrap().messages.len();
    let r = store.append_all(&[
        new_message(inbox.id, "f", 10, &[]),
        new_message(inbox.id, "g", 5000, &[]),
    ]);
    assert!(matches!(r, Err(StoreError::QuotaExceeded { .. })));
    assert_eq!(store.messages(inbox.id).unwrap().messages.len(), before);

    // Flags, with UNCHANGEDSINCE.
    let before = store.mailbox(alice, "INBOX").unwrap().unwrap().highest_modseq;
    let out = store
        .store_flags(
            inbox.id,
            &FlagUpdate {
                uids: vec![1, 2],
                op: FlagOp::Add,
                flags: vec!["\\Deleted".into()],
                unchanged_since: None,
            },
        )
        .unwrap();
    assert_eq!(out.updated.len(), 2);
    let changes = store.changes_since(inbox.id, before).unwrap();
    assert_eq!(changes.changed.iter().map(|m| m.uid).collect::<Vec<_>>(), [1, 2]);
    let out = store
        .store_flags(
            inbox.id,
            &FlagUpdate {
                uids: vec![3],
                op: FlagOp::Add,
                flags: vec!["\\Flagged".into()],
                unchanged_since: Some(1),
            },
        )
        .unwrap();
    assert_eq!(out.modified, [3]);

    // Copy within the account, never across accounts.
    let trash = store.mailbox(alice, "Trash").unwrap().unwrap();
    let copied = store.copy(inbox.id, &[1], trash.id, false).unwrap();
    assert_eq!(copied.pairs, [(1, 1)]);
    let bob_inbox = store.mailbox(bob, "INBOX").unwrap().unwrap();
    assert!(matches!(
        store.copy(inbox.id, &[1], bob_inbox.id, false),
        Err(StoreError::Forbidden(_))
    ));

    // Expunge reports UIDs; a blob still used by the copy is not an orphan.
    let before = store.mailbox(alice, "INBOX").unwrap().unwrap().highest_modseq;
    let (expunged, orphans) = store.expunge(inbox.id, None).unwrap();
    assert_eq!(expunged, [1, 2]);
    assert_eq!(orphans, [BlobId("b".repeat(64))]);
    assert_eq!(store.changes_since(inbox.id, before).unwrap().expunged, [1, 2]);
    assert!(!store.blob_in_use(&BlobId("b".repeat(64))).unwrap());
    assert!(
        store.blob_in_use(&BlobId("a".repeat(64))).unwrap(),
        "still used by the copy in Trash"
    );

    // Move removes from the source.
    let moved = store.copy(inbox.id, &[3], trash.id, true).unwrap();
    assert_eq!(moved.pairs, [(3, 2)]);
    assert!(store.messages(inbox.id).unwrap().messages.is_empty());

    // Rename with children; INBOX cannot be deleted; recreation changes UIDVALIDITY.
    store.create_mailbox(alice, "Patients", None).unwrap();
    store.create_mailbox(alice, "Patients/Dupont", None).unwrap();
    store.rename_mailbox(alice, "Patients", "Dossiers", '/').unwrap();
    assert!(store.mailbox(alice, "Dossiers/Dupont").unwrap().is_some());
    assert!(matches!(
        store.delete_mailbox(alice, "INBOX"),
        Err(StoreError::Forbidden(_))
    ));
    let v1 = store.mailbox(alice, "Dossiers").unwrap().unwrap().uidvalidity;
    store.delete_mailbox(alice, "Dossiers").unwrap();
    let v2 = store.create_mailbox(alice, "Dossiers", None).unwrap().uidvalidity;
    assert!(v2 > v1);

    // A deleted folder's id is never given again, not even to another account.
    let last = store.create_mailbox(alice, "Ephemere", None).unwrap().id;
    store.delete_mailbox(alice, "Ephemere").unwrap();
    let next = store.create_mailbox(bob, "Nouveau", None).unwrap().id;
    assert!(next > last, "folder id {} reused", last.0);
    assert!(matches!(store.changes_since(last, 0), Err(StoreError::NoSuchMailbox)));

    // Renaming INBOX records its messages as expunged there, keeping earlier history.
    let bob_inbox = store.mailbox(bob, "INBOX").unwrap().unwrap();
    store.append(&[new_message(bob_inbox.id, "e", 10, &[])]);
    let before = store.mailbox(bob, "INBOX").unwrap().unwrap().highest_modseq;
    store.rename_mailbox(bob, "INBOX", "Archives", '/').unwrap();
    assert_eq!(store.changes_since(bob_inbox.id, before).unwrap().expunged, [1]);
    assert_eq!(
        store
            .messages(store.mailbox(bob, "Archives").unwrap().unwrap().id)
            .unwrap()
            .messages
            .len(),
        1
    );

    // Subscriptions survive their folder.
    store.set_subscribed(alice, "Ghost", true).unwrap();
    assert!(store.subscriptions(alice).unwrap().contains(&"Ghost".to_string()));

    // Deferred blob removals: recorded once each, listed up to the limit, forgotten on demand.
    let (x, y) = (BlobId("x".into()), BlobId("y".into()));
    store.defer_blob_removals(&[x.clone(), y.clone(), x.clone()]).unwrap();
    let mut pending = store.deferred_blob_removals(10).unwrap();
    pending.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(pending, [x.clone(), y.clone()]);
    assert_eq!(store.deferred_blob_removals(1).unwrap().len(), 1);
    store.forget_blob_removals(&[x]).unwrap();
    assert_eq!(store.deferred_blob_removals(10).unwrap(), [y]);
}

/// Identity, second factor, lockout, lifecycle and sessions, with each account kept apart.
fn identity_suite(store: &dyn Store) {
    let jean = store.create_account("jean@medecin.test", "h1", 1000).unwrap();
    let anne = store.create_account("anne@medecin.test", "h2", 1000).unwrap();
    let profile = Profile {
        national_id: Some("899700771191".into()),
        given_name: Some("Jean".into()),
        family_name: Some("MARTIN".into()),
        personal_email: Some("jean@example.org".into()),
        mobile: None,
        second_factor: SecondFactor::Totp,
        totp_secret: Some("ABC".into()),
        notify_new_mail: true,
        publish_mobile: false,
        mail_password: false,
        terms_accepted_at: 5,
    };
    assert_eq!(store.profile(jean).unwrap(), None);
    store.set_profile(jean, &profile).unwrap();
    assert_eq!(store.profile(jean).unwrap().as_ref(), Some(&profile));
    let mut changed = profile.clone();
    changed.second_factor = SecondFactor::Email;
    store.set_profile(jean, &changed).unwrap();
    assert_eq!(store.profile(jean).unwrap().unwrap().second_factor, SecondFactor::Email);
    let held: Vec<_> = store
        .accounts_of("899700771191")
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(held, [jean]);
    assert!(store.accounts_of("899700252580").unwrap().is_empty());

    // A TOTP step is claimed once, and never an earlier one after it.
    assert!(store.claim_totp_step(jean, 100).unwrap());
    assert!(!store.claim_totp_step(jean, 100).unwrap());
    assert!(!store.claim_totp_step(jean, 99).unwrap());
    assert!(store.claim_totp_step(jean, 101).unwrap());

    // Failures lock at the limit; the lock runs out; a login clears everything.
    for n in 1..=2 {
        let f = store.record_failure(jean, 1000, 3, 60).unwrap();
        assert_eq!((f.count, f.locked_until), (n, None));
    }
    assert_eq!(
        store.record_failure(jean, 1000, 3, 60).unwrap().locked_until,
        Some(1060)
    );
    assert_eq!(
        store.login_failures(anne).unwrap(),
        LoginFailures::default(),
        "anne is not locked by jean's failures"
    );
    assert_eq!(
        store.record_failure(jean, 1061, 3, 60).unwrap(),
        LoginFailures {
            count: 1,
            locked_until: None
        }
    );
    // A failure counted before a check that succeeded is taken back, and with it the lock
    // that count had set; a lock other failures set stays.
    store.record_failure(jean, 1062, 3, 60).unwrap();
    assert_eq!(
        store.record_failure(jean, 1062, 3, 60).unwrap().locked_until,
        Some(1122)
    );
    store.forgive_failure(jean, 3).unwrap();
    assert_eq!(
        store.login_failures(jean).unwrap(),
        LoginFailures {
            count: 2,
            locked_until: None
        }
    );
    store.record_failure(jean, 1063, 3, 60).unwrap();
    store.record_failure(jean, 1063, 3, 60).unwrap();
    store.forgive_failure(jean, 3).unwrap();
    assert_eq!(store.login_failures(jean).unwrap().locked_until, Some(1123));
    store.set_inactivity_notices(jean, 2, 500).unwrap();
    store.record_login(jean, 2000).unwrap();
    let a = store.account(jean).unwrap().unwrap();
    assert_eq!(
        (a.last_login_at, a.inactivity_notices, a.inactivity_notice_at),
        (Some(2000), 0, None)
    );
    assert_eq!(store.login_failures(jean).unwrap().count, 0);

    // Suspension ends the account's web sessions, not another's.
    store.session_put("k-jean", Some(jean), "{}", 10).unwrap();
    store.session_put("k-anne", Some(anne), "{\"a\":1}", 10).unwrap();
    store.session_put("k-none", None, "{}", 3).unwrap();
    let before = store.last_revocation().unwrap();
    store.set_status(jean, AccountStatus::Suspended).unwrap();
    // ... and asks every server to end its open IMAP and SMTP sessions.
    let revoked = store.revocations_since(before).unwrap();
    assert_eq!(revoked.iter().map(|r| r.1).collect::<Vec<_>>(), vec![jean]);
    assert_eq!(store.last_revocation().unwrap(), revoked[0].0);
    assert!(store.revocations_since(revoked[0].0).unwrap().is_empty());
    assert_eq!(store.account(jean).unwrap().unwrap().status, AccountStatus::Suspended);
    assert_eq!(store.session_get("k-jean").unwrap(), None);
    assert_eq!(store.session_get("k-anne").unwrap().as_deref(), Some("{\"a\":1}"));
    assert_eq!(store.sessions_expire(5).unwrap(), 1);
    store.set_status(jean, AccountStatus::Active).unwrap();
    // A session saved again updates its row; once deleted (logout) it is not brought back.
    store.session_update("k-anne", Some(anne), "{\"a\":2}", 11).unwrap();
    assert_eq!(store.session_get("k-anne").unwrap().as_deref(), Some("{\"a\":2}"));
    store.session_delete("k-anne").unwrap();
    store.session_update("k-anne", Some(anne), "{\"a\":3}", 12).unwrap();
    assert_eq!(store.session_get("k-anne").unwrap(), None);
    // Sessions of nobody yet are kept few and short: the oldest and the stale go first; an
    // account's session is never trimmed.
    store.session_put("k-anne", Some(anne), "{}", 20).unwrap();
    for (i, at) in [(1, 30), (2, 31), (3, 32), (4, 10)] {
        store.session_put(&format!("p{i}"), None, "{}", at).unwrap();
    }
    assert_eq!(store.sessions_trim_pending(2, 15).unwrap(), 2);
    assert!(store.session_get("p1").unwrap().is_none() && store.session_get("p4").unwrap().is_none());
    assert!(store.session_get("p2").unwrap().is_some() && store.session_get("p3").unwrap().is_some());
    assert!(store.session_get("k-anne").unwrap().is_some());

    // A BAL shared with a professional by national id: listed for them only, until withdrawn.
    store.grant_access(anne, "899700771191").unwrap();
    store.grant_access(anne, "899700771191").unwrap();
    let shared: Vec<String> = store
        .shared_with("899700771191")
        .unwrap()
        .into_iter()
        .map(|a| a.address)
        .collect();
    assert_eq!(shared, [store.account(anne).unwrap().unwrap().address]);
    assert!(store.shared_with("899700252580").unwrap().is_empty());
    assert!(store.revoke_access(anne, "899700771191").unwrap());
    assert!(!store.revoke_access(anne, "899700771191").unwrap());
    assert!(store.shared_with("899700771191").unwrap().is_empty());

    // App passwords belong to one account: anne cannot delete jean's.
    let id = store
        .add_app_password(jean, "Thunderbird", "hash", Some("abcd"))
        .unwrap();
    assert!(!store.delete_app_password(anne, id).unwrap());
    assert_eq!(store.app_passwords(jean).unwrap().len(), 1);
    assert_eq!(store.app_passwords(jean).unwrap()[0].lookup.as_deref(), Some("abcd"));
    assert!(store.app_passwords(anne).unwrap().is_empty());
    store.touch_app_password(id, 77).unwrap();
    assert_eq!(store.app_passwords(jean).unwrap()[0].last_used_at, Some(77));

    // SCRAM keys hold while their credential does: a new password or a revoked app password
    // leaves keys that are never returned.
    let key = |source: &str| ScramKey {
        source: source.into(),
        salt: b"salt".to_vec(),
        iterations: 4096,
        stored_key: vec![1; 32],
        server_key: vec![2; 32],
    };
    let jean_hash = store.account(jean).unwrap().unwrap().password_hash;
    store.put_scram_key(jean, &key(&jean_hash)).unwrap();
    store.put_scram_key(jean, &key("hash")).unwrap();
    store.put_scram_key(jean, &key("made up")).unwrap();
    let sources = |a| -> Vec<String> { store.scram_keys(a).unwrap().into_iter().map(|k| k.source).collect() };
    assert_eq!(sources(jean), [jean_hash.clone(), "hash".into()]);
    assert!(sources(anne).is_empty());
    assert!(store.delete_app_password(jean, id).unwrap());
    store.set_password(jean, "new hash").unwrap();
    assert!(sources(jean).is_empty());
    store.put_scram_key(jean, &key("new hash")).unwrap();
    assert_eq!(sources(jean), ["new hash"]);
    // An installation secret is drawn once.
    assert_eq!(store.secret("s", b"first").unwrap(), b"first");
    assert_eq!(store.secret("s", b"second").unwrap(), b"first");

    // Deletion returns the blobs only the deleted account used.
    let inbox = |a| store.mailbox(a, "INBOX").unwrap().unwrap().id;
    store
        .append_all(&[
            new_message(inbox(jean), "e", 10, &[]),
            new_message(inbox(jean), "f", 10, &[]),
        ])
        .unwrap();
    store.append_all(&[new_message(inbox(anne), "f", 10, &[])]).unwrap();
    let orphans = store.delete_account(jean).unwrap();
    assert_eq!(orphans, [BlobId("e".repeat(64))]);
    assert!(store.account(jean).unwrap().is_none());
    assert!(store.profile(jean).unwrap().is_none());
    assert!(store.accounts_of("899700771191").unwrap().is_empty());
    assert!(matches!(store.delete_account(jean), Err(StoreError::NoSuchAccount)));
    assert_eq!(store.messages(inbox(anne)).unwrap().messages.len(), 1);
}

/// Members of a shared BAL and their rights; staff accounts, whose suspension takes their app
/// passwords and ends the sessions of the BALs they belong to.
fn members_suite(store: &dyn Store) {
    let org = store.create_account("secretariat@x.mssante.fr", "!", 1 << 20).unwrap();
    let other = store.create_account("autre@x.mssante.fr", "!", 1 << 20).unwrap();
    let read = Rights {
        read: true,
        ..Rights::default()
    };
    let all = Rights {
        read: true,
        send: true,
        manage: true,
    };
    store.set_member(org, "anne@chu.fr", read).unwrap();
    store.set_member(org, "810000005479", all).unwrap();
    store
        .set_member(org, "anne@chu.fr", Rights { send: true, ..read })
        .unwrap();
    assert_eq!(
        store.rights_of(org, "anne@chu.fr").unwrap(),
        Some(Rights { send: true, ..read })
    );
    assert_eq!(store.rights_of(other, "anne@chu.fr").unwrap(), None);
    assert_eq!(store.members(org).unwrap().len(), 2);
    let of_anne = store.memberships("anne@chu.fr").unwrap();
    assert_eq!((of_anne.len(), of_anne[0].0.id, of_anne[0].1.send), (1, org, true));
    // A share made before rights existed reads and sends.
    store.grant_access(other, "810000005479").unwrap();
    assert_eq!(
        store.rights_of(other, "810000005479").unwrap(),
        Some(Rights {
            read: true,
            send: true,
            manage: false
        })
    );

    let staff = StaffAccount {
        email: "anne@chu.fr".into(),
        name: "Anne".into(),
        password_hash: "h".into(),
        totp_secret: "S".into(),
        suspended: false,
        created_at: 1,
    };
    store.add_staff(&staff).unwrap();
    assert!(matches!(store.add_staff(&staff), Err(StoreError::AccountExists)));
    assert!(store.claim_staff_totp_step("anne@chu.fr", 5).unwrap());
    assert!(
        !store.claim_staff_totp_step("anne@chu.fr", 5).unwrap(),
        "a code is used once"
    );
    store
        .add_member_app_password(org, "anne@chu.fr", "Thunderbird", "hash", "ABCD")
        .unwrap();
    store.add_app_password(org, "Logiciel", "hash2", Some("EFGH")).unwrap();
    let apps = store.app_passwords(org).unwrap();
    assert_eq!(
        apps.iter().filter_map(|a| a.member.as_deref()).collect::<Vec<_>>(),
        ["anne@chu.fr"]
    );
    let before = store.last_revocation().unwrap();
    store.set_staff_suspended("anne@chu.fr", true).unwrap();
    assert!(store.staff("anne@chu.fr").unwrap().unwrap().suspended);
    assert_eq!(
        store.app_passwords(org).unwrap().len(),
        1,
        "only the staff member's app password goes"
    );
    let revoked: Vec<AccountId> = store
        .revocations_since(before)
        .unwrap()
        .into_iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(revoked, [org]);
    assert!(matches!(
        store.set_staff_suspended("nobody@chu.fr", true),
        Err(StoreError::NoSuchAccount)
    ));
}

/// The patients' side: who wrote to each patient, the latest message deciding, per patient.
fn contacts_suite(store: &dyn Store) {
    let patient = store.create_account("279035121518989@patient.test", "h", 1000).unwrap();
    let other = store.create_account("253072A07300443@patient.test", "h", 1000).unwrap();
    assert_eq!(store.contact(patient, "pro@op.fr").unwrap(), None);
    store.note_contact(patient, "Pro@Op.fr", Exchange::Open, 100).unwrap();
    assert_eq!(store.contact(patient, "pro@op.fr").unwrap(), Some(Exchange::Open));
    store.note_contact(patient, "pro@op.fr", Exchange::Closed, 200).unwrap();
    assert_eq!(store.contact(patient, "PRO@op.fr").unwrap(), Some(Exchange::Closed));
    // An older message delivered late does not reopen it; a newer one does.
    store.note_contact(patient, "pro@op.fr", Exchange::Open, 150).unwrap();
    assert_eq!(store.contact(patient, "pro@op.fr").unwrap(), Some(Exchange::Closed));
    store.note_contact(patient, "pro@op.fr", Exchange::Open, 300).unwrap();
    assert_eq!(store.contact(patient, "pro@op.fr").unwrap(), Some(Exchange::Open));
    // Another patient's exchanges are their own.
    assert_eq!(store.contact(other, "pro@op.fr").unwrap(), None);
}

#[test]
fn sqlite_contacts() {
    let dir = tempfile::tempdir().unwrap();
    contacts_suite(&SqliteStore::open(&dir.path().join("t.db")).unwrap());
}

#[test]
fn sqlite_members() {
    let dir = tempfile::tempdir().unwrap();
    members_suite(&SqliteStore::open(&dir.path().join("t.db")).unwrap());
}

#[test]
fn sqlite_identities() {
    let dir = tempfile::tempdir().unwrap();
    identity_suite(&SqliteStore::open(&dir.path().join("t.db")).unwrap());
}

#[test]
fn sqlite_backend_passes_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("meta.db")).unwrap();
    suite(&store);
}

/// The webmail's lists: order, filters, counts, summaries once per blob, search, and nothing
/// of another account.
fn overview_suite(store: &dyn Store) {
    let alice = store.create_account("alice@medecin.test", "hash", 1 << 20).unwrap();
    let bob = store.create_account("bob@medecin.test", "hash", 1 << 20).unwrap();
    let inbox = store.mailbox(alice, "INBOX").unwrap().unwrap();
    let summary = |from: &str, subject: &str, attachments: u32| MessageSummary {
        from_name: from.into(),
        from_address: format!("{}@pro.test", from.to_lowercase()),
        recipients: "alice@medecin.test".into(),
        subject: subject.into(),
        attachments,
        snippet: format!("Texte de {subject}"),
        ..Default::default()
    };
    let mut messages = Vec::new();
    for (i, (from, subject, attachments, flags)) in [
        ("Zoé", "Re: Bilan", 0, vec!["\\Seen"]),
        ("Marc", "Compte rendu", 1, vec![]),
        ("Anne", "Ordonnance", 0, vec!["\\Flagged", "\\Seen"]),
    ]
    .into_iter()
    .enumerate()
    {
        let mut m = new_message(inbox.id, &format!("{i}a"), 10, &flags);
        m.internal_date += i as i64 * 60;
        m.summary = Some(summary(from, subject, attachments));
        messages.push(m);
    }
    // A message stored before summaries existed.
    let mut old = new_message(inbox.id, "9f", 10, &[]);
    old.internal_date -= 3600;
    messages.push(old);
    store.append(&messages);
    let page = |q: ListQuery| {
        let (total, rows) = store.list_messages(inbox.id, &q).unwrap();
        let subjects: Vec<String> = rows
            .iter()
            .map(|r| r.summary.as_ref().map(|s| s.subject.clone()).unwrap_or_default())
            .collect();
        (total, subjects)
    };
    let newest = ListQuery {
        sort: SortKey::Date,
        ascending: false,
        unread_only: false,
        flagged_only: false,
        attachments_only: false,
        offset: 0,
        limit: 2,
    };
    assert_eq!(
        page(newest.clone()),
        (4, vec!["Ordonnance".into(), "Compte rendu".into()])
    );
    assert_eq!(
        page(ListQuery {
            offset: 2,
            ..newest.clone()
        }),
        (4, vec!["Re: Bilan".into(), String::new()])
    );
    let by_subject = ListQuery {
        sort: SortKey::Subject,
        ascending: true,
        limit: 10,
        ..newest.clone()
    };
    // "Re: Bilan" sorts as "bilan"; the message without a summary sorts first (NULL).
    assert_eq!(
        page(by_subject).1,
        ["", "Re: Bilan", "Compte rendu", "Ordonnance"].map(String::from)
    );
    let by_sender = ListQuery {
        sort: SortKey::Sender,
        ascending: true,
        limit: 10,
        ..newest.clone()
    };
    assert_eq!(
        page(by_sender).1[1..],
        ["Ordonnance", "Compte rendu", "Re: Bilan"].map(String::from)
    );
    assert_eq!(
        page(ListQuery {
            unread_only: true,
            limit: 10,
            ..newest.clone()
        }),
        (2, vec!["Compte rendu".into(), String::new()])
    );
    assert_eq!(
        page(ListQuery {
            flagged_only: true,
            ..newest.clone()
        }),
        (1, vec!["Ordonnance".into()])
    );
    assert_eq!(
        page(ListQuery {
            attachments_only: true,
            ..newest.clone()
        }),
        (1, vec!["Compte rendu".into()])
    );
    let counts = store.folder_counts(alice).unwrap();
    let of_inbox = counts.iter().find(|c| c.mailbox == inbox.id).unwrap();
    assert_eq!((of_inbox.total, of_inbox.unseen), (4, 2));
    // The old message's summary can be filled in afterwards; one per blob.
    let missing = store.unsummarised(alice, 10).unwrap();
    assert_eq!(missing.len(), 1);
    store.put_summary(&missing[0], &summary("Vieux", "Ancien", 0)).unwrap();
    store.put_summary(&missing[0], &summary("Autre", "Ignoré", 0)).unwrap();
    assert!(store.unsummarised(alice, 10).unwrap().is_empty());
    let uid = store.list_messages(inbox.id, &newest.clone()).unwrap();
    let listed = store.listed(inbox.id, uid.1[0].meta.uid).unwrap().unwrap();
    let summary_kept = listed.summary.unwrap();
    assert_eq!(summary_kept.subject, "Ordonnance");
    assert_eq!(summary_kept.snippet, "Texte de Ordonnance");
    // Search: sender, subject, dates; the LIKE wildcards of the query are plain text.
    let found = |q: SearchQuery| -> Vec<String> {
        store
            .search_messages(alice, &SearchQuery { limit: 10, ..q })
            .unwrap()
            .into_iter()
            .map(|(folder, l)| {
                assert_eq!(folder, inbox.id, "the folder each result is in");
                l.summary.unwrap().subject
            })
            .collect()
    };
    assert_eq!(
        found(SearchQuery {
            from: Some("marc".into()),
            ..Default::default()
        }),
        ["Compte rendu"]
    );
    // A conversation: the same subject without its reply prefixes; none for no subject; none
    // of another account.
    let thread: Vec<String> = store
        .conversation(alice, "", "RE: Re: bilan", 10)
        .unwrap()
        .into_iter()
        .map(|(folder, l)| {
            assert_eq!(folder, inbox.id);
            l.summary.unwrap().subject
        })
        .collect();
    assert_eq!(thread, ["Re: Bilan"]);
    assert!(store.conversation(alice, "", "  ", 10).unwrap().is_empty());
    assert!(store.conversation(bob, "", "Bilan", 10).unwrap().is_empty());
    // Threads: the messages that share the first Message-ID of their references, and those
    // without a thread that share the base subject; not another conversation of that subject.
    let carol = store.create_account("carol@medecin.test", "hash", 1 << 20).unwrap();
    let carol_inbox = store.mailbox(carol, "INBOX").unwrap().unwrap();
    let with_thread = |blob: &str, minute: i64, subject: &str, thread: &str| {
        let mut m = new_message(carol_inbox.id, blob, 10, &[]);
        m.internal_date += minute * 60;
        m.summary = Some(MessageSummary {
            subject: subject.into(),
            thread: thread.into(),
            ..summary("Paul", subject, 0)
        });
        m
    };
    store.append(&[
        with_thread("t1", 10, "Résultats Durand", "racine@pro.test"),
        with_thread("t2", 11, "RE : [Labo] Résultats Durand", "racine@pro.test"),
        with_thread("t3", 12, "Résultats Durand", "autre@pro.test"),
        with_thread("t4", 9, "Re: Résultats Durand", ""),
    ]);
    let subjects = |thread: &str, subject: &str| -> Vec<String> {
        store
            .conversation(carol, thread, subject, 10)
            .unwrap()
            .into_iter()
            .map(|(_, l)| l.summary.unwrap().subject)
            .collect()
    };
    assert_eq!(
        subjects("racine@pro.test", "Résultats Durand"),
        [
            "RE : [Labo] Résultats Durand",
            "Résultats Durand",
            "Re: Résultats Durand"
        ]
    );
    assert_eq!(
        subjects("", "Résultats Durand").len(),
        4,
        "by subject alone without a thread"
    );
    assert!(
        store
            .conversation(bob, "racine@pro.test", "Résultats Durand", 10)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        found(SearchQuery {
            subject: Some("ANCIEN".into()),
            ..Default::default()
        }),
        ["Ancien"]
    );
    assert!(
        found(SearchQuery {
            subject: Some("%".into()),
            ..Default::default()
        })
        .is_empty()
    );
    assert_eq!(
        found(SearchQuery {
            since: Some(1_700_000_060),
            ..Default::default()
        }),
        ["Ordonnance", "Compte rendu"]
    );
    assert_eq!(
        found(SearchQuery {
            before: Some(1_700_000_000),
            ..Default::default()
        }),
        ["Ancien"]
    );
    // Bob finds nothing of Alice's.
    assert!(
        store
            .search_messages(
                bob,
                &SearchQuery {
                    limit: 10,
                    ..Default::default()
                }
            )
            .unwrap()
            .is_empty()
    );
    assert!(store.unsummarised(bob, 10).unwrap().is_empty());
    // Signatures, per account.
    assert_eq!(store.signature(alice).unwrap(), "");
    store.set_signature(alice, "Dr Alice\nCabinet").unwrap();
    store.set_signature(alice, "Dr Alice").unwrap();
    assert_eq!(store.signature(alice).unwrap(), "Dr Alice");
    assert_eq!(store.signature(bob).unwrap(), "");
}

#[test]
fn sqlite_overviews() {
    let dir = tempfile::tempdir().unwrap();
    overview_suite(&SqliteStore::open(&dir.path().join("o.db")).unwrap());
}

/// Sieve scripts: one active at most, the active one kept from deletion, renames that collide
/// refused, nothing seen from another BAL, and an out-of-office answer claimed once a period.
fn filters_suite(store: &dyn Store) {
    let alice = store.create_account("alice@medecin.test", "hash", 1000).unwrap();
    let bob = store.create_account("bob@medecin.test", "hash", 1000).unwrap();
    assert_eq!(store.active_sieve_script(alice).unwrap(), None);
    store.put_sieve_script(alice, "webmail", "keep;").unwrap();
    store.put_sieve_script(alice, "autre", "discard;").unwrap();
    assert_eq!(
        store.active_sieve_script(alice).unwrap(),
        None,
        "a new script is not active"
    );
    assert_eq!(
        store.activate_sieve_script(alice, Some("webmail")).unwrap(),
        ScriptChange::Done
    );
    store.put_sieve_script(alice, "webmail", "stop;").unwrap();
    let active = store.active_sieve_script(alice).unwrap().unwrap();
    assert_eq!(
        (active.name.as_str(), active.content.as_str()),
        ("webmail", "stop;"),
        "replaced, still active"
    );
    assert_eq!(
        store.activate_sieve_script(alice, Some("nope")).unwrap(),
        ScriptChange::NoSuchScript
    );
    assert_eq!(
        store.active_sieve_script(alice).unwrap().unwrap().name,
        "webmail",
        "a bad name changes nothing"
    );
    assert_eq!(
        store.delete_sieve_script(alice, "webmail").unwrap(),
        ScriptChange::Active
    );
    assert_eq!(
        store.rename_sieve_script(alice, "autre", "webmail").unwrap(),
        ScriptChange::NameTaken
    );
    assert_eq!(
        store.rename_sieve_script(alice, "absent", "x").unwrap(),
        ScriptChange::NoSuchScript
    );
    assert_eq!(
        store.rename_sieve_script(alice, "autre", "tri").unwrap(),
        ScriptChange::Done
    );
    assert_eq!(
        store.activate_sieve_script(alice, Some("tri")).unwrap(),
        ScriptChange::Done
    );
    let scripts = store.sieve_scripts(alice).unwrap();
    assert_eq!(scripts.iter().filter(|s| s.active).count(), 1);
    assert_eq!(scripts.iter().find(|s| s.active).unwrap().name, "tri");
    assert_eq!(store.delete_sieve_script(alice, "webmail").unwrap(), ScriptChange::Done);
    assert_eq!(
        store.delete_sieve_script(alice, "webmail").unwrap(),
        ScriptChange::NoSuchScript
    );
    assert_eq!(store.activate_sieve_script(alice, None).unwrap(), ScriptChange::Done);
    assert_eq!(store.active_sieve_script(alice).unwrap(), None);
    // Another BAL sees none of them, and cannot touch them by name.
    assert!(store.sieve_scripts(bob).unwrap().is_empty());
    assert_eq!(
        store.delete_sieve_script(bob, "tri").unwrap(),
        ScriptChange::NoSuchScript
    );
    assert_eq!(
        store.activate_sieve_script(bob, Some("tri")).unwrap(),
        ScriptChange::NoSuchScript
    );
    // Out-of-office: once per sender and handle in the period.
    assert!(store.claim_vacation_reply(alice, "x@autre.test", "h1", 7).unwrap());
    assert!(!store.claim_vacation_reply(alice, "x@autre.test", "h1", 7).unwrap());
    assert!(
        store.claim_vacation_reply(alice, "x@autre.test", "h2", 7).unwrap(),
        "another message"
    );
    assert!(
        store.claim_vacation_reply(bob, "x@autre.test", "h1", 7).unwrap(),
        "another BAL"
    );
    // Gone with the BAL.
    store.delete_account(alice).unwrap();
    assert!(store.sieve_scripts(alice).unwrap().is_empty());
}

#[test]
fn sqlite_filters() {
    let dir = tempfile::tempdir().unwrap();
    filters_suite(&SqliteStore::open(&dir.path().join("f.db")).unwrap());
}

/// A database file from a newer version is refused, not misread.
#[test]
fn sqlite_store_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("confiance.db");
    drop(SqliteStore::open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 999)
        .unwrap();
    assert!(matches!(
        SqliteStore::open(&path),
        Err(StoreError::NewerSchema { found: 999, .. })
    ));
}

/// Runs one suite on a fresh PostgreSQL store (skipped, saying so, without a server).
fn on_postgres(suite: fn(&dyn Store)) {
    let Some(db) = confiance_store::pg::TestDatabase::create() else {
        return;
    };
    suite(&confiance_store::pg::store::PgStore::open(&db.url, 4).unwrap());
}

#[test]
fn pg_backend_passes_the_suite() {
    on_postgres(suite);
}

#[test]
fn pg_identities() {
    on_postgres(identity_suite);
}

#[test]
fn pg_members() {
    on_postgres(members_suite);
}

#[test]
fn pg_contacts() {
    on_postgres(contacts_suite);
}

#[test]
fn pg_overviews() {
    on_postgres(overview_suite);
}

#[test]
fn pg_filters() {
    on_postgres(filters_suite);
}

/// A delivery committed by one node is announced to every node's listener, with the account
/// and the folder.
#[test]
fn pg_changes_reach_other_nodes() {
    use confiance_store::pg::changes::{Heard, Listener, MAIL};
    let Some(db) = confiance_store::pg::TestDatabase::create() else {
        return;
    };
    let store = confiance_store::pg::store::PgStore::open(&db.url, 2).unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let _listener = Listener::start(&db.url, &[MAIL], move |h| {
        let _ = tx.send(h);
    })
    .unwrap();
    let alice = store.create_account("alice@medecin.test", "hash", 100).unwrap();
    let inbox = store.mailbox(alice, "INBOX").unwrap().unwrap();
    store.append(&[new_message(inbox.id, "a", 10, &[])])[0]
        .as_ref()
        .unwrap();
    let heard = rx.recv_timeout(std::time::Duration::from_secs(5)).expect("announced");
    assert_eq!(
        heard,
        Heard::Notification {
            channel: MAIL.into(),
            payload: format!("{}:{}", alice.0, inbox.id.0)
        }
    );
}

/// On a shared database, bodies no message refers to go once their grace period is over; a
/// body a message refers to, or one used lately, stays.
#[test]
fn pg_blobs_no_message_refers_to_are_swept() {
    use confiance_store::pg::blobs::{GRACE_SECS, PgBlobs};
    let Some(db) = confiance_store::pg::TestDatabase::create() else {
        return;
    };
    let store = confiance_store::pg::store::PgStore::open(&db.url, 2).unwrap();
    let blobs = PgBlobs::open(&db.url, 2).unwrap();
    let t = 1_000_000;
    let unused = blobs.put_at(b"expunged long ago", t).unwrap();
    let kept = blobs.put_at(b"still in the inbox", t).unwrap();
    let recent = blobs.put_at(b"expunged a minute ago", t + GRACE_SECS).unwrap();
    let alice = store.create_account("alice@medecin.test", "hash", 1000).unwrap();
    let inbox = store.mailbox(alice, "INBOX").unwrap().unwrap();
    let mut message = new_message(inbox.id, "a", 18, &[]);
    message.blob = kept.clone();
    store.append(&[message])[0].as_ref().unwrap();
    assert_eq!(blobs.sweep(t + GRACE_SECS + 1).unwrap(), 1);
    assert!(blobs.get(&unused).is_err());
    assert_eq!(blobs.get(&kept).unwrap(), b"still in the inbox");
    assert_eq!(blobs.get(&recent).unwrap(), b"expunged a minute ago");
    assert_eq!(blobs.sweep(t + GRACE_SECS + 1).unwrap(), 0, "nothing more");
}
