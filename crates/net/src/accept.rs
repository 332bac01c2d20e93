//! Accepting connections: every listener of the operator runs this loop, so that one hostile
//! client can neither exhaust the process's descriptors nor end a listener.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// How many connections a listener takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Connections at once on this listener.
    pub max_connections: usize,
    /// Connections at once from one client address (an IPv6 /64 counts as one address). A
    /// practice's workstations behind one NAT address share it.
    pub max_per_address: usize,
}

/// Refusals being written at once, over all listeners; beyond, a connection is just closed.
static REFUSING: Semaphore = Semaphore::const_new(64);
/// How long a refusal may take (a TLS handshake on implicit-TLS ports, then one line).
const REFUSAL_TIME: Duration = Duration::from_secs(5);

/// Why a connection was not taken.
#[derive(Clone, Copy, Debug)]
enum Over {
    Listener,
    Address,
    Process,
}

impl Over {
    fn reason(self) -> &'static str {
        match self {
            Over::Listener => "listener full",
            Over::Address => "too many connections from this address",
            Over::Process => "file descriptor budget exhausted",
        }
    }
}

/// The client address a limit counts (connections, authentication failures): the address
/// itself, or its /64 for IPv6, where one client holds a whole prefix.
pub fn counted(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Connections open per client address on one listener.
#[derive(Default)]
struct PerAddress(Mutex<HashMap<IpAddr, usize>>);

/// One connection counted against its address until dropped.
struct AddressSlot {
    table: Arc<PerAddress>,
    ip: IpAddr,
}

impl PerAddress {
    fn take(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<AddressSlot> {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = t.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(AddressSlot {
            table: self.clone(),
            ip,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut t = self.table.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = t.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                t.remove(&self.ip);
            }
        }
    }
}

/// Says something once per burst of the same trouble instead of once per event.
struct Burst {
    what: &'static str,
    count: u64,
    since: Option<Instant>,
}

impl Burst {
    /// Counts one event; true when it starts a burst (and should be logged).
    fn hit(&mut self) -> bool {
        self.count += 1;
        let start = self.since.is_none_or(|s| s.elapsed() > Duration::from_secs(10));
        if start {
            if self.count > 1 {
                tracing::warn!(
                    listener = self.what,
                    count = self.count - 1,
                    "refusals or accept errors since the last notice"
                );
            }
            self.count = 1;
            self.since = Some(Instant::now());
        }
        start
    }
}

/// Tells a client over the limits that the server is busy, in its protocol's words
/// (`answer`), then closes: after the TLS handshake on an implicit-TLS port (`tls`), so that
/// the client can read it.
pub async fn refuse(mut tcp: TcpStream, tls: Option<tokio_rustls::TlsAcceptor>, answer: Vec<u8>) {
    use tokio::io::AsyncWriteExt;
    match tls {
        Some(acceptor) => {
            if let Ok(mut stream) = acceptor.accept(tcp).await {
                let _ = stream.write_all(&answer).await;
                let _ = stream.shutdown().await;
            }
        }
        None => {
            let _ = tcp.write_all(&answer).await;
            let _ = tcp.shutdown().await;
        }
    }
}

/// Accepts connections for ever: `handle` serves one within the limits, `refuse` tells one
/// over them that the server is busy (IMAP `BYE [UNAVAILABLE]`, SMTP `421 4.7.0`, HTTP 503)
/// within a few seconds, or the connection is just closed when too many refusals are already
/// being written. An accept error (EMFILE, ENFILE, ECONNABORTED…) is logged once per burst and
/// backed off; it never ends the loop.
pub async fn serve<H, HF, R, RF>(listener: TcpListener, what: &'static str, limits: Limits, handle: H, refuse: R)
where
    H: Fn(TcpStream, SocketAddr) -> HF,
    HF: Future<Output = ()> + Send + 'static,
    R: Fn(TcpStream, SocketAddr) -> RF,
    RF: Future<Output = ()> + Send + 'static,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let per_address = Arc::new(PerAddress::default());
    let mut errors = Burst {
        what,
        count: 0,
        since: None,
    };
    let mut refusals = Burst {
        what,
        count: 0,
        since: None,
    };
    let mut backoff = Duration::from_millis(5);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => {
                backoff = Duration::from_millis(5);
                c
            }
            Err(e) => {
                if errors.hit() {
                    tracing::warn!(listener = what, error = %e, "accept failed; backing off, the listener goes on");
                }
                // Descriptors come back as connections end: wait a little, longer each time.
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let admitted = (|| {
            let listener_slot = slots.clone().try_acquire_owned().map_err(|_| Over::Listener)?;
            let address_slot = per_address
                .take(counted(peer.ip()), limits.max_per_address)
                .ok_or(Over::Address)?;
            let process_slot = crate::files::budget().try_acquire().map_err(|_| Over::Process)?;
            Ok::<_, Over>((listener_slot, address_slot, process_slot))
        })();
        match admitted {
            Ok(held) => {
                let served = handle(tcp, peer);
                tokio::spawn(async move {
                    served.await;
                    drop(held);
                });
            }
            Err(over) => {
                if refusals.hit() {
                    tracing::warn!(target: "audit", event = "connection_refused", listener = what, peer = %peer,
                        reason = over.reason(), "connection refused (further refusals are counted, not logged)");
                }
                if let Ok(permit) = REFUSING.try_acquire() {
                    let refusal = refuse(tcp, peer);
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(REFUSAL_TIME, refusal).await;
                        drop(permit);
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn ipv6_clients_count_by_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(counted(a), counted(b));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(counted(mapped), "192.0.2.7".parse::<IpAddr>().unwrap());
    }

    #[tokio::test]
    async fn over_the_per_address_limit_the_client_reads_the_refusal() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let limits = Limits {
            max_connections: 100,
            max_per_address: 2,
        };
        tokio::spawn(serve(
            listener,
            "test",
            limits,
            |mut tcp, _| async move {
                let _ = tcp.write_all(b"hello\r\n").await;
                let mut b = [0u8; 1];
                let _ = tcp.read(&mut b).await;
            },
            |mut tcp, _| async move {
                let _ = tcp.write_all(b"busy\r\n").await;
            },
        ));
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut c = TcpStream::connect(addr).await.unwrap();
            let mut line = [0u8; 7];
            c.read_exact(&mut line).await.unwrap();
            assert_eq!(&line, b"hello\r\n");
            held.push(c);
        }
        let mut third = TcpStream::connect(addr).await.unwrap();
        let mut line = String::new();
        third.read_to_string(&mut line).await.unwrap();
        assert_eq!(line, "busy\r\n");
        // A connection that ends gives its place back.
        drop(held.pop());
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut again = TcpStream::connect(addr).await.unwrap();
        let mut line = [0u8; 7];
        again.read_exact(&mut line).await.unwrap();
        assert_eq!(&line, b"hello\r\n");
    }
}
