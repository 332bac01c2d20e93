//! The jobs that must run once for the whole operator, not once per node (new-mail notices,
//! the inactivity sweep and its CNIL notices, the trace purge): the node that holds a
//! session-level advisory lock runs them. The lock lives as long as its connection, so a node
//! that dies or loses the database hands the jobs to the next node that asks.

use std::str::FromStr;
use std::sync::Mutex;
use std::time::Duration;

use postgres::{Client, Config, NoTls};

use crate::Result;

/// One job set's lock, asked for again at each `holds` while another node has it.
pub struct Leadership {
    config: Config,
    key: i64,
    held: Mutex<Option<Client>>,
}

impl Leadership {
    /// `job` names the set of jobs (nodes agree on it, not on anything else).
    pub fn new(url: &str, job: &str) -> Result<Leadership> {
        let mut config = Config::from_str(url).map_err(super::bad_url)?;
        config.application_name("confiance-lead");
        config.keepalives_idle(Duration::from_secs(30));
        config.connect_timeout(Duration::from_secs(10));
        // A stable key from the name: FNV-1a, so that every build and node computes the same.
        let key = job.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        }) as i64;
        Ok(Leadership {
            config,
            key,
            held: Mutex::new(None),
        })
    }

    /// Whether this node runs the jobs now: it keeps the lock while its connection answers,
    /// and takes it when no node holds it. Blocks (a round trip, or a connection).
    pub fn holds(&self) -> bool {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(client) = held.as_mut() {
            if client.simple_query("").is_ok() {
                return true;
            }
            tracing::warn!("singleton jobs: connection lost, the lock with it");
            *held = None;
        }
        let taken = self.config.connect(NoTls).and_then(|mut client| {
            // The server also watches this session: a node cut off from it loses the lock
            // within a minute instead of the system's two hours of keepalive.
            client.batch_execute(
                "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3",
            )?;
            let won: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&self.key])?
                .get(0);
            Ok(won.then_some(client))
        });
        match taken {
            Ok(Some(client)) => {
                tracing::info!("singleton jobs: this node runs them");
                *held = Some(client);
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(error = %super::describe(&e), "singleton jobs: cannot reach the database");
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg::TestDatabase;

    #[test]
    fn one_node_runs_the_jobs_and_another_takes_over_when_it_goes() {
        let Some(db) = TestDatabase::create() else { return };
        let one = Leadership::new(&db.url, "housekeeping").unwrap();
        let two = Leadership::new(&db.url, "housekeeping").unwrap();
        let other_jobs = Leadership::new(&db.url, "other").unwrap();
        assert!(one.holds());
        assert!(one.holds(), "kept");
        assert!(!two.holds(), "one node at a time");
        assert!(other_jobs.holds(), "another job set has its own lock");
        // Node 1 loses its connection (a crash, a network cut): node 2 takes over.
        let mut admin = Client::connect(&db.url, NoTls).unwrap();
        admin
            .execute(
                "SELECT pg_terminate_backend(l.pid) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND a.application_name = 'confiance-lead' \
                 AND l.objid = ($1::bigint & 4294967295)::oid",
                &[&one.key],
            )
            .unwrap();
        // The server lets the lock go as the terminated session ends: a moment later.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !two.holds() {
            assert!(std::time::Instant::now() < deadline, "node 2 never took over");
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(!one.holds(), "node 1 is back, but node 2 has the jobs now");
    }
}
