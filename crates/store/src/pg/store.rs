//! The metadata `Store` on PostgreSQL: the same traits as `SqliteStore`, the same suites
//! (`store/tests/backend.rs`), for N nodes at once.
//!
//! SQLite has one writer, and some of its code reads and then writes relying on that. Here
//! several nodes write at once, so every such place is either one statement (`UPDATE …
//! RETURNING` for UIDs, modseqs and quota) or takes row locks in one order: **accounts, then
//! mailboxes, each by ascending id** (`lock_mailboxes`), so that two writers never wait for
//! each other in a cycle. A deadlock or serialisation failure that still happens is retried
//! (`write`). Reads that must see one state (a folder's messages and its modseq) run in a
//! REPEATABLE READ snapshot (`snapshot`).
//!
//! Translation rules from the SQLite side: `?N` → `$N` with exactly typed parameters (i64 for
//! every bigint: cast u32/u64/usize), booleans are `boolean`, `INSERT OR IGNORE` → `ON
//! CONFLICT DO NOTHING`, `last_insert_rowid()` → `RETURNING id`, `instr` → `strpos`, `MAX(a,b)`
//! → `GREATEST`, case-insensitive `LIKE` → `ILIKE`, and `LIKE '% \Deleted %'` (where `\` is
//! PostgreSQL's LIKE escape) → `strpos(' ' || flags || ' ', ' \Deleted ') > 0`.

use postgres::error::SqlState;
use postgres::{IsolationLevel, Row, Transaction};

use super::{Manager, Pool, SESSION, migrate};
use crate::*;

/// The metadata schema, one step a version (`pg/store.sql` is version 1: SQLite's 1-15).
const MIGRATIONS: &[&str] = &[include_str!("store.sql")];

/// How many times a transaction that lost a deadlock or a serialisation race is run again.
const RETRIES: usize = 5;

pub struct PgStore {
    pool: Pool,
}

pub(crate) type Client = r2d2::PooledConnection<Manager>;

impl PgStore {
    /// Opens the store in the database at `url` (creating or upgrading its tables), with at
    /// most `pool_size` connections.
    pub fn open(url: &str, pool_size: u32) -> Result<PgStore> {
        let pool = Pool::connect(url, pool_size, SESSION)?;
        let mut client = pool.get()?;
        migrate(&mut client, "store", MIGRATIONS)?;
        Ok(PgStore { pool })
    }

    /// A connection for reads that need no snapshot (one statement, or rows that cannot
    /// contradict each other).
    pub(crate) fn read<T>(&self, f: impl FnOnce(&mut Client) -> Result<T>) -> Result<T> {
        let mut client = self.pool.get()?;
        f(&mut client)
    }

