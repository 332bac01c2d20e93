//! Configuration (TOML). Every key has a default, so an empty file — or none — runs a
//! development operator on loopback ports; `confiance.example.toml` documents each key.

use std::collections::HashMap;
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
    pub trust: TrustSection,
    pub relay: RelaySection,
    pub storage: StorageSection,
    pub web: WebSection,
    pub directory: DirectorySection,
    pub psc: PscSection,
    pub accounts: AccountsSection,
    pub notify: NotifySection,
    pub limits: LimitsSection,
    pub traces: TracesSection,
    pub patients: PatientsSection,
    pub clients: ClientsSection,
}

/// What mail clients are told to connect to, on /compte, in the autoconfiguration file and in
/// `confiance dns`. Each value defaults to what this instance listens on; set them when a
/// proxy or a port redirection stands between clients and the listeners.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientsSection {
    /// The name clients connect to; it must be in the server certificate. Default: `localhost`
    /// when the listeners are on loopback (the development certificate names it), `hostname`
    /// otherwise.
    pub host: Option<String>,
    pub imaps_port: Option<u16>,
    pub imap_port: Option<u16>,
    pub submissions_port: Option<u16>,
    pub submission_port: Option<u16>,
    pub managesieve_port: Option<u16>,
    pub web_port: Option<u16>,
}

/// Mon Espace Santé, the patients' side of the trust space.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PatientsSection {
    /// The patients' domain: `<matricule INS>@patient.mssante.fr`.
    pub domain: String,
    /// Addresses of that domain that are no patient's (its whitelist entry names
    /// `reponse.automatique-test@patient.mssante.fr`).
    pub service_addresses: Vec<String>,
    /// Serve this patient domain, as Mon Espace Santé does for the nation: its BALs are
    /// patients' (`<matricule INS>@…`), who only answer professionals who wrote to them.
    /// Must also be in `domains`. For test trust spaces; absent by default.
    pub serve_domain: Option<String>,
}

impl Default for PatientsSection {
    fn default() -> Self {
        let d = confiance_core::PatientDomain::default();
        PatientsSection {
            domain: d.domain,
            service_addresses: d.service_addresses,
            serve_domain: None,
        }
    }
}

impl PatientsSection {
    pub fn domain(&self) -> confiance_core::PatientDomain {
        confiance_core::PatientDomain {
            domain: self
                .serve_domain
                .as_deref()
                .unwrap_or(&self.domain)
                .trim()
                .to_ascii_lowercase(),
            service_addresses: self
                .service_addresses
                .iter()
                .map(|a| a.trim().to_ascii_lowercase())
                .collect(),
        }
    }
}

/// The audit trail (`confiance traces`): how long it is kept.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TracesSection {
    /// `183d` (six months, FAQ ANS 10217: at least six months recommended), `12h`, `30s`.
    pub retention: String,
}

impl Default for TracesSection {
    fn default() -> Self {
        TracesSection {
            retention: "183d".into(),
        }
    }
}

impl TracesSection {
    pub fn retention_ms(&self) -> i64 {
        crate::traces::parse_retention(&self.retention).unwrap_or(183 * 86_400) as i64 * 1_000
    }
}

/// What one client may hold: connections and the time they may sit idle. Each listener (IMAP,
/// IMAPS, submission, submissions, MX, HTTPS) applies the connection limits on its own.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsSection {
    /// Connections at once on one listener (the process also keeps within its file limit).
    pub max_connections: usize,
    /// Connections at once from one client address on one listener: a practice's 30
    /// workstations behind one NAT address, each with a mail client and a browser, fit.
    pub max_per_address: usize,
    /// Seconds an IMAP client may stay silent before logging in.
    pub imap_login_seconds: u64,
    /// Seconds an HTTPS client has to send a request's header.
    pub web_header_seconds: u64,
    /// Seconds an HTTPS connection may stay idle between requests.
    pub web_idle_seconds: u64,
    /// Failed logins from one client address on one account (web, IMAP, SMTP, app passwords)
    /// after which that address is refused for that account, even with the right password,
    /// for `auth_penalty_minutes`; the holder from another address still gets in.
    pub auth_failures_per_account: u32,
    /// Failed logins from one client address on any accounts after which it is refused.
    pub auth_failures_per_address: u32,
    pub auth_penalty_minutes: u64,
}

