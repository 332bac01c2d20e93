//! `confiance serve`: IMAP, SMTP submission, the inbound MX and the relay to the other
//! operators of the trust space.

use std::sync::Arc;
use std::time::Duration;

use confiance_directory::LiveDirectory;
use confiance_imap::ImapConfig;
use confiance_mail::MailService;
use confiance_smtp::relay::{RelayConfig, Route, Timeouts};
use confiance_smtp::{Outbound, Role, SmtpConfig};
use confiance_trust::{MtaTls, WhitelistSource};
use tokio::net::TcpListener;

use crate::config::Config;

pub fn run(config: Config) -> anyhow::Result<()> {
    if !crate::init::is_initialised(&config) {
        // A node joining a database that others already use gets their data directory; a first
        // start here would make a second PKI and demo accounts beside theirs.
        if crate::storage::Location::of(&config)?.is_shared() && !crate::storage::store(&config)?.accounts()?.is_empty()
        {
            anyhow::bail!(
                "cette base PostgreSQL sert déjà d'autres nœuds : copiez dans {} le data_dir du \
                 premier nœud (configuration et certificats), puis relancez",
                config.data_dir.display()
            );
        }
        crate::init::run(&config, true)?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(serve(config))
}

async fn bind(addr: std::net::SocketAddr, what: &str) -> anyhow::Result<TcpListener> {
    let l = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("impossible d'écouter sur {addr} pour {what} : {e}"))?;
    tracing::info!(%addr, "{what} listening");
    Ok(l)
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let files = confiance_net::raise_file_limit();
    tracing::info!(open_files = files, "file limit");
    let revocation = Arc::new(
        confiance_trust::Revocation::open(&config.trust.crls, &config.data_dir.join("trust/crls"))
            .map_err(|e| anyhow::anyhow!("trust.crls: {e}"))?,
    );
    // Cards (CPS) and organisation certificates of structures' software, asked for, not required.
    let client_cas: Vec<_> = config.cps_ca().into_iter().chain(config.organisations_ca()).collect();
    let tls = match client_cas.is_empty() {
        false => confiance_trust::tls::server_config_with_cards(
            &config.certificate(),
            &config.private_key(),
            &client_cas,
            revocation.clone(),
        )?,
        true => confiance_trust::server_config(&config.certificate(), &config.private_key())?,
    };
    let mta = MtaTls {
        chain: config.certificate(),
        key: config.private_key(),
        anchors: config.anchors(),
        crls: revocation.clone(),
    };
    let whitelist = Arc::new(open_whitelist(&config)?);
    let location = crate::storage::Location::of(&config)?;
    // The PostgreSQL client blocks (it runs a small runtime of its own): never on a worker.
    let store = tokio::task::block_in_place(|| crate::storage::store(&config))?;
    let traces = tokio::task::block_in_place(|| crate::audit::start(&config))
        .map_err(|e| anyhow::anyhow!("impossible d'ouvrir le journal des traces : {e}"))?;
    let retention_ms = config.traces.retention_ms();
    if retention_ms < 183 * 86_400_000 {
        tracing::warn!(retention = %config.traces.retention, "audit traces kept less than the six months ANS recommends");
    }
    let svc = MailService::new(
        store.clone(),
        tokio::task::block_in_place(|| crate::storage::blobs(&config))?,
    );
    let _other_nodes = match &location {
        crate::storage::Location::Postgres { url, .. } => Some(tokio::task::block_in_place(|| {
            crate::storage::listen(url, svc.clone(), store.clone())
        })?),
        crate::storage::Location::Embedded => None,
    };
    if !svc.owns_blobs() && !location.is_shared() {
        tracing::warn!(
            "another process owns {}: this one removes no message file",
            config.data_dir.join("blobs").display()
        );
    }
    let queue = tokio::task::block_in_place(|| crate::storage::queue(&config))
        .map_err(|e| anyhow::anyhow!("impossible d'ouvrir la file d'envoi : {e}"))?;
    let outbound = Arc::new(Outbound {
        queue,
        wake: tokio::sync::Notify::new(),
    });
    let (psc, sandbox) = crate::identity::psc(&config)?;
    let notifier = crate::identity::notifier(&config)?;
    let throttle = confiance_auth::throttle::Throttle::new(config.limits.throttle());
    let logins = Arc::new(confiance_auth::Logins::new(
        store.clone(),
        throttle.clone(),
        Some(psc.clone()),
        Duration::from_millis(500),
    ));
    let imap = Arc::new(ImapConfig {
        tls: tls.clone(),
        max_message_size: config.smtp.max_message_size,
        autologout: Duration::from_secs(config.imap.autologout_minutes * 60),
        handshake_timeout: Duration::from_secs(30),
        login_timeout: Duration::from_secs(config.limits.imap_login_seconds.clamp(1, 60)),
        limits: config.limits.connections(),
        logins: logins.clone(),
    });
    let sieve = Arc::new(confiance_managesieve::SieveConfig {
        tls: tls.clone(),
        handshake_timeout: Duration::from_secs(30),
        login_timeout: Duration::from_secs(config.limits.imap_login_seconds.clamp(1, 60)),
        idle_timeout: Duration::from_secs(config.imap.autologout_minutes * 60),
        limits: config.limits.connections(),
        logins: logins.clone(),
    });
    let smtp = Arc::new(SmtpConfig {
        tls,
        mx_tls: mta.server_config()?,
        whitelist: whitelist.clone(),
        outbound,
        hostname: config.hostname.clone(),
        domains: config.domains.clone(),
        postmaster: config.smtp.postmaster.as_ref().map(|p| p.trim().to_lowercase()),
        max_message_size: config.smtp.max_message_size,
        max_recipients: config.smtp.max_recipients,
        trusted_networks: config
            .smtp
            .trusted_networks
            .iter()
            .map(|n| n.parse().map_err(|e| anyhow::anyhow!("smtp.trusted_networks: {e}")))
            .collect::<anyhow::Result<_>>()?,
        // RFC 5321 §4.5.3.2: at least 5 minutes between commands.
        command_timeout: Duration::from_secs(300),
        handshake_timeout: Duration::from_secs(30),
        limits: config.limits.connections(),
        logins,
        app_rate: Arc::new(confiance_smtp::rate::StructureRate::new(
            config.smtp.app_messages_per_minute,
        )),
        patients: config.patients.domain(),
        patient_side: config.patients.serve_domain.is_some(),
    });
    let relay = Arc::new(RelayConfig {
        tls: mta.client_config()?,
        routes: config
            .relay
            .routes
            .iter()
            .map(|(domain, r)| {
                let route = Route {
                    host: r.host.to_lowercase(),
                    address: r.address,
                };
                (domain.to_lowercase(), route)
            })
            .collect(),
        port: config.relay.port,
        per_domain: config.relay.per_domain,
        retry: config
            .relay
            .retry_seconds
            .iter()
            .map(|s| Duration::from_secs(*s))
            .collect(),
        delay_notice: Duration::from_secs(config.relay.delay_notice_seconds),
        give_up: Duration::from_secs(config.relay.give_up_seconds),
        timeouts: Arc::new(Timeouts {
            connect: Duration::from_secs(30),
            command: Duration::from_secs(300),
            data: Duration::from_secs(600),
        }),
    });
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(confiance_smtp::relay::run(svc.clone(), smtp.clone(), relay));
    // Apart from the listeners' set, whose tasks end only when the server does.
    tokio::spawn(summarise_old_messages(svc.clone()));
    let every = Duration::from_secs(config.trust.refresh_seconds.max(1));
    tasks.spawn(refresh_whitelist(whitelist, every));
    let every = Duration::from_secs(config.trust.crl_refresh_seconds.max(60));
    tasks.spawn(refresh_crls(revocation, every));
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
    if let Some(addr) = config.imap.managesieve {
        tasks.spawn(confiance_managesieve::serve(
            bind(addr, "ManageSieve (STARTTLS)").await?,
            svc.clone(),
            sieve,
        ));
    }
    if let Some(addr) = config.smtp.submission {
        tasks.spawn(confiance_smtp::serve(
            bind(addr, "SMTP submission (STARTTLS)").await?,
            Role::Submission,
            false,
            svc.clone(),
            smtp.clone(),
        ));
    }
    if let Some(addr) = config.smtp.submissions {
        tasks.spawn(confiance_smtp::serve(
            bind(addr, "SMTP submissions (TLS)").await?,
            Role::Submission,
            true,
            svc.clone(),
            smtp.clone(),
        ));
    }
    if let Some(addr) = config.smtp.mx {
        tasks.spawn(confiance_smtp::serve(
            bind(addr, "SMTP MX (trust space, mutual TLS)").await?,
            Role::Mx,
            false,
            svc.clone(),
            smtp.clone(),
        ));
    }
    let directory =
        Arc::new(LiveDirectory::empty(crate::directory::snapshot_path(&config)).for_domains(&config.domains));
    let every = Duration::from_secs(config.directory.reload_seconds.max(1));
    tasks.spawn(reload_directory(directory.clone(), every));
    tasks.spawn(own_listings(directory.clone(), store.clone()));
    if let Some(addr) = config.web.listen {
        let clients = Arc::new(config.mail_clients());
        let accounts = crate::identity::accounts(
            &config,
            store.clone(),
            throttle.clone(),
            psc.clone(),
            sandbox,
            notifier.clone(),
            &clients,
        );
        let app = confiance_web::router(confiance_web::WebState {
            directory,
            accounts: Some(accounts),
            webmail: Some(Arc::new(confiance_web::webmail::Webmail {
                svc: svc.clone(),
                smtp: smtp.clone(),
                journal: Some(Arc::new(crate::proofs::Proofs {
                    traces: traces.clone(),
                    signer: crate::proofs::Signer::load(&config.certificate(), &config.private_key())
                        .map_err(|e| tracing::warn!(error = %e, "proofs of exchange will not be signed"))
                        .ok(),
                })),
            })),
            indicators: Some(Arc::new(crate::indicators::Console {
                store: store.clone(),
                traces: traces.clone(),
            })),
            clients,
        });
        let listener = bind(addr, "HTTPS (webmail, comptes, annuaire, API, FHIR)").await?;
        let connections = confiance_web::Connections {
            limits: config.limits.connections(),
            header_timeout: Duration::from_secs(config.limits.web_header_seconds.clamp(1, 10)),
            idle_timeout: Duration::from_secs(config.limits.web_idle_seconds.max(30)),
        };
        tasks.spawn(confiance_web::serve(listener, smtp.tls.clone(), app, connections));
    }
    let lead = crate::storage::Lead::of(&location)?;
    tasks.spawn(new_mail_notices(
        lead.clone(),
        store.clone(),
        notifier.clone(),
        Duration::from_secs(config.notify.new_mail_check_seconds.max(1)),
    ));
    tasks.spawn(purge_traces(traces, retention_ms));
    tasks.spawn(end_revoked_sessions(store.clone(), svc.clone()));
    tasks.spawn(housekeeping(
        lead,
        store,
        svc.clone(),
        notifier,
        lifecycle_rules(&config),
        config.accounts.idle_lock_minutes,
        (config.data_dir.clone(), config.accounts.archive_days),
    ));
    if config.smtp.postmaster.is_none() {
        tracing::warn!("no [smtp] postmaster: mail to postmaster@ reaches only a BAL of that name (RFC 5321 §4.5.1)");
    }
    tracing::info!(data_dir = %config.data_dir.display(), "Confiance ready");
    tokio::select! {
        _ = tasks.join_next() => anyhow::bail!("un service d'écoute s'est arrêté"),
        _ = tokio::signal::ctrl_c() => {
            tracing::info!("stopping");
            Ok(())
        }
    }
}

