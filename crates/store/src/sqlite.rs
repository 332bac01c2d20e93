//! SQLite backend (embedded default): WAL journal with `synchronous=NORMAL` and a flush of the
//! WAL shared by the commits waiting for it (`durable`), so a commit is on disk when it returns;
//! one writer connection and a few reader connections that never block it.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use rusqlite::{Connection, OptionalExtension, params};

use crate::*;

mod contacts;
mod durable;
mod filters;
mod identity;
mod members;
mod overview;
pub(crate) mod queue;
mod structures;
pub(crate) mod traces;

const READERS: usize = 4;

/// Schema migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE accounts(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    address TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    quota_bytes INTEGER NOT NULL,
    used_bytes INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
CREATE TABLE mailboxes(
    -- AUTOINCREMENT: ids are never reused, so a session still holding a deleted folder's id
    -- can never reach a folder created later, maybe in another account.
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    special_use TEXT,
    uidvalidity INTEGER NOT NULL,
    uidnext INTEGER NOT NULL,
    highest_modseq INTEGER NOT NULL,
    UNIQUE(account_id, name)
);
CREATE TABLE subscriptions(
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    PRIMARY KEY(account_id, name)
) WITHOUT ROWID;
CREATE TABLE messages(
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid INTEGER NOT NULL,
    blob TEXT NOT NULL,
    size INTEGER NOT NULL,
    internal_date INTEGER NOT NULL,
    internal_tz INTEGER NOT NULL,
    flags TEXT NOT NULL,
    recent INTEGER NOT NULL,
    modseq INTEGER NOT NULL,
    PRIMARY KEY(mailbox_id, uid)
) WITHOUT ROWID;
CREATE INDEX messages_modseq ON messages(mailbox_id, modseq);
CREATE INDEX messages_blob ON messages(blob);
CREATE TABLE expunged(
    mailbox_id INTEGER NOT NULL REFERENCES mailboxes(id) ON DELETE CASCADE,
    uid INTEGER NOT NULL,
    modseq INTEGER NOT NULL,
    PRIMARY KEY(mailbox_id, uid)
) WITHOUT ROWID;
CREATE TABLE settings(key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"#,
    r#"
-- How a mailbox of this operator appears in the directory (annuaire), once activated.
CREATE TABLE directory_listings(
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    kind TEXT NOT NULL,
    national_id TEXT, structure_id TEXT, civility TEXT, family_name TEXT, given_name TEXT,
    profession_code TEXT, profession_label TEXT, specialty_code TEXT, specialty_label TEXT,
    service TEXT, organisation TEXT, postcode TEXT, locality TEXT, departement TEXT,
    dematerialisation INTEGER,
    red_list INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
"#,
    r#"
-- Identity and lifecycle (issue 5): who holds the BAL, how they log in, when they last did.
ALTER TABLE accounts ADD COLUMN status TEXT NOT NULL DEFAULT 'active';
ALTER TABLE accounts ADD COLUMN last_login_at INTEGER;
ALTER TABLE accounts ADD COLUMN failed_logins INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN locked_until INTEGER;
ALTER TABLE accounts ADD COLUMN inactivity_notices INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN inactivity_notice_at INTEGER;
CREATE TABLE account_profiles(
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    national_id TEXT, given_name TEXT, family_name TEXT,
    personal_email TEXT, mobile TEXT,
    second_factor TEXT NOT NULL, totp_secret TEXT,
    -- Last TOTP time step accepted: a code opens one session only (RFC 6238 §5.2).
    totp_step INTEGER,
    notify_new_mail INTEGER NOT NULL, publish_mobile INTEGER NOT NULL,
    mail_password INTEGER NOT NULL,
    terms_accepted_at INTEGER NOT NULL
);
-- One BAL per professional here (their PER mailbox); NULL for admin-made accounts.
CREATE UNIQUE INDEX account_profiles_national_id ON account_profiles(national_id);
-- Accounts that exist at this migration count as used now: the inactivity clock (CNIL
-- AU-037) starts today for them, not at their creation.
UPDATE accounts SET last_login_at = CAST(strftime('%s', 'now') AS INTEGER) WHERE last_login_at IS NULL;
CREATE TABLE app_passwords(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    label TEXT NOT NULL, hash TEXT NOT NULL,
    created_at INTEGER NOT NULL, last_used_at INTEGER
);
CREATE TABLE web_sessions(
    key TEXT PRIMARY KEY,
    account_id INTEGER REFERENCES accounts(id) ON DELETE CASCADE,
    data TEXT NOT NULL,
    last_seen_at INTEGER NOT NULL
);
CREATE INDEX web_sessions_last_seen ON web_sessions(last_seen_at);
"#,
    // 4: the webmail's message summaries (one per blob), the orders and filters of its lists,
    // and the signature of each account.
    r#"
CREATE TABLE message_summaries(
    blob TEXT PRIMARY KEY,
    date INTEGER,
    from_name TEXT NOT NULL,
    from_address TEXT NOT NULL,
    recipients TEXT NOT NULL,
    subject TEXT NOT NULL,
    attachments INTEGER NOT NULL,
    xdm INTEGER NOT NULL,
    receipt_to TEXT,
    -- Sort keys: lower-case, sender name or else address, subject without Re:/Fwd:.
    sort_sender TEXT NOT NULL,
    sort_subject TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX messages_arrival ON messages(mailbox_id, internal_date, uid);
-- Unread counts and the unread filter read only the unread messages.
CREATE INDEX messages_unseen ON messages(mailbox_id, internal_date) WHERE instr(flags, '\Seen') = 0;
-- The summary's sort keys, copied to each message so a sorted page walks an index.
ALTER TABLE messages ADD COLUMN sort_sender TEXT;
ALTER TABLE messages ADD COLUMN sort_subject TEXT;
CREATE INDEX messages_by_sender ON messages(mailbox_id, sort_sender, internal_date);
CREATE INDEX messages_by_subject ON messages(mailbox_id, sort_subject, internal_date);
-- Who else may open a BAL (an organisational BAL's secretaries, a practice's colleagues), by
-- the holder's national id (IdNat_PS), as PSC or the CPS card proves it.
CREATE TABLE mailbox_access(
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    national_id TEXT NOT NULL,
    PRIMARY KEY(account_id, national_id)
) WITHOUT ROWID;
CREATE INDEX mailbox_access_by_person ON mailbox_access(national_id);
CREATE TABLE account_preferences(
    account_id INTEGER PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
    signature TEXT NOT NULL DEFAULT ''
);
"#,
    // 5: an app password's first group names it, so a login checks one hash, not each in turn
    // (which told by its time how many an account had). Older ones have none.
    r#"
ALTER TABLE app_passwords ADD COLUMN lookup TEXT;
"#,
    // 6: blobs a process that does not own the blob directory (a CLI command while the server
    // runs) left without rows; the owner removes them under its lock.
    r#"
CREATE TABLE blob_removals(blob TEXT PRIMARY KEY) WITHOUT ROWID;
"#,
    // 7: the messages still \Recent, found without reading the folder: every session that
    // sees new mail clears their mark, and a scan of the whole folder for it, under the
    // writer's lock, cost each APPEND into a folder of thousands a full read of it.
    r#"
CREATE INDEX messages_recent ON messages(mailbox_id) WHERE recent = 1;
"#,
    // 8: SCRAM-SHA-256 keys (RFC 5802), one row per credential, named by the stored hash it
    // was derived beside: a changed or revoked password leaves a row that matches nothing.
    // `secrets` holds values drawn once per installation (the key that salts unknown names).
    r#"
CREATE TABLE scram_keys(
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    source TEXT NOT NULL,
    salt BLOB NOT NULL, iterations INTEGER NOT NULL,
    stored_key BLOB NOT NULL, server_key BLOB NOT NULL,
    PRIMARY KEY(account_id, source)
) WITHOUT ROWID;
CREATE TABLE secrets(name TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
"#,
    // 9: structures (FINESS) and their administrators; a BAL's type is the account's, fixed at
    // creation (it was only the directory listing's, which could be re-published as another),
    // with the structure it belongs to and the name it shows.
    r#"
CREATE TABLE structures(
    finess TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    address TEXT,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE structure_admins(
    finess TEXT NOT NULL REFERENCES structures(finess) ON DELETE CASCADE,
    who TEXT NOT NULL,
    PRIMARY KEY(finess, who)
) WITHOUT ROWID;
ALTER TABLE accounts ADD COLUMN kind TEXT NOT NULL DEFAULT 'PER';
ALTER TABLE accounts ADD COLUMN structure TEXT REFERENCES structures(finess);
ALTER TABLE accounts ADD COLUMN display_name TEXT;
UPDATE accounts SET kind = (SELECT kind FROM directory_listings d WHERE d.account_id = accounts.id)
    WHERE id IN (SELECT account_id FROM directory_listings);
"#,
    // 10: accounts whose open sessions must end (suspended, deleted), in order: every server on
    // the data directory reads what was added since it last looked, whoever wrote it (a CLI
    // command, the console, another node). No foreign key: a deleted account's row stays.
    r#"
CREATE TABLE revocations(
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    at INTEGER NOT NULL
);
-- A structure's BALs, found by its FINESS (an organisation certificate's login).
CREATE INDEX accounts_structure ON accounts(structure) WHERE structure IS NOT NULL;
"#,
    // 11: members of shared BALs have rights (read, send, manage; those shared before may read
    // and send); staff without an RPPS log in with a password and TOTP, and reach IMAP and SMTP
    // with app passwords made for them on one BAL (`member`).
    r#"
ALTER TABLE mailbox_access ADD COLUMN rights TEXT NOT NULL DEFAULT 'read,send';
CREATE TABLE staff(
    email TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    totp_secret TEXT NOT NULL,
    totp_step INTEGER NOT NULL DEFAULT 0,
    suspended INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;
ALTER TABLE app_passwords ADD COLUMN member TEXT;
"#,
    // 12: on the patients' side, the professionals who wrote to each patient and whether
    // their last message closed the exchange (issue 17); written by deliveries only.
    r#"
CREATE TABLE patient_contacts(
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    closed INTEGER NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY(account_id, address)
) WITHOUT ROWID;
"#,
    // 13: the start of each message's text, shown under its subject in the webmail's lists.
    r#"
ALTER TABLE message_summaries ADD COLUMN snippet TEXT NOT NULL DEFAULT '';
"#,
    // 14: each BAL's Sieve scripts (RFC 5228, one active, RFC 5804) and the senders its
    // out-of-office already answered (RFC 5230 §4.1), both gone with the BAL.
    r#"
CREATE TABLE sieve_scripts(
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    content TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 0,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY(account_id, name)
) WITHOUT ROWID;
CREATE TABLE vacation_replies(
    account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    sender TEXT NOT NULL,
    handle TEXT NOT NULL,
    sent_at INTEGER NOT NULL,
    PRIMARY KEY(account_id, sender, handle)
) WITHOUT ROWID;
"#,
    // 15: the conversation each message belongs to (the Message-ID that started it), so that
    // a message page shows its thread rather than every message of the same subject.
    r#"
ALTER TABLE message_summaries ADD COLUMN thread TEXT NOT NULL DEFAULT '';
CREATE INDEX summaries_by_thread ON message_summaries(thread) WHERE thread <> '';
"#,
];

pub struct SqliteStore {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    /// Commits become durable together, outside the writer's lock (see `durable`).
    wal: durable::Wal,
}

/// A new account with its special-use folders, subscribed (a PER BAL unless told otherwise).
fn insert_account(
    tx: &rusqlite::Transaction,
    address: &str,
    password_hash: &str,
    quota_bytes: u64,
) -> Result<AccountId> {
    let exists: bool = tx.query_row(
        "SELECT EXISTS(SELECT 1 FROM accounts WHERE address = ?1)",
        [address],
        |r| r.get(0),
    )?;
    if exists {
        return Err(StoreError::AccountExists);
    }
    tx.execute(
        "INSERT INTO accounts(address, password_hash, quota_bytes, created_at) VALUES(?1, ?2, ?3, ?4)",
        params![address, password_hash, quota_bytes as i64, now()],
    )?;
    let id = AccountId(tx.last_insert_rowid());
    for su in confiance_core::SpecialUse::ALL {
        let uidvalidity = next_uidvalidity(tx)?;
        tx.execute(
            "INSERT INTO mailboxes(account_id, name, special_use, uidvalidity, uidnext, highest_modseq)
             VALUES(?1, ?2, ?3, ?4, 1, 1)",
            params![id.0, su.folder_name(), su.attribute(), uidvalidity],
        )?;
        tx.execute(
            "INSERT INTO subscriptions(account_id, name) VALUES(?1, ?2)",
            params![id.0, su.folder_name()],
        )?;
    }
    Ok(id)
}

fn open_connection(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // NORMAL: a commit writes the WAL without flushing it; `write` then waits for the shared
    // flush (`durable::Wal`), so `250` still follows durable metadata.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // The hot statements stay compiled: an APPEND alone runs eight, a session's refresh three.
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

impl SqliteStore {
    pub fn open(path: &Path) -> Result<Self> {
        let mut writer = open_connection(path)?;
        // 32 MiB of pages in memory (SQLite's default is 2 MiB): the writer re-read from the
        // file the index pages that APPENDs touch, a sixteenth of its time. A reader's cache is
        // dropped whenever another connection writes, so theirs stay small.
        writer.pragma_update(None, "cache_size", -32 * 1024)?;
        migrate(&mut writer)?;
        let readers = (0..READERS)
            .map(|_| open_connection(path).map(Mutex::new))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(SqliteStore {
            writer: Mutex::new(writer),
            readers,
            next_reader: AtomicUsize::new(0),
            wal: durable::Wal::new(path),
        })
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
        let start = self.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..READERS {
            if let Ok(conn) = self.readers[(start + i) % READERS].try_lock() {
                return f(&conn);
            }
        }
        let conn = self.readers[start % READERS].lock().unwrap_or_else(|e| e.into_inner());
        f(&conn)
    }

    /// Runs `f` in a write transaction and returns once its changes are on disk.
    fn write<T>(&self, f: impl FnOnce(&rusqlite::Transaction) -> Result<T>) -> Result<T> {
        let (out, commit) = self.transact(f)?;
        if let Some(n) = commit {
            self.wal.durable(n)?;
        }
        Ok(out)
    }

    /// Runs `f` in a write transaction and returns without waiting for the flush: for changes a
    /// crash may lose without harm, which the next flush or checkpoint makes durable anyway.
    fn write_unflushed<T>(&self, f: impl FnOnce(&rusqlite::Transaction) -> Result<T>) -> Result<T> {
        self.transact(f).map(|(out, _)| out)
    }

    /// Runs `f` in a write transaction and commits it (without flushing the WAL); returns the
    /// commit's number if it wrote anything (a transaction that changed no row writes no frame
    /// and needs no flush).
    fn transact<T>(&self, f: impl FnOnce(&rusqlite::Transaction) -> Result<T>) -> Result<(T, Option<u64>)> {
        let mut conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let before = conn.total_changes();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let out = f(&tx)?;
        tx.commit()?;
        let wrote = conn.total_changes() != before;
        Ok((out, wrote.then(|| self.wal.committed())))
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > MIGRATIONS.len() as i64 {
        return Err(StoreError::NewerSchema {
            component: "store".into(),
            found: version,
            known: MIGRATIONS.len() as i64,
        });
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64)?;
        tx.commit()?;
        tracing::info!(version = i + 1, "applied schema migration");
    }
    Ok(())
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn join_flags(flags: &[String]) -> String {
    normalise_flags(flags).join(" ")
}

fn split_flags(s: &str) -> Vec<String> {
    s.split_ascii_whitespace().map(str::to_string).collect()
}

fn account_row(r: &rusqlite::Row) -> rusqlite::Result<Account> {
    Ok(Account {
        id: AccountId(r.get(0)?),
        address: r.get(1)?,
        password_hash: r.get(2)?,
        quota_bytes: r.get::<_, i64>(3)? as u64,
        created_at: r.get(4)?,
        status: AccountStatus::parse(&r.get::<_, String>(5)?),
        last_login_at: r.get(6)?,
        inactivity_notices: r.get(7)?,
        inactivity_notice_at: r.get(8)?,
        kind: confiance_core::MailboxKind::from_code(&r.get::<_, String>(9)?)
            .unwrap_or(confiance_core::MailboxKind::Personal),
        structure: r.get(10)?,
        display_name: r.get(11)?,
    })
}

const ACCOUNT_COLS: &str = "id, address, password_hash, quota_bytes, created_at, status, last_login_at, inactivity_notices, \
     inactivity_notice_at, kind, structure, display_name";
const MAILBOX_COLS: &str = "m.id, m.account_id, m.name, m.special_use, m.uidvalidity, m.uidnext, m.highest_modseq, \
     EXISTS(SELECT 1 FROM subscriptions s WHERE s.account_id = m.account_id AND s.name = m.name)";
const MESSAGE_COLS: &str = "uid, blob, size, internal_date, internal_tz, flags, recent, modseq";

/// Rows in UID order. The hot reads of IMAP (every command's refresh, SELECT) sort here, not
/// with ORDER BY: a cached statement with ORDER BY and a bound parameter is compiled again at
/// each use (rusqlite clears the bindings of a statement going back to its cache, which
/// expires such a statement in SQLite), and that compilation was most of an APPEND's work.
/// The rows mostly come in key order already, which the stable sort only checks.
fn by_uid<T>(mut rows: Vec<T>, uid: impl Fn(&T) -> u32) -> Vec<T> {
    rows.sort_by_key(|r| uid(r));
    rows
}

fn mailbox_row(r: &rusqlite::Row) -> rusqlite::Result<Mailbox> {
    Ok(Mailbox {
        id: MailboxId(r.get(0)?),
        account: AccountId(r.get(1)?),
        name: r.get(2)?,
        special_use: r.get(3)?,
        uidvalidity: r.get::<_, i64>(4)? as u32,
        uidnext: r.get::<_, i64>(5)? as u32,
        highest_modseq: r.get::<_, i64>(6)? as u64,
        subscribed: r.get(7)?,
    })
}

fn message_row(r: &rusqlite::Row) -> rusqlite::Result<MessageMeta> {
    Ok(MessageMeta {
        uid: r.get::<_, i64>(0)? as u32,
        blob: BlobId(r.get(1)?),
        size: r.get::<_, i64>(2)? as u64,
        internal_date: r.get(3)?,
        internal_tz_minutes: r.get(4)?,
        flags: split_flags(&r.get::<_, String>(5)?),
        recent: r.get(6)?,
        modseq: r.get::<_, i64>(7)? as u64,
    })
}

/// A new UIDVALIDITY: the current time, but always above the last one handed out, so that a
/// folder deleted and recreated within a second never reuses one (RFC 9051 §2.3.1.1).
fn next_uidvalidity(tx: &rusqlite::Transaction) -> Result<u32> {
    let last: i64 = tx
        .query_row("SELECT value FROM settings WHERE key = 'last_uidvalidity'", [], |r| {
            r.get(0)
        })
        .optional()?
        .unwrap_or(0);
    let v = (now() & 0x7fff_ffff).max(last + 1);
    tx.execute(
        "INSERT INTO settings(key, value) VALUES('last_uidvalidity', ?1)
         ON CONFLICT(key) DO UPDATE SET value = excluded.value",
        [v],
    )?;
    Ok(v as u32)
}

/// Bumps the folder's modification sequence (RFC 7162 §3.1) and returns the new value.
fn bump_modseq(tx: &rusqlite::Transaction, mailbox: MailboxId) -> Result<u64> {
    let v: i64 = tx
        .prepare_cached(
            "UPDATE mailboxes SET highest_modseq = highest_modseq + 1 WHERE id = ?1 RETURNING highest_modseq",
        )?
        .query_row([mailbox.0], |r| r.get(0))?;
    Ok(v as u64)
}

fn mailbox_by_id(tx: &Connection, id: MailboxId) -> Result<Mailbox> {
    tx.prepare_cached(&format!("SELECT {MAILBOX_COLS} FROM mailboxes m WHERE m.id = ?1"))?
        .query_row([id.0], mailbox_row)
        .optional()?
        .ok_or(StoreError::NoSuchMailbox)
}

/// Blobs among `candidates` that no message refers to any more.
fn orphans(tx: &Connection, candidates: Vec<BlobId>) -> Result<Vec<BlobId>> {
    let mut out = Vec::new();
    let mut stmt = tx.prepare_cached("SELECT EXISTS(SELECT 1 FROM messages WHERE blob = ?1)")?;
    for b in candidates {
        if !out.contains(&b) && !stmt.query_row([&b.0], |r| r.get::<_, bool>(0))? {
            tx.execute("DELETE FROM message_summaries WHERE blob = ?1", [&b.0])?;
            out.push(b);
        }
    }
    Ok(out)
}

fn add_usage(tx: &Connection, mailbox: MailboxId, delta: i64) -> Result<()> {
    tx.prepare_cached(
        "UPDATE accounts SET used_bytes = MAX(0, used_bytes + ?2)
         WHERE id = (SELECT account_id FROM mailboxes WHERE id = ?1)",
    )?
    .execute(params![mailbox.0, delta])?;
    Ok(())
}

impl Store for SqliteStore {
    fn create_account(&self, address: &str, password_hash: &str, quota_bytes: u64) -> Result<AccountId> {
        self.write(|tx| insert_account(tx, address, password_hash, quota_bytes))
    }

    fn account_by_address(&self, address: &str) -> Result<Option<Account>> {
        self.read(|c| {
            Ok(c.query_row(
                &format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE address = ?1"),
                [address],
                account_row,
            )
            .optional()?)
        })
    }

    fn account(&self, id: AccountId) -> Result<Option<Account>> {
        self.read(|c| {
            Ok(c.query_row(
                &format!("SELECT {ACCOUNT_COLS} FROM accounts WHERE id = ?1"),
                [id.0],
                account_row,
            )
            .optional()?)
        })
    }

    fn set_password(&self, id: AccountId, password_hash: &str) -> Result<()> {
        self.write(|tx| {
            match tx.execute(
                "UPDATE accounts SET password_hash = ?2 WHERE id = ?1",
                params![id.0, password_hash],
            )? {
                0 => Err(StoreError::NoSuchAccount),
                _ => Ok(()),
            }
        })
    }

    fn set_quota(&self, id: AccountId, quota_bytes: u64) -> Result<()> {
        self.write(|tx| {
            match tx.execute(
                "UPDATE accounts SET quota_bytes = ?2 WHERE id = ?1",
                params![id.0, quota_bytes as i64],
            )? {
                0 => Err(StoreError::NoSuchAccount),
                _ => Ok(()),
            }
        })
    }

    fn accounts(&self) -> Result<Vec<Account>> {
        self.read(|c| {
            let mut stmt = c.prepare(&format!("SELECT {ACCOUNT_COLS} FROM accounts ORDER BY address"))?;
            let rows = stmt.query_map([], account_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn set_listing(&self, id: AccountId, listing: Option<&DirectoryListing>) -> Result<()> {
        self.write(|tx| {
            if let Some(l) = listing {
                let kind: String = tx
                    .query_row("SELECT kind FROM accounts WHERE id = ?1", [id.0], |r| r.get(0))
                    .optional()?
                    .ok_or(StoreError::NoSuchAccount)?;
                if kind != l.kind.code() {
                    return Err(StoreError::KindFixed(kind));
                }
            }
            tx.execute("DELETE FROM directory_listings WHERE account_id = ?1", [id.0])?;
            let Some(l) = listing else { return Ok(()) };
            let (pc, pl) = l.profession.clone().unzip();
            let (sc, sl) = l.specialty.clone().unzip();
            tx.execute(
                "INSERT INTO directory_listings(account_id, kind, national_id, structure_id, civility, family_name,
                     given_name, profession_code, profession_label, specialty_code, specialty_label, service,
                     organisation, postcode, locality, departement, dematerialisation, red_list, updated_at)
                 VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)",
                params![
                    id.0,
                    l.kind.code(),
                    l.national_id,
                    l.structure_id,
                    l.civility,
                    l.family_name,
                    l.given_name,
                    pc,
                    pl,
                    sc,
                    sl,
                    l.service,
                    l.organisation,
                    l.postcode,
                    l.locality,
                    l.departement,
                    l.dematerialisation,
                    l.red_list,
                    now()
                ],
            )?;
            Ok(())
        })
    }

    fn listings(&self) -> Result<Vec<(String, DirectoryListing)>> {
        self.read(|c| {
            let mut stmt = c.prepare(
                "SELECT a.address, l.kind, l.national_id, l.structure_id, l.civility, l.family_name, l.given_name,
                        l.profession_code, l.profession_label, l.specialty_code, l.specialty_label, l.service,
                        l.organisation, l.postcode, l.locality, l.departement, l.dematerialisation, l.red_list
                 FROM directory_listings l JOIN accounts a ON a.id = l.account_id ORDER BY a.address",
            )?;
            let rows = stmt
                .query_map([], |r| {
                    let pair = |a: Option<String>, b: Option<String>| a.map(|a| (a, b.unwrap_or_default()));
                    let kind: String = r.get(1)?;
                    Ok((
                        r.get(0)?,
                        DirectoryListing {
                            kind: confiance_core::MailboxKind::from_code(&kind)
                                .unwrap_or(confiance_core::MailboxKind::Personal),
                            national_id: r.get(2)?,
                            structure_id: r.get(3)?,
                            civility: r.get(4)?,
                            family_name: r.get(5)?,
                            given_name: r.get(6)?,
                            profession: pair(r.get(7)?, r.get(8)?),
                            specialty: pair(r.get(9)?, r.get(10)?),
                            service: r.get(11)?,
                            organisation: r.get(12)?,
                            postcode: r.get(13)?,
                            locality: r.get(14)?,
                            departement: r.get(15)?,
                            dematerialisation: r.get(16)?,
                            red_list: r.get(17)?,
                        },
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn usage(&self, id: AccountId) -> Result<u64> {
        self.read(|c| {
            c.query_row("SELECT used_bytes FROM accounts WHERE id = ?1", [id.0], |r| {
                r.get::<_, i64>(0)
            })
            .optional()?
            .map(|v| v as u64)
            .ok_or(StoreError::NoSuchAccount)
        })
    }

    fn mailboxes(&self, account: AccountId) -> Result<Vec<Mailbox>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {MAILBOX_COLS} FROM mailboxes m WHERE m.account_id = ?1 ORDER BY m.name"
            ))?;
            let rows = stmt
                .query_map([account.0], mailbox_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn mailbox(&self, account: AccountId, name: &str) -> Result<Option<Mailbox>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {MAILBOX_COLS} FROM mailboxes m WHERE m.account_id = ?1 AND m.name = ?2"
            ))?;
            Ok(stmt.query_row(params![account.0, name], mailbox_row).optional()?)
        })
    }

    fn create_mailbox(&self, account: AccountId, name: &str, special_use: Option<&str>) -> Result<Mailbox> {
        self.write(|tx| {
            let exists: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM mailboxes WHERE account_id = ?1 AND name = ?2)",
                params![account.0, name],
                |r| r.get(0),
            )?;
            if exists {
                return Err(StoreError::MailboxExists);
            }
            let uidvalidity = next_uidvalidity(tx)?;
            tx.execute(
                "INSERT INTO mailboxes(account_id, name, special_use, uidvalidity, uidnext, highest_modseq)
                 VALUES(?1, ?2, ?3, ?4, 1, 1)",
                params![account.0, name, special_use, uidvalidity],
            )?;
            mailbox_by_id(tx, MailboxId(tx.last_insert_rowid()))
        })
    }

    fn delete_mailbox(&self, account: AccountId, name: &str) -> Result<Vec<BlobId>> {
        if name == "INBOX" {
            return Err(StoreError::Forbidden("INBOX cannot be deleted"));
        }
        self.write(|tx| {
            let id: i64 = tx
                .query_row(
                    "SELECT id FROM mailboxes WHERE account_id = ?1 AND name = ?2",
                    params![account.0, name],
                    |r| r.get(0),
                )
                .optional()?
                .ok_or(StoreError::NoSuchMailbox)?;
            let (blobs, bytes) = {
                let mut stmt = tx.prepare("SELECT blob, size FROM messages WHERE mailbox_id = ?1")?;
                let rows = stmt
                    .query_map([id], |r| Ok((BlobId(r.get(0)?), r.get::<_, i64>(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                let bytes: i64 = rows.iter().map(|r| r.1).sum();
                (rows.into_iter().map(|r| r.0).collect::<Vec<_>>(), bytes)
            };
            add_usage(tx, MailboxId(id), -bytes)?;
            tx.execute("DELETE FROM mailboxes WHERE id = ?1", [id])?;
            orphans(tx, blobs)
        })
    }

    fn rename_mailbox(&self, account: AccountId, from: &str, to: &str, delimiter: char) -> Result<()> {
        self.write(|tx| {
            let target_exists: bool = tx.query_row(
                "SELECT EXISTS(SELECT 1 FROM mailboxes WHERE account_id = ?1 AND name = ?2)",
                params![account.0, to],
                |r| r.get(0),
            )?;
            if target_exists {
                return Err(StoreError::MailboxExists);
            }
            let source = tx
                .query_row(
                    &format!("SELECT {MAILBOX_COLS} FROM mailboxes m WHERE m.account_id = ?1 AND m.name = ?2"),
                    params![account.0, from],
                    mailbox_row,
                )
                .optional()?
                .ok_or(StoreError::NoSuchMailbox)?;
            if from == "INBOX" {
                // RFC 9051 §6.3.6: renaming INBOX moves its messages to a new folder; INBOX stays, empty.
                let uidvalidity = next_uidvalidity(tx)?;
                tx.execute(
                    "INSERT INTO mailboxes(account_id, name, special_use, uidvalidity, uidnext, highest_modseq)
                     VALUES(?1, ?2, NULL, ?3, ?4, ?5)",
                    params![account.0, to, uidvalidity, source.uidnext, source.highest_modseq as i64],
                )?;
                let new_id = tx.last_insert_rowid();
                // For INBOX the messages are gone: sessions and QRESYNC clients learn it from
                // the expunge history, as for any expunge.
                let modseq = bump_modseq(tx, source.id)?;
                tx.execute(
                    "INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq)
                     SELECT ?1, uid, ?2 FROM messages WHERE mailbox_id = ?1",
                    params![source.id.0, modseq as i64],
                )?;
                tx.execute(
                    "UPDATE messages SET mailbox_id = ?2 WHERE mailbox_id = ?1",
                    params![source.id.0, new_id],
                )?;
                return Ok(());
            }
            let prefix = format!("{from}{delimiter}");
            let children: Vec<(i64, String)> = {
                let mut stmt = tx.prepare("SELECT id, name FROM mailboxes WHERE account_id = ?1")?;
                stmt.query_map([account.0], |r| Ok((r.get(0)?, r.get::<_, String>(1)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?
                    .into_iter()
                    .filter(|(_, n)| n.starts_with(&prefix))
                    .collect()
            };
            tx.execute("UPDATE mailboxes SET name = ?2 WHERE id = ?1", params![source.id.0, to])?;
            for (id, name) in children {
                let renamed = format!("{to}{delimiter}{}", &name[prefix.len()..]);
                tx.execute("UPDATE mailboxes SET name = ?2 WHERE id = ?1", params![id, renamed])?;
            }
            Ok(())
        })
    }

    fn set_subscribed(&self, account: AccountId, name: &str, subscribed: bool) -> Result<()> {
        self.write(|tx| {
            if subscribed {
                tx.execute(
                    "INSERT OR IGNORE INTO subscriptions(account_id, name) VALUES(?1, ?2)",
                    params![account.0, name],
                )?;
            } else {
                tx.execute(
                    "DELETE FROM subscriptions WHERE account_id = ?1 AND name = ?2",
                    params![account.0, name],
                )?;
            }
            Ok(())
        })
    }

    fn subscriptions(&self, account: AccountId) -> Result<Vec<String>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT name FROM subscriptions WHERE account_id = ?1 ORDER BY name")?;
            let rows = stmt
                .query_map([account.0], |r| r.get(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn messages(&self, mailbox: MailboxId) -> Result<FolderMessages> {
        self.read(|c| {
            let tx = c.unchecked_transaction()?; // the messages and the modseq of one moment
            let highest_modseq = mailbox_by_id(&tx, mailbox)?.highest_modseq;
            // In UID order, sorted here rather than by ORDER BY (see `by_uid`).
            let mut stmt = tx.prepare_cached(&format!("SELECT {MESSAGE_COLS} FROM messages WHERE mailbox_id = ?1"))?;
            let rows = stmt
                .query_map([mailbox.0], message_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(FolderMessages {
                highest_modseq,
                messages: by_uid(rows, |m| m.uid),
            })
        })
    }

    fn changes_since(&self, mailbox: MailboxId, modseq: u64) -> Result<Changes> {
        self.read(|c| {
            let tx = c.unchecked_transaction()?; // one snapshot for the three reads
            let highest_modseq = mailbox_by_id(&tx, mailbox)?.highest_modseq;
            let changed = {
                let mut stmt = tx.prepare_cached(&format!(
                    "SELECT {MESSAGE_COLS} FROM messages WHERE mailbox_id = ?1 AND modseq > ?2"
                ))?;
                let rows = stmt
                    .query_map(params![mailbox.0, modseq as i64], message_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                by_uid(rows, |m| m.uid)
            };
            let expunged = {
                let mut stmt = tx.prepare_cached("SELECT uid FROM expunged WHERE mailbox_id = ?1 AND modseq > ?2")?;
                let uids = stmt
                    .query_map(params![mailbox.0, modseq as i64], |r| {
                        r.get::<_, i64>(0).map(|v| v as u32)
                    })?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                by_uid(uids, |u| *u)
            };
            Ok(Changes {
                changed,
                expunged,
                highest_modseq,
            })
        })
    }

    fn append_groups(&self, groups: &[AppendGroup]) -> Vec<Vec<Result<Appended>>> {
        let result = self.write(|tx| groups.iter().map(|g| append_group(tx, g)).collect::<Result<Vec<_>>>());
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
            let mut outcome = FlagOutcome::default();
            let mut modseq = None;
            let mut select = tx.prepare_cached(&format!(
                "SELECT {MESSAGE_COLS} FROM messages WHERE mailbox_id = ?1 AND uid = ?2"
            ))?;
            for &uid in &req.uids {
                let Some(mut meta) = select.query_row(params![mailbox.0, uid], message_row).optional()? else {
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
                tx.prepare_cached("UPDATE messages SET flags = ?3, modseq = ?4 WHERE mailbox_id = ?1 AND uid = ?2")?
                    .execute(params![mailbox.0, uid, new_flags.join(" "), m as i64])?;
                meta.flags = new_flags;
                meta.modseq = m;
                outcome.updated.push(meta);
            }
            Ok(outcome)
        })
    }

    fn copy(&self, from: MailboxId, uids: &[u32], to: MailboxId, remove_source: bool) -> Result<CopyOutcome> {
        self.write(|tx| {
            let dest = mailbox_by_id(tx, to)?;
            let source = mailbox_by_id(tx, from)?;
            if dest.account != source.account {
                return Err(StoreError::Forbidden("messages cannot be copied across accounts"));
            }
            let mut select = tx.prepare_cached(&format!(
                "SELECT {MESSAGE_COLS} FROM messages WHERE mailbox_id = ?1 AND uid = ?2"
            ))?;
            let mut metas = Vec::new();
            for &uid in uids {
                if let Some(m) = select.query_row(params![from.0, uid], message_row).optional()? {
                    metas.push(m);
                }
            }
            if metas.is_empty() {
                return Ok(CopyOutcome {
                    uidvalidity: dest.uidvalidity,
                    pairs: vec![],
                });
            }
            let bytes: i64 = metas.iter().map(|m| m.size as i64).sum();
            if !remove_source {
                check_quota(tx, dest.account, bytes as u64)?;
            }
            let dest_modseq = bump_modseq(tx, to)?;
            let mut next_uid = dest.uidnext;
            let mut pairs = Vec::with_capacity(metas.len());
            for m in &metas {
                tx.execute(
                    "INSERT INTO messages(mailbox_id, uid, blob, size, internal_date, internal_tz, flags, recent, modseq)
                     VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8)",
                    params![
                        to.0,
                        next_uid,
                        m.blob.0,
                        m.size as i64,
                        m.internal_date,
                        m.internal_tz_minutes,
                        m.flags.join(" "),
                        dest_modseq as i64
                    ],
                )?;
                overview::sync_sort_keys(tx, to, next_uid, &m.blob)?;
                pairs.push((m.uid, next_uid));
                next_uid += 1;
            }
            tx.execute("UPDATE mailboxes SET uidnext = ?2 WHERE id = ?1", params![to.0, next_uid])?;
            if remove_source {
                let src_modseq = bump_modseq(tx, from)?;
                for m in &metas {
                    remove_message(tx, from, m.uid, src_modseq)?;
                }
            } else {
                add_usage(tx, to, bytes)?;
            }
            Ok(CopyOutcome {
                uidvalidity: dest.uidvalidity,
                pairs,
            })
        })
    }

    fn expunge(&self, mailbox: MailboxId, uids: Option<&[u32]>) -> Result<(Vec<u32>, Vec<BlobId>)> {
        self.write(|tx| {
            let deleted: Vec<(u32, BlobId, i64)> = {
                let mut stmt = tx.prepare_cached(
                    "SELECT uid, blob, size FROM messages WHERE mailbox_id = ?1 AND (' ' || flags || ' ') LIKE '% \\Deleted %' ORDER BY uid",
                )?;
                stmt.query_map([mailbox.0], |r| Ok((r.get::<_, i64>(0)? as u32, BlobId(r.get(1)?), r.get(2)?)))?
                    .collect::<rusqlite::Result<Vec<_>>>()?
            };
            let deleted: Vec<_> = deleted
                .into_iter()
                .filter(|(uid, _, _)| uids.is_none_or(|set| set.contains(uid)))
                .collect();
            if deleted.is_empty() {
                return Ok((vec![], vec![]));
            }
            let modseq = bump_modseq(tx, mailbox)?;
            let mut expunged = Vec::with_capacity(deleted.len());
            let mut blobs = Vec::with_capacity(deleted.len());
            let mut bytes = 0;
            for (uid, blob, size) in deleted {
                remove_message(tx, mailbox, uid, modseq)?;
                expunged.push(uid);
                blobs.push(blob);
                bytes += size;
            }
            add_usage(tx, mailbox, -bytes)?;
            Ok((expunged, orphans(tx, blobs)?))
        })
    }

    fn blob_in_use(&self, blob: &BlobId) -> Result<bool> {
        // Read on the writer connection: the newest commit counts, not a reader's snapshot.
        let conn = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        Ok(conn.query_row(
            "SELECT EXISTS(SELECT 1 FROM messages WHERE blob = ?1)",
            [&blob.0],
            |r| r.get(0),
        )?)
    }

    fn clear_recent(&self, mailbox: MailboxId) -> Result<()> {
        // A crash that loses this shows the messages \Recent once more, which RFC 3501 §2.3.2
        // tolerates; waiting for a flush here doubled the flushes of every APPEND.
        self.write_unflushed(|tx| {
            // Named: without statistics the planner prefers the primary key, a scan of the folder.
            tx.prepare_cached(
                "UPDATE messages INDEXED BY messages_recent SET recent = 0 WHERE mailbox_id = ?1 AND recent = 1",
            )?
            .execute([mailbox.0])?;
            Ok(())
        })
    }

    fn defer_blob_removals(&self, blobs: &[BlobId]) -> Result<()> {
        self.write(|tx| {
            let mut insert = tx.prepare_cached("INSERT OR IGNORE INTO blob_removals(blob) VALUES (?1)")?;
            for b in blobs {
                insert.execute([&b.0])?;
            }
            Ok(())
        })
    }

    fn deferred_blob_removals(&self, limit: u32) -> Result<Vec<BlobId>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached("SELECT blob FROM blob_removals LIMIT ?1")?;
            let rows = stmt.query_map([limit], |r| r.get(0).map(BlobId))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn forget_blob_removals(&self, blobs: &[BlobId]) -> Result<()> {
        self.write(|tx| {
            let mut delete = tx.prepare_cached("DELETE FROM blob_removals WHERE blob = ?1")?;
            for b in blobs {
                delete.execute([&b.0])?;
            }
            Ok(())
        })
    }
}

fn remove_message(tx: &rusqlite::Transaction, mailbox: MailboxId, uid: u32, modseq: u64) -> Result<()> {
    tx.prepare_cached("DELETE FROM messages WHERE mailbox_id = ?1 AND uid = ?2")?
        .execute(params![mailbox.0, uid])?;
    tx.prepare_cached("INSERT OR REPLACE INTO expunged(mailbox_id, uid, modseq) VALUES(?1, ?2, ?3)")?
        .execute(params![mailbox.0, uid, modseq as i64])?;
    Ok(())
}

fn check_quota(tx: &rusqlite::Transaction, account: AccountId, extra: u64) -> Result<()> {
    let (used, limit): (i64, i64) = tx
        .prepare_cached("SELECT used_bytes, quota_bytes FROM accounts WHERE id = ?1")?
        .query_row([account.0], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let (used, limit) = (used as u64, limit as u64);
    if used + extra > limit {
        return Err(StoreError::QuotaExceeded { used, limit });
    }
    Ok(())
}

/// One group inside the batch transaction; an atomic group runs in a savepoint that is rolled
/// back on its first failure.
fn append_group(tx: &rusqlite::Transaction, group: &AppendGroup) -> Result<Vec<Result<Appended>>> {
    if !group.atomic {
        return Ok(group.messages.iter().map(|d| append_one(tx, d)).collect());
    }
    // Cached statements: every APPEND is an atomic group, and parsing these each time cost
    // a tenth of the writer's time.
    let run = |sql: &str| tx.prepare_cached(sql).and_then(|mut s| s.execute([]));
    run("SAVEPOINT atomic_group")?;
    let outcome: Result<Vec<Appended>> = group.messages.iter().map(|d| append_one(tx, d)).collect();
    match outcome {
        Ok(done) => {
            run("RELEASE atomic_group")?;
            Ok(done.into_iter().map(Ok).collect())
        }
        Err(e) => {
            run("ROLLBACK TO atomic_group")?;
            run("RELEASE atomic_group")?;
            Ok(group.messages.iter().map(|_| Err(e.replicate())).collect())
        }
    }
}

fn append_one(tx: &rusqlite::Transaction, d: &NewMessage) -> Result<Appended> {
    let mailbox = mailbox_by_id(tx, d.mailbox)?;
    check_quota(tx, mailbox.account, d.size)?;
    let modseq = bump_modseq(tx, d.mailbox)?;
    let uid = mailbox.uidnext;
    tx.prepare_cached(
        "INSERT INTO messages(mailbox_id, uid, blob, size, internal_date, internal_tz, flags, recent, modseq)
         VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        d.mailbox.0,
        uid,
        d.blob.0,
        d.size as i64,
        d.internal_date,
        d.internal_tz_minutes,
        join_flags(&d.flags),
        d.recent,
        modseq as i64
    ])?;
    tx.prepare_cached("UPDATE mailboxes SET uidnext = ?2 WHERE id = ?1")?
        .execute(params![d.mailbox.0, uid + 1])?;
    add_usage(tx, d.mailbox, d.size as i64)?;
    if let Some(summary) = &d.summary {
        overview::insert_summary(tx, &d.blob, summary)?;
    }
    overview::sync_sort_keys(tx, d.mailbox, uid, &d.blob)?;
    Ok(Appended {
        account: mailbox.account,
        mailbox: d.mailbox,
        uidvalidity: mailbox.uidvalidity,
        uid,
    })
}
