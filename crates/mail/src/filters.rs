//! A BAL's filters: its Sieve scripts (RFC 5228), kept so that every stored script parses
//! (a script that does not is refused when it is written, never found at delivery), and run
//! against each copy delivered to the BAL. The fronts (the webmail, ManageSieve RFC 5804) write
//! scripts through here; SMTP delivery asks here what the active one does with a message.

use std::sync::Arc;

pub use confiance_sieve::{Action, EXTENSIONS, MAX_SCRIPT_BYTES, ScriptError, Vacation};
use confiance_store::{AccountId, ScriptChange, SieveScript};

use crate::message::{encoded, mime};
use crate::service::off_workers;
use crate::{MailService, Result};

/// Scripts a BAL may keep: enough for a client's drafts beside the webmail's own.
pub const MAX_SCRIPTS: usize = 16;

/// Why a script was not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The text is not a script we run; the error names the line.
    Invalid(ScriptError),
    /// Over `MAX_SCRIPT_BYTES`.
    TooLarge,
    /// The BAL has `MAX_SCRIPTS` already.
    TooMany,
    /// A name must be 1 to 128 characters without control characters (RFC 5804 §1.6).
    BadName,
}

/// RFC 5804 §1.6: a script name is UTF-8 without control characters; we also bound its length.
pub fn valid_name(name: &str) -> bool {
    let chars = name.chars().count();
    (1..=128).contains(&chars)
        && !name
            .chars()
            .any(|c| c.is_control() || c == '\u{2028}' || c == '\u{2029}')
}

/// Checks a script as it would be stored: size, then the language.
pub fn check(content: &str) -> std::result::Result<(), Refused> {
    if content.len() > MAX_SCRIPT_BYTES {
        return Err(Refused::TooLarge);
    }
    confiance_sieve::parse(content).map(|_| ()).map_err(Refused::Invalid)
}

/// Header fields a filter reads, and bytes of each: a message's sender chooses them, and a
/// filter's work grows with them (its comparisons, `:matches` in value × pattern steps).
const MAX_FIELDS: usize = 256;
const MAX_FIELD_BYTES: usize = 8 * 1024;

/// Whether a BAL holding `scripts` may store one named `name`: replacing a script always, a
/// new one while it has fewer than `MAX_SCRIPTS`.
fn room_for(scripts: &[SieveScript], name: &str) -> bool {
    scripts.len() < MAX_SCRIPTS || scripts.iter().any(|s| s.name == name)
}

/// The header fields as a filter reads them: unfolded, RFC 2047 words decoded, bounded.
fn header_fields(message: &[u8]) -> Vec<(String, String)> {
    let header = &message[..mime::header_end(message)];
    mime::header_fields(header)
        .into_iter()
        .take(MAX_FIELDS)
        .map(|(name, value)| {
            let value = mime::unfold(value);
            let value = String::from_utf8_lossy(&value[..value.len().min(MAX_FIELD_BYTES)]).into_owned();
            (String::from_utf8_lossy(name).into_owned(), encoded::decode(&value))
        })
        .collect()
}

impl MailService {
    pub async fn sieve_scripts(&self, account: AccountId) -> Result<Vec<SieveScript>> {
        self.run(move |s| s.sieve_scripts(account)).await
    }

    /// The script that runs at delivery, if one is active.
    pub async fn active_sieve_script(&self, account: AccountId) -> Result<Option<SieveScript>> {
        self.run(move |s| s.active_sieve_script(account)).await
    }

    /// Stores a script (new, or replacing the one of that name) once it parses.
    pub async fn put_sieve_script(
        &self,
        account: AccountId,
        name: String,
        content: String,
    ) -> Result<std::result::Result<(), Refused>> {
        if !valid_name(&name) {
            return Ok(Err(Refused::BadName));
        }
        if let Err(refused) = self.check_sieve_script(content.clone()).await? {
            return Ok(Err(refused));
        }
        self.run(move |s| {
            if !room_for(&s.sieve_scripts(account)?, &name) {
                return Ok(Err(Refused::TooMany));
            }
            s.put_sieve_script(account, &name, &content)?;
            Ok(Ok(()))
        })
        .await
    }

    pub async fn activate_sieve_script(&self, account: AccountId, name: Option<String>) -> Result<ScriptChange> {
        self.run(move |s| s.activate_sieve_script(account, name.as_deref()))
            .await
    }

    pub async fn delete_sieve_script(&self, account: AccountId, name: String) -> Result<ScriptChange> {
        self.run(move |s| s.delete_sieve_script(account, &name)).await
    }

    /// Renames a script; `None` when the new name is not one a script may have.
    pub async fn rename_sieve_script(
        &self,
        account: AccountId,
        from: String,
        to: String,
    ) -> Result<Option<ScriptChange>> {
        if !valid_name(&to) {
            return Ok(None);
        }
        self.run(move |s| s.rename_sieve_script(account, &from, &to).map(Some))
            .await
    }

