//! Folder commands: SELECT/EXAMINE, CREATE, DELETE, RENAME, SUBSCRIBE, LIST/LSUB, STATUS and
//! GETQUOTA (RFC 9051 §6.3, RFC 5258, RFC 9208).

use std::collections::HashSet;
use std::sync::Arc;

use confiance_mail::model::{Folder, StoreError};

use super::view::Selected;
use super::{DELIMITER, Session, tagged, untagged};
use crate::proto::command::*;
use crate::proto::render;

pub(crate) fn mailbox_name(m: &Mailbox) -> Result<String, &'static str> {
    let name = String::from_utf8(m.0.clone()).map_err(|_| "the folder name is not valid UTF-8")?;
    let name = name.trim_end_matches(DELIMITER).to_string();
    if name.is_empty() {
        return Err("the folder name is empty");
    }
    if name.split(DELIMITER).any(|p| p.is_empty()) || name.chars().any(|c| c.is_control()) {
        return Err("the folder name has an empty level or a control character");
    }
    if name.eq_ignore_ascii_case("INBOX") {
        return Ok("INBOX".into());
    }
    Ok(name)
}

/// LIST pattern matching (RFC 9051 §6.3.9): `*` matches anything, `%` anything but the delimiter.
/// Dynamic programming over (pattern, name) positions: linear in their product whatever the
/// wildcards, so no pattern can make the server spin.
pub(crate) fn pattern_matches(pattern: &[u8], name: &[u8]) -> bool {
    // reach[j]: the pattern prefix seen so far matches name[..j].
    let mut reach = vec![false; name.len() + 1];
    reach[0] = true;
    for &p in pattern {
        let mut next = vec![false; name.len() + 1];
        match p {
            b'*' | b'%' => {
                let mut open = false;
                for j in 0..=name.len() {
                    if reach[j] {
                        open = true;
                    } else if p == b'%' && j > 0 && name[j - 1] == DELIMITER as u8 {
                        open = false;
                    }
                    next[j] = open;
                }
            }
            c => {
                for j in 1..=name.len() {
                    next[j] = reach[j - 1] && name[j - 1] == c;
                }
            }
        }
        reach = next;
    }
    reach[name.len()]
}

/// INBOX matches case-insensitively in patterns (RFC 9051 §5.1).
pub(crate) fn list_matches(pattern: &[u8], name: &str) -> bool {
    if name == "INBOX" && pattern.len() >= 5 && pattern[..5].eq_ignore_ascii_case(b"INBOX") {
        let mut p = b"INBOX".to_vec();
        p.extend_from_slice(&pattern[5..]);
        return pattern_matches(&p, name.as_bytes());
    }
    pattern_matches(pattern, name.as_bytes())
}

