//! Folders an account may make: named, nested and counted within bounds, so that one client
//! cannot make the server hold or send megabytes of names (a 30,000-level CREATE once made a
//! LIST answer 901 MB). IMAP answers `NO [LIMIT]` (RFC 9051 §7.1), the webmail says why.
//! The special folders (RFC 6154) exist once each: no second « Corbeille » beside Trash.

use confiance_store::{AccountId, Mailbox, Store, StoreError};

use crate::{MailError, MailService};

/// The folders that exist from a BAL's creation.
pub const INBOX: &str = "INBOX";

/// A folder's full name, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 512;
/// One level of a folder's name.
pub const MAX_LEVEL_BYTES: usize = 255;
/// Levels of nesting (`A/B/C` is 3).
pub const MAX_DEPTH: usize = 16;
/// Folders of one account, the five standard ones included.
pub const MAX_FOLDERS: usize = 1000;

/// Which bound a folder operation would cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FolderLimit {
    #[error("folder names are at most {MAX_NAME_BYTES} bytes")]
    NameTooLong,
    #[error("each level of a folder name is at most {MAX_LEVEL_BYTES} bytes")]
    LevelTooLong,
    #[error("folders nest at most {MAX_DEPTH} levels deep")]
    TooDeep,
    #[error("an account holds at most {MAX_FOLDERS} folders")]
    TooMany,
    #[error("an account holds at most {MAX_FOLDERS} subscriptions")]
    TooManySubscriptions,
    #[error("that is the name of a special folder (Sent, Drafts, Trash, Junk), which exists once")]
    SpecialName,
    #[error("another folder already has that special use")]
    SpecialUseTaken,
}

impl FolderLimit {
    /// What a professional reads in the webmail.
    pub fn french(self) -> String {
        match self {
            FolderLimit::NameTooLong => format!("un nom de dossier fait au plus {MAX_NAME_BYTES} octets"),
            FolderLimit::LevelTooLong => {
                format!("chaque niveau d'un nom de dossier fait au plus {MAX_LEVEL_BYTES} octets")
            }
            FolderLimit::TooDeep => format!("les dossiers s'imbriquent sur {MAX_DEPTH} niveaux au plus"),
            FolderLimit::TooMany => format!("une BAL compte au plus {MAX_FOLDERS} dossiers"),
            FolderLimit::TooManySubscriptions => format!("une BAL compte au plus {MAX_FOLDERS} abonnements"),
            FolderLimit::SpecialName => "c'est le nom d'un dossier spécial (Envoyés, Brouillons, Corbeille, \
                                         Indésirables), qui existe une seule fois"
                .to_string(),
            FolderLimit::SpecialUseTaken => "un autre dossier a déjà cet usage spécial".to_string(),
        }
    }

    /// The IMAP response code (RFC 5530 §3, RFC 6154 §5.3).
    pub fn code(self) -> &'static str {
        match self {
            FolderLimit::SpecialName => "CANNOT",
            FolderLimit::SpecialUseTaken => "USEATTR",
            _ => "LIMIT",
        }
    }
}

/// Whether `name` is, at the top level and in any case, the IMAP or French name of a special
/// folder: mail clients and the webmail show both as the same folder.
pub fn is_special_name(name: &str, delimiter: char) -> bool {
    special_named(name, delimiter).is_some()
}

/// The special folder `name` names, in any of its spellings: IMAP's, French, and French as
/// mail clients send it in modified UTF-7 (RFC 3501 §5.1.3; names are kept as sent).
fn special_named(name: &str, delimiter: char) -> Option<confiance_core::mailbox::SpecialUse> {
    use confiance_core::mailbox::SpecialUse;
    let mutf7 = |u: SpecialUse| match u {
        SpecialUse::Inbox => Some("Bo&AO4-te de r&AOk-ception"),
        SpecialUse::Sent => Some("Envoy&AOk-s"),
        SpecialUse::Junk => Some("Ind&AOk-sirables"),
        SpecialUse::Drafts | SpecialUse::Trash => None,
    };
    let name = name.to_lowercase();
    if name.contains(delimiter) {
        return None;
    }
    SpecialUse::ALL.into_iter().find(|u| {
        [Some(u.folder_name()), Some(u.french_name()), mutf7(*u)]
            .into_iter()
            .flatten()
            .any(|n| n.to_lowercase() == name)
    })
}