    /// Gives back a claim whose reply could not be sent, so that the next message tries again.
    pub async fn release_vacation_reply(&self, account: AccountId, sender: String, handle: String) -> Result<()> {
        self.run(move |s| s.release_vacation_reply(account, &sender.to_lowercase(), &handle))
            .await
    }

    /// Whether a script of `size` bytes named `name` could be stored now (RFC 5804 HAVESPACE):
    /// the same bounds as `put_sieve_script`.
    pub async fn has_room_for_script(
        &self,
        account: AccountId,
        name: String,
        size: u64,
    ) -> Result<std::result::Result<(), Refused>> {
        if size > MAX_SCRIPT_BYTES as u64 {
            return Ok(Err(Refused::TooLarge));
        }
        let scripts = self.sieve_scripts(account).await?;
        Ok(match room_for(&scripts, &name) {
            true => Ok(()),
            false => Err(Refused::TooMany),
        })
    }

    /// Checks a script as `check` does, off the async workers (parsing is proportional to it).
    pub async fn check_sieve_script(&self, content: String) -> Result<std::result::Result<(), Refused>> {
        off_workers(move || check(&content)).await
    }

    /// Whether an out-of-office reply to `sender` may go now (once a period, RFC 5230 §4.1).
    pub async fn claim_vacation_reply(
        &self,
        account: AccountId,
        sender: String,
        handle: String,
        days: u32,
    ) -> Result<bool> {
        self.run(move |s| s.claim_vacation_reply(account, &sender.to_lowercase(), &handle, days))
            .await
    }

    /// What the BAL's active script does with the copy for `envelope_to`; `None` without an
    /// active script. A script that fails while it runs keeps the message in INBOX (RFC 5228
    /// §2.10.6): a filter never loses mail.
    pub async fn sieve_actions(
        &self,
        account: AccountId,
        envelope_from: String,
        envelope_to: String,
        message: Arc<Vec<u8>>,
    ) -> Result<Option<Vec<Action>>> {
        let Some(script) = self.active_sieve_script(account).await? else {
            return Ok(None);
        };
        off_workers(move || {
            let actions = confiance_sieve::parse(&script.content).and_then(|parsed| {
                let headers = header_fields(&message);
                parsed.evaluate(&confiance_sieve::Mail {
                    headers: &headers,
                    envelope_from: &envelope_from,
                    envelope_to: &envelope_to,
                    size: message.len() as u64,
                })
            });
            Some(actions.unwrap_or_else(|e| {
                tracing::warn!(account = account.0, script = %script.name, error = %e, "filter failed: message kept");
                vec![Action::Keep { flags: Vec::new() }]
            }))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_sizes() {
        assert!(valid_name("webmail") && valid_name("Congés été"));
        assert!(!valid_name("") && !valid_name("a\nb") && !valid_name(&"x".repeat(129)));
        assert_eq!(check(&"#".repeat(MAX_SCRIPT_BYTES + 1)), Err(Refused::TooLarge));
        assert!(matches!(check("fileinto \"x\";"), Err(Refused::Invalid(_))));
        assert_eq!(check("require \"fileinto\"; fileinto \"x\";"), Ok(()));
    }

    #[test]
    fn a_bal_keeps_at_most_its_share_of_scripts() {
        let scripts: Vec<SieveScript> = (0..MAX_SCRIPTS)
            .map(|i| SieveScript {
                name: format!("s{i}"),
                content: "keep;".into(),
                active: false,
            })
            .collect();
        assert!(room_for(&scripts[..MAX_SCRIPTS - 1], "nouveau"));
        assert!(!room_for(&scripts, "nouveau"), "one too many");
        assert!(room_for(&scripts, "s3"), "replacing one is always allowed");
    }

    #[test]
    fn headers_are_read_decoded_and_unfolded() {
        let m = b"Subject: =?utf-8?q?Cong=C3=A9s?=\r\n d'\xc3\xa9t\xc3\xa9\r\nFrom: a@b.fr\r\n\r\nbody";
        let h = header_fields(m);
        assert_eq!(h[0].0, "Subject");
        assert!(h[0].1.starts_with("Congés"), "{:?}", h[0].1);
        assert_eq!(h[1], ("From".to_string(), "a@b.fr".to_string()));
        assert_eq!(h.len(), 2);
        // A hostile sender's header is read only so far.
        let mut big = b"X-Long: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 100_000));
        big.extend_from_slice(b"\r\n");
        big.extend(std::iter::repeat_n(b"X-N: 1\r\n".as_slice(), 1000).flatten());
        big.extend_from_slice(b"\r\nbody");
        let h = header_fields(&big);
        assert_eq!(h.len(), MAX_FIELDS);
        assert_eq!(h[0].1.len(), MAX_FIELD_BYTES);
    }
}
