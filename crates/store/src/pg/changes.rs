//! Change notification across nodes (LISTEN/NOTIFY): a node that changes a folder announces it
//! inside the transaction that changes it, and every node's listener hears it once that
//! transaction commits (never if it rolls back). Each node feeds what it hears to its own
//! sessions (IMAP IDLE and NOTIFY, the webmail's live updates), as it does its own changes.
//!
//! Notifications sent while a listener is disconnected are lost, not queued: after it
//! reconnects, the listener says `Heard::Resync`, and sessions read their folders again.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator;
use postgres::{Client, Config, GenericClient, NoTls};

use crate::{Result, StoreError};

/// The channel of mailbox changes; the payload is `<account>:<mailbox>`.
pub const MAIL: &str = "confiance_mail";

/// What a listener hears.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Heard {
    Notification {
        channel: String,
        payload: String,
    },
    /// The connection was lost and is back: anything may have changed meanwhile.
    Resync,
}

/// Announces on `channel`, delivered when the caller's transaction commits. PostgreSQL merges
/// identical announcements of one transaction: a batch of deliveries to one folder is one.
pub fn announce(client: &mut impl GenericClient, channel: &str, payload: &str) -> Result<()> {
    client.execute("SELECT pg_notify($1, $2)", &[&channel, &payload])?;
    Ok(())
}

/// Listens on a connection of its own (outside the pool: LISTEN belongs to a session) from a
/// thread of its own, until dropped.
pub struct Listener {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// How often the thread looks at its stop flag while nothing is heard.
const POLL: Duration = Duration::from_millis(250);
/// The longest wait between two attempts to reconnect.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

fn listen(config: &Config, channels: &[String]) -> std::result::Result<Client, postgres::Error> {
    let mut client = config.connect(NoTls)?;
    let sql: String = channels.iter().map(|c| format!("LISTEN \"{c}\";")).collect();
    client.batch_execute(&sql)?;
    Ok(client)
}

impl Listener {
    /// Connects (an error here is reported at start) and listens on `channels` (names of ours,
    /// `[a-z_]`), handing what it hears to `deliver` on the listener's thread.
    pub fn start(url: &str, channels: &[&str], deliver: impl Fn(Heard) + Send + 'static) -> Result<Listener> {
        if let Some(bad) = channels
            .iter()
            .find(|c| c.is_empty() || !c.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
        {
            return Err(StoreError::Config(format!("bad channel name {bad:?}")));
        }
        let mut config = Config::from_str(url).map_err(super::bad_url)?;
        config.application_name("confiance-listen");
        // A server gone without a word (a partition) shows up as a dead connection within a
        // minute, not after the system's two hours of TCP keepalive.
        config.keepalives_idle(Duration::from_secs(30));
        config.connect_timeout(Duration::from_secs(10));
        let channels: Vec<String> = channels.iter().map(|c| c.to_string()).collect();
        let mut client = listen(&config, &channels)?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::Builder::new().name("pg-listen".into()).spawn(move || {
            while !stopping.load(Ordering::Relaxed) {
                let next = client.notifications().timeout_iter(POLL).next();
                match next {
                    Ok(Some(n)) => deliver(Heard::Notification {
                        channel: n.channel().to_string(),
                        payload: n.payload().to_string(),
                    }),
                    Ok(None) if !client.is_closed() => {}
                    Ok(None) | Err(_) => {
                        tracing::warn!("change notifications: connection lost, reconnecting");
                        let Some(back) = reconnect(&config, &channels, &stopping) else {
                            return;
                        };
                        client = back;
                        deliver(Heard::Resync);
                    }
                }
            }
        })?;
        Ok(Listener {
            stop,
            thread: Some(thread),
        })
    }
}

/// Tries again with a growing wait until connected, or `None` once asked to stop.
fn reconnect(config: &Config, channels: &[String], stop: &AtomicBool) -> Option<Client> {
    let mut wait = Duration::from_millis(100);
    loop {
        if stop.load(Ordering::Relaxed) {
            return None;
        }
        match listen(config, channels) {
            Ok(client) => {
                tracing::info!("change notifications: connected again");
                return Some(client);
            }
            Err(e) => tracing::warn!(error = %e, "change notifications: cannot reconnect"),
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(MAX_BACKOFF);
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::Instant;

    use super::*;
    use crate::pg::TestDatabase;

    fn heard(rx: &mpsc::Receiver<Heard>) -> Option<Heard> {
        rx.recv_timeout(Duration::from_secs(1)).ok()
    }

    #[test]
    fn a_commit_on_one_connection_is_heard_on_another_within_a_second() {
        let Some(db) = TestDatabase::create() else { return };
        let (tx, rx) = mpsc::channel();
        let _listener = Listener::start(&db.url, &[MAIL], move |h| {
            let _ = tx.send(h);
        })
        .unwrap();
        let mut writer = Client::connect(&db.url, NoTls).unwrap();

        // Rolled back: never heard.
        let mut t = writer.transaction().unwrap();
        announce(&mut t, MAIL, "7:1").unwrap();
        t.rollback().unwrap();
        // Committed: heard once, even if announced twice.
        let mut t = writer.transaction().unwrap();
        announce(&mut t, MAIL, "7:2").unwrap();
        announce(&mut t, MAIL, "7:2").unwrap();
        let committed = Instant::now();
        t.commit().unwrap();
        let expected = Heard::Notification {
            channel: MAIL.into(),
            payload: "7:2".into(),
        };
        assert_eq!(heard(&rx), Some(expected));
        assert!(committed.elapsed() < Duration::from_secs(1));
        assert_eq!(rx.recv_timeout(Duration::from_millis(300)).ok(), None, "nothing else");

        // The server drops the listener's connection: it comes back, says so, and hears again.
        writer
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND application_name = 'confiance-listen'",
                &[],
            )
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match rx.recv_timeout(Duration::from_millis(200)) {
                Ok(Heard::Resync) => break,
                Ok(other) => panic!("unexpected {other:?}"),
                Err(_) => assert!(Instant::now() < deadline, "no resync after the connection was lost"),
            }
        }
        announce(&mut writer, MAIL, "8:1").unwrap();
        assert_eq!(
            heard(&rx),
            Some(Heard::Notification {
                channel: MAIL.into(),
                payload: "8:1".into()
            })
        );
    }

    #[test]
    fn channel_names_are_ours_only() {
        let Some(db) = TestDatabase::create() else { return };
        for bad in ["", "x\"; DROP TABLE y; --", "Upper"] {
            assert!(matches!(
                Listener::start(&db.url, &[bad], |_| {}),
                Err(StoreError::Config(_))
            ));
        }
    }
}