    /// Runs `f` in one REPEATABLE READ, read-only transaction: every statement sees the same
    /// committed state.
    pub(crate) fn snapshot<T>(&self, f: impl FnOnce(&mut Transaction) -> Result<T>) -> Result<T> {
        let mut client = self.pool.get()?;
        let mut tx = client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()?;
        let out = f(&mut tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` in a READ COMMITTED write transaction and commits it (flushed: the commit is
    /// durable when this returns). A deadlock or serialisation failure runs it again, so `f`
    /// must have no effect outside the transaction.
    pub(crate) fn write<T>(&self, mut f: impl FnMut(&mut Transaction) -> Result<T>) -> Result<T> {
        let mut client = self.pool.get()?;
        let mut attempt = 0;
        loop {
            let mut tx = client.transaction()?;
            let outcome = f(&mut tx).and_then(|out| {
                tx.commit()?;
                Ok(out)
            });
            match outcome {
                Err(StoreError::Postgres(e)) if attempt < RETRIES && is_retryable(&e) => attempt += 1,
                done => return done,
            }
        }
    }

    /// `write` without waiting for the flush: for changes a crash may lose without harm.
    pub(crate) fn write_unflushed<T>(&self, mut f: impl FnMut(&mut Transaction) -> Result<T>) -> Result<T> {
        self.write(|tx| {
            tx.batch_execute("SET LOCAL synchronous_commit = off")?;
            f(tx)
        })
    }
}

fn is_retryable(e: &postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(&SqlState::T_R_DEADLOCK_DETECTED) | Some(&SqlState::T_R_SERIALIZATION_FAILURE)
    )
}

/// The error is a unique key already taken (SQLSTATE 23505).
pub(crate) fn is_unique_violation(e: &StoreError) -> bool {
    matches!(e, StoreError::Postgres(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION))
}

/// Locks the folders' rows, by ascending id (the one lock order; see the module comment).
pub(crate) fn lock_mailboxes(tx: &mut Transaction, ids: &[MailboxId]) -> Result<()> {
    let mut ids: Vec<i64> = ids.iter().map(|m| m.0).collect();
    ids.sort_unstable();
    ids.dedup();
    tx.execute(
        "SELECT 1 FROM mailboxes WHERE id = ANY($1) ORDER BY id FOR UPDATE",
        &[&ids],
    )?;
    Ok(())
}

/// Tells every node, once this transaction commits, that these folders changed: their
/// sessions (IDLE, NOTIFY, the webmail) then read what changed, as for this node's own
/// changes (`pg::changes`). Identical announcements of one transaction are delivered once.
pub(crate) fn announce_changes(tx: &mut Transaction, ids: &[MailboxId]) -> Result<()> {
    let ids: Vec<i64> = ids.iter().map(|m| m.0).collect();
    tx.execute(
        "SELECT pg_notify($2, account_id || ':' || id) FROM mailboxes WHERE id = ANY($1)",
        &[&ids, &super::changes::MAIL],
    )?;
    Ok(())
}

pub(crate) fn now() -> i64 {
    crate::queue::now()
}

pub(crate) const ACCOUNT_COLS: &str = "id, address, password_hash, quota_bytes, created_at, status, last_login_at, \
     inactivity_notices, inactivity_notice_at, kind, structure, display_name";
pub(crate) const MAILBOX_COLS: &str = "m.id, m.account_id, m.name, m.special_use, m.uidvalidity, m.uidnext, \
     m.highest_modseq, EXISTS(SELECT 1 FROM subscriptions s WHERE s.account_id = m.account_id AND s.name = m.name)";
pub(crate) const MESSAGE_COLS: &str = "uid, blob, size, internal_date, internal_tz, flags, recent, modseq";

pub(crate) fn account_row(r: &Row) -> Account {
    Account {
        id: AccountId(r.get(0)),
        address: r.get(1),
        password_hash: r.get(2),
        quota_bytes: r.get::<_, i64>(3).max(0) as u64,
        created_at: r.get(4),
        status: AccountStatus::parse(r.get::<_, &str>(5)),
        last_login_at: r.get(6),
        inactivity_notices: r.get::<_, i64>(7).clamp(0, u32::MAX as i64) as u32,
        inactivity_notice_at: r.get(8),
        kind: confiance_core::MailboxKind::from_code(r.get::<_, &str>(9))
            .unwrap_or(confiance_core::MailboxKind::Personal),
        structure: r.get(10),
        display_name: r.get(11),
    }
}

pub(crate) fn mailbox_row(r: &Row) -> Mailbox {
    Mailbox {
        id: MailboxId(r.get(0)),
        account: AccountId(r.get(1)),
        name: r.get(2),
        special_use: r.get(3),
        uidvalidity: r.get::<_, i64>(4) as u32,
        uidnext: r.get::<_, i64>(5) as u32,
        highest_modseq: r.get::<_, i64>(6) as u64,
        subscribed: r.get(7),
    }
}

pub(crate) fn message_row(r: &Row) -> MessageMeta {
    MessageMeta {
        uid: r.get::<_, i64>(0) as u32,
        blob: BlobId(r.get(1)),
        size: r.get::<_, i64>(2) as u64,
        internal_date: r.get(3),
        internal_tz_minutes: r.get::<_, i64>(4) as i32,
        flags: split_flags(r.get(5)),
        recent: r.get(6),
        modseq: r.get::<_, i64>(7) as u64,
    }
}

pub(crate) fn join_flags(flags: &[String]) -> String {
    normalise_flags(flags).join(" ")
}

pub(crate) fn split_flags(s: &str) -> Vec<String> {
    s.split_ascii_whitespace().map(str::to_string).collect()
}

/// Records that the account's sessions must end (web, IMAP, SMTP): `seq` order is commit
/// order, which the pollers rely on, so inserts take a transaction-scoped advisory lock.
pub(crate) fn revoke(tx: &mut Transaction, account: AccountId) -> Result<()> {
    tx.execute("SELECT pg_advisory_xact_lock(7263)", &[])?;
    tx.execute(
        "INSERT INTO revocations(account_id, at) VALUES($1, $2)",
        &[&account.0, &now()],
    )?;
    Ok(())
}

/// A new account with its special-use folders, subscribed (a PER BAL).
fn insert_account(tx: &mut Transaction, address: &str, password_hash: &str, quota_bytes: u64) -> Result<AccountId> {
    // ON CONFLICT rather than a check first: another node may take the address meanwhile.
    let id = tx
        .query_opt(
            "INSERT INTO accounts(address, password_hash, quota_bytes, created_at) VALUES($1, $2, $3, $4)
             ON CONFLICT (address) DO NOTHING RETURNING id",
            &[
                &address,
                &password_hash,
                &(quota_bytes.min(i64::MAX as u64) as i64),
                &now(),
            ],
        )?
        .ok_or(StoreError::AccountExists)?;
    let id = AccountId(id.get(0));
    add_special_folders(tx, id)?;
    Ok(id)
}

/// The special-use folders every BAL starts with, subscribed.
pub(crate) fn add_special_folders(tx: &mut Transaction, id: AccountId) -> Result<()> {
    for su in confiance_core::SpecialUse::ALL {
        let uidvalidity = next_uidvalidity(tx)?;
        tx.execute(
            "INSERT INTO mailboxes(account_id, name, special_use, uidvalidity, uidnext, highest_modseq)
             VALUES($1, $2, $3, $4, 1, 1)",
            &[&id.0, &su.folder_name(), &su.attribute(), &uidvalidity],
        )?;
        tx.execute(
            "INSERT INTO subscriptions(account_id, name) VALUES($1, $2)",
            &[&id.0, &su.folder_name()],
        )?;
    }
    Ok(())
}

/// A new UIDVALIDITY: the current time, but always above the last one handed out, so that a
/// folder deleted and recreated within a second never reuses one (RFC 9051 §2.3.1.1).
fn next_uidvalidity(tx: &mut Transaction) -> Result<i64> {
    // One statement: two nodes creating folders at once still draw distinct, increasing values.
    let row = tx.query_one(
        "INSERT INTO settings(key, value) VALUES('last_uidvalidity', $1)
         ON CONFLICT (key) DO UPDATE SET value = GREATEST(excluded.value, settings.value + 1)
         RETURNING value",
        &[&(now() & 0x7fff_ffff)],
    )?;
    Ok(row.get(0))
}

/// Bumps the folder's modification sequence (RFC 7162 §3.1) and returns the new value.
fn bump_modseq(tx: &mut Transaction, mailbox: MailboxId) -> Result<u64> {
    let row = tx
        .query_opt(
            "UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = $1 RETURNING highest_modseq",
            &[&mailbox.0],
        )?
        .ok_or(StoreError::NoSuchMailbox)?;
    Ok(row.get::<_, i64>(0) as u64)
}

fn mailbox_by_id(tx: &mut Transaction, id: MailboxId) -> Result<Mailbox> {
    tx.query_opt(
        &format!("SELECT {MAILBOX_COLS} FROM mailboxes m WHERE m.id = $1"),
        &[&id.0],
    )?
    .map(|r| mailbox_row(&r))
    .ok_or(StoreError::NoSuchMailbox)
}

/// Locks the accounts that own the folders, by ascending id, before the folders themselves
/// (the one lock order): for writers that also change an account's usage.
fn lock_accounts_of(tx: &mut Transaction, mailboxes: &[MailboxId]) -> Result<()> {
    let ids: Vec<i64> = mailboxes.iter().map(|m| m.0).collect();
    // NO KEY UPDATE, the lock the usage update takes anyway: inserts that refer to the account
    // (sessions, app passwords) are not held up.
    tx.execute(
        "SELECT 1 FROM accounts WHERE id IN (SELECT account_id FROM mailboxes WHERE id = ANY($1))
         ORDER BY id FOR NO KEY UPDATE",
        &[&ids],
    )?;
    Ok(())
}

/// Blobs among `candidates` that no message refers to any more (their summaries go with them).
fn orphans(tx: &mut Transaction, candidates: Vec<BlobId>) -> Result<Vec<BlobId>> {
    let mut unique: Vec<BlobId> = Vec::with_capacity(candidates.len());
    for b in candidates {
        if !unique.contains(&b) {
            unique.push(b);
        }
    }
    if unique.is_empty() {
        return Ok(unique);
    }
    let names: Vec<&str> = unique.iter().map(|b| b.0.as_str()).collect();
    let used: std::collections::HashSet<String> = tx
        .query("SELECT DISTINCT blob FROM messages WHERE blob = ANY($1)", &[&names])?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let out: Vec<BlobId> = unique.into_iter().filter(|b| !used.contains(&b.0)).collect();
    let gone: Vec<&str> = out.iter().map(|b| b.0.as_str()).collect();
    tx.execute("DELETE FROM message_summaries WHERE blob = ANY($1)", &[&gone])?;
    Ok(out)
}

fn add_usage(tx: &mut Transaction, mailbox: MailboxId, delta: i64) -> Result<()> {
    tx.execute(
        "UPDATE accounts SET used_bytes = GREATEST(0, used_bytes + $2)
         WHERE id = (SELECT account_id FROM mailboxes WHERE id = $1)",
        &[&mailbox.0, &delta],
    )?;
    Ok(())
}

/// Counts `extra` bytes to the account, or refuses them when they do not fit its quota (quota
/// 0 holds nothing): one statement, so two nodes cannot both fill the same remaining space.
fn charge(tx: &mut Transaction, account: AccountId, extra: u64) -> Result<()> {
    let extra = extra as i64;
    let charged = tx.execute(
        "UPDATE accounts SET used_bytes = used_bytes + $2 WHERE id = $1 AND used_bytes + $2 <= quota_bytes",
        &[&account.0, &extra],
    )?;
    if charged > 0 {
        return Ok(());
    }
    let row = tx
        .query_opt(
            "SELECT used_bytes, quota_bytes FROM accounts WHERE id = $1",
            &[&account.0],
        )?
        .ok_or(StoreError::NoSuchAccount)?;
    Err(StoreError::QuotaExceeded {
        used: row.get::<_, i64>(0).max(0) as u64,
        limit: row.get::<_, i64>(1).max(0) as u64,
    })
}

/// Removes messages of a folder, recording them as expunged at `modseq` (QRESYNC).
fn remove_messages(tx: &mut Transaction, mailbox: MailboxId, uids: &[u32], modseq: u64) -> Result<()> {
    let mut uids: Vec<i64> = uids.iter().map(|&u| u as i64).collect();
    // Once each: an upsert may not touch one row twice.
    uids.sort_unstable();
    uids.dedup();
    tx.execute(
        "DELETE FROM messages WHERE mailbox_id = $1 AND uid = ANY($2)",
        &[&mailbox.0, &uids],
    )?;
    tx.execute(
        "INSERT INTO expunged(mailbox_id, uid, modseq) SELECT $1::bigint, u, $3::bigint FROM unnest($2::bigint[]) u
         ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq",
        &[&mailbox.0, &uids, &(modseq as i64)],
    )?;
    Ok(())
}

/// A folder's messages among `uids`, in the order asked (a UID asked twice comes twice), the
/// missing ones left out.
fn messages_by_uid(tx: &mut Transaction, mailbox: MailboxId, uids: &[u32]) -> Result<Vec<MessageMeta>> {
    let wanted: Vec<i64> = uids.iter().map(|&u| u as i64).collect();
    let found: std::collections::HashMap<u32, MessageMeta> = tx
        .query(
            &format!("SELECT {MESSAGE_COLS} FROM messages WHERE mailbox_id = $1 AND uid = ANY($2)"),
            &[&mailbox.0, &wanted],
        )?
        .iter()
        .map(|r| {
            let m = message_row(r);
            (m.uid, m)
        })
        .collect();
    Ok(uids.iter().filter_map(|u| found.get(u).cloned()).collect())
}

/// The message row, with the sort keys of its blob's summary (NULL while it has none).
const INSERT_MESSAGE: &str =
    "INSERT INTO messages(mailbox_id, uid, blob, size, internal_date, internal_tz, flags, recent,
         modseq, sort_sender, sort_subject)
     VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9,
         (SELECT sort_sender FROM message_summaries WHERE blob = $3),
         (SELECT sort_subject FROM message_summaries WHERE blob = $3))";

/// One group inside the batch transaction; an atomic group runs in a savepoint that is rolled
/// back on its first failure. A PostgreSQL error fails the whole batch (or has it retried):
/// it leaves the transaction aborted, so no later message of the batch could be stored.
fn append_group(tx: &mut Transaction, group: &AppendGroup) -> Result<Vec<Result<Appended>>> {
    if !group.atomic {
        let mut out = Vec::with_capacity(group.messages.len());
        for d in &group.messages {
            match append_one(tx, d) {
                Err(e @ StoreError::Postgres(_)) => return Err(e),
                outcome => out.push(outcome),
            }
        }
        return Ok(out);
    }
    let mut group_tx = tx.savepoint("atomic_group")?;
    let mut done = Vec::with_capacity(group.messages.len());
    for d in &group.messages {
        match append_one(&mut group_tx, d) {
            Ok(a) => done.push(a),
            Err(e @ StoreError::Postgres(_)) => return Err(e),
            Err(e) => {
                group_tx.rollback()?;
                return Ok(group.messages.iter().map(|_| Err(e.replicate())).collect());
            }
        }
    }
    group_tx.commit()?;
    Ok(done.into_iter().map(Ok).collect())
}

fn append_one(tx: &mut Transaction, d: &NewMessage) -> Result<Appended> {
    let (account, uidvalidity) = tx
        .query_opt(
            "SELECT account_id, uidvalidity FROM mailboxes WHERE id = $1",
            &[&d.mailbox.0],
        )?
        .map(|r| (AccountId(r.get(0)), r.get::<_, i64>(1) as u32))
        .ok_or(StoreError::NoSuchMailbox)?;
    charge(tx, account, d.size)?;
    // The UID and the modseq in one statement (the folder is locked, but it costs nothing).
    let row = tx.query_one(
        "UPDATE mailboxes SET uidnext = uidnext + 1, highest_modseq = highest_modseq + 1 WHERE id = $1
         RETURNING uidnext - 1, highest_modseq",
        &[&d.mailbox.0],
    )?;
    let (uid, modseq): (i64, i64) = (row.get(0), row.get(1));
    if let Some(summary) = &d.summary {
        super::overview::insert_summary(tx, &d.blob, summary)?;
    }
    tx.execute(
        INSERT_MESSAGE,
        &[
            &d.mailbox.0,
            &uid,
            &d.blob.0,
            &(d.size as i64),
            &d.internal_date,
            &(d.internal_tz_minutes as i64),
            &join_flags(&d.flags),
            &d.recent,
            &modseq,
        ],
    )?;
    Ok(Appended {
        account,
        mailbox: d.mailbox,
        uidvalidity,
        uid: uid as u32,
    })
}

fn listing_row(r: &Row) -> (String, DirectoryListing) {
    let pair = |a: Option<String>, b: Option<String>| a.map(|a| (a, b.unwrap_or_default()));
    (
        r.get(0),
        DirectoryListing {
            kind: confiance_core::MailboxKind::from_code(r.get::<_, &str>(1))
                .unwrap_or(confiance_core::MailboxKind::Personal),
            national_id: r.get(2),
            structure_id: r.get(3),
            civility: r.get(4),
            family_name: r.get(5),
            given_name: r.get(6),
            profession: pair(r.get(7), r.get(8)),
            specialty: pair(r.get(9), r.get(10)),
            service: r.get(11),
            organisation: r.get(12),
            postcode: r.get(13),
            locality: r.get(14),
            departement: r.get(15),
            dematerialisation: r.get(16),
            red_list: r.get(17),
        },
    )
}

/// A unique key taken by another node between a check and an insert: the folder exists.
fn mailbox_taken(e: StoreError) -> StoreError {
    if is_unique_violation(&e) {
        StoreError::MailboxExists
    } else {
        e
    }
}

impl Store for PgStore {
    fn create_account(&self, address: &str, password_hash: &str, quota_bytes: u64) -> Result<AccountId> {
        self.write(|tx| insert_account(tx, address, password_hash, quota_bytes))
    }

    fn account_by_address(&self, address: &str) -> Result<Option<Account>> {
        self.read(|c| {
            Ok(c.query_opt(
                &format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE address = $1"),
                &[&address],
            )?
            .map(|r| account_row(&r)))
        })
    }

    fn account(&self, id: AccountId) -> Result<Option<Account>> {
        self.read(|c| {
            Ok(
                c.query_opt(&format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = $1"), &[&id.0])?
                    .map(|r| account_row(&r)),
            )
        })
    }

    fn set_password(&self, id: AccountId, password_hash: &str) -> Result<()> {
        self.write(|tx| {
            match tx.execute(
                "UPDATE accounts SET password_hash = $2 WHERE id = $1",
                &[&id.0, &password_hash],
            )? {
                0 => Err(StoreError::NoSuchAccount),
                _ => Ok(()),
            }
        })
    }

    fn set_quota(&self, id: AccountId, quota_bytes: u64) -> Result<()> {
        self.write(|tx| {
            match tx.execute(
                "UPDATE accounts SET quota_bytes = $2 WHERE id = $1",
                &[&id.0, &(quota_bytes.min(i64::MAX as u64) as i64)],
            )? {
                0 => Err(StoreError::NoSuchAccount),
                _ => Ok(()),
            }
        })
    }

    fn accounts(&self) -> Result<Vec<Account>> {
        self.read(|c| {
            let rows = c.query(&format!("SELECT {ACCOUNT_COLS} FROM accounts ORDER BY address"), &[])?;
            Ok(rows.iter().map(account_row).collect())
        })
    }

    fn set_listing(&self, id: AccountId, listing: Option<&DirectoryListing>) -> Result<()> {
        self.write(|tx| {
            // Locked: two nodes publishing at once would both delete, then both insert.
            let kind = tx.query_opt("SELECT kind FROM accounts WHERE id = $1 FOR NO KEY UPDATE", &[&id.0])?;
            if let Some(l) = listing {
                let kind: String = kind.ok_or(StoreError::NoSuchAccount)?.get(0);
                if kind != l.kind.code() {
                    return Err(StoreError::KindFixed(kind));
                }
            }
            tx.execute("DELETE FROM directory_listings WHERE account_id = $1", &[&id.0])?;
            let Some(l) = listing else { return Ok(()) };
            let (pc, pl) = l.profession.clone().unzip();
            let (sc, sl) = l.specialty.clone().unzip();
            tx.execute(
                "INSERT INTO directory_listings(account_id, kind, national_id, structure_id, civility, family_name,
                     given_name, profession_code, profession_label, specialty_code, specialty_label, service,
                     organisation, postcode, locality, departement, dematerialisation, red_list, updated_at)
                 VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
                &[
                    &id.0,
                    &l.kind.code(),
                    &l.national_id,
                    &l.structure_id,
                    &l.civility,
                    &l.family_name,
                    &l.given_name,
                    &pc,
                    &pl,
                    &sc,
                    &sl,
                    &l.service,
                    &l.organisation,
                    &l.postcode,
                    &l.locality,
                    &l.departement,
                    &l.dematerialisation,
                    &l.red_list,
                    &now(),
                ],
            )?;
            Ok(())
        })
    }

    fn listings(&self) -> Result<Vec<(String, DirectoryListing)>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT a.address, l.kind, l.national_id, l.structure_id, l.civility, l.family_name, l.given_name,
                        l.profession_code, l.profession_label, l.specialty_code, l.specialty_label, l.service,
                        l.organisation, l.postcode, l.locality, l.departement, l.dematerialisation, l.red_list
                 FROM directory_listings l JOIN accounts a ON a.id = l.account_id ORDER BY a.address",
                &[],
            )?;
            Ok(rows.iter().map(listing_row).collect())
        })
    }

    fn usage(&self, id: AccountId) -> Result<u64> {
        self.read(|c| {
            c.query_opt("SELECT used_bytes FROM accounts WHERE id = $1", &[&id.0])?
                .map(|r| r.get::<_, i64>(0).max(0) as u64)
                .ok_or(StoreError::NoSuchAccount)
        })
    }

    fn mailboxes(&self, account: AccountId) -> Result<Vec<Mailbox>> {
        self.read(|c| {
            let rows = c.query(
                &format!("SELECT {MAILBOX_COLS} FROM mailboxes m WHERE m.account_id = $1 ORDER BY m.name"),
                &[&account.0],
            )?;
            Ok(rows.iter().map(mailbox_row).collect())
        })
    }

    fn mailbox(&self, account: AccountId, name: &str) -> Result<Option<Mailbox>> {
        self.read(|c| {
            Ok(c.query_opt(
                &format!("SELECT {MAILBOX_COLS} FROM mailboxes m WHERE m.account_id = $1 AND m.name = $2"),
                &[&account.0, &name],
            )?
            .map(|r| mailbox_row(&r)))
        })
    }

    fn create_mailbox(&self, account: AccountId, name: &str, special_use: Option<&str>) -> Result<Mailbox> {
        self.write(|tx| {
            let exists: bool = tx
                .query_one(
                    "SELECT EXISTS(SELECT 1 FROM mailboxes WHERE account_id = $1 AND name = $2)",
                    &[&account.0, &name],
                )?
                .get(0);
            if exists {
                return Err(StoreError::MailboxExists);
            }
            let uidvalidity = next_uidvalidity(tx)?;
            // ON CONFLICT: another node may create the same folder after the check.
            let id: i64 = tx
                .query_opt(
                    "INSERT INTO mailboxes(account_id, name, special_use, uidvalidity, uidnext, highest_modseq)
                     VALUES($1, $2, $3, $4, 1, 1) ON CONFLICT (account_id, name) DO NOTHING RETURNING id",
                    &[&account.0, &name, &special_use, &uidvalidity],
                )?
                .ok_or(StoreError::MailboxExists)?
                .get(0);
            mailbox_by_id(tx, MailboxId(id))
        })
    }

    fn delete_mailbox(&self, account: AccountId, name: &str) -> Result<Vec<BlobId>> {
        if name == "INBOX" {
            return Err(StoreError::Forbidden("INBOX cannot be deleted"));
        }
        self.write(|tx| {
            let id: i64 = tx
                .query_opt(
                    "SELECT id FROM mailboxes WHERE account_id = $1 AND name = $2",
                    &[&account.0, &name],
                )?
                .ok_or(StoreError::NoSuchMailbox)?
                .get(0);
            lock_accounts_of(tx, &[MailboxId(id)])?;
            lock_mailboxes(tx, &[MailboxId(id)])?;
            announce_changes(tx, &[MailboxId(id)])?;
            let rows = tx.query("SELECT blob, size FROM messages WHERE mailbox_id = $1", &[&id])?;
            let bytes: i64 = rows.iter().map(|r| r.get::<_, i64>(1)).sum();
            let blobs: Vec<BlobId> = rows.iter().map(|r| BlobId(r.get(0))).collect();
            add_usage(tx, MailboxId(id), -bytes)?;
            // None deleted: another node deleted it while we waited for its lock.
            if tx.execute("DELETE FROM mailboxes WHERE id = $1", &[&id])? == 0 {
                return Err(StoreError::NoSuchMailbox);
            }
            orphans(tx, blobs)
        })
    }

    fn rename_mailbox(&self, account: AccountId, from: &str, to: &str, delimiter: char) -> Result<()> {
        self.write(|tx| {
            let target_exists: bool = tx
                .query_one(
                    "SELECT EXISTS(SELECT 1 FROM mailboxes WHERE account_id = $1 AND name = $2)",
                    &[&account.0, &to],
                )?
                .get(0);
            if target_exists {
                return Err(StoreError::MailboxExists);
            }
            let prefix = format!("{from}{delimiter}");
            let folders: Vec<(i64, String)> = tx
                .query("SELECT id, name FROM mailboxes WHERE account_id = $1", &[&account.0])?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .filter(|(_, n): &(i64, String)| n == from || n.starts_with(&prefix))
                .collect();
            let ids: Vec<MailboxId> = folders.iter().map(|(id, _)| MailboxId(*id)).collect();
            lock_mailboxes(tx, &ids)?;
            announce_changes(tx, &ids)?;
            let source_id = folders
                .iter()
                .find(|(_, n)| n == from)
                .map(|(id, _)| MailboxId(*id))
                .ok_or(StoreError::NoSuchMailbox)?;
            // Read after the lock: the UIDNEXT no append can move any more.
            let source = mailbox_by_id(tx, source_id)?;
            if from == "INBOX" {
                // RFC 9051 §6.3.6: renaming INBOX moves its messages to a new folder; INBOX stays, empty.
                let uidvalidity = next_uidvalidity(tx)?;
                let new_id: i64 = tx
                    .query_opt(
                        "INSERT INTO mailboxes(account_id, name, special_use, uidvalidity, uidnext, highest_modseq)
                         VALUES($1, $2, NULL, $3, $4, $5) ON CONFLICT (account_id, name) DO NOTHING RETURNING id",
                        &[
                            &account.0,
                            &to,
                            &uidvalidity,
                            &(source.uidnext as i64),
                            &(source.highest_modseq as i64),
                        ],
                    )?
                    .ok_or(StoreError::MailboxExists)?
                    .get(0);
                // For INBOX the messages are gone: sessions and QRESYNC clients learn it from
                // the expunge history, as for any expunge.
                let modseq = bump_modseq(tx, source.id)?;
                tx.execute(
                    "INSERT INTO expunged(mailbox_id, uid, modseq)
                     SELECT mailbox_id, uid, $2 FROM messages WHERE mailbox_id = $1
                     ON CONFLICT (mailbox_id, uid) DO UPDATE SET modseq = excluded.modseq",
                    &[&source.id.0, &(modseq as i64)],
                )?;
                tx.execute(
                    "UPDATE messages SET mailbox_id = $2 WHERE mailbox_id = $1",
                    &[&source.id.0, &new_id],
                )?;
                return Ok(());
            }
            let rename = |tx: &mut Transaction, id: i64, name: &str| -> Result<()> {
                tx.execute("UPDATE mailboxes SET name = $2 WHERE id = $1", &[&id, &name])
                    .map_err(|e| mailbox_taken(e.into()))?;
                Ok(())
            };
            for (id, name) in &folders {
                if name == from {
                    rename(tx, *id, to)?;
                } else {
                    rename(tx, *id, &format!("{to}{delimiter}{}", &name[prefix.len()..]))?;
                }
            }
            Ok(())
        })
    }

    fn set_subscribed(&self, account: AccountId, name: &str, subscribed: bool) -> Result<()> {
        self.write(|tx| {
            if subscribed {
                tx.execute(
                    "INSERT INTO subscriptions(account_id, name) VALUES($1, $2) ON CONFLICT DO NOTHING",
                    &[&account.0, &name],
                )?;
            } else {
                tx.execute(
                    "DELETE FROM subscriptions WHERE account_id = $1 AND name = $2",
                    &[&account.0, &name],
                )?;
            }
            Ok(())
        })
    }

    fn subscriptions(&self, account: AccountId) -> Result<Vec<String>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT name FROM subscriptions WHERE account_id = $1 ORDER BY name",
                &[&account.0],
            )?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn messages(&self, mailbox: MailboxId) -> Result<FolderMessages> {
        // One snapshot: the messages and the modseq of one moment.
        self.snapshot(|tx| {
            let highest_modseq = mailbox_by_id(tx, mailbox)?.highest_modseq;
            let rows = tx.query(
                &format!("SELECT {MESSAGE_COLS} FROM messages WHERE mailbox_id = $1 ORDER BY uid"),
                &[&mailbox.0],
            )?;
            Ok(FolderMessages {
                highest_modseq,
                messages: rows.iter().map(message_row).collect(),
            })
        })
    }

    fn changes_since(&self, mailbox: MailboxId, modseq: u64) -> Result<Changes> {
        // One snapshot for the three reads.
        self.snapshot(|tx| {
            let highest_modseq = mailbox_by_id(tx, mailbox)?.highest_modseq;
            let changed = tx
                .query(
                    &format!("SELECT {MESSAGE_COLS} FROM messages WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid"),
                    &[&mailbox.0, &(modseq as i64)],
                )?
                .iter()
                .map(message_row)
                .collect();
            let expunged = tx
                .query(
                    "SELECT uid FROM expunged WHERE mailbox_id = $1 AND modseq > $2 ORDER BY uid",
                    &[&mailbox.0, &(modseq as i64)],
                )?
                .iter()
                .map(|r| r.get::<_, i64>(0) as u32)
                .collect();
            Ok(Changes {
                changed,
                expunged,
                highest_modseq,
            })
        })
    }

    fn append_groups(&self, groups: &[AppendGroup]) -> Vec<Vec<Result<Appended>>> {
        let folders: Vec<MailboxId> = groups
            .iter()
            .flat_map(|g| g.messages.iter().map(|m| m.mailbox))
            .collect();
        let result = self.write(|tx| {
            lock_accounts_of(tx, &folders)?;
            lock_mailboxes(tx, &folders)?;
            announce_changes(tx, &folders)?;
            let mut out = Vec::with_capacity(groups.len());
            for g in groups {
                out.push(append_group(tx, g)?);
            }
            Ok(out)
        });
        match result {
            Ok(out) => out,
            Err(e) => groups
                .iter()
                .map(|g| g.messages.iter().map(|_| Err(e.replicate())).collect())
                .collect(),
        }
    }

    fn store_flags(&self, mailbox: MailboxId, req: &FlagUpdate) -> Result<FlagOutcome> {
        self.write(|tx| {
            lock_mailboxes(tx, &[mailbox])?;
            announce_changes(tx, &[mailbox])?;
            let mut outcome = FlagOutcome::default();
            let mut modseq = None;
            // Read at once, then kept current here: a UID asked twice sees its first change.
            let mut current: std::collections::HashMap<u32, MessageMeta> = messages_by_uid(tx, mailbox, &req.uids)?
                .into_iter()
                .map(|m| (m.uid, m))
                .collect();
            let update =
                tx.prepare("UPDATE messages SET flags = $3, modseq = $4 WHERE mailbox_id = $1 AND uid = $2")?;
            for &uid in &req.uids {
                let Some(meta) = current.get_mut(&uid) else {
                    continue;
                };
                if let Some(limit) = req.unchanged_since
                    && meta.modseq > limit
                {
                    outcome.modified.push(uid);
                    continue;
                }
                let new_flags = req.applied_to(&meta.flags);
                // RFC 7162 §3.1.3: with UNCHANGEDSINCE even a no-op store gets a new MODSEQ.
                if new_flags == meta.flags && req.unchanged_since.is_none() {
                    continue;
                }
                let m = match modseq {
                    Some(m) => m,
                    None => {
                        let m = bump_modseq(tx, mailbox)?;
                        modseq = Some(m);
                        m
                    }
                };
                tx.execute(&update, &[&mailbox.0, &(uid as i64), &new_flags.join(" "), &(m as i64)])?;
                meta.flags = new_flags;
                meta.modseq = m;
                outcome.updated.push(meta.clone());
            }
            Ok(outcome)
        })
    }

    fn copy(&self, from: MailboxId, uids: &[u32], to: MailboxId, remove_source: bool) -> Result<CopyOutcome> {
        self.write(|tx| {
            lock_accounts_of(tx, &[from, to])?;
            lock_mailboxes(tx, &[from, to])?;
            announce_changes(tx, &[from, to])?;
            let dest = mailbox_by_id(tx, to)?;
            let source = mailbox_by_id(tx, from)?;
            if dest.account != source.account {
                return Err(StoreError::Forbidden("messages cannot be copied across accounts"));
            }
            let metas = messages_by_uid(tx, from, uids)?;
            if metas.is_empty() {
                return Ok(CopyOutcome {
                    uidvalidity: dest.uidvalidity,
                    pairs: vec![],
                });
            }
            let bytes: i64 = metas.iter().map(|m| m.size as i64).sum();
            if !remove_source {
                charge(tx, dest.account, bytes as u64)?;
            }
            // The destination's UIDs and modseq in one statement.
            let row = tx.query_one(
                "UPDATE mailboxes SET uidnext = uidnext + $2, highest_modseq = highest_modseq + 1 WHERE id = $1
                 RETURNING uidnext - $2, highest_modseq",
                &[&to.0, &(metas.len() as i64)],
            )?;
            let (mut next_uid, dest_modseq): (i64, i64) = (row.get(0), row.get(1));
            let insert = tx.prepare(INSERT_MESSAGE)?;
            let mut pairs = Vec::with_capacity(metas.len());
            for m in &metas {
                tx.execute(
                    &insert,
                    &[
                        &to.0,
                        &next_uid,
                        &m.blob.0,
                        &(m.size as i64),
                        &m.internal_date,
                        &(m.internal_tz_minutes as i64),
                        &m.flags.join(" "),
                        &true,
                        &dest_modseq,
                    ],
                )?;
                pairs.push((m.uid, next_uid as u32));
                next_uid += 1;
            }
            if remove_source {
                let src_modseq = bump_modseq(tx, from)?;
                let moved: Vec<u32> = metas.iter().map(|m| m.uid).collect();
                remove_messages(tx, from, &moved, src_modseq)?;
            }
            Ok(CopyOutcome {
                uidvalidity: dest.uidvalidity,
                pairs,
            })
        })
    }

    fn expunge(&self, mailbox: MailboxId, uids: Option<&[u32]>) -> Result<(Vec<u32>, Vec<BlobId>)> {
        self.write(|tx| {
            lock_accounts_of(tx, &[mailbox])?;
            lock_mailboxes(tx, &[mailbox])?;
            announce_changes(tx, &[mailbox])?;
            let deleted: Vec<(u32, BlobId, i64)> = tx
                .query(
                    r"SELECT uid, blob, size FROM messages
                      WHERE mailbox_id = $1 AND strpos(' ' || flags || ' ', ' \Deleted ') > 0 ORDER BY uid",
                    &[&mailbox.0],
                )?
                .iter()
                .map(|r| (r.get::<_, i64>(0) as u32, BlobId(r.get(1)), r.get(2)))
                .filter(|(uid, _, _)| uids.is_none_or(|set| set.contains(uid)))
                .collect();
            if deleted.is_empty() {
                return Ok((vec![], vec![]));
            }
            let modseq = bump_modseq(tx, mailbox)?;
            let expunged: Vec<u32> = deleted.iter().map(|d| d.0).collect();
            remove_messages(tx, mailbox, &expunged, modseq)?;
            let bytes: i64 = deleted.iter().map(|d| d.2).sum();
            add_usage(tx, mailbox, -bytes)?;
            let blobs = deleted.into_iter().map(|d| d.1).collect();
            Ok((expunged, orphans(tx, blobs)?))
        })
    }

    fn blob_in_use(&self, blob: &BlobId) -> Result<bool> {
        // A plain read: the newest commit of any node counts.
        self.read(|c| {
            Ok(
                c.query_one("SELECT EXISTS(SELECT 1 FROM messages WHERE blob = $1)", &[&blob.0])?
                    .get(0),
            )
        })
    }

    fn clear_recent(&self, mailbox: MailboxId) -> Result<()> {
        // A crash that loses this shows the messages \Recent once more, which RFC 3501 §2.3.2
        // tolerates.
        self.write_unflushed(|tx| {
            // The folder first, as every writer of its messages: rows are never locked in
            // another order than theirs.
            lock_mailboxes(tx, &[mailbox])?;
            tx.execute(
                "UPDATE messages SET recent = false WHERE mailbox_id = $1 AND recent",
                &[&mailbox.0],
            )?;
            Ok(())
        })
    }

    fn defer_blob_removals(&self, blobs: &[BlobId]) -> Result<()> {
        let names: Vec<&str> = blobs.iter().map(|b| b.0.as_str()).collect();
        self.write(|tx| {
            tx.execute(
                "INSERT INTO blob_removals(blob) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING",
                &[&names],
            )?;
            Ok(())
        })
    }

    fn deferred_blob_removals(&self, limit: u32) -> Result<Vec<BlobId>> {
        self.read(|c| {
            let rows = c.query("SELECT blob FROM blob_removals LIMIT $1", &[&(limit as i64)])?;
            Ok(rows.iter().map(|r| BlobId(r.get(0))).collect())
        })
    }

    fn forget_blob_removals(&self, blobs: &[BlobId]) -> Result<()> {
        let names: Vec<&str> = blobs.iter().map(|b| b.0.as_str()).collect();
        self.write(|tx| {
            tx.execute("DELETE FROM blob_removals WHERE blob = ANY($1)", &[&names])?;
            Ok(())
        })
    }
}
