//! The one object the protocol fronts authenticate with: it holds the store, the throttle,
//! Pro Santé Connect and the failure delay, so that IMAP and SMTP never reach the store.

use std::sync::Arc;
use std::time::Duration;

use confiance_store::{Account, Store};

use crate::login::{self, Attempt};
use crate::psc::Psc;
use crate::sasl::Bearer;
use crate::throttle::Throttle;

pub struct Logins {
    store: Arc<dyn Store>,
    throttle: Arc<Throttle>,
    psc: Option<Arc<Psc>>,
    /// Pause after a failed login, to slow password guessing.
    failure_delay: Duration,
}

impl Logins {
    pub fn new(store: Arc<dyn Store>, throttle: Arc<Throttle>, psc: Option<Arc<Psc>>, failure_delay: Duration) -> Self {
        Logins {
            store,
            throttle,
            psc,
            failure_delay,
        }
    }

    /// Whether PSC tokens are accepted (SASL XOAUTH2 and OAUTHBEARER are offered).
    pub fn takes_tokens(&self) -> bool {
        self.psc.is_some()
    }

    /// A password or an application password (LOGIN, SASL PLAIN and LOGIN).
    pub async fn password(&self, user: &str, password: String, attempt: Attempt<'_>) -> Option<Account> {
        login::login(
            self.store.clone(),
            &self.throttle,
            user,
            password,
            attempt,
            self.failure_delay,
        )
        .await
    }

    /// One message of a SCRAM-SHA-256 exchange (RFC 7677), whose state `state` keeps.
    pub async fn scram(
        &self,
        state: &mut crate::login_scram::ScramState,
        message: &[u8],
        attempt: Attempt<'_>,
    ) -> crate::login_scram::ScramStep {
        crate::login_scram::step(&self.store, &self.throttle, state, message, attempt, self.failure_delay).await
    }

    /// A PSC access token (SASL XOAUTH2, OAUTHBEARER).
    pub async fn token(&self, bearer: Bearer, attempt: Attempt<'_>) -> Option<Account> {
        login::login_bearer(
            self.store.clone(),
            self.psc.as_deref(),
            bearer,
            attempt,
            self.failure_delay,
        )
        .await
    }

    /// The CPS card of the TLS handshake (SASL EXTERNAL).
    pub async fn card(
        &self,
        card: Option<&crate::certificate::ClientCertificate>,
        authzid: Option<String>,
        attempt: Attempt<'_>,
    ) -> Option<Account> {
        login::login_card(self.store.clone(), card, authzid, attempt, self.failure_delay).await
    }
}