impl Session {
    /// SELECT and EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, LIST and LSUB, STATUS, APPEND,
    /// the quota commands, CLOSE and UNSELECT.
    pub(crate) async fn folder_family(&mut self, out: &mut Vec<u8>, tag: &str, body: CommandBody) {
        use CommandBody::*;
        match body {
            Select { mailbox, params } => {
                self.select(out, tag, &mailbox, &params, false).await;
            }
            Examine { mailbox, params } => {
                self.select(out, tag, &mailbox, &params, true).await;
            }
            Create { mailbox, special_use } => {
                self.create(out, tag, &mailbox, special_use).await;
            }
            Delete { mailbox } => {
                self.delete(out, tag, &mailbox).await;
            }
            Rename { from, to } => {
                self.rename(out, tag, &from, &to).await;
            }
            Subscribe { mailbox } => {
                self.subscribe(out, tag, &mailbox, true).await;
            }
            Unsubscribe { mailbox } => {
                self.subscribe(out, tag, &mailbox, false).await;
            }
            List {
                selection,
                reference,
                patterns,
                return_opts,
            } => {
                self.list(out, tag, &selection, &reference, &patterns, &return_opts, "LIST")
                    .await;
            }
            Lsub { reference, pattern } => {
                self.list(
                    out,
                    tag,
                    &[ListSelectOption::Subscribed],
                    &reference,
                    &[pattern],
                    &[],
                    "LSUB",
                )
                .await;
            }
            Status { mailbox, items } => {
                self.status(out, tag, &mailbox, &items).await;
            }
            Append { mailbox, messages } => {
                self.append(out, tag, &mailbox, messages).await;
            }
            GetQuota { root } => {
                if root.is_empty() {
                    self.quota(out).await;
                    tagged(out, tag, "OK", "GETQUOTA completed");
                } else {
                    tagged(out, tag, "NO", "[NONEXISTENT] The only quota root is \"\".");
                }
            }
            GetQuotaRoot { mailbox } => match self.folder(&mailbox).await {
                Ok(Some(f)) => {
                    let mut line = b"QUOTAROOT ".to_vec();
                    render::mailbox_name(&mut line, &f.name);
                    line.extend_from_slice(b" \"\"");
                    untagged(out, &String::from_utf8_lossy(&line));
                    self.quota(out).await;
                    tagged(out, tag, "OK", "GETQUOTAROOT completed");
                }
                _ => tagged(out, tag, "NO", "[NONEXISTENT] No such folder."),
            },
            SetQuota { .. } => {
                tagged(
                    out,
                    tag,
                    "NO",
                    "[NOPERM] Quotas are set by the operator's administrators.",
                );
            }
            Close => {
                // RFC 9051 §6.4.1: CLOSE expunges silently, unless the folder is read-only.
                if let Some(sel) = self.selected.as_ref()
                    && !sel.read_only
                    && let Ok(gone) = self.svc.expunge(self.account_id(), sel.id, None).await
                {
                    self.audit_expunged(&gone);
                }
                self.selected = None;
                tagged(out, tag, "OK", "CLOSE completed");
            }
            Unselect => {
                self.selected = None;
                tagged(out, tag, "OK", "UNSELECT completed");
            }
            _ => unreachable!("dispatched by `handle`"),
        }
    }