impl Default for LimitsSection {
    fn default() -> Self {
        LimitsSection {
            max_connections: 4000,
            max_per_address: 200,
            imap_login_seconds: 60,
            web_header_seconds: 10,
            web_idle_seconds: 120,
            auth_failures_per_account: 10,
            auth_failures_per_address: 100,
            auth_penalty_minutes: 15,
        }
    }
}

impl LimitsSection {
    pub fn throttle(&self) -> confiance_auth::throttle::ThrottleLimits {
        confiance_auth::throttle::ThrottleLimits {
            per_account: self.auth_failures_per_account.max(1),
            per_address: self.auth_failures_per_address.max(1),
            penalty: std::time::Duration::from_secs(self.auth_penalty_minutes.max(1) * 60),
        }
    }

    pub fn connections(&self) -> confiance_net::Limits {
        confiance_net::Limits {
            max_connections: self.max_connections.max(1),
            max_per_address: self.max_per_address.max(1),
        }
    }
}

/// Pro Santé Connect: how professionals prove who they are (activation, web login, XOAUTH2).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PscSection {
    /// `sandbox`: the operator's own development provider at `<web>/psc-bac-a-sable`, serving
    /// test identities (RPPS 99700…, IdNat_PS 899700…) through the same OpenID Connect code path; `external`: a
    /// real provider (PSC production or BAS) with the keys below.
    pub mode: PscMode,
    /// e.g. `https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet` (production) or
    /// `https://auth.bas.psc.esante.gouv.fr/auth/realms/esante-wallet` (BAS).
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    /// File holding the client secret (kept out of the configuration).
    pub client_secret_file: Option<PathBuf>,
    pub scope: String,
    /// Level of assurance asked for (PSC: `eidas1`); empty to ask for none.
    pub acr_values: String,
    /// The level of assurance the ID token must state (`acr`); empty to accept any.
    pub required_acr: String,
    /// How access tokens of mail clients are checked: `jwks` or `introspection`.
    pub token_check: String,
    /// PSC clients whose access tokens open mailboxes over XOAUTH2/OAUTHBEARER (the practice
    /// software registered with PSC), besides this operator's own `client_id`.
    pub accepted_clients: Vec<String>,
    /// PEM file of extra CAs for the provider's TLS (besides the public web roots).
    pub ca_file: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PscMode {
    Sandbox,
    External,
}

impl Default for PscSection {
    fn default() -> Self {
        PscSection {
            mode: PscMode::Sandbox,
            issuer: None,
            client_id: None,
            client_secret_file: None,
            scope: "openid scope_all".into(),
            acr_values: "eidas1".into(),
            required_acr: "eidas1".into(),
            token_check: "jwks".into(),
            accepted_clients: Vec::new(),
            ca_file: None,
        }
    }
}

/// Web login and mailbox lifecycle.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccountsSection {
    /// The address browsers use to reach the web (PSC sends them back there); default
    /// `https://<web.listen>`.
    pub public_url: Option<String>,
    /// Failed logins (password or code) in a row before the account is locked.
    pub login_attempts: u32,
    pub lock_minutes: u64,
    /// A web session locks after this long without activity (Ségur SC.SSI/IE.58: 2 hours).
    pub idle_lock_minutes: u64,
    /// A BAL nobody logged into for this long is deleted (CNIL AU-037: at most one year).
    pub inactivity_delete_days: u64,
    /// Notices to the holder before that deletion, in days before it.
    pub inactivity_notice_days: Vec<u64>,
    /// Days the archive of a BAL an administrator deleted is kept (`data_dir/archives`).
    pub archive_days: u64,
}

impl Default for AccountsSection {
    fn default() -> Self {
        AccountsSection {
            public_url: None,
            login_attempts: 5,
            lock_minutes: 15,
            idle_lock_minutes: 120,
            inactivity_delete_days: 365,
            inactivity_notice_days: vec![30, 7],
            archive_days: 90,
        }
    }
}

/// How codes and notices reach professionals outside MSSanté (personal e-mail, mobile).
/// Without a relay or gateway, messages go to the development outbox (`/dev/messages`, shown
/// only with the PSC sandbox).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NotifySection {
    /// SMTP relay `host:port` for personal e-mail (STARTTLS when the relay offers it).
    pub smtp_relay: Option<String>,
    /// Sender of those e-mails; default `ne-pas-repondre@<first domain>`.
    pub from: Option<String>,
    /// HTTPS endpoint of the SMS gateway: POST `{"to": "+33…", "text": "…"}`.
    pub sms_gateway: Option<String>,
    /// File holding the gateway's bearer token.
    pub sms_token_file: Option<PathBuf>,
    /// PEM of an extra CA for the gateway's TLS (besides the public web roots).
    pub sms_ca_file: Option<PathBuf>,
    /// How often INBOXes are checked for the new-mail notices holders asked for.
    pub new_mail_check_seconds: u64,
}

