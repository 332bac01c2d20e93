//! Who may use a shared BAL (an ORG or CAB BAL) and what they may do with it (issue 16): its
//! members are professionals, by their national identifier (IdNat_PS, proven by PSC or CPS),
//! and staff without an RPPS (a secretary, a care home's administration), by their e-mail,
//! who log in with a password and a second factor. Each member has rights: read, send, manage.

use crate::{Account, AccountId, Result};

/// What a member may do with a BAL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rights {
    /// Read its mail (webmail, IMAP).
    pub read: bool,
    /// Send as the BAL (webmail, SMTP submission).
    pub send: bool,
    /// Manage its members and settings.
    pub manage: bool,
}

impl Rights {
    /// `read,send,manage` or any part of it, in French or English (`lecture,envoi,gestion`).
    pub fn parse(text: &str) -> std::result::Result<Rights, String> {
        let mut rights = Rights::default();
        for word in text.split([',', ' ', '+']).map(str::trim).filter(|w| !w.is_empty()) {
            match word.to_lowercase().as_str() {
                "read" | "lecture" | "lire" => rights.read = true,
                "send" | "envoi" | "envoyer" => rights.send = true,
                "manage" | "gestion" | "gerer" | "gérer" => rights.manage = true,
                other => return Err(format!("« {other} » n'est pas un droit (read, send, manage)")),
            }
        }
        match rights == Rights::default() {
            true => Err("aucun droit donné (read, send, manage)".into()),
            false => Ok(rights),
        }
    }

    pub fn as_text(self) -> String {
        [(self.read, "read"), (self.send, "send"), (self.manage, "manage")]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, name)| *name)
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// A member of a shared BAL: an IdNat_PS or a staff e-mail, with its rights.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    pub who: String,
    pub rights: Rights,
}

/// A staff account: no BAL of its own, no RPPS; a password and an authenticator app (TOTP).
#[derive(Clone, Debug)]
pub struct StaffAccount {
    pub email: String,
    pub name: String,
    pub password_hash: String,
    /// RFC 6238 secret, base32.
    pub totp_secret: String,
    pub suspended: bool,
    pub created_at: i64,
}

pub trait Members {
    /// Adds or changes a member's rights on a BAL.
    fn set_member(&self, account: AccountId, who: &str, rights: Rights) -> Result<()>;
    fn members(&self, account: AccountId) -> Result<Vec<Member>>;
    /// The member's rights on the BAL, `None` when not a member.
    fn rights_of(&self, account: AccountId, who: &str) -> Result<Option<Rights>>;
    /// The BALs someone is a member of, with their rights.
    fn memberships(&self, who: &str) -> Result<Vec<(Account, Rights)>>;

    /// An app password of the BAL made for one of its members (IMAP and SMTP with their rights).
    fn add_member_app_password(
        &self,
        account: AccountId,
        member: &str,
        label: &str,
        hash: &str,
        lookup: &str,
    ) -> Result<i64>;

    fn add_staff(&self, staff: &StaffAccount) -> Result<()>;
    fn staff(&self, email: &str) -> Result<Option<StaffAccount>>;
    /// Suspends or resumes a staff account. Suspending deletes the app passwords made for
    /// them and ends the sessions they opened (see `Identities::revocations_since`).
    fn set_staff_suspended(&self, email: &str, suspended: bool) -> Result<()>;
    /// A staff member's new password (Argon2id), after they proved who they are again.
    fn set_staff_password(&self, email: &str, password_hash: &str) -> Result<()>;
    /// Records a used TOTP time step; false if it was used already (RFC 6238 §5.2).
    fn claim_staff_totp_step(&self, email: &str, step: i64) -> Result<bool>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_as_admins_write_them() {
        let all = Rights {
            read: true,
            send: true,
            manage: true,
        };
        assert_eq!(Rights::parse("read,send,manage"), Ok(all));
        assert_eq!(
            Rights::parse("lecture, envoi"),
            Ok(Rights {
                read: true,
                send: true,
                manage: false
            })
        );
        assert_eq!(Rights::parse("send").unwrap().as_text(), "send");
        assert!(Rights::parse("").is_err());
        assert!(Rights::parse("read,delete").unwrap_err().contains("delete"));
    }
}
