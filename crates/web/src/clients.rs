//! Where mail clients connect: the host and ports /compte shows, and the autoconfiguration
//! file Thunderbird and its kin fetch when a user types only an address (ECO.1.1.9: the
//! operator eases the configuration of its users' mail clients).

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::WebState;
use crate::html::escape;

/// The host and ports clients are told to use (`[clients]`, else what the listeners bind).
/// `None`: that service is off.
#[derive(Clone, Debug, Default)]
pub struct MailClients {
    pub host: String,
    pub imaps: Option<u16>,
    pub imap: Option<u16>,
    pub submissions: Option<u16>,
    pub submission: Option<u16>,
    /// ManageSieve (RFC 5804, STARTTLS): filters and out-of-office from a client.
    pub managesieve: Option<u16>,
    pub web: Option<u16>,
    /// The hosted mail domains the autoconfiguration answers for.
    pub domains: Vec<String>,
    /// The operator's name, shown by clients as the provider's.
    pub operator: String,
}

impl MailClients {
    /// The webmail's address, as clients and notices name it.
    pub fn web_url(&self) -> Option<String> {
        self.web.map(|port| match port {
            443 => format!("https://{}", self.host),
            _ => format!("https://{}:{port}", self.host),
        })
    }

    /// The IMAP endpoint to offer first: implicit TLS, else STARTTLS (RFC 8314 §3.3).
    pub fn incoming(&self) -> Vec<(u16, &'static str)> {
        let mut v = Vec::new();
        v.extend(self.imaps.map(|p| (p, "SSL")));
        v.extend(self.imap.map(|p| (p, "STARTTLS")));
        v
    }

    pub fn outgoing(&self) -> Vec<(u16, &'static str)> {
        let mut v = Vec::new();
        v.extend(self.submissions.map(|p| (p, "SSL")));
        v.extend(self.submission.map(|p| (p, "STARTTLS")));
        v
    }

    fn is_hosted(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }

    /// Thunderbird's autoconfiguration format, version 1.1, for `domain`'s users: every
    /// endpoint, implicit TLS first; the login is the whole address; the password is the
    /// account's (accounts activated on the web use an app password, which the documentation
    /// link explains).
    pub fn autoconfig(&self, domain: &str) -> String {
        let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n");
        x.push_str(&format!("  <emailProvider id=\"{}\">\n", escape(domain)));
        for d in &self.domains {
            x.push_str(&format!("    <domain>{}</domain>\n", escape(d)));
        }
        x.push_str(&format!(
            "    <displayName>{} MSSanté</displayName>\n    <displayShortName>MSSanté</displayShortName>\n",
            escape(&self.operator)
        ));
        let server = |x: &mut String, tag: &str, kind: &str, port: u16, socket: &str| {
            x.push_str(&format!(
                "    <{tag} type=\"{kind}\">\n      <hostname>{}</hostname>\n      <port>{port}</port>\n      \
                 <socketType>{socket}</socketType>\n      <authentication>password-cleartext</authentication>\n      \
                 <username>%EMAILADDRESS%</username>\n    </{tag}>\n",
                escape(&self.host)
            ));
        };
        for (port, socket) in self.incoming() {
            server(&mut x, "incomingServer", "imap", port, socket);
        }
        for (port, socket) in self.outgoing() {
            server(&mut x, "outgoingServer", "smtp", port, socket);
        }
        if let Some(url) = self.web_url() {
            x.push_str(&format!(
                "    <documentation url=\"{}/compte#appareils\">\n      <descr lang=\"fr\">Si votre BAL a été activée \
                 avec Pro Santé Connect ou la carte CPS, créez un mot de passe d'application pour ce logiciel dans \
                 votre compte.</descr>\n      <descr lang=\"en\">If your mailbox was activated with Pro Santé Connect \
                 or the CPS card, make an app password for this software in your account.</descr>\n    \
                 </documentation>\n",
                escape(&url)
            ));
        }
        x.push_str("  </emailProvider>\n</clientConfig>\n");
        x
    }
}

#[derive(Deserialize)]
pub struct AutoconfigQuery {
    emailaddress: Option<String>,
}

/// `/.well-known/autoconfig/mail/config-v1.1.xml` and `/mail/config-v1.1.xml` (as
/// `autoconfig.<domain>` serves it). The domain comes from the address the client asks about,
/// else from the `autoconfig.` host name; a domain this operator does not host gets 404, so
/// that no client is sent here for someone else's mail.
pub async fn autoconfig(
    State(state): State<WebState>,
    Query(q): Query<AutoconfigQuery>,
    headers: HeaderMap,
) -> Response {
    let clients = &state.clients;
    let asked = q
        .emailaddress
        .as_deref()
        .and_then(|a| a.rsplit_once('@').map(|(_, d)| d.to_string()))
        .or_else(|| {
            let host = headers.get(header::HOST)?.to_str().ok()?;
            let host = host.split(':').next()?;
            host.strip_prefix("autoconfig.").map(str::to_string)
        });
    let domain = match asked {
        Some(d) if clients.is_hosted(&d) => d.to_ascii_lowercase(),
        Some(_) => return (StatusCode::NOT_FOUND, "domain not hosted here\n").into_response(),
        None => match clients.domains.first() {
            Some(d) => d.clone(),
            None => return StatusCode::NOT_FOUND.into_response(),
        },
    };
    (
        [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
        clients.autoconfig(&domain),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> MailClients {
        MailClients {
            host: "localhost".into(),
            imaps: Some(1993),
            imap: Some(1143),
            submissions: Some(1465),
            submission: None,
            managesieve: Some(14190),
            web: Some(8443),
            domains: vec!["medecin.confiance.test".into(), "pro.confiance.test".into()],
            operator: "CONFIANCE <DEV>".into(),
        }
    }

    #[test]
    fn autoconfig_lists_what_is_on_implicit_tls_first() {
        let x = dev().autoconfig("pro.confiance.test");
        assert!(x.contains("<emailProvider id=\"pro.confiance.test\">"));
        assert!(x.contains("<domain>medecin.confiance.test</domain>"));
        assert!(x.contains("CONFIANCE &lt;DEV&gt; MSSanté"));
        let imaps = x.find("<port>1993</port>").expect("imaps");
        let imap = x.find("<port>1143</port>").expect("imap");
        assert!(imaps < imap);
        assert!(x.contains("<port>1465</port>"));
        // Submission on STARTTLS is off: not offered.
        assert_eq!(x.matches("<outgoingServer").count(), 1);
        assert!(x.contains("https://localhost:8443/compte#appareils"));
    }

    #[test]
    fn the_default_https_port_is_not_written() {
        let c = MailClients {
            web: Some(443),
            ..dev()
        };
        assert_eq!(c.web_url().as_deref(), Some("https://localhost"));
    }
}
