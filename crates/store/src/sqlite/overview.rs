//! The webmail's lists on SQLite. A folder page walks `messages_arrival` (or the unread partial
//! index) backwards and stops after one page, so its cost does not grow with the folder.

use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, params, params_from_iter};

use super::{MESSAGE_COLS, SqliteStore, message_row};
use crate::overview::*;
use crate::{AccountId, BlobId, MailboxId, Result};

/// The same text as the partial index `messages_unseen`, so SQLite can use it.
const UNSEEN: &str = r"instr(m.flags, '\Seen') = 0";

/// Columns of a listed message: the message's, then the summary's (NULL when missing).
fn listed_cols() -> String {
    let message: Vec<String> = MESSAGE_COLS.split(", ").map(|c| format!("m.{c}")).collect();
    format!(
        "{}, s.blob, s.date, s.from_name, s.from_address, s.recipients, s.subject, s.attachments, s.xdm, s.receipt_to, s.snippet, s.thread",
        message.join(", ")
    )
}

/// A listed message and its folder, whose id the query selects after the listed columns
/// (`folder_col`, counted once per query).
fn placed_row(r: &rusqlite::Row, folder_col: usize) -> rusqlite::Result<(MailboxId, Listed)> {
    Ok((MailboxId(r.get(folder_col)?), listed_row(r)?))
}

fn listed_row(r: &rusqlite::Row) -> rusqlite::Result<Listed> {
    let meta = message_row(r)?;
    let summary = match r.get::<_, Option<String>>(8)? {
        None => None,
        Some(_) => Some(MessageSummary {
            date: r.get(9)?,
            from_name: r.get(10)?,
            from_address: r.get(11)?,
            recipients: r.get(12)?,
            subject: r.get(13)?,
            attachments: r.get(14)?,
            xdm: r.get(15)?,
            receipt_to: r.get(16)?,
            snippet: r.get(17)?,
            thread: r.get(18)?,
        }),
    };
    Ok(Listed { meta, summary })
}

pub(super) fn insert_summary(tx: &Connection, blob: &BlobId, s: &MessageSummary) -> Result<()> {
    let sender = if s.from_name.trim().is_empty() {
        &s.from_address
    } else {
        &s.from_name
    };
    tx.prepare_cached(
        "INSERT OR IGNORE INTO message_summaries(blob, date, from_name, from_address, recipients, subject,
             attachments, xdm, receipt_to, sort_sender, sort_subject, snippet, thread)
         VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )?
    .execute(params![
        blob.0,
        s.date,
        s.from_name,
        s.from_address,
        s.recipients,
        s.subject,
        s.attachments,
        s.xdm,
        s.receipt_to,
        sender.to_lowercase(),
        subject_key(&s.subject),
        s.snippet,
        s.thread,
    ])?;
    Ok(())
}

/// Copies the blob's summary sort keys to one message (NULL while it has no summary).
pub(super) fn sync_sort_keys(tx: &Connection, mailbox: MailboxId, uid: u32, blob: &BlobId) -> Result<()> {
    tx.prepare_cached(
        "UPDATE messages SET sort_sender = s.sort_sender, sort_subject = s.sort_subject
         FROM message_summaries s WHERE s.blob = ?3 AND messages.mailbox_id = ?1 AND messages.uid = ?2",
    )?
    .execute(params![mailbox.0, uid, blob.0])?;
    Ok(())
}

impl Overviews for SqliteStore {
    fn put_summary(&self, blob: &BlobId, summary: &MessageSummary) -> Result<()> {
        self.write(|tx| {
            insert_summary(tx, blob, summary)?;
            tx.execute(
                "UPDATE messages SET sort_sender = s.sort_sender, sort_subject = s.sort_subject
                 FROM message_summaries s WHERE s.blob = ?1 AND messages.blob = ?1",
                [&blob.0],
            )?;
            Ok(())
        })
    }

