//! The PostgreSQL backend (issue 19): the store that N operator nodes share. This part holds
//! what every PostgreSQL table set needs: the connection pool, the versioned migrations, and a
//! throw-away database for the tests. The outbound queue (`pg::queue`), the audit traces
//! (`pg::traces`) and the message bodies (`pg::blobs`) run on it; the metadata store's schema
//! is `pg/store.sql`, its code still to come (docs/plans/several-nodes.md).
//!
//! The client is the blocking `postgres` crate: every store call already runs on a blocking
//! thread (`spawn_blocking`, the group-commit thread), as SQLite's do. It carries a small
//! runtime of its own per connection, so it must never be called from an async worker.

pub mod blobs;
pub mod changes;
mod contacts;
mod filters;
mod identity;
pub mod lead;
mod members;
mod overview;
pub mod queue;
pub mod store;
mod structures;
pub mod traces;

use std::str::FromStr;
use std::time::Duration;

use postgres::{Client, Config, NoTls};

use crate::{Result, StoreError};

/// How long a caller waits for a free connection before the pool gives up with an error.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(10);

/// Any two nodes that start together serialise their migrations on this advisory lock
/// (an arbitrary constant of ours: "confianc" in ASCII).
const MIGRATION_LOCK: i64 = 0x636f_6e66_6961_6e63;

/// A pool of connections to one database, each set up the same way on connect.
#[derive(Clone)]
pub struct Pool {
    inner: r2d2::Pool<Manager>,
}

/// Opens connections for the pool: `setup` runs on each new one (its session settings).
pub(crate) struct Manager {
    config: Config,
    setup: &'static str,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Client;
    type Error = postgres::Error;

    fn connect(&self) -> std::result::Result<Client, postgres::Error> {
        let mut client = self.config.connect(NoTls)?;
        client.batch_execute(self.setup)?;
        Ok(client)
    }

    fn is_valid(&self, client: &mut Client) -> std::result::Result<(), postgres::Error> {
        client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, client: &mut Client) -> bool {
        client.is_closed()
    }
}

/// Session settings of every connection: a writer waits at most 10 s for a row lock rather than
/// for ever, so that a stuck node shows up as errors and not as a silent stall.
pub const SESSION: &str = "SET lock_timeout = '10s'; SET idle_in_transaction_session_timeout = '60s'";

impl Pool {
    /// Connects to `url` (`postgres://user@host:port/database`) with at most `size` connections
    /// and `setup` run on each. The first connection is opened here, so that a wrong address or
    /// an unreachable server is reported at start rather than at the first message.
    pub fn connect(url: &str, size: u32, setup: &'static str) -> Result<Pool> {
        let config = Config::from_str(url).map_err(bad_url)?;
        let manager = Manager { config, setup };
        // Tried once here for its precise error; the pool retries later ones on its own.
        let first = r2d2::ManageConnection::connect(&manager)?;
        drop(first);
        let inner = r2d2::Pool::builder()
            .max_size(size.max(1))
            .min_idle(Some(0))
            .connection_timeout(CHECKOUT_TIMEOUT)
            .build_unchecked(manager);
        Ok(Pool { inner })
    }

    /// A connection for the caller's thread; back in the pool when dropped.
    pub(crate) fn get(&self) -> Result<r2d2::PooledConnection<Manager>> {
        Ok(self.inner.get()?)
    }
}

/// An error with the server's own words and SQLSTATE where it sent some (the crate's display
/// of a server error is only "db error").
pub fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({}): {}", db.severity(), db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// The error for a URL that does not parse, without the URL (it may hold a password).
pub(crate) fn bad_url(e: postgres::Error) -> StoreError {
    StoreError::Config(format!("invalid PostgreSQL URL ({e})"))
}

/// Brings `component`'s tables to the newest of `migrations` (version N = the first N applied),
/// in one transaction under the migration lock. A database already at a newer version was
/// written by a newer Confiance: refused, since this one does not know its tables.
pub fn migrate(client: &mut Client, component: &str, migrations: &[&str]) -> Result<()> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    // Looked up rather than `IF NOT EXISTS`, whose notice every command would print.
    let exists: bool = tx
        .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        tx.batch_execute(
            "CREATE TABLE schema_version(component text COLLATE \"C\" PRIMARY KEY, version bigint NOT NULL)",
        )?;
    }
    let found: i64 = tx
        .query_opt("SELECT version FROM schema_version WHERE component = $1", &[&component])?
        .map_or(0, |r| r.get(0));
    let known = migrations.len() as i64;
    if found > known {
        return Err(StoreError::NewerSchema {
            component: component.to_string(),
            found,
            known,
        });
    }
    for (i, sql) in migrations.iter().enumerate().skip(found as usize) {
        tx.batch_execute(sql)?;
        tracing::info!(component, version = i + 1, "applied schema migration");
    }
    tx.execute(
        "INSERT INTO schema_version(component, version) VALUES ($1, $2) \
         ON CONFLICT (component) DO UPDATE SET version = excluded.version",
        &[&component, &known],
    )?;
    tx.commit()?;
    Ok(())
}

