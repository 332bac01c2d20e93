//! The client side of a relay hop (RFC 5321): connect to the peer operator's MX, STARTTLS with
//! our certificate (mandatory: a peer without it is never sent health data), check that its
//! certificate's DN is listed for the recipient domain, then one transaction per message over
//! the same connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Why a hop did not go through: `temporary` failures are retried (RFC 5321 §4.2.1 4yz).
#[derive(Debug, Clone)]
pub struct Failure {
    pub temporary: bool,
    /// Enhanced status code (RFC 3463) and the reply or reason.
    pub status: String,
    pub text: String,
}

impl Failure {
    pub fn temporary(status: &str, text: impl Into<String>) -> Failure {
        Failure {
            temporary: true,
            status: status.into(),
            text: text.into(),
        }
    }

    pub fn permanent(status: &str, text: impl Into<String>) -> Failure {
        Failure {
            temporary: false,
            status: status.into(),
            text: text.into(),
        }
    }

    fn of(reply: &Reply) -> Failure {
        Failure {
            temporary: reply.code < 500,
            status: reply.status(),
            text: reply.text.clone(),
        }
    }
}

/// A reply: its code and its lines joined.
#[derive(Debug, Clone)]
pub struct Reply {
    pub code: u16,
    pub text: String,
}

impl Reply {
    /// The enhanced status code of the reply, or one derived from the basic code.
    pub fn status(&self) -> String {
        let first = self.text.split_whitespace().next().unwrap_or("");
        let looks_enhanced = first.split('.').count() == 3 && first.split('.').all(|p| p.parse::<u16>().is_ok());
        if looks_enhanced {
            first.to_string()
        } else {
            format!("{}.0.0", self.code / 100)
        }
    }
}

pub struct Timeouts {
    pub connect: Duration,
    pub command: Duration,
    /// After the final dot (RFC 5321 §4.5.3.2.6: 10 minutes).
    pub data: Duration,
}

/// An open, verified hop to a peer operator.
pub struct Hop {
    stream: BufReader<TlsStream<TcpStream>>,
    pub host: String,
    pub address: SocketAddr,
    /// Subject of the peer's certificate.
    pub peer_dn: confiance_trust::dn::Dn,
    /// Protocol version and cipher suite.
    pub tls: String,
    /// The peer offers DSN (RFC 3461): NOTIFY and ORCPT go along, and it reports itself.
    pub dsn: bool,
    pub size_limit: Option<u64>,
    pub smtputf8: bool,
    timeouts: Arc<Timeouts>,
}

async fn read_reply<S: AsyncRead + Unpin>(stream: &mut BufReader<S>, timeout: Duration) -> Result<Reply, Failure> {
    let mut text = Vec::new();
    loop {
        let mut line = String::new();
        let n = tokio::time::timeout(timeout, stream.read_line(&mut line))
            .await
            .map_err(|_| Failure::temporary("4.4.2", "timeout waiting for the peer's reply"))?
            .map_err(|e| Failure::temporary("4.4.2", format!("connection lost: {e}")))?;
        if n == 0 {
            return Err(Failure::temporary("4.4.2", "connection closed by the peer"));
        }
        let line = line.trim_end();
        let code = line.get(..3).and_then(|c| c.parse::<u16>().ok());
        let Some(code) = code.filter(|c| (200..600).contains(c)) else {
            return Err(Failure::temporary(
                "4.5.0",
                format!("malformed reply from the peer: {line:?}"),
            ));
        };
        text.push(line.get(4..).unwrap_or("").to_string());
        if line.as_bytes().get(3) != Some(&b'-') {
            return Ok(Reply {
                code,
                text: text.join(" "),
            });
        }
        if text.len() > 100 {
            return Err(Failure::temporary("4.5.0", "endless multi-line reply"));
        }
    }
}

async fn command<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut BufReader<S>,
    line: &str,
    timeout: Duration,
) -> Result<Reply, Failure> {
    stream
        .get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .await
        .map_err(|e| Failure::temporary("4.4.2", format!("connection lost: {e}")))?;
    read_reply(stream, timeout).await
}

