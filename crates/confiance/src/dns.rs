//! `confiance dns`: the records an operator publishes in each hosted domain's zone, in zone
//! file syntax: MX for the other operators, SRV for mail clients (RFC 6186, with implicit TLS
//! preferred as RFC 8314 §5.1 asks), the autoconfiguration name, and SPF and DMARC so that
//! nobody outside the trust space sends in the domain's name.

use clap::Args;

use crate::config::Config;

#[derive(Args)]
pub struct DnsArgs {
    /// Seulement ce domaine hébergé (par défaut : tous).
    #[arg(long)]
    domain: Option<String>,
}

pub fn run(config: &Config, args: DnsArgs) -> anyhow::Result<()> {
    let domains: Vec<&String> = match &args.domain {
        None => config.domains.iter().collect(),
        Some(d) => match config.domains.iter().find(|h| h.eq_ignore_ascii_case(d)) {
            Some(h) => vec![h],
            None => anyhow::bail!(
                "{d} n'est pas un domaine de cet opérateur (domaines : {})",
                config.domains.join(", ")
            ),
        },
    };
    print!("{}", records(config, &domains));
    Ok(())
}

fn records(config: &Config, domains: &[&String]) -> String {
    let clients = config.mail_clients();
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!("; Enregistrements DNS de {} (confiance dns)", config.operator));
    if clients.host == "localhost" || !config.hostname.contains('.') {
        line("; Attention : les services écoutent sur la boucle locale ; en production, réglez `hostname`".into());
        line(";   et `[clients] host` sur des noms publics, présents dans le certificat serveur.".into());
    }
    if let Some(mx) = config.smtp.mx
        && mx.port() != 25
    {
        line(format!(
            "; Le MX écoute sur le port {} : les autres opérateurs joignent le port 25, à rediriger.",
            mx.port()
        ));
    }
    let host = format!("{}.", clients.host.trim_end_matches('.'));
    let mx_host = format!("{}.", config.hostname.trim_end_matches('.'));
    for domain in domains {
        let d = format!("{}.", domain.trim_end_matches('.'));
        line(String::new());
        line(format!("; {domain}"));
        line(format!("{d:<40} IN MX    10 {mx_host}"));
        // Priority 0 for implicit TLS, 10 for STARTTLS (RFC 8314 §5.1); a service that is
        // off is published with the target "." (RFC 6186 §4: not offered).
        let srv = |service: &str, priority: u16, port: Option<u16>| match port {
            Some(port) => format!(
                "{:<40} IN SRV   {priority} 1 {port} {host}",
                format!("_{service}._tcp.{d}")
            ),
            None => format!("{:<40} IN SRV   0 0 0 .", format!("_{service}._tcp.{d}")),
        };
        line(srv("imaps", 0, clients.imaps));
        line(srv("imap", 10, clients.imap));
        line(srv("submissions", 0, clients.submissions));
        line(srv("submission", 10, clients.submission));
        // RFC 5804 §1.8: where clients find ManageSieve.
        line(srv("sieve", 0, clients.managesieve));
        line(srv("pop3s", 0, None));
        line(srv("pop3", 0, None));
        line(format!("{:<40} IN CNAME {host}", format!("autoconfig.{d}")));
        line(format!("{d:<40} IN TXT   \"v=spf1 a:{} -all\"", config.hostname));
        line(format!(
            "{:<40} IN TXT   \"v=DMARC1; p=reject; aspf=s\"",
            format!("_dmarc.{d}")
        ));
    }
    line(String::new());
    line("; Le certificat serveur doit aussi nommer autoconfig.<domaine> pour chaque domaine ; la liste".into());
    line("; blanche de l'ANS lie ces domaines à ce certificat (confiance whitelist).".into());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_domain_gets_mx_srv_autoconfig_spf_dmarc() {
        let config = Config::default();
        let domains: Vec<&String> = config.domains.iter().collect();
        let text = records(&config, &domains);
        assert!(text.contains("medecin.confiance.test.                  IN MX    10 mail.confiance.test."));
        assert!(text.contains("_imaps._tcp.pro.confiance.test.          IN SRV   0 1 1993 localhost."));
        assert!(text.contains("_submission._tcp.pro.confiance.test.     IN SRV   10 1 1587 localhost."));
        assert!(text.contains("_pop3._tcp.pro.confiance.test.           IN SRV   0 0 0 ."));
        assert!(text.contains("_sieve._tcp.pro.confiance.test.          IN SRV   0 1 14190 localhost."));
        assert!(text.contains("autoconfig.medecin.confiance.test."));
        assert!(text.contains("_dmarc.pro.confiance.test."));
        assert!(text.contains("port 1025"));
        assert!(text.contains("boucle locale"));
    }
}
