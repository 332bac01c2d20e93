//! What the webmail lists without opening messages: a summary of each message (sender, subject,
//! date, attachments) kept once per blob at delivery, pages of a folder in a chosen order,
//! unread counts, and searches over those summaries.

use crate::{AccountId, BlobId, MailboxId, MessageMeta, Result};

/// The header facts a message list shows, read once when the message is stored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageSummary {
    /// `Date:` in seconds since the epoch, when readable.
    pub date: Option<i64>,
    pub from_name: String,
    pub from_address: String,
    /// Every `To:` and `Cc:` address, `Name <address>` joined by `, `.
    pub recipients: String,
    pub subject: String,
    /// Attachments (parts with a file name or `Content-Disposition: attachment`).
    pub attachments: u32,
    /// An `IHE_XDM.ZIP` attachment: a structured document (CDA in IHE XDM, Réf. #2 ECO.2.1.1).
    pub xdm: bool,
    /// The sender asks for a read receipt (`Disposition-Notification-To`, RFC 8098).
    pub receipt_to: Option<String>,
    /// The start of the text, quotes left out, whitespace folded: what the list shows under
    /// the subject. Empty for messages summarised before it existed (schema migration 13).
    pub snippet: String,
    /// The conversation it belongs to: the Message-ID that started it, the first of its
    /// `References:` (RFC 5322 §3.6.4 keeps it first), else its `In-Reply-To:`, else its own.
    /// Empty without any, and for messages summarised before it existed (migration 15).
    pub thread: String,
}

/// A message as a list shows it. The summary is `None` for messages stored before summaries
/// existed; the reader fills it in with [`Overviews::put_summary`].
#[derive(Clone, Debug)]
pub struct Listed {
    pub meta: MessageMeta,
    pub summary: Option<MessageSummary>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SortKey {
    /// Arrival (IMAP INTERNALDATE), the order of every mail client.
    #[default]
    Date,
    Sender,
    Subject,
}

/// One page of a folder.
#[derive(Clone, Debug)]
pub struct ListQuery {
    pub sort: SortKey,
    pub ascending: bool,
    pub unread_only: bool,
    pub flagged_only: bool,
    pub attachments_only: bool,
    pub offset: u32,
    pub limit: u32,
}

/// Messages and unread messages of one folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FolderCount {
    pub mailbox: MailboxId,
    pub total: u64,
    pub unseen: u64,
}

/// A search over every folder of an account; the texts match anywhere, case-insensitively.
#[derive(Clone, Debug, Default)]
pub struct SearchQuery {
    pub from: Option<String>,
    pub to: Option<String>,
    pub subject: Option<String>,
    /// Arrival on or after, in seconds since the epoch.
    pub since: Option<i64>,
    /// Arrival strictly before.
    pub before: Option<i64>,
    pub limit: u32,
}

pub trait Overviews {
    /// Keeps a blob's summary; a summary already kept for it stays (same bytes, same summary).
    fn put_summary(&self, blob: &BlobId, summary: &MessageSummary) -> Result<()>;
    /// Blobs of the account's messages that have no summary yet, at most `limit`.
    fn unsummarised(&self, account: AccountId, limit: u32) -> Result<Vec<BlobId>>;
    /// How many messages match the query's filters, and the page it asks for.
    fn list_messages(&self, mailbox: MailboxId, query: &ListQuery) -> Result<(u64, Vec<Listed>)>;
    /// One message with its summary.
    fn listed(&self, mailbox: MailboxId, uid: u32) -> Result<Option<Listed>>;
    /// Counts for every folder of the account.
    fn folder_counts(&self, account: AccountId) -> Result<Vec<FolderCount>>;
    /// Messages of all the account's folders matching the summary criteria, newest first.
    fn search_messages(&self, account: AccountId, query: &SearchQuery) -> Result<Vec<(MailboxId, Listed)>>;
    /// A conversation: the account's messages, in every folder, newest first, at most `limit`.
    /// With a `thread` (see `MessageSummary::thread`), those of that thread, and those without
    /// one (summarised before threads were kept, or without any Message-ID) whose base subject
    /// is `subject`'s (RFC 5256: reply and forward prefixes and `[tags]` left out); without a
    /// thread, every message of that base subject. None for an empty subject and thread.
    fn conversation(
        &self,
        account: AccountId,
        thread: &str,
        subject: &str,
        limit: u32,
    ) -> Result<Vec<(MailboxId, Listed)>>;
    /// The signature the webmail adds to new messages ("" when none).
    fn signature(&self, account: AccountId) -> Result<String>;
    fn set_signature(&self, account: AccountId, signature: &str) -> Result<()>;
}

/// The base subject (RFC 5256 §2.1), lower-case, so a thread sorts together: without the reply
/// and forward prefixes, French spacing before the colon included (`RE : `), nor the `[tags]`
/// lists and some clients put first.
pub(crate) fn subject_key(subject: &str) -> String {
    let mut s = subject.trim();
    loop {
        let lower = s.to_lowercase();
        let prefix = ["re", "tr", "fw", "fwd", "réf", "ref", "aw"].iter().find_map(|p| {
            let rest = lower.strip_prefix(p)?.trim_start();
            rest.starts_with(':').then(|| lower.len() - rest.len() + 1)
        });
        let tag = (lower.starts_with('['))
            .then(|| lower.find(']').map(|end| end + 1))
            .flatten();
        match prefix.or(tag).and_then(|n| s.get(n..)).map(str::trim_start) {
            Some(rest) if !rest.is_empty() => s = rest,
            _ => return s.to_lowercase(),
        }
    }
}

/// `%text%` for LIKE, with the wildcards of the text itself escaped.
pub(crate) fn contains(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

#[cfg(test)]
mod tests {
    use super::{contains, subject_key};

    #[test]
    fn subject_keys_ignore_reply_prefixes() {
        assert_eq!(subject_key("RE: Tr: Compte rendu"), "compte rendu");
        assert_eq!(subject_key("  Fwd:re:Bilan"), "bilan");
        assert_eq!(subject_key("Réponse attendue"), "réponse attendue");
        assert_eq!(subject_key("RE : TR : Compte rendu"), "compte rendu");
        assert_eq!(subject_key("[Cardio] Re: [URGENT] Bilan"), "bilan");
        assert_eq!(subject_key("Retour de bilan"), "retour de bilan");
        assert_eq!(subject_key("[seul]"), "[seul]");
        assert_eq!(subject_key("Re:"), "re:");
    }

    #[test]
    fn wildcards_are_escaped() {
        assert_eq!(contains(r"50%_a\b"), r"%50\%\_a\\b%");
    }
}