    pub(crate) async fn folder(&self, mailbox: &Mailbox) -> Result<Option<Folder>, &'static str> {
        let name = mailbox_name(mailbox)?;
        let account = self.account_id();
        self.svc.folder(account, name).await.map_err(|_| "storage error")
    }

    pub(crate) async fn select(
        &mut self,
        out: &mut Vec<u8>,
        tag: &str,
        mailbox: &Mailbox,
        params: &[SelectParam],
        read_only: bool,
    ) {
        if self.selected.take().is_some() {
            // RFC 9051 §7.1: the previous folder is closed (without expunge).
            untagged(out, "OK [CLOSED] Previous folder closed.");
        }
        let resync = params.iter().find_map(|p| match p {
            SelectParam::QResync {
                uidvalidity,
                modseq,
                known_uids,
                ..
            } => Some((*uidvalidity, *modseq, known_uids.clone())),
            _ => None,
        });
        if resync.is_some() && !self.qresync {
            // RFC 7162 §3.2.5: QRESYNC parameters need ENABLE QRESYNC first.
            tagged(out, tag, "BAD", "ENABLE QRESYNC before using it in SELECT.");
            return;
        }
        if params.contains(&SelectParam::CondStore) {
            self.condstore = true;
        }
        let folder = match self.folder(mailbox).await {
            Ok(Some(f)) => f,
            Ok(None) => return tagged(out, tag, "NO", "[NONEXISTENT] No such folder."),
            Err(e) => return tagged(out, tag, "NO", &format!("[CANNOT] {e}.")),
        };
        let id = folder.id;
        let view = match self.svc.view(id, folder.highest_modseq).await {
            Ok(v) => v,
            Err(e) => return tagged(out, tag, "NO", &format!("[SERVERBUG] {e}")),
        };
        let mut messages = view.messages;
        // Only a view read from the store for this session has \Recent marks (RFC 3501 §2.3.2).
        let recent: HashSet<u32> = messages.iter().filter(|m| m.recent).map(|m| m.uid).collect();
        if !read_only && !recent.is_empty() {
            // This session takes \Recent; other sessions will not see it. The marks leave its
            // view, which can then be shared.
            for m in Arc::make_mut(&mut messages).iter_mut() {
                m.recent = false;
            }
            let _ = self.svc.clear_recent(id).await;
        }
        let marked = read_only && !recent.is_empty();
        self.svc.share_view(id, view.modseq, &mut messages, marked);
        let keywords: std::collections::BTreeSet<String> = messages
            .iter()
            .flat_map(|m| m.flags.iter())
            .filter(|f| !f.starts_with('\\'))
            .cloned()
            .collect();
        super::view::flags_lines(out, &keywords);
        untagged(out, &format!("{} EXISTS", messages.len()));
        if !self.rev2 {
            untagged(out, &format!("{} RECENT", recent.len()));
            if let Some(pos) = messages.iter().position(|m| !m.flags.iter().any(|f| f == "\\Seen")) {
                untagged(out, &format!("OK [UNSEEN {}] First unseen.", pos + 1));
            }
        }
        untagged(out, &format!("OK [UIDVALIDITY {}] UIDs valid", folder.uidvalidity));
        // The view may be newer than the folder's row read before it: UIDNEXT stays above
        // every UID shown (RFC 9051 §2.3.1.1).
        let uidnext = folder.uidnext.max(messages.last().map_or(0, |m| m.uid + 1));
        untagged(out, &format!("OK [UIDNEXT {uidnext}] Predicted next UID"));
        if self.condstore {
            untagged(out, &format!("OK [HIGHESTMODSEQ {}] Highest", view.modseq));
        }
        let mut list = b"LIST () \"/\" ".to_vec();
        render::mailbox_name(&mut list, &folder.name);
        if self.rev2 {
            untagged(out, &String::from_utf8_lossy(&list));
        }
        self.selected = Some(Selected {
            id,
            name: folder.name.clone(),
            read_only,
            messages,
            recent,
            claimed: HashSet::new(),
            marked,
            modseq: view.modseq,
            saved: HashSet::new(),
            updates: Vec::new(),
            dirty: false,
            keywords,
        });
        if let Some((uidvalidity, modseq, known)) = resync
            && uidvalidity == folder.uidvalidity
        {
            self.resynchronise(out, modseq, known.as_ref()).await;
        }
        let (code, verb) = if read_only {
            ("READ-ONLY", "EXAMINE")
        } else {
            ("READ-WRITE", "SELECT")
        };
        tagged(out, tag, "OK", &format!("[{code}] {verb} completed"));
    }

    pub(crate) async fn create(&mut self, out: &mut Vec<u8>, tag: &str, mailbox: &Mailbox, special_use: Vec<String>) {
        let name = match mailbox_name(mailbox) {
            Ok(n) => n,
            Err(e) => return tagged(out, tag, "NO", &format!("[CANNOT] {e}.")),
        };
        if name == "INBOX" {
            return tagged(out, tag, "NO", "[ALREADYEXISTS] INBOX always exists.");
        }
        let known = [
            "\\Sent",
            "\\Drafts",
            "\\Trash",
            "\\Junk",
            "\\Archive",
            "\\All",
            "\\Flagged",
        ];
        if special_use.len() > 1
            || special_use
                .iter()
                .any(|u| !known.iter().any(|k| k.eq_ignore_ascii_case(u)))
        {
            return tagged(
                out,
                tag,
                "NO",
                "[USEATTR] Only one known special-use attribute is allowed.",
            );
        }
        let account = self.account_id();
        let use_attr = special_use.first().cloned();
        let result = self.svc.create_folder(account, name, use_attr, DELIMITER).await;
        match result {
            Ok(_) => tagged(out, tag, "OK", "CREATE completed"),
            Err(confiance_mail::MailError::Store(StoreError::MailboxExists)) => {
                tagged(out, tag, "NO", "[ALREADYEXISTS] The folder already exists.")
            }
            Err(confiance_mail::MailError::Limit(limit)) => {
                tagged(out, tag, "NO", &format!("[{}] {limit}.", limit.code()))
            }
            Err(e) => tagged(out, tag, "NO", &format!("[SERVERBUG] {e}")),
        }
    }

    pub(crate) async fn delete(&mut self, out: &mut Vec<u8>, tag: &str, mailbox: &Mailbox) {
        let name = match mailbox_name(mailbox) {
            Ok(n) => n,
            Err(e) => return tagged(out, tag, "NO", &format!("[CANNOT] {e}.")),
        };
        if name == "INBOX" {
            return tagged(out, tag, "NO", "[CANNOT] INBOX cannot be deleted.");
        }
        let account = self.account_id();
        let prefix = format!("{name}{DELIMITER}");
        let folders = self.svc.folders(account).await.unwrap_or_default();
        if !folders.iter().any(|f| f.name == name) {
            return tagged(out, tag, "NO", "[NONEXISTENT] No such folder.");
        }
        if folders.iter().any(|f| f.name.starts_with(&prefix)) {
            return tagged(out, tag, "NO", "[HASCHILDREN] Delete the subfolders first.");
        }
        if self.selected.as_ref().is_some_and(|s| s.name == name) {
            self.selected = None;
        }
        match self.svc.delete_folder(account, name).await {
            Ok(()) => tagged(out, tag, "OK", "DELETE completed"),
            Err(e) => tagged(out, tag, "NO", &format!("[SERVERBUG] {e}")),
        }
    }

    pub(crate) async fn rename(&mut self, out: &mut Vec<u8>, tag: &str, from: &Mailbox, to: &Mailbox) {
        let (from, to) = match (mailbox_name(from), mailbox_name(to)) {
            (Ok(f), Ok(t)) => (f, t),
            (Err(e), _) | (_, Err(e)) => return tagged(out, tag, "NO", &format!("[CANNOT] {e}.")),
        };
        if to == "INBOX" {
            return tagged(out, tag, "NO", "[ALREADYEXISTS] INBOX always exists.");
        }
        if to.starts_with(&format!("{from}{DELIMITER}")) {
            return tagged(out, tag, "NO", "[CANNOT] A folder cannot be moved into itself.");
        }
        let account = self.account_id();
        match self.svc.rename_folder(account, from, to, DELIMITER).await {
            Ok(()) => tagged(out, tag, "OK", "RENAME completed"),
            Err(confiance_mail::MailError::Store(StoreError::MailboxExists)) => {
                tagged(out, tag, "NO", "[ALREADYEXISTS] The target folder already exists.")
            }
            Err(confiance_mail::MailError::Store(StoreError::NoSuchMailbox)) => {
                tagged(out, tag, "NO", "[NONEXISTENT] No such folder.")
            }
            Err(confiance_mail::MailError::Limit(limit)) => {
                tagged(out, tag, "NO", &format!("[{}] {limit}.", limit.code()))
            }
            Err(e) => tagged(out, tag, "NO", &format!("[SERVERBUG] {e}")),
        }
    }

    pub(crate) async fn subscribe(&mut self, out: &mut Vec<u8>, tag: &str, mailbox: &Mailbox, on: bool) {
        let name = match mailbox_name(mailbox) {
            Ok(n) => n,
            Err(e) => return tagged(out, tag, "NO", &format!("[CANNOT] {e}.")),
        };
        // Subscriptions may name folders that do not exist (RFC 9051 §6.3.7): the same bounds
        // as folders keep LSUB and LIST (SUBSCRIBED) answers small.
        let account = self.account_id();
        match self.svc.subscribe_folder(account, name, on, DELIMITER).await {
            Err(confiance_mail::MailError::Limit(limit)) => {
                tagged(out, tag, "NO", &format!("[{}] {limit}.", limit.code()))
            }
            Ok(()) => tagged(
                out,
                tag,
                "OK",
                if on {
                    "SUBSCRIBE completed"
                } else {
                    "UNSUBSCRIBE completed"
                },
            ),
            Err(e) => tagged(out, tag, "NO", &format!("[SERVERBUG] {e}")),
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn list(
        &mut self,
        out: &mut Vec<u8>,
        tag: &str,
        selection: &[ListSelectOption],
        reference: &[u8],
        patterns: &[Vec<u8>],
        return_opts: &[ListReturnOption],
        verb: &str,
    ) {
        let account = self.account_id();
        let (folders, subscriptions) = match self.svc.folders_and_subscriptions(account).await {
            Ok(v) => v,
            Err(e) => return tagged(out, tag, "NO", &format!("[SERVERBUG] {e}")),
        };
        // LIST "" "": the hierarchy delimiter and root (RFC 9051 §6.3.9).
        if verb == "LIST" && patterns.len() == 1 && patterns[0].is_empty() {
            untagged(out, "LIST (\\Noselect) \"/\" \"\"");
            return tagged(out, tag, "OK", "LIST completed");
        }
        let subscribed_only = selection.contains(&ListSelectOption::Subscribed);
        let special_only = selection.contains(&ListSelectOption::SpecialUse);
        let want_subscribed = subscribed_only || return_opts.contains(&ListReturnOption::Subscribed);
        let status_items = return_opts.iter().find_map(|o| match o {
            ListReturnOption::Status(items) => Some(items.clone()),
            _ => None,
        });
        let recursive = selection.contains(&ListSelectOption::RecursiveMatch);
        let matches = |name: &str| {
            patterns.iter().any(|p| {
                let mut full = reference.to_vec();
                full.extend_from_slice(p);
                list_matches(&full, name)
            })
        };
        let mut names: Vec<String> = if subscribed_only {
            subscriptions.clone()
        } else {
            folders.iter().map(|f| f.name.clone()).collect()
        };
        names.retain(|n| matches(n));
        // Unsubscribed parents of subscribed folders the pattern does not reach: LSUB shows them
        // \Noselect (RFC 3501 §6.3.9), LIST (SUBSCRIBED RECURSIVEMATCH) with CHILDINFO (RFC 5258 §3.5).
        let mut parents_of_subscribed: Vec<String> = Vec::new();
        if verb == "LSUB" || (subscribed_only && recursive) {
            for s in subscriptions.iter().filter(|s| !matches(s)) {
                let levels: Vec<&str> = s.split(DELIMITER).collect();
                for i in 1..levels.len() {
                    let parent = levels[..i].join("/");
                    if matches(&parent) && !subscriptions.contains(&parent) && !parents_of_subscribed.contains(&parent)
                    {
                        parents_of_subscribed.push(parent);
                    }
                }
            }
        }
        names.extend(parents_of_subscribed.iter().cloned());
        names.sort();
        names.dedup();
        for name in names {
            let folder = folders.iter().find(|f| f.name == name);
            if special_only && folder.and_then(|f| f.special_use.as_ref()).is_none() {
                continue;
            }
            let parent_only = parents_of_subscribed.contains(&name);
            let mut attrs: Vec<String> = Vec::new();
            if verb == "LSUB" {
                if parent_only || folder.is_none() {
                    attrs.push("\\Noselect".into());
                }
            } else {
                if folder.is_none() {
                    attrs.push("\\NonExistent".into());
                } else {
                    let prefix = format!("{name}{DELIMITER}");
                    let children = folders.iter().any(|f| f.name.starts_with(&prefix));
                    attrs.push(if children {
                        "\\HasChildren".into()
                    } else {
                        "\\HasNoChildren".into()
                    });
                }
                if want_subscribed && subscriptions.contains(&name) {
                    attrs.push("\\Subscribed".into());
                }
                if let Some(u) = folder.and_then(|f| f.special_use.clone()) {
                    attrs.push(u);
                }
            }
            let mut line = format!("{verb} ({}) \"/\" ", attrs.join(" ")).into_bytes();
            render::mailbox_name(&mut line, &name);
            if parent_only && verb == "LIST" {
                line.extend_from_slice(b" (CHILDINFO (\"SUBSCRIBED\"))");
            }
            out.extend_from_slice(b"* ");
            out.extend_from_slice(&line);
            out.extend_from_slice(b"\r\n");
            if let (Some(items), Some(f)) = (&status_items, folder) {
                self.status_line(out, f, items).await;
            }
        }
        tagged(out, tag, "OK", &format!("{verb} completed"));
    }

    pub(crate) async fn status(&mut self, out: &mut Vec<u8>, tag: &str, mailbox: &Mailbox, items: &[StatusItem]) {
        match self.folder(mailbox).await {
            Ok(Some(f)) => {
                self.status_line(out, &f, items).await;
                tagged(out, tag, "OK", "STATUS completed");
            }
            Ok(None) => tagged(out, tag, "NO", "[NONEXISTENT] No such folder."),
            Err(e) => tagged(out, tag, "NO", &format!("[CANNOT] {e}.")),
        }
    }

    pub(crate) async fn status_line(&self, out: &mut Vec<u8>, folder: &Folder, items: &[StatusItem]) {
        let id = folder.id;
        let messages = self.svc.messages(id).await.unwrap_or_default();
        let selected_here = self.selected.as_ref().filter(|s| s.id == id);
        let mut parts = Vec::new();
        for item in items {
            let v = match item {
                StatusItem::Messages => format!("MESSAGES {}", messages.len()),
                StatusItem::UidNext => format!("UIDNEXT {}", folder.uidnext),
                StatusItem::UidValidity => format!("UIDVALIDITY {}", folder.uidvalidity),
                StatusItem::Unseen => format!(
                    "UNSEEN {}",
                    messages
                        .iter()
                        .filter(|m| !m.flags.iter().any(|f| f == "\\Seen"))
                        .count()
                ),
                StatusItem::Recent => {
                    // This session's \Recent, among the messages still there: another session
                    // may have expunged some that this view has not dropped yet, and RECENT
                    // never exceeds MESSAGES.
                    let n = match selected_here {
                        Some(s) => messages.iter().filter(|m| s.recent.contains(&m.uid)).count(),
                        None => messages.iter().filter(|m| m.recent).count(),
                    };
                    format!("RECENT {n}")
                }
                StatusItem::Size => format!("SIZE {}", messages.iter().map(|m| m.size).sum::<u64>()),
                StatusItem::Deleted => format!(
                    "DELETED {}",
                    messages
                        .iter()
                        .filter(|m| m.flags.iter().any(|f| f == "\\Deleted"))
                        .count()
                ),
                StatusItem::HighestModSeq => format!("HIGHESTMODSEQ {}", folder.highest_modseq),
            };
            parts.push(v);
        }
        let mut line = b"* STATUS ".to_vec();
        render::mailbox_name(&mut line, &folder.name);
        line.extend_from_slice(format!(" ({})\r\n", parts.join(" ")).as_bytes());
        out.extend_from_slice(&line);
    }

    pub(crate) async fn quota(&self, out: &mut Vec<u8>) {
        let account = self.account_id();
        let limit = self.account.as_ref().map(|a| a.quota_bytes).unwrap_or(0);
        let used = self.svc.usage(account).await.unwrap_or(0);
        // RFC 9208 §5.1: STORAGE is counted in units of 1024 octets.
        untagged(
            out,
            &format!("QUOTA \"\" (STORAGE {} {})", used.div_ceil(1024), limit / 1024),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_patterns() {
        assert!(pattern_matches(b"*", b"a/b"));
        assert!(pattern_matches(b"%", b"a"));
        assert!(!pattern_matches(b"%", b"a/b"));
        assert!(pattern_matches(b"a/%", b"a/b"));
        assert!(pattern_matches(b"a*b", b"a/x/b"));
        assert!(!pattern_matches(b"a%", b"a/b"));
        assert!(pattern_matches(b"%/%", b"a/b"));
        assert!(pattern_matches(b"", b""));
        assert!(!pattern_matches(b"", b"a"));
        assert!(list_matches(b"inbox", "INBOX"));
        // Many wildcards against a long name answer at once.
        let name = vec![b'a'; 4000];
        let pattern = b"*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b".repeat(20);
        assert!(!pattern_matches(&pattern, &name));
        assert!(!list_matches(b"inbox", "inbox2"));
    }
}
