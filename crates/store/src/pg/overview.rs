//! PostgreSQL side of `Overviews`: the webmail's pages, counts, searches and conversations,
//! read from `messages` and `message_summaries` as the SQLite side does.

use postgres::types::ToSql;
use postgres::{Row, Transaction};

use super::store::{MESSAGE_COLS, PgStore, message_row};
use crate::overview::*;
use crate::{AccountId, BlobId, MailboxId, Result};

/// The same text as the partial index `messages_unseen`, so the planner can use it.
const UNSEEN: &str = r"strpos(m.flags, '\Seen') = 0";

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
fn placed_row(r: &Row, folder_col: usize) -> (MailboxId, Listed) {
    (MailboxId(r.get(folder_col)), listed_row(r))
}

fn listed_row(r: &Row) -> Listed {
    let meta = message_row(r);
    let summary = r.get::<_, Option<String>>(8).map(|_| MessageSummary {
        date: r.get(9),
        from_name: r.get(10),
        from_address: r.get(11),
        recipients: r.get(12),
        subject: r.get(13),
        attachments: r.get::<_, i64>(14).clamp(0, u32::MAX as i64) as u32,
        xdm: r.get(15),
        receipt_to: r.get(16),
        snippet: r.get(17),
        thread: r.get(18),
    });
    Listed { meta, summary }
}

/// Keeps a blob's summary (a summary already kept stays), in the caller's transaction.
pub(crate) fn insert_summary(tx: &mut Transaction, blob: &BlobId, s: &MessageSummary) -> Result<()> {
    let sender = if s.from_name.trim().is_empty() {
        &s.from_address
    } else {
        &s.from_name
    };
    tx.execute(
        "INSERT INTO message_summaries(blob, date, from_name, from_address, recipients, subject,
             attachments, xdm, receipt_to, sort_sender, sort_subject, snippet, thread)
         VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT DO NOTHING",
        &[
            &blob.0,
            &s.date,
            &s.from_name,
            &s.from_address,
            &s.recipients,
            &s.subject,
            &(s.attachments as i64),
            &s.xdm,
            &s.receipt_to,
            &sender.to_lowercase(),
            &subject_key(&s.subject),
            &s.snippet,
            &s.thread,
        ],
    )?;
    Ok(())
}

/// Adds a parameter to a query being built and returns its placeholder (`$N`).
fn param(params: &mut Vec<Box<dyn ToSql + Sync>>, value: Box<dyn ToSql + Sync>) -> String {
    params.push(value);
    format!("${}", params.len())
}

impl Overviews for PgStore {
    fn put_summary(&self, blob: &BlobId, summary: &MessageSummary) -> Result<()> {
        self.write(|tx| {
            insert_summary(tx, blob, summary)?;
            tx.execute(
                "UPDATE messages SET sort_sender = s.sort_sender, sort_subject = s.sort_subject
                 FROM message_summaries s WHERE s.blob = $1 AND messages.blob = $1",
                &[&blob.0],
            )?;
            Ok(())
        })
    }

    fn unsummarised(&self, account: AccountId, limit: u32) -> Result<Vec<BlobId>> {
        self.read(|c| {
            let rows = c.query(
                "SELECT DISTINCT m.blob FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
                 WHERE b.account_id = $1
                   AND NOT EXISTS(SELECT 1 FROM message_summaries s WHERE s.blob = m.blob)
                 LIMIT $2",
                &[&account.0, &(limit as i64)],
            )?;
            Ok(rows.iter().map(|r| BlobId(r.get(0))).collect())
        })
    }

    fn list_messages(&self, mailbox: MailboxId, q: &ListQuery) -> Result<(u64, Vec<Listed>)> {
        // Filters and order read the messages table alone (and its indexes); the summaries of
        // the one page are joined last, so neither the count nor a deep page pays for a join.
        let mut filter = String::from("m.mailbox_id = $1");
        if q.unread_only {
            filter.push_str(" AND ");
            filter.push_str(UNSEEN);
        }
        if q.flagged_only {
            filter.push_str(r" AND strpos(m.flags, '\Flagged') > 0");
        }
        if q.attachments_only {
            filter
                .push_str(" AND EXISTS(SELECT 1 FROM message_summaries a WHERE a.blob = m.blob AND a.attachments > 0)");
        }
        let dir = if q.ascending { "ASC" } else { "DESC" };
        // SQLite puts NULL (no summary yet) before any key; PostgreSQL after, unless told.
        let nulls = if q.ascending { "NULLS FIRST" } else { "NULLS LAST" };
        let key = match q.sort {
            SortKey::Date => "",
            SortKey::Sender => "sort_sender",
            SortKey::Subject => "sort_subject",
        };
        let order = match key {
            "" => format!("m.internal_date {dir}, m.uid {dir}"),
            k => format!("m.{k} {dir} {nulls}, m.internal_date {dir}, m.uid {dir}"),
        };
        let count_sql = format!("SELECT count(*) FROM messages m WHERE {filter}");
        let page_sql = format!(
            "SELECT {} FROM (SELECT * FROM messages m WHERE {filter} ORDER BY {order} LIMIT $2 OFFSET $3) m
             LEFT JOIN message_summaries s ON s.blob = m.blob ORDER BY {order}",
            listed_cols(),
        );
        // One snapshot, so that the count and the page describe the same folder.
        self.snapshot(|tx| {
            let total: i64 = tx.query_one(&count_sql, &[&mailbox.0])?.get(0);
            let rows = tx.query(&page_sql, &[&mailbox.0, &(q.limit as i64), &(q.offset as i64)])?;
            Ok((total as u64, rows.iter().map(listed_row).collect()))
        })
    }