/// Checks a folder's full name against the bounds on its length and depth.
pub fn check_name(name: &str, delimiter: char) -> Result<(), FolderLimit> {
    if name.len() > MAX_NAME_BYTES {
        return Err(FolderLimit::NameTooLong);
    }
    let mut depth = 0;
    for level in name.split(delimiter) {
        depth += 1;
        if level.len() > MAX_LEVEL_BYTES {
            return Err(FolderLimit::LevelTooLong);
        }
    }
    if depth > MAX_DEPTH {
        return Err(FolderLimit::TooDeep);
    }
    Ok(())
}

/// The parents of `name` that do not exist yet (RFC 9051 §6.3.4: CREATE makes them too).
fn missing_parents(s: &dyn Store, account: AccountId, name: &str, delimiter: char) -> Result<Vec<String>, StoreError> {
    let levels: Vec<&str> = name.split(delimiter).collect();
    let mut missing = Vec::new();
    for i in 1..levels.len() {
        let parent = levels[..i].join(&delimiter.to_string());
        if s.mailbox(account, &parent)?.is_none() {
            missing.push(parent);
        }
    }
    Ok(missing)
}

impl MailService {
    /// Creates `name` and its missing parents, within the bounds above.
    pub async fn create_folder(
        &self,
        account: AccountId,
        name: String,
        special_use: Option<String>,
        delimiter: char,
    ) -> Result<Mailbox, MailError> {
        check_name(&name, delimiter).map_err(MailError::Limit)?;
        self.run(move |s| {
            let existing = s.mailboxes(account)?;
            let taken = |attribute: &str| existing.iter().any(|m| m.special_use.as_deref() == Some(attribute));
            if special_use.as_deref().is_some_and(taken) {
                return Ok(Err(FolderLimit::SpecialUseTaken));
            }
            // The folder itself gets the store's "already exists". Another spelling of a special
            // folder that exists is refused; one whose folder was deleted is made again, with
            // its special use, so that a mail client can restore its Trash.
            let mut special_use = special_use;
            if special_use.is_none()
                && let Some(named) = special_named(&name, delimiter)
                && !existing.iter().any(|m| m.name == name)
            {
                match named.attribute() {
                    Some(attribute) if !taken(attribute) => special_use = Some(attribute.to_string()),
                    _ => return Ok(Err(FolderLimit::SpecialName)),
                }
            }
            let parents = missing_parents(s, account, &name, delimiter)?;
            if existing.len() + parents.len() + 1 > MAX_FOLDERS {
                return Ok(Err(FolderLimit::TooMany));
            }
            for parent in parents {
                s.create_mailbox(account, &parent, None)?;
            }
            s.create_mailbox(account, &name, special_use.as_deref()).map(Ok)
        })
        .await?
        .map_err(MailError::Limit)
    }

