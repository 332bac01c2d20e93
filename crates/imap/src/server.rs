//! Listeners and the connection loop: framing, literals, STARTTLS, IDLE and AUTHENTICATE
//! continuations, autologout.

use std::sync::Arc;
use std::time::Duration;

use confiance_mail::MailService;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::ImapConfig;
use crate::proto::command::parse_command;
use crate::proto::framing::{Frame, FrameError, Limits, frame, peek_tag};
use crate::session::{Control, Session, tagged, untagged};

/// Serves IMAP on `listener` for ever, within `cfg.limits`. `implicit_tls` for port 993.
pub async fn serve(listener: TcpListener, implicit_tls: bool, svc: Arc<MailService>, cfg: Arc<ImapConfig>) {
    let what = if implicit_tls { "IMAPS" } else { "IMAP" };
    let limits = cfg.limits;
    let refusal_cfg = cfg.clone();
    confiance_net::serve(
        listener,
        what,
        limits,
        move |tcp, peer| {
            let (svc, cfg) = (svc.clone(), cfg.clone());
            async move {
                if let Err(e) = connection(tcp, peer.to_string(), implicit_tls, svc, cfg).await {
                    tracing::debug!(peer = %peer, error = %e, "IMAP connection ended");
                }
            }
        },
        move |tcp, _| refuse(tcp, implicit_tls, refusal_cfg.clone()),
    )
    .await
}

/// Over the connection limits: RFC 9051 §7.1.5 BYE with the UNAVAILABLE code (RFC 5530).
async fn refuse(tcp: TcpStream, implicit_tls: bool, cfg: Arc<ImapConfig>) {
    const BYE: &[u8] =
        b"* BYE [UNAVAILABLE] Trop de connexions, nouvel essai plus tard / Too many connections, try again later\r\n";
    let tls = implicit_tls.then(|| TlsAcceptor::from(cfg.tls.clone()));
    confiance_net::refuse(tcp, tls, BYE.to_vec()).await
}

enum Exit<S> {
    Closed,
    StartTls(S),
}

async fn connection(
    tcp: TcpStream,
    peer: String,
    implicit_tls: bool,
    svc: Arc<MailService>,
    cfg: Arc<ImapConfig>,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(cfg.tls.clone());
    let mut session = Session::new(svc, cfg.clone(), implicit_tls, peer);
    if implicit_tls {
        let tls = tokio::time::timeout(cfg.handshake_timeout, acceptor.accept(tcp)).await??;
        session.card = confiance_auth::certificate::of_connection(tls.get_ref().1);
        drive(tls, &mut session, true).await?;
        return Ok(());
    }
    if let Exit::StartTls(tcp) = drive(tcp, &mut session, true).await? {
        let tls = tokio::time::timeout(cfg.handshake_timeout, acceptor.accept(tcp)).await??;
        session.tls = true;
        session.card = confiance_auth::certificate::of_connection(tls.get_ref().1);
        drive(tls, &mut session, false).await?;
    }
    Ok(())
}

/// RFC 7628 §3.2.2: a refused bearer token gets an error challenge (JSON, base64), the client
/// answers with a dummy `^A`, then the command fails. False when the client went away.
async fn oauth_refusal<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    timeout: Duration,
    session: &mut Session,
) -> std::io::Result<bool> {
    let Some(tag) = session.oauth_refused.take() else {
        return Ok(true);
    };
    let challenge = confiance_auth::sasl::encode_base64(confiance_auth::sasl::oauth_error_json().as_bytes());
    stream.write_all(format!("+ {challenge}\r\n").as_bytes()).await?;
    if read_line(stream, buf, timeout).await?.is_none() {
        return Ok(false);
    }
    let mut out = Vec::new();
    Session::oauth_refusal(&tag, &mut out);
    stream.write_all(&out).await?;
    Ok(true)
}

async fn read_more<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    timeout: Duration,
) -> std::io::Result<bool> {
    // Read straight into the buffer's spare room: no per-connection stack buffer lives in the
    // connection's future while it waits (1,000 idle clients cost what their state costs). A
    // command starts in a small room, which doubles while a literal comes in.
    buf.reserve(if buf.is_empty() { 1024 } else { 8 * 1024 });
    match tokio::time::timeout(timeout, stream.read_buf(buf)).await {
        Ok(Ok(0)) => Ok(false),
        Ok(Ok(_)) => Ok(true),
        Ok(Err(e)) => Err(e),
        Err(_) => Ok(false), // autologout (RFC 9051 §5.4)
    }
}