    fn listed(&self, mailbox: MailboxId, uid: u32) -> Result<Option<Listed>> {
        self.read(|c| {
            let row = c.query_opt(
                &format!(
                    "SELECT {} FROM messages m LEFT JOIN message_summaries s ON s.blob = m.blob
                     WHERE m.mailbox_id = $1 AND m.uid = $2",
                    listed_cols()
                ),
                &[&mailbox.0, &(uid as i64)],
            )?;
            Ok(row.as_ref().map(listed_row))
        })
    }

    fn folder_counts(&self, account: AccountId) -> Result<Vec<FolderCount>> {
        self.read(|c| {
            let rows = c.query(
                &format!(
                    "SELECT b.id,
                        (SELECT count(*) FROM messages m WHERE m.mailbox_id = b.id),
                        (SELECT count(*) FROM messages m WHERE m.mailbox_id = b.id AND {UNSEEN})
                     FROM mailboxes b WHERE b.account_id = $1 ORDER BY b.id"
                ),
                &[&account.0],
            )?;
            Ok(rows
                .iter()
                .map(|r| FolderCount {
                    mailbox: MailboxId(r.get(0)),
                    total: r.get::<_, i64>(1).max(0) as u64,
                    unseen: r.get::<_, i64>(2).max(0) as u64,
                })
                .collect())
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
        let limit_param = limit as i64;
        self.read(|c| {
            let mut found = Vec::new();
            if !thread.is_empty() {
                // One probe of `summaries_by_thread`, then the account's copies of each blob.
                let rows = c.query(
                    &format!(
                        "SELECT {cols}, m.mailbox_id FROM message_summaries s JOIN messages m ON m.blob = s.blob
                         WHERE s.thread = $2 AND m.mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = $1)
                         ORDER BY m.internal_date DESC, m.uid DESC LIMIT $3"
                    ),
                    &[&account.0, &thread, &limit_param],
                )?;
                found = rows.iter().map(|r| placed_row(r, folder_col)).collect();
            }
            if !key.is_empty() {
                // One probe of `messages_by_subject` per folder of the account; with a thread,
                // only the messages that have none (their conversation is their subject).
                let rows = c.query(
                    &format!(
                        "SELECT {cols}, m.mailbox_id FROM messages m
                         LEFT JOIN message_summaries s ON s.blob = m.blob
                         WHERE m.mailbox_id IN (SELECT id FROM mailboxes WHERE account_id = $1) AND m.sort_subject = $2
                           AND ($3::text = '' OR coalesce(s.thread, '') = '')
                         ORDER BY m.internal_date DESC, m.uid DESC LIMIT $4"
                    ),
                    &[&account.0, &key, &thread, &limit_param],
                )?;
                found.extend(rows.iter().map(|r| placed_row(r, folder_col)));
            }
            found.sort_by_key(|(_, l)| std::cmp::Reverse((l.meta.internal_date, l.meta.uid)));
            found.truncate(limit as usize);
            Ok(found)
        })
    }

    fn search_messages(&self, account: AccountId, q: &SearchQuery) -> Result<Vec<(MailboxId, Listed)>> {
        let mut params: Vec<Box<dyn ToSql + Sync>> = Vec::new();
        let mut filter = format!("b.account_id = {}", param(&mut params, Box::new(account.0)));
        // SQLite's LIKE ignores ASCII case: ILIKE here; `\` escapes the text's own wildcards.
        let mut like = |columns: &[&str], text: &Option<String>| {
            if let Some(t) = text.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
                let p = param(&mut params, Box::new(contains(t)));
                let tests: Vec<String> = columns.iter().map(|c| format!("{c} ILIKE {p} ESCAPE '\\'")).collect();
                filter.push_str(&format!(" AND ({})", tests.join(" OR ")));
            }
        };
        like(&["s.from_name", "s.from_address"], &q.from);
        like(&["s.recipients"], &q.to);
        like(&["s.subject"], &q.subject);
        if let Some(since) = q.since {
            let p = param(&mut params, Box::new(since));
            filter.push_str(&format!(" AND m.internal_date >= {p}"));
        }
        if let Some(before) = q.before {
            let p = param(&mut params, Box::new(before));
            filter.push_str(&format!(" AND m.internal_date < {p}"));
        }
        let limit = param(&mut params, Box::new(q.limit as i64));
        let cols = listed_cols();
        let folder_col = cols.split(", ").count();
        let sql = format!(
            "SELECT {cols}, m.mailbox_id FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id
             LEFT JOIN message_summaries s ON s.blob = m.blob
             WHERE {filter} ORDER BY m.internal_date DESC, m.uid DESC LIMIT {limit}"
        );
        self.read(|c| {
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref()).collect();
            let rows = c.query(&sql, &refs)?;
            Ok(rows.iter().map(|r| placed_row(r, folder_col)).collect())
        })
    }

    fn signature(&self, account: AccountId) -> Result<String> {
        self.read(|c| {
            let row = c.query_opt(
                "SELECT signature FROM account_preferences WHERE account_id = $1",
                &[&account.0],
            )?;
            Ok(row.map(|r| r.get(0)).unwrap_or_default())
        })
    }

    fn set_signature(&self, account: AccountId, signature: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO account_preferences(account_id, signature) VALUES($1, $2)
                 ON CONFLICT(account_id) DO UPDATE SET signature = excluded.signature",
                &[&account.0, &signature],
            )?;
            Ok(())
        })
    }
}
