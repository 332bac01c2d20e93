//! The connection loop: the greeting, STARTTLS (RFC 5804 §2.2), framing within limits (small
//! commands before login, a script's size after), the AUTHENTICATE continuation and timeouts.

use std::sync::Arc;
use std::time::Duration;

use confiance_mail::MailService;
use confiance_mail::filters::MAX_SCRIPT_BYTES;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::SieveConfig;
use crate::proto::{Frame, frame, words};
use crate::session::{Control, Session};

/// Before login: a command line, and a literal (the AUTHENTICATE message), are small.
const ANONYMOUS_LIMIT: usize = 4 * 1024;

/// Serves ManageSieve on `listener` for ever (port 4190, STARTTLS).
pub async fn serve(listener: TcpListener, svc: Arc<MailService>, cfg: Arc<SieveConfig>) {
    let limits = cfg.limits;
    confiance_net::serve(
        listener,
        "ManageSieve",
        limits,
        move |tcp, peer| {
            let (svc, cfg) = (svc.clone(), cfg.clone());
            async move {
                if let Err(e) = connection(tcp, peer.to_string(), svc, cfg).await {
                    tracing::debug!(peer = %peer, error = %e, "ManageSieve connection ended");
                }
            }
        },
        |tcp, _| {
            confiance_net::refuse(
                tcp,
                None,
                b"BYE (TRYLATER) \"Trop de connexions, nouvel essai plus tard\"\r\n".to_vec(),
            )
        },
    )
    .await
}

async fn connection(tcp: TcpStream, peer: String, svc: Arc<MailService>, cfg: Arc<SieveConfig>) -> std::io::Result<()> {
    let mut session = Session {
        svc,
        cfg: cfg.clone(),
        tls: false,
        peer,
        account: None,
    };
    if let Some(tcp) = drive(tcp, &mut session, true).await? {
        let tls = tokio::time::timeout(cfg.handshake_timeout, TlsAcceptor::from(cfg.tls.clone()).accept(tcp)).await??;
        session.tls = true;
        drive(tls, &mut session, false).await?;
    }
    Ok(())
}

/// Reads and answers commands; returns the stream when STARTTLS was asked for.
async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    session: &mut Session,
    plain: bool,
) -> std::io::Result<Option<S>> {
    let greeting = match plain {
        true => session.greeting(),
        // RFC 5804 §2.2: after TLS the server says its capabilities again, unasked.
        false => format!("{}OK \"TLS actif\"\r\n", session.capabilities()),
    };
    stream.write_all(greeting.as_bytes()).await?;
    let mut buf = Vec::new();
    let mut authenticating = false;
    loop {
        let (limit, timeout) = match session.account {
            Some(_) => (MAX_SCRIPT_BYTES + 1024, session.cfg.idle_timeout),
            None => (ANONYMOUS_LIMIT, session.cfg.login_timeout),
        };
        let end = match frame(&buf, limit) {
            Frame::Complete(n) => n,
            Frame::TooLong => {
                stream.write_all(b"BYE \"Commande trop longue\"\r\n").await?;
                return Ok(None);
            }
            Frame::Incomplete => {
                if !read_more(&mut stream, &mut buf, timeout).await? {
                    return Ok(None);
                }
                continue;
            }
        };
        let command: Vec<u8> = buf.drain(..end).collect();
        let parsed = words(&command);
        if authenticating {
            authenticating = false;
            // RFC 5804 §2.1: the client's message is a string; `"*"` cancels.
            let answer = match parsed.as_deref() {
                Ok([w]) => session.plain(&w.bytes()).await,
                _ => "NO \"Authentification annulée\"\r\n".into(),
            };
            stream.write_all(answer.as_bytes()).await?;
            continue;
        }
        let (answer, control) = match parsed {
            Ok(w) if !w.is_empty() => session.handle(w).await,
            Ok(_) => continue,
            Err(e) => (format!("NO \"{e}\"\r\n"), Control::Continue),
        };
        stream.write_all(answer.as_bytes()).await?;
        match control {
            Control::Continue => {}
            Control::Authenticate => authenticating = true,
            Control::Logout => {
                let _ = stream.shutdown().await;
                return Ok(None);
            }
            Control::StartTls => {
                stream.flush().await?;
                // Bytes sent before the handshake would be read as clear text: refuse them.
                return match buf.is_empty() {
                    true => Ok(Some(stream)),
                    false => Ok(None),
                };
            }
        }
    }
}

async fn read_more<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    timeout: Duration,
) -> std::io::Result<bool> {
    buf.reserve(4096);
    match tokio::time::timeout(timeout, stream.read_buf(buf)).await {
        Ok(Ok(0)) | Err(_) => Ok(false),
        Ok(Ok(_)) => Ok(true),
        Ok(Err(e)) => Err(e),
    }
}
