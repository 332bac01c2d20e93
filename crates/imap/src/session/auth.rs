//! Authentication: LOGIN, AUTHENTICATE PLAIN / XOAUTH2 / OAUTHBEARER / EXTERNAL (RFC 9051
//! §6.2, RFC 4422, RFC 7628), each through the one `Logins` door with its throttle.

use super::{Session, tagged};

impl Session {
    pub(crate) async fn login(&mut self, out: &mut Vec<u8>, tag: &str, user: String, pass: String, method: &str) {
        if !self.tls {
            tagged(
                out,
                tag,
                "NO",
                "[PRIVACYREQUIRED] Use STARTTLS (or port 993) before logging in.",
            );
            return;
        }
        let attempt = confiance_auth::Attempt {
            protocol: "imap",
            method,
            peer: &self.peer,
        };
        let verified = self.cfg.logins.password(&user, pass, attempt).await;
        match verified {
            Some(account) => self.logged_in(out, tag, account),
            None => {
                tagged(out, tag, "NO", "[AUTHENTICATIONFAILED] Invalid address or password.");
            }
        }
    }

    /// The decoded message of AUTHENTICATE for an offered mechanism.
    pub(crate) async fn authenticate(&mut self, out: &mut Vec<u8>, tag: &str, mechanism: &str, message: &[u8]) {
        if mechanism == "EXTERNAL" {
            return self.authenticate_external(out, tag, message).await;
        }
        let bearer = match mechanism {
            "XOAUTH2" => confiance_auth::sasl::decode_xoauth2(message),
            "OAUTHBEARER" => confiance_auth::sasl::decode_oauthbearer(message),
            _ => return self.authenticate_plain(out, tag, message).await,
        };
        let bearer = match bearer {
            Ok(b) => b,
            Err(e) => return tagged(out, tag, "BAD", &format!("{e}.")),
        };
        let method = format!("AUTHENTICATE {mechanism}");
        let attempt = confiance_auth::Attempt {
            protocol: "imap",
            method: &method,
            peer: &self.peer,
        };
        match self.cfg.logins.token(bearer, attempt).await {
            Some(account) => self.logged_in(out, tag, account),
            None => self.oauth_refused = Some(tag.to_string()),
        }
    }

    /// The end of a refused XOAUTH2/OAUTHBEARER exchange, once the client answered the error
    /// challenge.
    pub(crate) fn oauth_refusal(tag: &str, out: &mut Vec<u8>) {
        tagged(
            out,
            tag,
            "NO",
            "[AUTHENTICATIONFAILED] Invalid or expired Pro Santé Connect token, or a mailbox this identity does not hold.",
        );
    }

    /// RFC 4422 appendix A: the message is the authorization identity (a mailbox), or empty.
    pub(crate) async fn authenticate_external(&mut self, out: &mut Vec<u8>, tag: &str, message: &[u8]) {
        let Ok(authzid) = String::from_utf8(message.to_vec()) else {
            return tagged(out, tag, "BAD", "The authorization identity is not UTF-8.");
        };
        let attempt = confiance_auth::Attempt {
            protocol: "imap",
            method: "AUTHENTICATE EXTERNAL",
            peer: &self.peer,
        };
        match self.cfg.logins.card(self.card.as_ref(), Some(authzid), attempt).await {
            Some(account) => self.logged_in(out, tag, account),
            None => tagged(
                out,
                tag,
                "NO",
                "[AUTHENTICATIONFAILED] This card holds no active mailbox of that name.",
            ),
        }
    }

    pub(crate) fn logged_in(&mut self, out: &mut Vec<u8>, tag: &str, account: confiance_mail::model::Account) {
        self.changes = Some(self.svc.subscribe(account.id));
        self.account = Some(account);
        tagged(
            out,
            tag,
            "OK",
            &format!("[CAPABILITY {}] Logged in", self.capabilities()),
        );
    }

    pub(crate) async fn authenticate_plain(&mut self, out: &mut Vec<u8>, tag: &str, message: &[u8]) {
        match confiance_auth::decode_plain(message) {
            Ok(c) if c.authzid.as_ref().is_none_or(|z| z.eq_ignore_ascii_case(&c.username)) => {
                self.login(out, tag, c.username, c.password, "AUTHENTICATE PLAIN").await
            }
            Ok(_) => tagged(
                out,
                tag,
                "NO",
                "[AUTHORIZATIONFAILED] Acting as another identity is not allowed.",
            ),
            Err(e) => tagged(out, tag, "BAD", &format!("{e}.")),
        }
    }
}
