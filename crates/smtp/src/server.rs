//! Listeners and the line-level I/O of an SMTP connection: pipelined commands, DATA with dot
//! unstuffing and a size cap, STARTTLS.

use std::sync::Arc;
use std::time::Duration;

use confiance_mail::MailService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::SmtpConfig;
use crate::session::{Next, Session};

/// Longest command line accepted (RFC 5321 §4.5.3.1.4 says 512; extensions make it longer).
const MAX_COMMAND_LINE: usize = 4096;

/// What a listener is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Ports 587 and 465: professionals and their software (RFC 6409).
    Submission,
    /// Port 25: the other operators of the trust space, with mutual TLS.
    Mx,
}

/// Serves SMTP on `listener` for ever, within `cfg.limits`; `implicit_tls` for port 465
/// (RFC 8314).
pub async fn serve(listener: TcpListener, role: Role, implicit_tls: bool, svc: Arc<MailService>, cfg: Arc<SmtpConfig>) {
    let what = match (role, implicit_tls) {
        (Role::Mx, _) => "SMTP MX",
        (Role::Submission, false) => "SMTP submission",
        (Role::Submission, true) => "SMTP submissions",
    };
    let limits = cfg.limits;
    let refusal_cfg = cfg.clone();
    confiance_net::serve(
        listener,
        what,
        limits,
        move |tcp, peer| {
            let (svc, cfg) = (svc.clone(), cfg.clone());
            async move {
                if let Err(e) = connection(tcp, peer, role, implicit_tls, svc, cfg).await {
                    tracing::debug!(peer = %peer, error = %e, "SMTP connection ended");
                }
            }
        },
        move |tcp, _| refuse(tcp, implicit_tls, refusal_cfg.clone()),
    )
    .await
}

/// Over the connection limits: 421 and close (RFC 5321 §3.8).
async fn refuse(tcp: TcpStream, implicit_tls: bool, cfg: Arc<SmtpConfig>) {
    let reply = format!(
        "421 4.7.0 {} Trop de connexions, nouvel essai plus tard / Too many connections, try again later\r\n",
        cfg.hostname
    );
    let tls = implicit_tls.then(|| TlsAcceptor::from(cfg.tls.clone()));
    confiance_net::refuse(tcp, tls, reply.into_bytes()).await
}

async fn connection(
    tcp: TcpStream,
    peer: std::net::SocketAddr,
    role: Role,
    implicit_tls: bool,
    svc: Arc<MailService>,
    cfg: Arc<SmtpConfig>,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(match role {
        Role::Submission => cfg.tls.clone(),
        Role::Mx => cfg.mx_tls.clone(),
    });
    // Trusted networks skip AUTH on submission only; the MX always wants a certificate.
    let trusted = role == Role::Submission && cfg.trusted_networks.iter().any(|n| n.contains(peer.ip()));
    let mut session = Session::new(svc, cfg.clone(), role, peer.to_string(), trusted);
    let tcp = if implicit_tls {
        tcp
    } else {
        match drive(tcp, &mut session, true).await? {
            Some(tcp) => tcp,
            None => return Ok(()),
        }
    };
    let tls = match tokio::time::timeout(cfg.handshake_timeout, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            // A certificate that does not chain to the anchors, expired or revoked ends here.
            tracing::warn!(target: "audit", event = "tls_refused", ?role, peer = %peer, error = %e);
            return Err(e);
        }
        Err(_) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "TLS handshake timeout",
            ));
        }
    };
    let conn = tls.get_ref().1;
    session.tls = Some(tls_description(conn));
    if role == Role::Submission {
        session.card = confiance_auth::certificate::of_connection(conn);
    }
    if role == Role::Mx {
        session.peer_dn = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(confiance_trust::subject_dn);
        tracing::info!(target: "audit", event = "mx_tls", peer = %peer, tls = session.tls.as_deref().unwrap_or(""),
            dn = ?session.peer_dn.as_ref().map(|d| d.as_ref().map(|d| d.to_string())));
    }
    drive(tls, &mut session, implicit_tls).await?;
    Ok(())
}

fn tls_description(conn: &rustls::ServerConnection) -> String {
    let version = conn.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default();
    let suite = conn
        .negotiated_cipher_suite()
        .map(|s| format!("{:?}", s.suite()))
        .unwrap_or_default();
    format!("{version} {suite}")
}

struct Reader<'a, S> {
    stream: &'a mut S,
    buf: Vec<u8>,
    timeout: Duration,
}

