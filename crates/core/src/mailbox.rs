//! Mailbox kinds of the MSSanté trust space and the special-use folders every account has.

use std::fmt;

/// Type of a BAL (boîte aux lettres) as the ANS directory publishes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MailboxKind {
    /// BAL personnelle: one professional.
    Personal,
    /// BAL organisationnelle: a service or a structure, shared by several professionals.
    Organisational,
    /// BAL applicative: a software (LPS, DPI) sending and receiving on a structure's behalf.
    Applicative,
    /// BAL de cabinet: a practice shared by its professionals.
    Practice,
}

impl MailboxKind {
    /// The code used in the ANS extracts (`PER`, `ORG`, `APP`, `CAB`).
    pub fn code(self) -> &'static str {
        match self {
            MailboxKind::Personal => "PER",
            MailboxKind::Organisational => "ORG",
            MailboxKind::Applicative => "APP",
            MailboxKind::Practice => "CAB",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        match code.trim().to_ascii_uppercase().as_str() {
            "PER" => Some(MailboxKind::Personal),
            "ORG" => Some(MailboxKind::Organisational),
            "APP" => Some(MailboxKind::Applicative),
            "CAB" => Some(MailboxKind::Practice),
            _ => None,
        }
    }
}

impl fmt::Display for MailboxKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Special-use folders (RFC 6154) created for every account, with their French display names
/// kept for the webmail; IMAP names stay in English as mail clients expect them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SpecialUse {
    Inbox,
    Sent,
    Drafts,
    Trash,
    Junk,
}

impl SpecialUse {
    pub const ALL: [SpecialUse; 5] = [
        SpecialUse::Inbox,
        SpecialUse::Sent,
        SpecialUse::Drafts,
        SpecialUse::Trash,
        SpecialUse::Junk,
    ];

    /// Folder name in IMAP.
    pub fn folder_name(self) -> &'static str {
        match self {
            SpecialUse::Inbox => "INBOX",
            SpecialUse::Sent => "Sent",
            SpecialUse::Drafts => "Drafts",
            SpecialUse::Trash => "Trash",
            SpecialUse::Junk => "Junk",
        }
    }

    /// RFC 6154 attribute (none for INBOX, which is special by name).
    pub fn attribute(self) -> Option<&'static str> {
        match self {
            SpecialUse::Inbox => None,
            SpecialUse::Sent => Some("\\Sent"),
            SpecialUse::Drafts => Some("\\Drafts"),
            SpecialUse::Trash => Some("\\Trash"),
            SpecialUse::Junk => Some("\\Junk"),
        }
    }

    pub fn french_name(self) -> &'static str {
        match self {
            SpecialUse::Inbox => "Boîte de réception",
            SpecialUse::Sent => "Envoyés",
            SpecialUse::Drafts => "Brouillons",
            SpecialUse::Trash => "Corbeille",
            SpecialUse::Junk => "Indésirables",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_codes_round_trip() {
        for k in [
            MailboxKind::Personal,
            MailboxKind::Organisational,
            MailboxKind::Applicative,
            MailboxKind::Practice,
        ] {
            assert_eq!(MailboxKind::from_code(k.code()), Some(k));
        }
        assert_eq!(MailboxKind::from_code(" org "), Some(MailboxKind::Organisational));
        assert_eq!(MailboxKind::from_code("XYZ"), None);
    }
}