    /// Renames `from` (and the folders below it) to `to`, making `to`'s missing parents, within
    /// the bounds above for every name that results.
    pub async fn rename_folder(
        &self,
        account: AccountId,
        from: String,
        to: String,
        delimiter: char,
    ) -> Result<(), MailError> {
        check_name(&to, delimiter).map_err(MailError::Limit)?;
        if is_special_name(&to, delimiter) {
            return Err(MailError::Limit(FolderLimit::SpecialName));
        }
        let emptied = self
            .run(move |s| {
                let below = format!("{from}{delimiter}");
                let all = s.mailboxes(account)?;
                for m in all.iter().filter(|m| m.name.starts_with(&below)) {
                    if let Err(e) = check_name(&format!("{to}{}", &m.name[from.len()..]), delimiter) {
                        return Ok(Err(e));
                    }
                }
                let parents: Vec<String> = missing_parents(s, account, &to, delimiter)?
                    .into_iter()
                    .filter(|p| *p != from)
                    .collect();
                if all.len() + parents.len() > MAX_FOLDERS {
                    return Ok(Err(FolderLimit::TooMany));
                }
                for parent in parents {
                    s.create_mailbox(account, &parent, None)?;
                }
                // Renaming INBOX empties it (RFC 9051 §6.3.6): its sessions see the messages leave.
                let emptied = match from == INBOX {
                    true => s.mailbox(account, INBOX)?.map(|m| m.id),
                    false => None,
                };
                s.rename_mailbox(account, &from, &to, delimiter)?;
                Ok(Ok(emptied))
            })
            .await?
            .map_err(MailError::Limit)?;
        if let Some(inbox) = emptied {
            self.changed(account, inbox);
        }
        Ok(())
    }

    /// Deletes a folder and its messages, releasing the blobs only they used.
    pub async fn delete_folder(&self, account: AccountId, name: String) -> Result<(), MailError> {
        let orphans = self.run(move |s| s.delete_mailbox(account, &name)).await?;
        self.release(orphans).await;
        Ok(())
    }

    /// An account's folders.
    pub async fn folders(&self, account: AccountId) -> Result<Vec<Mailbox>, MailError> {
        self.run(move |s| s.mailboxes(account)).await
    }

    /// One folder by its full name.
    pub async fn folder(&self, account: AccountId, name: String) -> Result<Option<Mailbox>, MailError> {
        self.run(move |s| s.mailbox(account, &name)).await
    }

    /// An account's folders and the names it subscribed to (RFC 9051 §6.3.9 LIST).
    pub async fn folders_and_subscriptions(
        &self,
        account: AccountId,
    ) -> Result<(Vec<Mailbox>, Vec<String>), MailError> {
        self.run(move |s| Ok((s.mailboxes(account)?, s.subscriptions(account)?)))
            .await
    }

    /// Subscribes to a name or unsubscribes from it. Subscriptions may name folders that do
    /// not exist (RFC 9051 §6.3.7), so they are bounded like folders.
    pub async fn subscribe_folder(
        &self,
        account: AccountId,
        name: String,
        on: bool,
        delimiter: char,
    ) -> Result<(), MailError> {
        if on {
            check_name(&name, delimiter)?;
        }
        self.run(move |s| {
            if on && s.subscriptions(account)?.len() >= MAX_FOLDERS {
                return Ok(Err(FolderLimit::TooManySubscriptions));
            }
            s.set_subscribed(account, &name, on).map(Ok)
        })
        .await?
        .map_err(MailError::Limit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_within_bounds() {
        assert_eq!(check_name("Patients/Dupont", '/'), Ok(()));
        let deep = vec!["a"; MAX_DEPTH + 1].join("/");
        assert_eq!(check_name(&deep, '/'), Err(FolderLimit::TooDeep));
        assert_eq!(check_name(&vec!["a"; MAX_DEPTH].join("/"), '/'), Ok(()));
        assert_eq!(check_name(&"é".repeat(128), '/'), Err(FolderLimit::LevelTooLong));
        let long = vec!["x".repeat(200); 3].join("/");
        assert_eq!(check_name(&long, '/'), Err(FolderLimit::NameTooLong));
    }

    #[test]
    fn special_names_in_any_language_and_case_at_the_top_only() {
        for name in [
            "Trash",
            "trash",
            "Corbeille",
            "CORBEILLE",
            "Envoyés",
            "Envoy&AOk-s",
            "sent",
            "Indésirables",
            "INBOX",
        ] {
            assert!(is_special_name(name, '/'), "{name}");
        }
        for name in ["Projets/Corbeille", "Corbeilles", "Archives", "Patients"] {
            assert!(!is_special_name(name, '/'), "{name}");
        }
    }
}