fn expect(reply: Reply, what: &str) -> Result<Reply, Failure> {
    if (200..400).contains(&reply.code) {
        Ok(reply)
    } else {
        let mut f = Failure::of(&reply);
        f.text = format!("{what}: {} {}", reply.code, reply.text);
        Err(f)
    }
}

impl Hop {
    /// Connects, says EHLO, starts TLS with our certificate and verifies the peer's chain for
    /// `host`. The caller checks the DN against the whitelist.
    pub async fn open(
        tls: Arc<rustls::ClientConfig>,
        host: &str,
        address: SocketAddr,
        our_name: &str,
        timeouts: Arc<Timeouts>,
    ) -> Result<Hop, Failure> {
        let tcp = tokio::time::timeout(timeouts.connect, TcpStream::connect(address))
            .await
            .map_err(|_| Failure::temporary("4.4.1", format!("no answer from {host} ({address})")))?
            .map_err(|e| Failure::temporary("4.4.1", format!("cannot connect to {host} ({address}): {e}")))?;
        let _ = tcp.set_nodelay(true);
        let mut plain = BufReader::new(tcp);
        expect(read_reply(&mut plain, timeouts.command).await?, "greeting")?;
        let ehlo = expect(
            command(&mut plain, &format!("EHLO {our_name}"), timeouts.command).await?,
            "EHLO",
        )?;
        if !ehlo.text.split(' ').any(|w| w.eq_ignore_ascii_case("STARTTLS")) {
            return Err(Failure::temporary(
                "4.7.4",
                format!("{host} does not offer STARTTLS: MSSanté mail never travels in clear"),
            ));
        }
        expect(command(&mut plain, "STARTTLS", timeouts.command).await?, "STARTTLS")?;
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| Failure::permanent("5.1.2", format!("{host} is not a valid host name")))?;
        let tcp = plain.into_inner();
        let stream = tokio::time::timeout(timeouts.command, TlsConnector::from(tls).connect(name, tcp))
            .await
            .map_err(|_| Failure::temporary("4.4.2", format!("TLS handshake with {host} timed out")))?
            .map_err(|e| {
                // A certificate that does not verify is not a passing glitch, but it may be
                // fixed by the peer: retried, and reported to the sender if it lasts.
                Failure::temporary("4.7.5", format!("TLS with {host} failed: {e}"))
            })?;
        let conn = stream.get_ref().1;
        let tls_text = format!(
            "{} {}",
            conn.protocol_version().map(|v| format!("{v:?}")).unwrap_or_default(),
            conn.negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_default()
        );
        let peer_dn = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or_else(|| Failure::temporary("4.7.5", format!("{host} presented no certificate")))
            .and_then(|c| {
                confiance_trust::subject_dn(c).map_err(|e| Failure::temporary("4.7.5", format!("{host}: {e}")))
            })?;
        let mut stream = BufReader::new(stream);
        // RFC 3207 §4.2: EHLO again; what was said in clear is forgotten.
        let ehlo = expect(
            command(&mut stream, &format!("EHLO {our_name}"), timeouts.command).await?,
            "EHLO after STARTTLS",
        )?;
        let words: Vec<String> = ehlo.text.split(' ').map(|w| w.to_ascii_uppercase()).collect();
        let size_limit = words
            .iter()
            .position(|w| w == "SIZE")
            .and_then(|i| words.get(i + 1))
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|v| *v > 0);
        Ok(Hop {
            stream,
            host: host.to_string(),
            address,
            peer_dn,
            tls: tls_text,
            dsn: words.iter().any(|w| w == "DSN"),
            smtputf8: words.iter().any(|w| w == "SMTPUTF8"),
            size_limit,
            timeouts,
        })
    }

    /// One transaction. `Err` for a failure of the whole transaction; otherwise the reply to
    /// each RCPT, then the reply to the final dot for those accepted.
    pub async fn send(&mut self, envelope: &Outgoing<'_>) -> Result<Vec<Result<Reply, Failure>>, Failure> {
        let t = self.timeouts.command;
        if let Some(limit) = self.size_limit
            && envelope.body.len() as u64 > limit
        {
            return Err(Failure::permanent(
                "5.3.4",
                format!(
                    "{} accepts messages up to {limit} bytes; this one is {}",
                    self.host,
                    envelope.body.len()
                ),
            ));
        }
        let mut mail = format!("MAIL FROM:<{}> SIZE={}", envelope.sender, envelope.body.len());
        if self.dsn {
            mail.push_str(if envelope.ret_full { " RET=FULL" } else { " RET=HDRS" });
            if let Some(envid) = envelope.envid {
                mail.push_str(&format!(" ENVID={envid}"));
            }
        }
        if self.smtputf8 && !envelope.sender.is_ascii() {
            mail.push_str(" SMTPUTF8");
        }
        expect(command(&mut self.stream, &mail, t).await?, "MAIL FROM")?;
        let mut replies = Vec::with_capacity(envelope.recipients.len());
        for r in envelope.recipients {
            let mut line = format!("RCPT TO:<{}>", r.address);
            if self.dsn {
                if let Some(notify) = &r.notify {
                    line.push_str(&format!(" NOTIFY={notify}"));
                }
                if let Some(orcpt) = &r.orcpt {
                    line.push_str(&format!(" ORCPT={orcpt}"));
                }
            }
            let reply = command(&mut self.stream, &line, t).await?;
            replies.push(expect(reply, "RCPT TO"));
        }
        if replies.iter().all(|r| r.is_err()) {
            let _ = command(&mut self.stream, "RSET", t).await;
            return Ok(replies);
        }
        expect(command(&mut self.stream, "DATA", t).await?, "DATA")?;
        self.write_body(envelope.body).await?;
        let end = read_reply(&mut self.stream, self.timeouts.data).await?;
        let end = expect(end, "end of data");
        Ok(replies
            .into_iter()
            .map(|r| match r {
                Ok(_) => end.clone(),
                Err(f) => Err(f),
            })
            .collect())
    }

    /// The message with dot-stuffing (RFC 5321 §4.5.2) and the final dot.
    async fn write_body(&mut self, body: &[u8]) -> Result<(), Failure> {
        let mut out = Vec::with_capacity(body.len() + body.len() / 64 + 5);
        for line in body.split_inclusive(|b| *b == b'\n') {
            if line.first() == Some(&b'.') {
                out.push(b'.');
            }
            out.extend_from_slice(line);
        }
        if !out.ends_with(b"\r\n") {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        self.stream
            .get_mut()
            .write_all(&out)
            .await
            .map_err(|e| Failure::temporary("4.4.2", format!("connection lost during data: {e}")))
    }

    /// Ends the session politely.
    pub async fn quit(mut self) {
        let _ = command(&mut self.stream, "QUIT", self.timeouts.command).await;
        let _ = self.stream.get_mut().shutdown().await;
    }

    /// Between two messages on a kept connection.
    pub async fn reset(&mut self) -> Result<(), Failure> {
        expect(command(&mut self.stream, "RSET", self.timeouts.command).await?, "RSET").map(|_| ())
    }
}

/// One message to send over a hop.
pub struct Outgoing<'a> {
    pub sender: &'a str,
    pub envid: Option<&'a str>,
    pub ret_full: bool,
    pub recipients: &'a [confiance_mail::queue::QueuedRecipient],
    pub body: &'a [u8],
}

#[cfg(test)]
mod tests {
    use super::Reply;

    #[test]
    fn enhanced_status_of_a_reply() {
        let r = Reply {
            code: 550,
            text: "5.7.1 Relaying denied".into(),
        };
        assert_eq!(r.status(), "5.7.1");
        let r = Reply {
            code: 451,
            text: "try later".into(),
        };
        assert_eq!(r.status(), "4.0.0");
    }
}