    fn unsummarised(&self, account: AccountId, limit: u32) -> Result<Vec<BlobId>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT DISTINCT m.blob FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
                 WHERE b.account_id = ?1
                   AND NOT EXISTS(SELECT 1 FROM message_summaries s WHERE s.blob = m.blob)
                 LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![account.0, limit], |r| Ok(BlobId(r.get(0)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn list_messages(&self, mailbox: MailboxId, q: &ListQuery) -> Result<(u64, Vec<Listed>)> {
        // Filters and order read the messages table alone (and its indexes); the summaries of
        // the one page are joined last, so neither the count nor a deep page pays for a join.
        let mut filter = String::from("m.mailbox_id = ?1");
        if q.unread_only {
            filter.push_str(" AND ");
            filter.push_str(UNSEEN);
        }
        if q.flagged_only {
            filter.push_str(r" AND instr(m.flags, '\Flagged') > 0");
        }
        if q.attachments_only {
            filter
                .push_str(" AND EXISTS(SELECT 1 FROM message_summaries a WHERE a.blob = m.blob AND a.attachments > 0)");
        }
        let dir = if q.ascending { "ASC" } else { "DESC" };
        let key = match q.sort {
            SortKey::Date => "",
            SortKey::Sender => "sort_sender",
            SortKey::Subject => "sort_subject",
        };
        let order = |t: &str| match key {
            "" => format!("{t}internal_date {dir}, {t}uid {dir}"),
            k => format!("{t}{k} {dir}, {t}internal_date {dir}, {t}uid {dir}"),
        };
        self.read(|c| {
            let total: i64 = c
                .prepare_cached(&format!("SELECT COUNT(*) FROM messages m WHERE {filter}"))?
                .query_row([mailbox.0], |r| r.get(0))?;
            let mut stmt = c.prepare_cached(&format!(
                "SELECT {} FROM (SELECT * FROM messages m WHERE {filter} ORDER BY {} LIMIT ?2 OFFSET ?3) m
                 LEFT JOIN message_summaries s ON s.blob = m.blob ORDER BY {}",
                listed_cols(),
                order("m."),
                order("m."),
            ))?;
            let rows = stmt.query_map(params![mailbox.0, q.limit, q.offset], listed_row)?;
            Ok((total as u64, rows.collect::<rusqlite::Result<_>>()?))
        })
    }

    fn listed(&self, mailbox: MailboxId, uid: u32) -> Result<Option<Listed>> {
        self.read(|c| {
            Ok(c.prepare_cached(&format!(
                "SELECT {} FROM messages m LEFT JOIN message_summaries s ON s.blob = m.blob
                 WHERE m.mailbox_id = ?1 AND m.uid = ?2",
                listed_cols()
            ))?
            .query_row(params![mailbox.0, uid], listed_row)
            .optional()?)
        })
    }

    fn folder_counts(&self, account: AccountId) -> Result<Vec<FolderCount>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT b.id,
                    (SELECT COUNT(*) FROM messages m WHERE m.mailbox_id = b.id),
                    (SELECT COUNT(*) FROM messages m WHERE m.mailbox_id = b.id AND {UNSEEN})
                 FROM mailboxes b WHERE b.account_id = ?1"
            ))?;
            let rows = stmt.query_map([account.0], |r| {
                Ok(FolderCount {
                    mailbox: MailboxId(r.get(0)?),
                    total: r.get::<_, i64>(1)? as u64,
                    unseen: r.get::<_, i64>(2)? as u64,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn conversation(
        &self,
        account: AccountId,
        thread: &str,
        subject: &str,
        limit: u32,
    ) -> Result<Vec<(MailboxId, Listed)>> {
        let key = subject_key(subject);
        if key.is_empty() && thread.is_empty() {
            return Ok(Vec::new());
        }
        let cols = listed_cols();
        let folder_col = cols.split(", ").count();
        self.read(|c| {
            let mut found = Vec::new();
            if !thread.is_empty() {
                // One probe of `summaries_by_thread`, then the account's copies of each blob.
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT {cols}, m.mailbox_id FROM message_summaries s JOIN messages m ON m.blob = s.blob
                     WHERE s.thread = ?2 AND m.mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?1)
                     ORDER BY m.internal_date DESC, m.uid DESC LIMIT ?3"
                ))?;
                let rows = stmt.query_map(params![account.0, thread, limit], |r| placed_row(r, folder_col))?;
                found = rows.collect::<rusqlite::Result<Vec<_>>>()?;
            }
            if !key.is_empty() {
                // One probe of `messages_by_subject` per folder of the account; with a thread,
                // only the messages that have none (their conversation is their subject).
                let mut stmt = c.prepare_cached(&format!(
                    "SELECT {cols}, m.mailbox_id FROM messages m
                     LEFT JOIN message_summaries s ON s.blob = m.blob
                     WHERE m.mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = ?1) AND m.sort_subject = ?2
                       AND (?3 = '' OR coalesce(s.thread, '') = '')
                     ORDER BY m.internal_date DESC, m.uid DESC LIMIT ?4"
                ))?;
                let rows = stmt.query_map(params![account.0, key, thread, limit], |r| placed_row(r, folder_col))?;
                found.extend(rows.collect::<rusqlite::Result<Vec<_>>>()?);
            }
            found.sort_by_key(|(_, l)| std::cmp::Reverse((l.meta.internal_date, l.meta.uid)));
            found.truncate(limit as usize);
            Ok(found)
        })
    }

    fn search_messages(&self, account: AccountId, q: &SearchQuery) -> Result<Vec<(MailboxId, Listed)>> {
        let mut filter = String::from("b.account_id = ?");
        let mut values: Vec<Value> = vec![Value::Integer(account.0)];
        let mut like = |clause: &str, text: &Option<String>| {
            if let Some(t) = text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                filter.push_str(clause);
                let pattern = contains(t);
                let n = clause.matches('?').count();
                values.extend(std::iter::repeat_n(Value::Text(pattern), n));
            }
        };
        like(
            " AND (s.from_name LIKE ? ESCAPE '\\' OR s.from_address LIKE ? ESCAPE '\\')",
            &q.from,
        );
        like(" AND s.recipients LIKE ? ESCAPE '\\'", &q.to);
        like(" AND s.subject LIKE ? ESCAPE '\\'", &q.subject);
        if let Some(since) = q.since {
            filter.push_str(" AND m.internal_date >= ?");
            values.push(Value::Integer(since));
        }
        if let Some(before) = q.before {
            filter.push_str(" AND m.internal_date < ?");
            values.push(Value::Integer(before));
        }
        values.push(Value::Integer(q.limit as i64));
        let cols = listed_cols();
        let folder_col = cols.split(", ").count();
        self.read(|c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {cols}, m.mailbox_id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
                 LEFT JOIN message_summaries s ON s.blob = m.blob
                 WHERE {filter} ORDER BY m.internal_date DESC, m.uid DESC LIMIT ?"
            ))?;
            let rows = stmt.query_map(params_from_iter(values), |r| placed_row(r, folder_col))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn signature(&self, account: AccountId) -> Result<String> {
        self.read(|c| {
            Ok(c.query_row(
                "SELECT signature FROM account_preferences WHERE account_id = ?1",
                [account.0],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or_default())
        })
    }

    fn set_signature(&self, account: AccountId, signature: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO account_preferences(account_id, signature) VALUES(?1, ?2)
                 ON CONFLICT(account_id) DO UPDATE SET signature = excluded.signature",
                params![account.0, signature],
            )?;
            Ok(())
        })
    }
}
