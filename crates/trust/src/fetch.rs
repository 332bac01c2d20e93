//! Downloading the whitelist (the ANS publishes it at
//! `https://espacedeconfiance.mssante.fr/listeblanchemssante.xml`, reference spec §1.1): a plain
//! HTTP/1.1 GET, blocking (the refresh runs on a blocking thread), over rustls for `https`, with
//! the system's roots or a configured CA file.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};

use crate::tls::mssante_provider;

/// The national file is 3.7 MB; anything far larger is not a whitelist.
const MAX_BODY: usize = 64 * 1024 * 1024;
const TIMEOUT: Duration = Duration::from_secs(30);
/// Debian's bundle of public roots.
const SYSTEM_ROOTS: &str = "/etc/ssl/certs/ca-certificates.crt";

pub fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// GET `url`; the body of a 200 answer, or why not.
pub fn get(url: &str, ca: Option<&Path>) -> Result<Vec<u8>, String> {
    let (tls, rest) = match url.split_once("://") {
        Some(("https", rest)) => (true, rest),
        Some(("http", rest)) => (false, rest),
        _ => return Err(format!("{url} : seuls http:// et https:// sont pris en charge")),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, p.parse::<u16>().map_err(|_| format!("{url} : port invalide {p:?}"))?),
        None => (authority, if tls { 443 } else { 80 }),
    };
    let address = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("nom {host} introuvable : {e}"))?
        .next()
        .ok_or_else(|| format!("aucune adresse pour {host}"))?;
    let tcp =
        TcpStream::connect_timeout(&address, TIMEOUT).map_err(|e| format!("connexion impossible à {host} : {e}"))?;
    tcp.set_read_timeout(Some(TIMEOUT)).map_err(|e| e.to_string())?;
    tcp.set_write_timeout(Some(TIMEOUT)).map_err(|e| e.to_string())?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: Confiance\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n"
    );
    let raw = if tls {
        let name = ServerName::try_from(host.to_string()).map_err(|_| format!("{host} n'est pas un nom d'hôte"))?;
        let conn = rustls::ClientConnection::new(client_config(ca)?, name).map_err(|e| e.to_string())?;
        exchange(rustls::StreamOwned::new(conn, tcp), &request)?
    } else {
        exchange(tcp, &request)?
    };
    body(&raw).map_err(|e| format!("{url} : {e}"))
}

fn client_config(ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, String> {
    let path = ca.unwrap_or(Path::new(SYSTEM_ROOTS));
    let certs: Vec<CertificateDer> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("impossible de lire le fichier d'autorité {} : {e}", path.display()))?
        .filter_map(Result::ok)
        .collect();
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(certs);
    if roots.is_empty() {
        return Err(format!(
            "aucun certificat d'autorité utilisable dans {}",
            path.display()
        ));
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(mssante_provider()))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn exchange<S: Read + Write>(mut stream: S, request: &str) -> Result<Vec<u8>, String> {
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("la requête a échoué : {e}"))?;
    let mut raw = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            // Servers that close without close_notify: what came is judged by its length.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(format!("téléchargement interrompu : {e}")),
        }
        if raw.len() > MAX_BODY {
            return Err(format!("réponse de plus de {MAX_BODY} octets"));
        }
    }
    Ok(raw)
}

/// The body of an HTTP/1.1 answer, which must be a complete 200 (RFC 9112).
fn body(raw: &[u8]) -> Result<Vec<u8>, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("incomplete HTTP answer")?;
    let head = String::from_utf8_lossy(&raw[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let code = status.split_whitespace().nth(1).unwrap_or_default();
    if code != "200" {
        return Err(format!("le serveur a répondu {status:?}"));
    }
    let mut length = None;
    let mut chunked = false;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                length = Some(value.parse::<usize>().map_err(|_| "bad Content-Length")?);
            } else if name.eq_ignore_ascii_case("transfer-encoding") && value.eq_ignore_ascii_case("chunked") {
                chunked = true;
            }
        }
    }
    let rest = &raw[end + 4..];
    if chunked {
        return dechunk(rest);
    }
    match length {
        Some(n) if rest.len() < n => Err(format!("tronquée : {} octets sur {n}", rest.len())),
        Some(n) => Ok(rest[..n].to_vec()),
        None => Ok(rest.to_vec()),
    }
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n").ok_or("truncated chunk")?;
        let size_text = String::from_utf8_lossy(&data[..eol]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("taille de segment invalide {size_text:?}"))?;
        data = &data[eol + 2..];
        if size == 0 {
            return Ok(out);
        }
        if data.len() < size + 2 {
            return Err("segment tronqué".into());
        }
        out.extend_from_slice(&data[..size]);
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers() {
        assert_eq!(
            body(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc").unwrap(),
            b"abc"
        );
        assert!(
            body(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nabc")
                .unwrap_err()
                .contains("tronquée")
        );
        assert!(body(b"HTTP/1.1 503 Unavailable\r\n\r\n").unwrap_err().contains("503"));
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n";
        assert_eq!(body(chunked).unwrap(), b"abcde");
        assert!(body(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab").is_err());
        assert!(get("ftp://x/y", None).is_err());
    }
}
