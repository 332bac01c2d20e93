//! `confiance serve`: IMAP and SMTP submission on the configured addresses.

use std::sync::Arc;
use std::time::Duration;

use confiance_imap::ImapConfig;
use confiance_mail::MailService;
use confiance_smtp::SmtpConfig;
use tokio::net::TcpListener;

use crate::config::Config;

pub fn run(config: Config) -> anyhow::Result<()> {
    if !crate::init::is_initialised(&config) {
        crate::init::run(&config, true)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(config))
}

async fn bind(addr: std::net::SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    let l = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} for {what}: {e}"))?;
    tracing::info!(%addr, "{what} listening");
    Ok(l)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let tls = confiance_trust::server_config(&config.certificate(), &config.private_key())?;
    let svc = MailService::open(&config.data_dir, config.storage.fsync)?;
    let imap = Arc::new(ImapConfig {
        tls: tls.clone(),
        max_message_size: config.smtp.max_message_size,
        auth_failure_delay: Duration::from_millis(500),
        autologout: Duration::from_secs(config.imap.autologout_minutes * 60),
        handshake_timeout: Duration::from_secs(30),
    });
    let smtp = Arc::new(SmtpConfig {
        tls,
        hostname: config.hostname.clone(),
        domains: config.domains.clone(),
        max_message_size: config.smtp.max_message_size,
        max_recipients: config.smtp.max_recipients,
        trusted_networks: config
            .smtp
            .trusted_networks
            .iter()
            .map(|n| n.parse().map_err(|e| anyhow::anyhow!("smtp.trusted_networks: {e}")))
            .collect::<anyhow::Result<_>>()?,
        auth_failure_delay: Duration::from_millis(500),
        // RFC 5321 §4.5.3.2: at least 5 minutes between commands.
        command_timeout: Duration::from_secs(300),
        handshake_timeout: Duration::from_secs(30),
    });
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(addr) = config.imap.listen {
        tasks.spawn(confiance_imap::serve(
            bind(addr, "IMAP (STARTTLS)").await?,
            false,
            svc.clone(),
            imap.clone(),
        ));
    }
    if let Some(addr) = config.imap.listen_tls {
        tasks.spawn(confiance_imap::serve(
            bind(addr, "IMAPS").await?,
            true,
            svc.clone(),
            imap.clone(),
        ));
    }
    if let Some(addr) = config.smtp.submission {
        tasks.spawn(confiance_smtp::serve(
            bind(addr, "SMTP submission (STARTTLS)").await?,
            false,
            svc.clone(),
            smtp.clone(),
        ));
    }
    if let Some(addr) = config.smtp.submissions {
        tasks.spawn(confiance_smtp::serve(
            bind(addr, "SMTP submissions (TLS)").await?,
            true,
            svc.clone(),
            smtp.clone(),
        ));
    }
    tracing::info!(data_dir = %config.data_dir.display(), "Confiance ready");
    tokio::select! {
        _ = tasks.join_next() => anyhow::bail!("a listener stopped"),
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("stopping");
            Ok(())
        }
    }
}