impl Default for NotifySection {
    fn default() -> Self {
        NotifySection {
            smtp_relay: None,
            from: None,
            sms_gateway: None,
            sms_token_file: None,
            sms_ca_file: None,
            new_mail_check_seconds: 30,
        }
    }
}

/// HTTPS: the directory's search page, JSON and FHIR APIs (then the webmail).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebSection {
    /// HTTPS address; `""` turns the web off.
    #[serde(deserialize_with = "listener")]
    pub listen: Option<SocketAddr>,
}

/// A listener's address, or `""` to turn it off. A key left out keeps its default: serde fills
/// a missing field from the section's `Default`, so "remove the key" cannot mean "off".
fn listener<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(d)?;
    match text.trim() {
        "" => Ok(None),
        t => t.parse().map(Some).map_err(|_| {
            serde::de::Error::custom(format!("{t:?} n'est pas une adresse:port (ou \"\" pour l'éteindre)"))
        }),
    }
}

impl Default for WebSection {
    fn default() -> Self {
        WebSection {
            listen: Some("127.0.0.1:8443".parse().expect("valid")),
        }
    }
}

/// The health directory (annuaire).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DirectorySection {
    /// How often a running server looks for a newer snapshot (written by `directory import`).
    pub reload_seconds: u64,
}

