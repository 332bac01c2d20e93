//! Configuration (TOML). Every key has a default, so an empty file — or none — runs a
//! development operator on loopback ports; `confiance.example.toml` documents each key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the database, blobs and certificates live.
    pub data_dir: PathBuf,
    /// Host name in greetings, Received: fields and the server certificate.
    pub hostname: String,
    /// Operator name in certificate subjects.
    pub operator: String,
    /// Mail domains hosted by this operator.
    pub domains: Vec<String>,
    pub imap: ImapSection,
    pub smtp: SmtpSection,
    pub tls: TlsSection,
    pub storage: StorageSection,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImapSection {
    /// IMAP with STARTTLS (RFC 9051; production: 0.0.0.0:143). Empty to disable.
    pub listen: Option<SocketAddr>,
    /// IMAP over implicit TLS (RFC 8314; production: 0.0.0.0:993).
    pub listen_tls: Option<SocketAddr>,
    /// Minutes of inactivity before autologout (RFC 9051 §5.4: at least 30).
    pub autologout_minutes: u64,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpSection {
    /// Submission with STARTTLS (RFC 6409; production: 0.0.0.0:587).
    pub submission: Option<SocketAddr>,
    /// Submission over implicit TLS (RFC 8314; production: 0.0.0.0:465).
    pub submissions: Option<SocketAddr>,
    /// Largest message, in bytes (SIZE, RFC 1870). 25 MB lets 10 MB attachments through
    /// after base64 (+37 %).
    pub max_message_size: u64,
    pub max_recipients: usize,
    /// Networks (CIDR) whose clients may submit without TLS or AUTH and with any sender: a
    /// local application server, a benchmark. Empty by default; never a public network.
    pub trusted_networks: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSection {
    /// PEM chain (leaf first) and key; default: the development PKI under data_dir/tls.
    pub certificate: Option<PathBuf>,
    pub private_key: Option<PathBuf>,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSection {
    /// Flush every accepted message to disk before answering (never turn off in production).
    pub fsync: bool,
    /// Default quota of a new account, in bytes.
    pub default_quota: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            data_dir: PathBuf::from("data"),
            hostname: "mail.confiance.test".into(),
            operator: "CONFIANCE DEV".into(),
            domains: vec!["medecin.confiance.test".into(), "pro.confiance.test".into()],
            imap: ImapSection::default(),
            smtp: SmtpSection::default(),
            tls: TlsSection::default(),
            storage: StorageSection::default(),
        }
    }
}

impl Default for ImapSection {
    fn default() -> Self {
        ImapSection {
            listen: Some("127.0.0.1:1143".parse().expect("valid")),
            listen_tls: Some("127.0.0.1:1993".parse().expect("valid")),
            autologout_minutes: 30,
        }
    }
}

impl Default for SmtpSection {
    fn default() -> Self {
        SmtpSection {
            submission: Some("127.0.0.1:1587".parse().expect("valid")),
            submissions: Some("127.0.0.1:1465".parse().expect("valid")),
            max_message_size: 25 * 1000 * 1000,
            max_recipients: 100,
            trusted_networks: Vec::new(),
        }
    }
}

impl Default for StorageSection {
    fn default() -> Self {
        StorageSection {
            fsync: true,
            default_quota: 2 * 1024 * 1024 * 1024,
        }
    }
}

impl Config {
    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let Some(path) = path else { return Ok(Config::default()) };
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("cannot read the configuration {}: {e}", path.display()))?;
        let config: Config =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("invalid configuration {}: {e}", path.display()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.domains.is_empty() {
            anyhow::bail!("`domains` must list at least one hosted mail domain");
        }
        for d in &self.domains {
            if !confiance_core::address::is_hostname(d) {
                anyhow::bail!("`domains`: {d:?} is not a valid domain name");
            }
        }
        if self.imap.autologout_minutes < 30 {
            anyhow::bail!("`imap.autologout_minutes` must be at least 30 (RFC 9051 §5.4)");
        }
        Ok(())
    }

    pub fn certificate(&self) -> PathBuf {
        self.tls
            .certificate
            .clone()
            .unwrap_or_else(|| confiance_trust::DevPki::paths(&self.data_dir).server_chain)
    }

    pub fn private_key(&self) -> PathBuf {
        self.tls
            .private_key
            .clone()
            .unwrap_or_else(|| confiance_trust::DevPki::paths(&self.data_dir).server_key)
    }
}