/// The notice's text: that a message arrived, in which BAL, and where to read it; each line
/// starts at the margin (a notice once carried 25 spaces of source indentation).
fn new_mail_notice(address: &str) -> String {
    format!(
        "Bonjour,\n\nVous avez reçu un nouveau message dans votre boîte aux lettres MSSanté {address}.\n\
         Consultez-le depuis votre webmail ou votre logiciel.\n\nConfiance MSSanté"
    )
}

/// Tells holders who asked for it, on their personal e-mail, that new mail arrived in their
/// INBOX — never what it is (no sender, no subject: health data stays in MSSanté). One notice
/// per check at most, every `every`; the first pass only notes where each INBOX stands.
async fn new_mail_notices(
    lead: crate::storage::Lead,
    store: Arc<dyn confiance_store::Store>,
    notifier: Arc<confiance_auth::notify::Notifier>,
    every: Duration,
) {
    let mut seen: std::collections::HashMap<i64, u32> = std::collections::HashMap::new();
    loop {
        if !lead.holds().await {
            // Another node sends them; what it sent is not this node's to send again later.
            seen.clear();
            tokio::time::sleep(every).await;
            continue;
        }
        let s = store.clone();
        let wanted = tokio::task::spawn_blocking(move || -> confiance_store::Result<Vec<_>> {
            let mut out = Vec::new();
            for account in s.accounts()? {
                let Some(to) = s
                    .profile(account.id)?
                    .filter(|p| p.notify_new_mail)
                    .and_then(|p| p.personal_email)
                else {
                    continue;
                };
                if let Some(inbox) = s.mailbox(account.id, "INBOX")? {
                    out.push((account.id.0, account.address, to, inbox.uidnext));
                }
            }
            Ok(out)
        })
        .await;
        if let Ok(Ok(wanted)) = wanted {
            for (id, address, to, uidnext) in wanted {
                if seen.insert(id, uidnext).is_some_and(|before| uidnext > before) {
                    let text = new_mail_notice(&address);
                    let _ = notifier
                        .email(&to, "Nouveau message dans votre BAL MSSanté", &text)
                        .await;
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}

pub fn lifecycle_rules(config: &Config) -> crate::lifecycle::Rules {
    crate::lifecycle::Rules {
        delete_after_days: config.accounts.inactivity_delete_days,
        notice_days: config.accounts.inactivity_notice_days.clone(),
    }
}

/// Every hour, from start: web sessions past their idle time are dropped, archives of deleted
/// BALs past their keeping time are removed, message files other processes left are removed,
/// and the inactivity sweep runs (CNIL AU-037 notices and deletions).
async fn housekeeping(
    lead: crate::storage::Lead,
    store: Arc<dyn confiance_store::Store>,
    svc: Arc<MailService>,
    notifier: Arc<confiance_auth::notify::Notifier>,
    rules: crate::lifecycle::Rules,
    idle_minutes: u64,
    archives: (std::path::PathBuf, u64),
) {
    loop {
        let now = chrono::Utc::now().timestamp();
        let s = store.clone();
        let before = now - idle_minutes as i64 * 60;
        if let Ok(Ok(n)) = tokio::task::spawn_blocking(move || s.sessions_expire(before)).await
            && n > 0
        {
            tracing::info!(sessions = n, "idle web sessions dropped");
        }
        // Archives of deleted BALs past their keeping time (file removal: off the workers).
        let (dir, days) = archives.clone();
        match tokio::task::spawn_blocking(move || crate::archives::purge(&dir, days, chrono::Utc::now())).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!("archive purge: {e}"),
            Err(e) => tracing::warn!("archive purge: {e}"),
        }
        // Message files a CLI command left while this server ran (see mail's `blobs`).
        match svc.collect_blobs().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(blobs = n, "message files left by other processes checked"),
            Err(e) => tracing::warn!("blob collection: {e}"),
        }
        // Once for the whole operator: each node would send every notice again.
        let lead_here = lead.holds().await;
        if lead_here {
            match svc.sweep_blobs().await {
                Ok(0) => {}
                Ok(n) => tracing::info!(blobs = n, "message bodies no message refers to removed"),
                Err(e) => tracing::warn!("blob sweep: {e}"),
            }
        }
        let sweep = match lead_here {
            true => Some(crate::lifecycle::sweep(store.clone(), &svc, &notifier, &rules, now).await),
            false => None,
        };
        match sweep.unwrap_or_else(|| Ok(Default::default())) {
            Ok(s) if !s.notified.is_empty() || !s.deleted.is_empty() => {
                tracing::info!(
                    notified = s.notified.len(),
                    deleted = s.deleted.len(),
                    "inactivity sweep"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::warn!("inactivity sweep: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

/// Ends the open IMAP and SMTP sessions of the accounts suspended or deleted since the last
/// look, by this process or another (a CLI command, the console, another node): every second.
async fn end_revoked_sessions(store: Arc<dyn confiance_store::Store>, svc: Arc<MailService>) {
    let s = store.clone();
    let mut seen = match tokio::task::spawn_blocking(move || s.last_revocation()).await {
        Ok(Ok(seq)) => seq,
        _ => 0,
    };
    loop {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let s = store.clone();
        // With the address of each account that still exists, for the trace.
        let revoked = tokio::task::spawn_blocking(move || -> confiance_store::Result<Vec<_>> {
            let revoked = s.revocations_since(seen)?;
            let named = revoked
                .iter()
                .map(|(_, id)| s.account(*id).ok().flatten().map(|a| a.address));
            Ok(named.zip(revoked.iter().copied()).collect())
        });
        let Ok(Ok(revoked)) = revoked.await else { continue };
        for (address, (seq, account)) in revoked {
            seen = seq;
            svc.end_sessions(account);
            tracing::info!(target: "audit", event = "sessions_ended", account = address.as_deref().unwrap_or(""),
                account_id = account.0, reason = "suspended or deleted");
        }
    }
}

/// Removes the audit traces past their retention: every hour, or four times within a
/// retention shorter than four hours.
async fn purge_traces(traces: Arc<dyn confiance_store::Traces>, retention_ms: i64) {
    let every = Duration::from_millis((retention_ms / 4).clamp(1_000, 3_600_000) as u64);
    loop {
        let before = chrono::Utc::now().timestamp_millis() - retention_ms;
        let t = traces.clone();
        match tokio::task::spawn_blocking(move || t.purge(before)).await {
            Ok(Ok(0)) => {}
            Ok(Ok(n)) => tracing::info!(traces = n, "audit traces past their retention purged"),
            Ok(Err(e)) => tracing::warn!("audit trace purge: {e}"),
            Err(e) => tracing::warn!("audit trace purge: {e}"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Loads the directory snapshot in the background (a national one takes seconds to index;
/// the API answers 503 meanwhile), then picks up each new import.
async fn reload_directory(directory: Arc<LiveDirectory>, every: Duration) {
    loop {
        let d = directory.clone();
        match tokio::task::spawn_blocking(move || d.refresh()).await {
            Ok(Ok(true)) => tracing::info!("directory snapshot loaded"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!("directory snapshot not loaded, the previous one stays: {e}"),
            Err(e) => tracing::warn!("directory reload failed: {e}"),
        }
        tokio::time::sleep(every).await;
    }
}

/// Our own BAL in the directory, from the accounts' listings: read every few seconds, so a
/// mailbox put on the liste rouge disappears from every answer almost at once.
/// Messages stored before the webmail's summaries existed get theirs, once, in the background.
async fn summarise_old_messages(svc: Arc<MailService>) {
    match svc.summarise_missing().await {
        Ok(0) => {}
        Ok(n) => tracing::info!(messages = n, "webmail: summaries of older messages made"),
        Err(e) => tracing::warn!("webmail: summaries of older messages not made: {e}"),
    }
}

async fn own_listings(directory: Arc<LiveDirectory>, store: Arc<dyn confiance_store::Store>) {
    loop {
        let (d, s) = (directory.clone(), store.clone());
        match tokio::task::spawn_blocking(move || crate::listing::own(&*s).map(|(p, r)| d.set_own(p, r))).await {
            Ok(Ok(true)) => tracing::info!("directory: own mailboxes updated"),
            Ok(Ok(false)) => {}
            Ok(Err(e)) => tracing::warn!("directory listings not read: {e}"),
            Err(e) => tracing::warn!("directory listings task failed: {e}"),
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// The whitelist in force. Without a configured one, a development list binds this operator's
/// own domains to its own certificate, so a fresh `serve` is a trust space of one.
fn open_whitelist(config: &Config) -> anyhow::Result<WhitelistSource> {
    let source = config.whitelist();
    if config.trust.whitelist.is_none() && !std::path::Path::new(&source).exists() {
        let chain = confiance_trust::tls::load_chain(&config.certificate())?;
        let dn = confiance_trust::subject_dn(&chain[0]).map_err(|e| anyhow::anyhow!("notre certificat : {e}"))?;
        let entries: Vec<_> = config
            .domains
            .iter()
            .map(|d| confiance_trust::whitelist::WhitelistEntry {
                domain: d.clone(),
                description: config.operator.clone(),
                dn: dn.to_string(),
            })
            .collect();
        let generated = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
        if let Some(dir) = std::path::Path::new(&source).parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&source, confiance_trust::whitelist::to_xml(&generated, &entries))?;
    }
    let (list, loaded) = WhitelistSource::open(
        &source,
        config.trust.whitelist_ca.as_deref(),
        &config.whitelist_last_good(),
    )
    .map_err(|e| anyhow::anyhow!("liste blanche : {e}"))?;
    tracing::info!(source = %source, generated = ?loaded.generated, domains = loaded.domains,
        certificates = loaded.dns, problems = loaded.problems, "whitelist loaded");
    Ok(list)
}

async fn refresh_whitelist(list: Arc<WhitelistSource>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let l = list.clone();
        match tokio::task::spawn_blocking(move || l.refresh()).await {
            Ok(Ok(loaded)) => tracing::info!(generated = ?loaded.generated, domains = loaded.domains,
                certificates = loaded.dns, problems = loaded.problems, "whitelist refreshed"),
            Ok(Err(e)) => tracing::warn!(target: "audit", event = "whitelist_refresh_failed", error = %e,
                "whitelist refresh failed; the list in force is kept"),
            Err(e) => tracing::error!(error = %e, "whitelist refresh task failed"),
        }
    }
}

/// Reads the CRLs again on schedule and before their nextUpdate (see `trust::revocation`).
async fn refresh_crls(revocation: Arc<confiance_trust::Revocation>, every: Duration) {
    loop {
        tokio::time::sleep(revocation.next_reading(every)).await;
        let r = revocation.clone();
        let Ok(done) = tokio::task::spawn_blocking(move || r.refresh()).await else {
            continue;
        };
        if done.renewed > 0 {
            tracing::info!(renewed = done.renewed, "CRLs renewed");
        }
        for failure in &done.failures {
            tracing::warn!(target: "audit", event = "crl_refresh_failed", error = %failure,
                "CRL not read again; the one in force stays");
        }
        for source in &done.stale {
            tracing::error!(target: "audit", event = "crl_stale", source = %source,
                "CRL past its nextUpdate: the certificates it covers are refused until a fresh one is read");
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_new_mail_notice_has_no_stray_indentation() {
        let text = super::new_mail_notice("jean.dupont@medecin.confiance.test");
        assert!(
            text.lines().all(|l| !l.starts_with(' ') && !l.ends_with(' ')),
            "{text:?}"
        );
        assert!(text.contains("MSSanté jean.dupont@medecin.confiance.test.\nConsultez-le"));
    }
}