impl Default for DirectorySection {
    fn default() -> Self {
        DirectorySection { reload_seconds: 60 }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ImapSection {
    /// IMAP with STARTTLS (RFC 9051; production: 0.0.0.0:143). `""` turns a listener off.
    #[serde(deserialize_with = "listener")]
    pub listen: Option<SocketAddr>,
    /// IMAP over implicit TLS (RFC 8314; production: 0.0.0.0:993).
    #[serde(deserialize_with = "listener")]
    pub listen_tls: Option<SocketAddr>,
    /// Minutes of inactivity before autologout (RFC 9051 §5.4: at least 30).
    pub autologout_minutes: u64,
    /// ManageSieve with STARTTLS (RFC 5804; production: 0.0.0.0:4190): mail clients edit the
    /// BAL's filters and out-of-office message.
    #[serde(deserialize_with = "listener")]
    pub managesieve: Option<SocketAddr>,
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmtpSection {
    /// Submission with STARTTLS (RFC 6409; production: 0.0.0.0:587).
    #[serde(deserialize_with = "listener")]
    pub submission: Option<SocketAddr>,
    /// Submission over implicit TLS (RFC 8314; production: 0.0.0.0:465).
    #[serde(deserialize_with = "listener")]
    pub submissions: Option<SocketAddr>,
    /// Inbound MX for the other operators of the trust space, STARTTLS and client certificate
    /// mandatory (production: 0.0.0.0:25).
    #[serde(deserialize_with = "listener")]
    pub mx: Option<SocketAddr>,
    /// Largest message, in bytes (SIZE, RFC 1870). 25 MB lets 10 MB attachments through
    /// after base64 (+37 %).
    pub max_message_size: u64,
    pub max_recipients: usize,
    /// Networks (CIDR) whose clients may submit without TLS or AUTH and with any sender: a
    /// local application server, a benchmark. Empty by default; never a public network.
    pub trusted_networks: Vec<String>,
    /// The BAL that receives mail to `postmaster` of every hosted domain (RFC 5321 §4.5.1:
    /// reports, abuse, peers' questions), unless a BAL named postmaster@… exists.
    pub postmaster: Option<String>,
    /// Messages a minute a structure's applicative BALs may send together (its software); past
    /// it, MAIL FROM gets `451 4.7.1` until the minute has refilled.
    pub app_messages_per_minute: u32,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSection {
    /// PEM chain (leaf first) and key; default: the development PKI under data_dir/tls.
    pub certificate: Option<PathBuf>,
    pub private_key: Option<PathBuf>,
    /// PEM of the CA of professionals' cards (IGC-Santé `AC IGC-SANTE FORT PERSONNES`): a CPS
    /// presented in the handshake logs in on the web and over SASL EXTERNAL. Default: the
    /// development persons CA when `init` made one.
    pub cps_ca: Option<PathBuf>,
    /// PEM of the CA of organisation certificates (IGC-Santé `AC IGC-SANTE … ORGANISATIONS`):
    /// a structure's software presenting one (`OU` = `1` + FINESS) opens the structure's
    /// applicative BAL with SASL EXTERNAL. Default: the development organisations CA, with the
    /// development persons CA.
    pub organisations_ca: Option<PathBuf>,
}

/// The trust space: whom to trust and who belongs to it.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrustSection {
    /// PEM file of the trust anchors (IGC-Santé roots); default: the development authority.
    pub anchors: Option<PathBuf>,
    /// Certificate revocation lists checked on every peer certificate and card: PEM or DER
    /// files, or http(s) URLs. Read again every `crl_refresh_seconds` and before their
    /// nextUpdate, from the distribution point a list names for itself if any; the last good
    /// copies are kept under data_dir/trust/crls/.
    pub crls: Vec<String>,
    pub crl_refresh_seconds: u64,
    /// The ANS whitelist: a file, or an http(s) URL such as
    /// `https://espacedeconfiance.mssante.fr/listeblanchemssante.xml`; default: a development
    /// list of this operator's own domains, made at start-up.
    pub whitelist: Option<String>,
    /// CA file to verify an https whitelist source; default: the system's roots.
    pub whitelist_ca: Option<PathBuf>,
    /// Seconds between two readings of the whitelist (a failed reading keeps the list in force).
    pub refresh_seconds: u64,
}

impl Default for TrustSection {
    fn default() -> Self {
        TrustSection {
            anchors: None,
            crls: Vec::new(),
            crl_refresh_seconds: 3600,
            whitelist: None,
            whitelist_ca: None,
            refresh_seconds: 3600,
        }
    }
}

/// Delivery to the other operators.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelaySection {
    /// Port of the peers' MX.
    pub port: u16,
    /// Connections at once to one domain.
    pub per_domain: usize,
    /// Seconds between attempts; the last one repeats.
    pub retry_seconds: Vec<u64>,
    /// After this many seconds in the queue the sender gets a "delayed" report.
    pub delay_notice_seconds: u64,
    /// After this many seconds the message is returned to its sender.
    pub give_up_seconds: u64,
    /// Static next hops by domain, before any MX lookup.
    pub routes: HashMap<String, RouteEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteEntry {
    /// Name the peer's certificate must carry.
    pub host: String,
    /// Address and port to connect to; resolved from `host` if absent.
    pub address: Option<SocketAddr>,
}

impl Default for RelaySection {
    fn default() -> Self {
        RelaySection {
            port: 25,
            per_domain: 4,
            retry_seconds: vec![60, 300, 900, 1800, 3600, 7200, 14400],
            delay_notice_seconds: 4 * 3600,
            give_up_seconds: 5 * 24 * 3600,
            routes: HashMap::new(),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageSection {
    /// `postgres://user@host:port/database`: the database several nodes share (issue 19).
    /// Empty: the embedded default under `data_dir`. `CONFIANCE_STORAGE_URL` wins over it.
    pub url: Option<String>,
    /// Connections to the database per node, for the mailboxes and again for the blobs.
    pub pool_size: u32,
    /// This node's name in the shared outbound queue's leases; the host's name by default.
    /// Two nodes must never share one.
    pub node: Option<String>,
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
            trust: TrustSection::default(),
            relay: RelaySection::default(),
            storage: StorageSection::default(),
            web: WebSection::default(),
            directory: DirectorySection::default(),
            psc: PscSection::default(),
            accounts: AccountsSection::default(),
            notify: NotifySection::default(),
            limits: LimitsSection::default(),
            traces: TracesSection::default(),
            patients: PatientsSection::default(),
            clients: ClientsSection::default(),
        }
    }
}

impl Default for ImapSection {
    fn default() -> Self {
        ImapSection {
            listen: Some("127.0.0.1:1143".parse().expect("valid")),
            listen_tls: Some("127.0.0.1:1993".parse().expect("valid")),
            autologout_minutes: 30,
            managesieve: Some("127.0.0.1:14190".parse().expect("valid")),
        }
    }
}

impl Default for SmtpSection {
    fn default() -> Self {
        SmtpSection {
            submission: Some("127.0.0.1:1587".parse().expect("valid")),
            submissions: Some("127.0.0.1:1465".parse().expect("valid")),
            mx: Some("127.0.0.1:1025".parse().expect("valid")),
            max_message_size: 25 * 1000 * 1000,
            max_recipients: 100,
            trusted_networks: Vec::new(),
            postmaster: None,
            app_messages_per_minute: 600,
        }
    }
}

impl Default for StorageSection {
    fn default() -> Self {
        StorageSection {
            url: None,
            pool_size: 16,
            node: None,
            fsync: true,
            default_quota: 2 * 1024 * 1024 * 1024,
        }
    }
}

impl Config {
    /// Where mail clients and browsers reach this instance (`[clients]`, else the listeners).
    pub fn mail_clients(&self) -> confiance_web::MailClients {
        let c = &self.clients;
        let listeners = [
            self.imap.listen_tls,
            self.imap.listen,
            self.smtp.submissions,
            self.smtp.submission,
            self.imap.managesieve,
            self.web.listen,
        ];
        let loopback = listeners.iter().flatten().all(|a| a.ip().is_loopback());
        let host = c.host.clone().unwrap_or_else(|| {
            if loopback {
                "localhost".to_string()
            } else {
                self.hostname.clone()
            }
        });
        let port = |set: Option<u16>, listen: Option<SocketAddr>| set.or(listen.map(|a| a.port()));
        confiance_web::MailClients {
            host,
            imaps: port(c.imaps_port, self.imap.listen_tls),
            imap: port(c.imap_port, self.imap.listen),
            submissions: port(c.submissions_port, self.smtp.submissions),
            submission: port(c.submission_port, self.smtp.submission),
            managesieve: port(c.managesieve_port, self.imap.managesieve),
            web: port(c.web_port, self.web.listen),
            domains: self.domains.clone(),
            operator: self.operator.clone(),
        }
    }

    pub fn load(path: Option<&Path>) -> anyhow::Result<Config> {
        let Some(path) = path else { return Ok(Config::default()) };
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("impossible de lire la configuration {} : {e}", path.display()))?;
        let config: Config =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("configuration illisible {} : {e}", path.display()))?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.domains.is_empty() {
            anyhow::bail!("`domains` doit nommer au moins un domaine de messagerie hébergé");
        }
        for d in &self.domains {
            if !confiance_core::address::is_hostname(d) {
                anyhow::bail!("`domains` : {d:?} n'est pas un nom de domaine valable");
            }
        }
        if let Some(served) = &self.patients.serve_domain
            && !self.domains.iter().any(|d| d.eq_ignore_ascii_case(served))
        {
            anyhow::bail!("`patients.serve_domain` {served:?} doit aussi figurer dans `domains`");
        }
        if let Some(host) = &self.clients.host
            && host != "localhost"
            && !confiance_core::address::is_hostname(&host.to_lowercase())
        {
            anyhow::bail!("`clients.host` : {host:?} n'est pas un nom d'hôte valable");
        }
        for (domain, route) in &self.relay.routes {
            if !confiance_core::address::is_hostname(&domain.to_lowercase()) {
                anyhow::bail!("`relay.routes` : {domain:?} n'est pas un nom de domaine valable");
            }
            if !confiance_core::address::is_hostname(&route.host.to_lowercase()) {
                anyhow::bail!(
                    "`relay.routes.\"{domain}\".host` : {:?} n'est pas un nom d'hôte valable",
                    route.host
                );
            }
        }
        if self.relay.retry_seconds.is_empty() || self.relay.retry_seconds.contains(&0) {
            anyhow::bail!("`relay.retry_seconds` doit donner au moins une attente, aucune nulle");
        }
        if self.psc.mode == PscMode::External && (self.psc.issuer.is_none() || self.psc.client_id.is_none()) {
            anyhow::bail!("`psc.mode = \"external\"` demande `psc.issuer` et `psc.client_id`");
        }
        if !matches!(self.psc.token_check.as_str(), "jwks" | "introspection") {
            anyhow::bail!("`psc.token_check` vaut \"jwks\" ou \"introspection\"");
        }
        if let Some(url) = &self.notify.sms_gateway
            && !url.starts_with("https://")
            && !url.starts_with("http://127.")
            && !url.starts_with("http://localhost")
        {
            anyhow::bail!("`notify.sms_gateway` doit être une URL https:// (http seulement sur la boucle locale)");
        }
        if self.accounts.login_attempts == 0 || self.accounts.idle_lock_minutes == 0 {
            anyhow::bail!("`accounts.login_attempts` et `accounts.idle_lock_minutes` doivent être supérieurs à 0");
        }
        if self
            .accounts
            .inactivity_notice_days
            .iter()
            .any(|d| *d >= self.accounts.inactivity_delete_days)
        {
            anyhow::bail!("`accounts.inactivity_notice_days` doit précéder `inactivity_delete_days`");
        }
        if let Err(e) = crate::traces::parse_retention(&self.traces.retention) {
            anyhow::bail!("`traces.retention`: {e}");
        }
        if self.accounts.archive_days == 0 {
            anyhow::bail!("`accounts.archive_days` vaut au moins 1 : une BAL supprimée est d'abord archivée");
        }
        if self.smtp.app_messages_per_minute == 0 {
            anyhow::bail!("`smtp.app_messages_per_minute` doit être supérieur à 0");
        }
        if self.imap.autologout_minutes < 30 {
            anyhow::bail!("`imap.autologout_minutes` vaut au moins 30 (RFC 9051 §5.4)");
        }
        Ok(())
    }

    pub fn certificate(&self) -> PathBuf {
        self.tls
            .certificate
            .clone()
            .unwrap_or_else(|| confiance_trust::DevPki::paths(&self.data_dir).server_chain)
    }

    pub fn anchors(&self) -> PathBuf {
        self.trust
            .anchors
            .clone()
            .unwrap_or_else(|| confiance_trust::DevPki::paths(&self.data_dir).root_cert)
    }

    /// The whitelist source: the configured file, or the development list made at start-up.
    pub fn whitelist(&self) -> String {
        self.trust.whitelist.clone().unwrap_or_else(|| {
            self.data_dir
                .join("trust/listeblanchemssante-dev.xml")
                .to_string_lossy()
                .into_owned()
        })
    }

    /// Where the last whitelist that could be read is kept.
    pub fn whitelist_last_good(&self) -> PathBuf {
        self.data_dir.join("trust/listeblanchemssante.last-good.xml")
    }

    /// The CA of card certificates, if any.
    pub fn cps_ca(&self) -> Option<PathBuf> {
        // The development persons CA only with the development PSC: a real operator names the
        // IGC-Santé one, never a CA whose key lies in its data directory.
        self.tls.cps_ca.clone().or_else(|| {
            let dev = confiance_trust::DevPki::paths(&self.data_dir).persons_cert;
            (self.psc.mode == PscMode::Sandbox && dev.exists()).then_some(dev)
        })
    }

    /// The CA of applications' organisation certificates, if any (see `cps_ca` for the default).
    pub fn organisations_ca(&self) -> Option<PathBuf> {
        self.tls.organisations_ca.clone().or_else(|| {
            let dev = confiance_trust::DevPki::paths(&self.data_dir).intermediate_cert;
            (self.psc.mode == PscMode::Sandbox && dev.exists()).then_some(dev)
        })
    }

    /// Where browsers reach the web.
    pub fn public_url(&self) -> String {
        self.accounts
            .public_url
            .clone()
            .unwrap_or_else(|| match self.web.listen {
                Some(addr) => format!("https://{addr}"),
                None => "https://127.0.0.1:8443".into(),
            })
    }

    pub fn private_key(&self) -> PathBuf {
        self.tls
            .private_key
            .clone()
            .unwrap_or_else(|| confiance_trust::DevPki::paths(&self.data_dir).server_key)
    }
}

#[cfg(test)]
mod tests {
    use super::Config;

    #[test]
    fn an_empty_listener_is_off_and_a_bad_one_is_named() {
        let c: Config = toml::from_str("[imap]\nlisten = \"\"\n[web]\nlisten = \"\"\n").unwrap();
        assert_eq!(c.imap.listen, None);
        assert_eq!(c.web.listen, None);
        assert!(c.imap.listen_tls.is_some(), "a key left out keeps its default");
        assert_eq!(c.mail_clients().imap, None);
        let e = toml::from_str::<Config>("[smtp]\nmx = \"port 25\"\n").unwrap_err();
        assert!(e.to_string().contains("\"port 25\" n'est pas une adresse:port"), "{e}");
    }

    #[test]
    fn the_example_is_the_defaults() {
        let example: Config = toml::from_str(include_str!("../../../confiance.example.toml")).unwrap();
        example.validate().unwrap();
        let default = Config::default();
        assert_eq!(format!("{example:?}"), format!("{default:?}"));
    }
}
