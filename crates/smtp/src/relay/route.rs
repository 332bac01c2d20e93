//! The next hop for a recipient domain (RFC 5321 §5.1): a static route when one is configured
//! (private trust spaces, tests), otherwise the domain's MX records by preference, otherwise the
//! domain itself (implicit MX). The host name is what the peer's certificate must match.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::UdpSocket;

/// A configured next hop.
#[derive(Clone, Debug)]
pub struct Route {
    /// Host name the peer's certificate is verified for.
    pub host: String,
    /// Where to connect; resolved from `host` when absent.
    pub address: Option<SocketAddr>,
}

/// One candidate: the name to verify and where to connect.
pub struct Target {
    pub host: String,
    pub address: SocketAddr,
}

pub async fn targets(routes: &HashMap<String, Route>, domain: &str, port: u16) -> Result<Vec<Target>, String> {
    if let Some(route) = routes.get(domain) {
        return match route.address {
            Some(address) => Ok(vec![Target {
                host: route.host.clone(),
                address,
            }]),
            None => resolve(&route.host, port).await,
        };
    }
    let hosts = match mx_lookup(domain).await? {
        hosts if hosts.is_empty() => vec![domain.to_string()],
        hosts => hosts,
    };
    let mut all = Vec::new();
    let mut last_error = None;
    for host in hosts {
        match resolve(&host, port).await {
            Ok(t) => all.extend(t),
            Err(e) => last_error = Some(e),
        }
    }
    if all.is_empty() {
        return Err(last_error.unwrap_or_else(|| format!("no address for {domain}")));
    }
    Ok(all)
}

async fn resolve(host: &str, port: u16) -> Result<Vec<Target>, String> {
    let addresses = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?;
    Ok(addresses
        .map(|address| Target {
            host: host.to_string(),
            address,
        })
        .collect())
}

/// The first name server of /etc/resolv.conf.
fn name_server() -> Option<SocketAddr> {
    let conf = std::fs::read_to_string("/etc/resolv.conf").ok()?;
    conf.lines().find_map(|l| {
        let mut words = l.split_whitespace();
        (words.next() == Some("nameserver"))
            .then(|| words.next()?.parse::<std::net::IpAddr>().ok())
            .flatten()
            .map(|ip| SocketAddr::new(ip, 53))
    })
}

/// MX hosts of a domain by preference (RFC 1035 §3.3.9), through the system's name server.
/// An empty list means no MX record (the caller falls back to the domain, RFC 5321 §5.1).
async fn mx_lookup(domain: &str) -> Result<Vec<String>, String> {
    let server = name_server().ok_or("no name server in /etc/resolv.conf")?;
    let id: u16 = rand::random();
    let query = dns_query(id, domain)?;
    let bind = if server.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
    let socket = UdpSocket::bind(bind).await.map_err(|e| e.to_string())?;
    socket.connect(server).await.map_err(|e| e.to_string())?;
    for _ in 0..3 {
        socket.send(&query).await.map_err(|e| e.to_string())?;
        let mut buf = [0u8; 4096];
        match tokio::time::timeout(Duration::from_secs(3), socket.recv(&mut buf)).await {
            Ok(Ok(n)) => return parse_mx_answer(id, &buf[..n]),
            Ok(Err(e)) => return Err(format!("DNS query for {domain} failed: {e}")),
            Err(_) => continue,
        }
    }
    Err(format!("no answer from the name server {server} for {domain}"))
}

fn dns_query(id: u16, domain: &str) -> Result<Vec<u8>, String> {
    let mut q = Vec::with_capacity(32 + domain.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // RD, one question
    for label in domain.trim_end_matches('.').split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("{domain} is not a domain name"));
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&[0, 15, 0, 1]); // MX, IN
    Ok(q)
}

/// Reads a possibly compressed name (RFC 1035 §4.1.4) at `pos`; returns it and the position after it.
fn read_name(msg: &[u8], mut pos: usize) -> Option<(String, usize)> {
    let mut labels = Vec::new();
    let mut end = None;
    for _ in 0..64 {
        let len = *msg.get(pos)? as usize;
        if len & 0xC0 == 0xC0 {
            let target = ((len & 0x3F) << 8) | *msg.get(pos + 1)? as usize;
            end.get_or_insert(pos + 2);
            pos = target;
            continue;
        }
        if len == 0 {
            return Some((labels.join("."), end.unwrap_or(pos + 1)));
        }
        labels.push(String::from_utf8_lossy(msg.get(pos + 1..pos + 1 + len)?).to_lowercase());
        pos += 1 + len;
    }
    None
}

fn parse_mx_answer(id: u16, msg: &[u8]) -> Result<Vec<String>, String> {
    let bad = || "malformed DNS answer".to_string();
    if msg.len() < 12 || u16::from_be_bytes([msg[0], msg[1]]) != id {
        return Err(bad());
    }
    match msg[3] & 0x0F {
        0 => {}
        3 => return Err("the domain does not exist (NXDOMAIN)".into()),
        rcode => return Err(format!("DNS error (rcode {rcode})")),
    }
    let questions = u16::from_be_bytes([msg[4], msg[5]]);
    let answers = u16::from_be_bytes([msg[6], msg[7]]);
    let mut pos = 12;
    for _ in 0..questions {
        pos = read_name(msg, pos).ok_or_else(bad)?.1 + 4;
    }
    let mut mx = Vec::new();
    for _ in 0..answers {
        pos = read_name(msg, pos).ok_or_else(bad)?.1;
        let header = msg.get(pos..pos + 10).ok_or_else(bad)?;
        let rtype = u16::from_be_bytes([header[0], header[1]]);
        let rdlen = u16::from_be_bytes([header[8], header[9]]) as usize;
        let rdata = pos + 10;
        if rtype == 15 {
            let pref = u16::from_be_bytes([*msg.get(rdata).ok_or_else(bad)?, *msg.get(rdata + 1).ok_or_else(bad)?]);
            let (host, _) = read_name(msg, rdata + 2).ok_or_else(bad)?;
            mx.push((pref, host));
        }
        pos = rdata + rdlen;
    }
    mx.sort();
    Ok(mx.into_iter().map(|(_, h)| h).filter(|h| !h.is_empty()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mx_answer_with_compression() {
        let mut m = dns_query(7, "a.test").unwrap();
        m[2] = 0x81;
        m[3] = 0x80;
        m[7] = 2; // two answers
        for (pref, label) in [(20u16, b"mx2"), (10u16, b"mx1")] {
            m.extend_from_slice(&[0xC0, 12, 0, 15, 0, 1, 0, 0, 0, 60, 0, 8]);
            m.extend_from_slice(&pref.to_be_bytes());
            m.push(3);
            m.extend_from_slice(label);
            m.extend_from_slice(&[0xC0, 12]);
        }
        assert_eq!(parse_mx_answer(7, &m).unwrap(), vec!["mx1.a.test", "mx2.a.test"]);
        assert!(parse_mx_answer(8, &m).is_err());
        let mut nx = dns_query(9, "b.test").unwrap();
        nx[3] = 0x83;
        assert!(parse_mx_answer(9, &nx).unwrap_err().contains("NXDOMAIN"));
    }
}