async fn drive<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    session: &mut Session,
    greet: bool,
) -> std::io::Result<Exit<S>> {
    let authenticated = Limits {
        max_literal: session.cfg.max_message_size,
        ..Limits::default()
    };
    // Before login nobody needs more than credentials (and an ID): small literals and commands,
    // so that anonymous connections cannot make the server hold megabytes each.
    let anonymous = Limits {
        max_literal: 8 * 1024,
        max_command: 96 * 1024,
        ..Limits::default()
    };
    if greet {
        stream.write_all(session.greeting().as_bytes()).await?;
    }
    let mut buf: Vec<u8> = Vec::new();
    let mut continuations = 0usize;
    loop {
        let limits = if session.account.is_some() {
            &authenticated
        } else {
            &anonymous
        };
        // Before login a client gets a short while to log in; after it, the autologout of
        // RFC 9051 §5.4 (at least 30 minutes).
        let timeout = if session.account.is_some() {
            session.cfg.autologout
        } else {
            session.cfg.login_timeout
        };
        if session.is_ended() {
            suspended(&mut stream).await;
            return Ok(Exit::Closed);
        }
        // A client gets three times the login timeout in all to log in (RFC 9051 §5.4 is
        // for logged-in clients).
        if session.account.is_none() && session.connected.elapsed() > session.cfg.login_timeout * 3 {
            let _ = stream
                .write_all(b"* BYE Connexion trop longue sans authentification / Too long without logging in\r\n")
                .await;
            let _ = stream.shutdown().await;
            return Ok(Exit::Closed);
        }
        match frame(&buf, continuations, limits) {
            Frame::Complete(n) => {
                let bytes: Vec<u8> = buf.drain(..n).collect();
                if buf.is_empty() && buf.capacity() > 4 * 1024 {
                    // Give back the room an APPEND took: idle sessions keep a small buffer.
                    buf.shrink_to(1024);
                }
                continuations = 0;
                let mut out = Vec::new();
                let control = match parse_command(&bytes) {
                    Ok(cmd) => session.handle(cmd, &mut out).await,
                    Err(e) => {
                        out.extend_from_slice(format!("{e}\r\n").as_bytes());
                        Control::Continue
                    }
                };
                while session.pending_fetch.is_some() {
                    stream.write_all(&out).await?;
                    out.clear();
                    session.resume(&mut out).await;
                }
                session.notifications(&mut out).await;
                stream.write_all(&out).await?;
                if !oauth_refusal(&mut stream, &mut buf, timeout, session).await? {
                    return Ok(Exit::Closed);
                }
                if session.closing {
                    stream.flush().await?;
                    let _ = stream.shutdown().await;
                    return Ok(Exit::Closed);
                }
                match control {
                    Control::Continue => {}
                    Control::Logout => {
                        stream.flush().await?;
                        let _ = stream.shutdown().await;
                        return Ok(Exit::Closed);
                    }
                    Control::StartTls => {
                        stream.flush().await?;
                        // Anything pipelined after STARTTLS was sent in clear: drop it
                        // (command injection defence, RFC 9051 §6.2.1).
                        return Ok(Exit::StartTls(stream));
                    }
                    Control::Idle(tag) => {
                        if !idle(&mut stream, &mut buf, session, &tag).await? {
                            return Ok(Exit::Closed);
                        }
                    }
                    Control::Authenticate(tag, mut exchange, mut challenge) => {
                        let out = loop {
                            let line = format!("+ {}\r\n", confiance_auth::sasl::encode_base64(&challenge));
                            stream.write_all(line.as_bytes()).await?;
                            let Some(line) = read_line(&mut stream, &mut buf, timeout).await? else {
                                return Ok(Exit::Closed);
                            };
                            let mut out = Vec::new();
                            let step = exchange.line(&line);
                            match session.authenticate(&mut out, &tag, *exchange, step).await {
                                Some((next, more)) => (exchange, challenge) = (Box::new(next), more),
                                None => break out,
                            }
                        };
                        stream.write_all(&out).await?;
                        if !oauth_refusal(&mut stream, &mut buf, timeout, session).await? {
                            return Ok(Exit::Closed);
                        }
                    }
                }
            }
            Frame::Incomplete { continuation } => {
                if continuation.is_some() {
                    stream.write_all(b"+ Ready for literal data\r\n").await?;
                    continuations += 1;
                }
                let more = tokio::select! {
                    more = read_more(&mut stream, &mut buf, timeout) => more?,
                    _ = session.ended() => {
                        suspended(&mut stream).await;
                        return Ok(Exit::Closed);
                    }
                };
                if !more {
                    if session.account.is_some() {
                        let _ = stream.write_all(b"* BYE Autologout\r\n").await;
                    }
                    return Ok(Exit::Closed);
                }
            }
            Frame::Error(FrameError::LiteralTooLarge {
                size,
                synchronizing: true,
                header_end,
            }) => {
                let tag = peek_tag(&buf).unwrap_or("*").to_string();
                let mut out = Vec::new();
                tagged(
                    &mut out,
                    &tag,
                    "NO",
                    &format!(
                        "[TOOBIG] The literal of {size} bytes exceeds the limit of {} bytes.",
                        limits.max_literal
                    ),
                );
                stream.write_all(&out).await?;
                buf.drain(..header_end);
                continuations = 0;
            }
            Frame::Error(e) => {
                let mut out = Vec::new();
                let reason = match e {
                    FrameError::LineTooLong => "Command line too long.",
                    FrameError::BadLiteral => "Invalid literal size.",
                    FrameError::LiteralTooLarge { .. } | FrameError::CommandTooLarge => "Command too large.",
                };
                untagged(&mut out, &format!("BYE {reason}"));
                stream.write_all(&out).await?;
                stream.flush().await?;
                // Let the client finish sending the rest of its line (up to a bound) so that it
                // reads the BYE instead of a connection reset.
                let mut discarded = 0usize;
                let mut chunk = vec![0u8; 64 * 1024];
                let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
                while discarded < 16 * 1024 * 1024 {
                    match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
                        Ok(Ok(n)) if n > 0 => {
                            discarded += n;
                            if chunk[..n].contains(&b'\n') {
                                break;
                            }
                        }
                        _ => break,
                    }
                }
                let _ = stream.shutdown().await;
                return Ok(Exit::Closed);
            }
        }
    }
}