impl<S: AsyncRead + Unpin> Reader<'_, S> {
    async fn fill(&mut self) -> std::io::Result<bool> {
        self.buf.reserve(16 * 1024);
        match tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.buf)).await {
            Ok(Ok(0)) | Err(_) => Ok(false),
            Ok(Ok(_)) => Ok(true),
            Ok(Err(e)) => Err(e),
        }
    }

    /// Next line without its end; `Err(())` inside when it is too long.
    async fn line(&mut self, max: usize) -> std::io::Result<Option<Result<Vec<u8>, ()>>> {
        Ok(self.line_crlf(max).await?.map(|(line, _)| line))
    }

    /// Next line without its end, and whether that end was CRLF (not a bare LF). An overlong
    /// line is skipped up to its end and reported as `Err(())`, never buffered whole.
    async fn line_crlf(&mut self, max: usize) -> std::io::Result<Option<(Result<Vec<u8>, ()>, bool)>> {
        loop {
            if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                let mut line: Vec<u8> = self.buf.drain(..=pos).collect();
                line.pop();
                let crlf = line.last() == Some(&b'\r');
                if crlf {
                    line.pop();
                }
                return Ok(Some((if line.len() > max { Err(()) } else { Ok(line) }, crlf)));
            }
            if self.buf.len() > max {
                // Skip the rest of the overlong line.
                self.buf.clear();
                loop {
                    if !self.fill().await? {
                        return Ok(None);
                    }
                    if let Some(pos) = self.buf.iter().position(|b| *b == b'\n') {
                        let crlf = pos > 0 && self.buf[pos - 1] == b'\r';
                        self.buf.drain(..=pos);
                        return Ok(Some((Err(()), crlf)));
                    }
                    self.buf.clear();
                }
            }
            if !self.fill().await? {
                return Ok(None);
            }
        }
    }

    /// Reads DATA up to CRLF "." CRLF (RFC 5321 §4.1.1.4), unstuffing dots and storing lines
    /// with CRLF. A dot line with a bare LF on either side does not end the data: that is how
    /// SMTP smuggling hides a second message. Returns `None` if the peer left, `Some(Err(size))`
    /// when over `max` (the rest is read and discarded so the session can go on).
    async fn data(&mut self, max: u64) -> std::io::Result<Option<Result<Vec<u8>, u64>>> {
        let mut message = Vec::with_capacity(64 * 1024);
        let mut total: u64 = 0;
        let mut too_big = false;
        let mut after_crlf = true; // the DATA command line itself
        let cap = usize::try_from(max).unwrap_or(usize::MAX).saturating_add(2);
        loop {
            let Some((line, crlf)) = self.line_crlf(cap).await? else {
                return Ok(None);
            };
            let Ok(line) = line else {
                too_big = true;
                message = Vec::new();
                total = total.saturating_add(cap as u64);
                after_crlf = crlf;
                continue;
            };
            if line == b"." && crlf && after_crlf {
                return Ok(Some(if too_big { Err(total) } else { Ok(message) }));
            }
            after_crlf = crlf;
            let line = line.strip_prefix(b".").unwrap_or(&line);
            total += line.len() as u64 + 2;
            if total > max {
                too_big = true;
                message = Vec::new();
                continue;
            }
            message.extend_from_slice(line);
            message.extend_from_slice(b"\r\n");
        }
    }
}

/// Runs the session; returns the plain stream when the client asked for STARTTLS.
async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    session: &mut Session,
    greet: bool,
) -> std::io::Result<Option<S>> {
    if greet {
        stream.write_all(session.greeting().as_bytes()).await?;
    }
    let timeout = session.cfg.command_timeout;
    let mut reader = Reader {
        stream: &mut stream,
        buf: Vec::new(),
        timeout,
    };
    let mut out = String::new();
    loop {
        // Pipelining (RFC 2920): answer every complete command, flush when the input is drained.
        if !reader.buf.contains(&b'\n') && !out.is_empty() {
            reader.stream.write_all(out.as_bytes()).await?;
            out.clear();
        }
        let Some(line) = reader.line(MAX_COMMAND_LINE).await? else {
            if !out.is_empty() {
                let _ = reader.stream.write_all(out.as_bytes()).await;
            }
            return Ok(None);
        };
        let line = match line {
            Ok(l) => l,
            Err(()) => {
                out.push_str("500 5.5.6 Command line too long\r\n");
                continue;
            }
        };
        match session.command(&line, &mut out).await {
            Next::Continue => {}
            Next::Quit => {
                reader.stream.write_all(out.as_bytes()).await?;
                let _ = reader.stream.shutdown().await;
                return Ok(None);
            }
            Next::StartTls => {
                reader.stream.write_all(out.as_bytes()).await?;
                // Commands pipelined after STARTTLS came in clear: they are dropped (RFC 3207 §4.2).
                drop(reader);
                return Ok(Some(stream));
            }
            Next::Data => {
                reader.stream.write_all(out.as_bytes()).await?;
                out.clear();
                match reader.data(session.cfg.max_message_size).await? {
                    None => return Ok(None),
                    Some(Ok(message)) if message.contains(&0) => session.refuse_nul(&mut out),
                    Some(Ok(message)) => session.deliver(message, &mut out).await,
                    Some(Err(size)) => session.refuse_size(size, &mut out),
                }
            }
            Next::AuthContinue(mut challenge) => loop {
                out.push_str(&challenge);
                reader.stream.write_all(out.as_bytes()).await?;
                out.clear();
                let Some(line) = reader.line(MAX_COMMAND_LINE).await? else {
                    return Ok(None);
                };
                match session.auth_response(&line.unwrap_or_default(), &mut out).await {
                    Next::AuthContinue(next) => challenge = next,
                    _ => break,
                }
            },
        }
    }
}
