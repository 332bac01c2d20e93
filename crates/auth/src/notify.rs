//! Messages to professionals outside MSSanté: one-time codes, new-mail notices and inactivity
//! notices, to the personal e-mail (through an SMTP relay) or the mobile (through an HTTP SMS
//! gateway). Without either, they go to a development outbox that the sandbox shows.
//! Never any mail content: only that something arrived, or a code.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("the SMTP relay {relay} cannot be reached: {error}")]
    Unreachable { relay: String, error: String },
    #[error("the SMTP relay refused the message: {0}")]
    Refused(String),
    #[error("the SMS gateway refused the message: {0}")]
    Sms(String),
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct OutboxEntry {
    pub at: i64,
    pub channel: &'static str,
    pub to: String,
    pub subject: String,
    pub text: String,
}

pub struct Notifier {
    smtp_relay: Option<String>,
    from: String,
    sms_gateway: Option<(String, Option<String>)>,
    http: reqwest::Client,
    outbox: Mutex<VecDeque<OutboxEntry>>,
}

/// The development outbox keeps the last messages only.
const OUTBOX_SIZE: usize = 200;

/// RFC 2047 encoded-word for a UTF-8 header value.
fn encode_header(text: &str) -> String {
    if text.is_ascii() {
        return text.to_string();
    }
    use base64::Engine;
    format!("=?UTF-8?B?{}?=", base64::engine::general_purpose::STANDARD.encode(text))
}

impl Notifier {
    /// `extra_roots`: CAs (DER) trusted for the SMS gateway besides the public web roots.
    pub fn new(
        smtp_relay: Option<String>,
        from: String,
        sms_gateway: Option<(String, Option<String>)>,
        extra_roots: &[Vec<u8>],
    ) -> Result<Notifier, String> {
        Ok(Notifier {
            smtp_relay,
            from,
            sms_gateway,
            http: crate::http::client(extra_roots)?,
            outbox: Mutex::new(VecDeque::new()),
        })
    }

    fn keep(&self, channel: &'static str, to: &str, subject: &str, text: &str) {
        let mut outbox = self.outbox.lock().unwrap_or_else(|e| e.into_inner());
        if outbox.len() == OUTBOX_SIZE {
            outbox.pop_front();
        }
        outbox.push_back(OutboxEntry {
            at: crate::now(),
            channel,
            to: to.to_string(),
            subject: subject.to_string(),
            text: text.to_string(),
        });
    }

    /// Newest first.
    pub fn outbox(&self) -> Vec<OutboxEntry> {
        let outbox = self.outbox.lock().unwrap_or_else(|e| e.into_inner());
        outbox.iter().rev().cloned().collect()
    }

    pub async fn email(&self, to: &str, subject: &str, text: &str) -> Result<(), NotifyError> {
        let Some(relay) = &self.smtp_relay else {
            self.keep("e-mail", to, subject, text);
            return Ok(());
        };
        let result = tokio::time::timeout(Duration::from_secs(30), self.send_smtp(relay, to, subject, text))
            .await
            .unwrap_or_else(|_| Err(NotifyError::Refused("timed out".into())));
        match &result {
            Ok(()) => tracing::info!(target: "audit", event = "notice_sent", channel = "e-mail", to),
            Err(e) => tracing::warn!(target: "audit", event = "notice_failed", channel = "e-mail", to, error = %e),
        }
        result
    }

    pub async fn sms(&self, to: &str, text: &str) -> Result<(), NotifyError> {
        let Some((url, token)) = &self.sms_gateway else {
            self.keep("SMS", to, "", text);
            return Ok(());
        };
        let mut request = self.http.post(url).json(&serde_json::json!({"to": to, "text": text}));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let result = match request.send().await {
            Ok(r) if r.status().is_success() => Ok(()),
            Ok(r) => Err(NotifyError::Sms(format!("HTTP {}", r.status()))),
            Err(e) => Err(NotifyError::Sms(e.to_string())),
        };
        match &result {
            Ok(()) => tracing::info!(target: "audit", event = "notice_sent", channel = "sms", to),
            Err(e) => tracing::warn!(target: "audit", event = "notice_failed", channel = "sms", to, error = %e),
        }
        result
    }

    /// A plain SMTP exchange with the relay (RFC 5321), which must be local or on a trusted
    /// network: it carries no credentials and the message holds no health data.
    async fn send_smtp(&self, relay: &str, to: &str, subject: &str, text: &str) -> Result<(), NotifyError> {
        let stream = TcpStream::connect(relay).await.map_err(|e| NotifyError::Unreachable {
            relay: relay.to_string(),
            error: e.to_string(),
        })?;
        let (read, mut write) = stream.into_split();
        let mut read = BufReader::new(read);
        async fn reply(read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>, want: u8) -> Result<(), NotifyError> {
            let mut line = String::new();
            loop {
                line.clear();
                if read
                    .read_line(&mut line)
                    .await
                    .map_err(|e| NotifyError::Refused(e.to_string()))?
                    == 0
                {
                    return Err(NotifyError::Refused("connection closed".into()));
                }
                if line.len() < 4 || line.as_bytes()[3] != b'-' {
                    break;
                }
            }
            if line.as_bytes().first() == Some(&want) {
                Ok(())
            } else {
                Err(NotifyError::Refused(line.trim_end().to_string()))
            }
        }
        let io = |e: std::io::Error| NotifyError::Refused(e.to_string());
        reply(&mut read, b'2').await?;
        let host = self.from.rsplit('@').next().unwrap_or("localhost");
        for (command, want) in [
            (format!("EHLO {host}\r\n"), b'2'),
            (format!("MAIL FROM:<{}>\r\n", self.from), b'2'),
            (format!("RCPT TO:<{to}>\r\n"), b'2'),
            ("DATA\r\n".to_string(), b'3'),
        ] {
            write.write_all(command.as_bytes()).await.map_err(io)?;
            reply(&mut read, want).await?;
        }
        let date = chrono::Utc::now().to_rfc2822();
        let id = hex::encode(crate::otp::random_bytes::<12>());
        let mut message = format!(
            "From: Confiance MSSanté <{}>\r\nTo: <{to}>\r\nSubject: {}\r\nDate: {date}\r\nMessage-ID: <{id}@{host}>\r\n\
             MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\
             Auto-Submitted: auto-generated\r\n\r\n",
            self.from,
            encode_header(subject)
        );
        for line in text.lines() {
            // RFC 5321 §4.5.2: a leading dot is doubled.
            if line.starts_with('.') {
                message.push('.');
            }
            message.push_str(line);
            message.push_str("\r\n");
        }
        message.push_str(".\r\n");
        write.write_all(message.as_bytes()).await.map_err(io)?;
        reply(&mut read, b'2').await?;
        let _ = write.write_all(b"QUIT\r\n").await;
        Ok(())
    }
}