/// Ends the session of an account that was suspended or deleted while it was open: its mail
/// is no longer to be read from here (issue 16, suspension on departure).
async fn suspended<S: AsyncWrite + Unpin>(stream: &mut S) {
    let _ = stream
        .write_all(b"* BYE [UNAVAILABLE] Boite aux lettres suspendue / Mailbox suspended\r\n")
        .await;
    let _ = stream.shutdown().await;
}

async fn read_line<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    timeout: Duration,
) -> std::io::Result<Option<Vec<u8>>> {
    loop {
        if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            return Ok(Some(line));
        }
        if buf.len() > 64 * 1024 || !read_more(stream, buf, timeout).await? {
            return Ok(None);
        }
    }
}

/// RFC 2177 IDLE: push changes until the client sends DONE. Returns false when the client left.
async fn idle<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    session: &mut Session,
    tag: &str,
) -> std::io::Result<bool> {
    stream.write_all(b"+ idling\r\n").await?;
    let mut out = Vec::new();
    session.refresh(&mut out, true).await;
    stream.write_all(&out).await?;
    // The session's own receiver, so that nothing seen here is reported again after IDLE.
    let mut changes = session.changes.take();
    let result = idle_loop(stream, buf, session, tag, &mut changes).await;
    session.changes = changes;
    result
}

async fn idle_loop<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    session: &mut Session,
    tag: &str,
    changes: &mut Option<tokio::sync::broadcast::Receiver<confiance_mail::model::FolderId>>,
) -> std::io::Result<bool> {
    let deadline = tokio::time::Instant::now() + session.cfg.autologout;
    loop {
        if let Some(pos) = buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buf.drain(..=pos).collect();
            let mut out = Vec::new();
            if line.trim_ascii().eq_ignore_ascii_case(b"DONE") {
                tagged(&mut out, tag, "OK", "IDLE terminated");
            } else {
                tagged(&mut out, tag, "BAD", "Expected DONE.");
            }
            stream.write_all(&out).await?;
            return Ok(true);
        }
        if buf.len() > 64 * 1024 {
            // Only DONE is expected during IDLE.
            stream.write_all(b"* BYE Expected DONE.\r\n").await?;
            return Ok(false);
        }
        buf.reserve(1024);
        tokio::select! {
            read = stream.read_buf(buf) => {
                if read? == 0 {
                    return Ok(false);
                }
            }
            changed = async {
                match changes.as_mut() {
                    Some(rx) => rx.recv().await.ok(),
                    None => std::future::pending().await,
                }
            } => {
                let mine = session.selected.as_ref().map(|s| s.id);
                let mut out = Vec::new();
                if changed.is_none() || changed == mine {
                    session.refresh(&mut out, true).await;
                } else if let (Some(id), Some(_)) = (changed, &session.notify) {
                    session.push_changed(&mut out, id).await;
                }
                stream.write_all(&out).await?;
                if session.closing {
                    return Ok(false);
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                stream.write_all(b"* BYE Autologout\r\n").await?;
                return Ok(false);
            }
            _ = session.ended() => {
                suspended(stream).await;
                return Ok(false);
            }
        }
    }
}