/// A database of its own for one test, created from the server that `CONFIANCE_TEST_POSTGRES`
/// names (an administrator's URL, e.g. `postgres://postgres@127.0.0.1:5432/test`) and dropped
/// when the value is dropped. A database per test keeps tests apart, their NOTIFY channels too.
pub struct TestDatabase {
    pub url: String,
    admin: String,
    name: String,
}

impl TestDatabase {
    /// `None` (the test then skips, saying so) when the variable is unset, except where
    /// `CONFIANCE_REQUIRE_POSTGRES` is set (CI): there a missing server fails the run rather
    /// than hide the backend.
    pub fn create() -> Option<TestDatabase> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let Ok(admin) = std::env::var("CONFIANCE_TEST_POSTGRES") else {
            assert!(
                std::env::var_os("CONFIANCE_REQUIRE_POSTGRES").is_none(),
                "CONFIANCE_REQUIRE_POSTGRES: set CONFIANCE_TEST_POSTGRES to a PostgreSQL server"
            );
            eprintln!("skipped: CONFIANCE_TEST_POSTGRES unset (PostgreSQL backend not tested)");
            return None;
        };
        let name = format!(
            "confiance_t_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut client = Client::connect(&admin, NoTls).expect("CONFIANCE_TEST_POSTGRES: cannot connect");
        // Two statements, since neither may run inside a transaction (a batch is one).
        client
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .expect("drop a leftover test database");
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create the test database");
        let url = with_database(&admin, &name);
        Some(TestDatabase { url, admin, name })
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Ok(mut client) = Client::connect(&self.admin, NoTls) {
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
        }
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let start = base.find("://").map_or(0, |i| i + 3);
    let base = match base[start..].find('/') {
        Some(slash) => &base[..start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unix_socket_is_written_as_an_encoded_host() {
        // As the README shows it for a database on the same machine.
        let config = Config::from_str("postgres://confiance@%2Fvar%2Frun%2Fpostgresql/confiance").unwrap();
        assert!(matches!(
            config.get_hosts(),
            [postgres::config::Host::Unix(path)] if path == std::path::Path::new("/var/run/postgresql")
        ));
    }

    #[test]
    fn test_databases_replace_the_database_of_the_url() {
        assert_eq!(with_database("postgres://u@h:5432/test", "x"), "postgres://u@h:5432/x");
        assert_eq!(
            with_database("postgres://u@h/test?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }

    #[test]
    fn migrations_apply_once_and_a_newer_schema_is_refused() {
        let Some(db) = TestDatabase::create() else { return };
        let pool = Pool::connect(&db.url, 2, SESSION).unwrap();
        let steps = ["CREATE TABLE a(x bigint)", "ALTER TABLE a ADD COLUMN y bigint"];
        migrate(&mut pool.get().unwrap(), "t", &steps[..1]).unwrap();
        migrate(&mut pool.get().unwrap(), "t", &steps).unwrap();
        migrate(&mut pool.get().unwrap(), "t", &steps).unwrap();
        pool.get()
            .unwrap()
            .execute("INSERT INTO a(x, y) VALUES (1, 2)", &[])
            .unwrap();
        // An older binary meets the schema of a newer one.
        match migrate(&mut pool.get().unwrap(), "t", &steps[..1]) {
            Err(StoreError::NewerSchema { found: 2, known: 1, .. }) => {}
            other => panic!("a newer schema must be refused, got {other:?}"),
        }
    }

    #[test]
    fn the_metadata_schema_applies_on_postgresql() {
        let Some(db) = TestDatabase::create() else { return };
        let pool = Pool::connect(&db.url, 1, SESSION).unwrap();
        migrate(&mut pool.get().unwrap(), "store", &[include_str!("pg/store.sql")]).unwrap();
        let tables: i64 = pool
            .get()
            .unwrap()
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' \
                 AND table_name <> 'schema_version'",
                &[],
            )
            .unwrap()
            .get(0);
        assert_eq!(tables, 23, "the tables of SQLite's migrations 1-15");
    }

    #[test]
    fn an_unreachable_server_is_an_error_at_start() {
        // Port 1 on loopback: nothing listens there.
        let Err(e) = Pool::connect("postgres://u@127.0.0.1:1/x", 1, SESSION) else {
            panic!("connected to nothing")
        };
        assert!(matches!(e, StoreError::Postgres(_)), "{e:?}");
        // A URL that does not parse is refused without being repeated: it may hold a password.
        match Pool::connect("postgres://u:s3cret@h:99999999/x", 1, SESSION) {
            Err(StoreError::Config(text)) => assert!(!text.contains("s3cret"), "{text}"),
            other => panic!("{:?}", other.err()),
        }
    }
}
