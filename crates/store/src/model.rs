//! Plain data exchanged with storage backends.

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AccountId(pub i64);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MailboxId(pub i64);

/// SHA-256 of a message's bytes, in lower-case hex: the name of its blob file.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(pub String);

#[derive(Clone, Debug)]
pub struct Account {
    pub id: AccountId,
    pub address: String,
    pub password_hash: String,
    pub quota_bytes: u64,
    pub created_at: i64,
    pub status: crate::AccountStatus,
    /// Last successful login by any method; `None` until the first.
    pub last_login_at: Option<i64>,
    /// Inactivity notices sent since the last login (CNIL AU-037).
    pub inactivity_notices: u32,
    /// When the last of them was sent.
    pub inactivity_notice_at: Option<i64>,
    /// PER, ORG, APP or CAB: fixed when the BAL is created.
    pub kind: confiance_core::MailboxKind,
    /// FINESS of the structure an ORG, APP or CAB BAL belongs to.
    pub structure: Option<String>,
    /// The name a structure's BAL shows (`Secrétariat de cardiologie`).
    pub display_name: Option<String>,
}

/// How an account of this operator appears in the directory (annuaire): its holder (a
/// professional for PER, a structure's service for ORG/APP), as the MSSanté extract describes a
/// BAL, and the choices made at activation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectoryListing {
    pub kind: confiance_core::MailboxKind,
    /// IdNat_PS of the holder (`8` + RPPS).
    pub national_id: Option<String>,
    /// IdNat_Struct of the structure (`1` + FINESS).
    pub structure_id: Option<String>,
    pub civility: Option<String>,
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    /// TRE_G15 code and label.
    pub profession: Option<(String, String)>,
    pub specialty: Option<(String, String)>,
    pub service: Option<String>,
    pub organisation: Option<String>,
    pub postcode: Option<String>,
    /// Ligne d'acheminement (`75002 PARIS`).
    pub locality: Option<String>,
    pub departement: Option<String>,
    pub dematerialisation: Option<bool>,
    /// Liste rouge: the BAL is never shown, here or in any export.
    pub red_list: bool,
}

#[derive(Clone, Debug)]
pub struct Mailbox {
    pub id: MailboxId,
    pub account: AccountId,
    pub name: String,
    /// RFC 6154 attribute such as `\Sent`.
    pub special_use: Option<String>,
    pub uidvalidity: u32,
    pub uidnext: u32,
    pub highest_modseq: u64,
    pub subscribed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageMeta {
    pub uid: u32,
    pub blob: BlobId,
    pub size: u64,
    /// Seconds since the epoch, with the sender's UTC offset in minutes (IMAP INTERNALDATE).
    pub internal_date: i64,
    pub internal_tz_minutes: i32,
    /// System flags (`\Seen`…) and keywords, sorted, deduplicated.
    pub flags: Vec<String>,
    pub recent: bool,
    pub modseq: u64,
}

#[derive(Clone, Debug)]
pub struct NewMessage {
    pub mailbox: MailboxId,
    pub blob: BlobId,
    pub size: u64,
    pub internal_date: i64,
    pub internal_tz_minutes: i32,
    pub flags: Vec<String>,
    /// \Recent for the next session to take (RFC 3501 §2.3.2); false when the session that
    /// appends it holds the folder and takes it itself.
    pub recent: bool,
    /// What the webmail lists, read from the message at delivery (kept once per blob).
    pub summary: Option<crate::MessageSummary>,
}

/// Messages appended together; see `Store::append_groups`.
#[derive(Clone, Debug)]
pub struct AppendGroup {
    pub messages: Vec<NewMessage>,
    pub atomic: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Appended {
    pub account: AccountId,
    pub mailbox: MailboxId,
    pub uidvalidity: u32,
    pub uid: u32,
}

/// A folder's messages in UID order and its HIGHESTMODSEQ, read in one snapshot: the state a
/// session's view starts from, exactly (RFC 7162 §3.1.2.1).
#[derive(Clone, Debug, Default)]
pub struct FolderMessages {
    pub highest_modseq: u64,
    pub messages: Vec<MessageMeta>,
}

#[derive(Clone, Debug, Default)]
pub struct Changes {
    pub changed: Vec<MessageMeta>,
    pub expunged: Vec<u32>,
    pub highest_modseq: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlagOp {
    Add,
    Remove,
    Replace,
}

#[derive(Clone, Debug)]
pub struct FlagUpdate {
    pub uids: Vec<u32>,
    pub op: FlagOp,
    pub flags: Vec<String>,
    /// RFC 7162 §3.1.3 UNCHANGEDSINCE: messages modified after it are left alone and reported.
    pub unchanged_since: Option<u64>,
}

impl FlagUpdate {
    /// A message's flags once this update is applied to `current` (both backends use it).
    pub fn applied_to(&self, current: &[String]) -> Vec<String> {
        match self.op {
            FlagOp::Replace => normalise_flags(&self.flags),
            FlagOp::Add => {
                let mut all = current.to_vec();
                all.extend(self.flags.iter().cloned());
                normalise_flags(&all)
            }
            FlagOp::Remove => {
                let remove = normalise_flags(&self.flags);
                current
                    .iter()
                    .filter(|f| !remove.iter().any(|r| r.eq_ignore_ascii_case(f)))
                    .cloned()
                    .collect()
            }
        }
    }
}

#[derive(Clone, Debug, Default)]
pub struct FlagOutcome {
    /// Messages whose flags or modseq changed, with their new state.
    pub updated: Vec<MessageMeta>,
    /// UIDs refused by UNCHANGEDSINCE (the MODIFIED response code).
    pub modified: Vec<u32>,
}

#[derive(Clone, Debug, Default)]
pub struct CopyOutcome {
    pub uidvalidity: u32,
    pub pairs: Vec<(u32, u32)>,
}

/// Canonical order and spelling of flags: system flags in their RFC 9051 §2.3.2 case,
/// keywords as given, sorted and deduplicated case-insensitively.
pub fn normalise_flags(flags: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(flags.len());
    for f in flags {
        let canon = match f.to_ascii_lowercase().as_str() {
            "\\seen" => "\\Seen".to_string(),
            "\\answered" => "\\Answered".to_string(),
            "\\flagged" => "\\Flagged".to_string(),
            "\\deleted" => "\\Deleted".to_string(),
            "\\draft" => "\\Draft".to_string(),
            "\\recent" => continue, // session state, never stored (RFC 9051 §2.3.2)
            _ => f.clone(),
        };
        if !out.iter().any(|o| o.eq_ignore_ascii_case(&canon)) {
            out.push(canon);
        }
    }
    out.sort_by_key(|a| a.to_ascii_lowercase());
    out
}
