//! Commands on the messages of the selected folder: FETCH, STORE, SEARCH, SORT, COPY, MOVE,
//! EXPUNGE (RFC 9051 §6.4), and `refresh`, which reports what other sessions changed.

use std::collections::HashSet;
use std::sync::Arc;

use confiance_mail::model::{FlagOp, FlagUpdate, MessageMeta, StoreError};

use crate::proto::command::*;
use crate::session::context::UpdateContext;
use crate::session::fetch;
use crate::session::search::{self, Candidate, Context};
use crate::session::thread::{self, ThreadMessage};
use crate::session::{Control, Session, tagged, untagged};
use confiance_mail::message::encoded;
use confiance_mail::message::mime::Part;

type Reply = (&'static str, String);

/// FETCH items one command may ask for: clients ask a dozen; thousands of BODY[] of one
/// large message would build gigabytes for a single response line.
const MAX_FETCH_ITEMS: usize = 64;

/// FETCH output produced before the connection writes it out.
const FETCH_CHUNK: usize = 1024 * 1024;

/// Messages whose bytes a FETCH reads in one trip to the blocking pool.
const READ_BATCH: usize = 32;

/// A FETCH whose responses are still being produced.
pub(crate) struct PendingFetch {
    indexes: std::collections::VecDeque<usize>,
    attrs: Vec<FetchAttr>,
    seen_changed: HashSet<u32>,
    unreadable: usize,
    /// Messages another session expunged since this one listed them (RFC 9051 §7.1,
    /// EXPUNGEISSUED): the others are sent.
    expunged: usize,
    reply: Reply,
    pub(crate) tag: String,
    /// UID FETCH may report expunges at its end; FETCH may not (RFC 9051 §7.5.1).
    allow_expunge: bool,
}

fn ok(text: &str) -> Reply {
    ("OK", text.to_string())
}

fn no(text: impl Into<String>) -> Reply {
    ("NO", text.into())
}

/// Compact UID set for response codes: `1:3,7`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut sorted = uids.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    ordered_runs(&sorted)
}

/// Numbers in their given order, consecutive ascending runs written `a:b` (RFC 5267 §3.2).
pub(crate) fn ordered_runs(numbers: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < numbers.len() {
        let start = numbers[i];
        while i + 1 < numbers.len() && numbers[i + 1] == numbers[i] + 1 {
            i += 1;
        }
        let end = numbers[i];
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}:{end}")
        });
        i += 1;
    }
    parts.join(",")
}

/// RFC 9394 PARTIAL: the results at positions `a:b` (1-based, negative from the end).
fn partial(a: i64, b: i64, numbers: &[u32]) -> String {
    let (lo, hi) = (a.min(b), a.max(b));
    let len = numbers.len() as i64;
    let index = |p: i64| if p < 0 { len + p } else { p - 1 };
    let (start, end) = (index(lo).max(0), index(hi).min(len - 1));
    let picked = if start <= end && start < len {
        ordered_runs(&numbers[start as usize..=end as usize])
    } else {
        "NIL".into()
    };
    format!(" PARTIAL ({lo}:{hi} {picked})")
}

/// `uids` listed in the caller's order of a COPYUID/APPENDUID answer.
fn ordered_set(uids: &[u32]) -> String {
    uids.iter().map(u32::to_string).collect::<Vec<_>>().join(",")
}

impl Session {
    /// A command on the selected folder's messages, then what changed meanwhile (no EXPUNGE
    /// after a command by sequence number), then its tagged answer; a FETCH too big for one
    /// answer goes on in `resume`.
    pub(crate) async fn message_family(&mut self, out: &mut Vec<u8>, tag: String, body: CommandBody) -> Control {
        use CommandBody::*;
        let no_expunge = matches!(
            &body,
            Fetch { uid: false, .. }
                | Store { uid: false, .. }
                | Search { uid: false, .. }
                | Sort { uid: false, .. }
                | Thread { uid: false, .. }
        );
        let (status, text) = self.message_command(out, body).await;
        if let Some(pending) = self.pending_fetch.as_mut() {
            pending.tag = tag;
            self.resume(out).await;
            return Control::Continue;
        }
        if self.selected.is_some() {
            // RFC 9051 §7.5.1: no EXPUNGE during FETCH, STORE or SEARCH by sequence number.
            self.refresh(out, !no_expunge).await;
        }
        tagged(out, &tag, status, &text);
        Control::Continue
    }

    /// Indexes (seq - 1) of the messages a set names.
    fn resolve(&self, set: &SequenceSet, uid: bool) -> Vec<usize> {
        let sel = self.selected.as_ref().expect("selected");
        if let SequenceSet::Saved = set {
            return (0..sel.messages.len())
                .filter(|&i| sel.saved.contains(&sel.messages[i].uid))
                .collect();
        }
        if uid {
            let max = sel.max_uid();
            let ranges = set.normalize(max.max(1));
            // `*` means the highest UID even in an empty range like `5:*` beyond it (RFC 9051 §6.4.8).
            (0..sel.messages.len())
                .filter(|&i| {
                    let u = sel.messages[i].uid;
                    ranges.iter().any(|(lo, hi)| u >= *lo && u <= *hi)
                })
                .collect()
        } else {
            set.iter(sel.exists()).map(|s| s as usize - 1).collect()
        }
    }

    /// UIDs of the messages a set names.
    fn resolve_uids(&self, set: &SequenceSet, uid: bool) -> Vec<u32> {
        let sel = self.selected.as_ref().expect("selected");
        self.resolve(set, uid)
            .into_iter()
            .map(|i| sel.messages[i].uid)
            .collect()
    }

    /// Whether a sequence set names messages that do not exist (RFC 9051 §6.4.5: BAD).
    fn seq_out_of_range(&self, set: &SequenceSet) -> bool {
        let SequenceSet::Ranges(ranges) = set else { return false };
        let max = self.selected.as_ref().map(|s| s.exists()).unwrap_or(0);
        ranges.iter().any(|r| {
            [r.start, r.end]
                .iter()
                .any(|n| matches!(n, SeqNum::Value(v) if *v > max || *v == 0))
                || (max == 0 && (r.start == SeqNum::Largest || r.end == SeqNum::Largest))
        })
    }

    pub(crate) async fn message_command(&mut self, out: &mut Vec<u8>, body: CommandBody) -> Reply {
        match body {
            CommandBody::Fetch {
                uid,
                set,
                attrs,
                changed_since,
                vanished,
            } => {
                if !uid && self.seq_out_of_range(&set) {
                    return ("BAD", "Invalid message sequence number.".into());
                }
                if attrs.len() > MAX_FETCH_ITEMS {
                    return ("BAD", format!("At most {MAX_FETCH_ITEMS} FETCH items per command."));
                }
                if vanished {
                    // RFC 7162 §3.2.6: UID FETCH only, with CHANGEDSINCE, after ENABLE QRESYNC.
                    let (Some(since), true, true) = (changed_since, uid, self.qresync) else {
                        return (
                            "BAD",
                            "VANISHED needs UID FETCH, CHANGEDSINCE and ENABLE QRESYNC.".into(),
                        );
                    };
                    self.vanished_earlier(out, since, Some(&set)).await;
                }
                self.fetch(out, uid, &set, attrs, changed_since).await
            }
            CommandBody::Store {
                uid,
                set,
                unchanged_since,
                mode,
                silent,
                flags,
            } => {
                if !uid && self.seq_out_of_range(&set) {
                    return ("BAD", "Invalid message sequence number.".into());
                }
                self.store(out, uid, &set, unchanged_since, mode, silent, flags).await
            }
            CommandBody::Search {
                uid,
                return_opts,
                criteria,
                ..
            } => self.search(out, uid, return_opts, &criteria).await,
            CommandBody::Sort {
                uid,
                return_opts,
                criteria,
                search,
                ..
            } => self.sort(out, uid, return_opts, &criteria, &search).await,
            CommandBody::Thread {
                uid, algorithm, search, ..
            } => self.thread(out, uid, &algorithm, &search).await,
            CommandBody::Copy { uid, set, mailbox } => self.copy(out, uid, &set, &mailbox, false).await,
            CommandBody::Move { uid, set, mailbox } => self.copy(out, uid, &set, &mailbox, true).await,
            CommandBody::Expunge => self.expunge(out, None).await,
            CommandBody::UidExpunge { set } => {
                let uids = self.resolve_uids(&set, true);
                self.expunge(out, Some(uids)).await
            }
            _ => ("BAD", "Unexpected command.".into()),
        }
    }

    async fn fetch(
        &mut self,
        out: &mut Vec<u8>,
        uid: bool,
        set: &SequenceSet,
        mut attrs: Vec<FetchAttr>,
        changed_since: Option<u64>,
    ) -> Reply {
        if uid && !attrs.contains(&FetchAttr::Uid) {
            attrs.insert(0, FetchAttr::Uid);
        }
        if changed_since.is_some() || attrs.contains(&FetchAttr::ModSeq) {
            // RFC 7162 §3.1: CHANGEDSINCE or MODSEQ enables CONDSTORE for the session.
            self.enable_condstore(out);
        }
        if changed_since.is_some() && !attrs.contains(&FetchAttr::ModSeq) {
            attrs.push(FetchAttr::ModSeq);
        }
        let mut indexes = self.resolve(set, uid);
        if let Some(since) = changed_since {
            let sel = self.selected.as_ref().expect("selected");
            indexes.retain(|&i| sel.messages[i].modseq > since);
        }
        // Set \Seen first, so the FLAGS we return are the new ones.
        let mut seen_changed: HashSet<u32> = HashSet::new();
        let read_only = self.selected.as_ref().is_some_and(|s| s.read_only);
        if fetch::sets_seen(&attrs) && !read_only {
            let sel = self.selected.as_ref().expect("selected");
            let unseen: Vec<u32> = indexes
                .iter()
                .map(|&i| &sel.messages[i])
                .filter(|m| !m.flags.iter().any(|f| f == "\\Seen"))
                .map(|m| m.uid)
                .collect();
            if !unseen.is_empty() {
                let id = sel.id;
                let update = FlagUpdate {
                    uids: unseen,
                    op: FlagOp::Add,
                    flags: vec!["\\Seen".into()],
                    unchanged_since: None,
                };
                let account = self.account_id();
                if let Ok(outcome) = self.svc.set_flags(account, id, update).await {
                    let sel = self.selected.as_mut().expect("selected");
                    sel.dirty = true;
                    for m in outcome.updated {
                        seen_changed.insert(m.uid);
                        if let Some(seq) = sel.seq_of(m.uid) {
                            Arc::make_mut(&mut sel.messages)[seq as usize - 1] = m;
                        }
                    }
                }
            }
        }
        // The responses are produced by `fetch_more`, a bounded chunk at a time, so that
        // `FETCH 1:* BODY[]` on a large folder never sits whole in memory.
        self.pending_fetch = Some(PendingFetch {
            indexes: indexes.into(),
            attrs,
            seen_changed,
            unreadable: 0,
            expunged: 0,
            reply: ok(if uid { "UID FETCH completed" } else { "FETCH completed" }),
            tag: String::new(),
            allow_expunge: uid,
        });
        ok("pending")
    }

    /// Renders FETCH responses until about `FETCH_CHUNK` bytes are out; true when finished.
    async fn fetch_more(&mut self, out: &mut Vec<u8>) -> bool {
        let with_recent = !self.rev2;
        loop {
            if out.len() >= FETCH_CHUNK {
                return false;
            }
            let Some(pending) = self.pending_fetch.as_mut() else {
                return true;
            };
            if pending.indexes.is_empty() {
                return true;
            }
            let want_bytes = fetch::needs_bytes(&pending.attrs);
            let headers_only = fetch::needs_only_headers(&pending.attrs);
            // The next messages whose bytes one trip to the blocking pool reads: at most
            // READ_BATCH of them, and about a chunk's worth of bytes (at least one).
            let sel = self.selected.as_ref().expect("selected");
            let folder = sel.id;
            let mut batch = Vec::new();
            let mut bytes_in_batch = 0u64;
            while let Some(&i) = pending.indexes.front() {
                let size = sel.messages[i].size;
                if !batch.is_empty() && (batch.len() == READ_BATCH || bytes_in_batch + size > FETCH_CHUNK as u64) {
                    break;
                }
                pending.indexes.pop_front();
                bytes_in_batch += size;
                batch.push((i, sel.messages[i].clone()));
            }
            let reads = match want_bytes {
                false => Vec::new(),
                true => {
                    let wanted = batch.iter().map(|(_, m)| (m.uid, m.blob.clone())).collect();
                    match self.svc.read_listed(folder, wanted, headers_only).await {
                        Ok(reads) => {
                            if !headers_only {
                                self.audit_read(&batch);
                            }
                            reads
                        }
                        Err(e) => {
                            tracing::error!(error = %e, "messages unreadable");
                            if let Some(p) = self.pending_fetch.as_mut() {
                                p.unreadable += batch.len();
                            }
                            continue;
                        }
                    }
                }
            };
            let mut reads = reads.into_iter();
            for (i, meta) in batch {
                let bytes = match (want_bytes, reads.next()) {
                    (false, _) => None,
                    (true, Some(Ok(Some(b)))) => Some(b),
                    (true, Some(Ok(None))) => {
                        if let Some(p) = self.pending_fetch.as_mut() {
                            p.expunged += 1;
                        }
                        continue;
                    }
                    (true, failed) => {
                        let error = failed.and_then(Result::err).map(|e| e.to_string()).unwrap_or_default();
                        tracing::error!(uid = meta.uid, error, "message bytes unreadable");
                        if let Some(p) = self.pending_fetch.as_mut() {
                            p.unreadable += 1;
                        }
                        continue;
                    }
                };
                let pending = self.pending_fetch.as_ref().expect("still pending");
                let shows_flags = pending.attrs.contains(&FetchAttr::Flags) || !pending.seen_changed.is_empty();
                let sel = self.selected.as_mut().expect("selected");
                if shows_flags {
                    sel.announce_keywords(out, &meta.flags);
                }
                let flags = sel.flags_of(&meta, with_recent);
                let root = bytes.as_deref().map(|b| Part::parse(b));
                out.extend_from_slice(format!("* {} FETCH (", i + 1).as_bytes());
                for (n, attr) in pending.attrs.iter().enumerate() {
                    if n > 0 {
                        out.push(b' ');
                    }
                    fetch::render_attr(out, attr, &meta, &flags, root.as_ref());
                }
                if pending.seen_changed.contains(&meta.uid) && !pending.attrs.contains(&FetchAttr::Flags) {
                    out.extend_from_slice(format!(" FLAGS ({flags})").as_bytes());
                }
                out.extend_from_slice(b")\r\n");
            }
        }
    }

    /// Goes on with a pending FETCH; when it is done, reports changes and answers the tag.
    pub(crate) async fn resume(&mut self, out: &mut Vec<u8>) {
        if !self.fetch_more(out).await {
            return;
        }
        let Some(p) = self.pending_fetch.take() else { return };
        let (status, text) = if p.unreadable > 0 {
            (
                "NO",
                format!(
                    "[SERVERBUG] {} message(s) could not be read; the others were sent.",
                    p.unreadable
                ),
            )
        } else if p.expunged > 0 && p.reply.0 == "OK" {
            let text = "[EXPUNGEISSUED] Some messages were expunged by another session; the others were sent.";
            ("OK", text.to_string())
        } else {
            p.reply
        };
        if self.selected.is_some() {
            self.refresh(out, p.allow_expunge).await;
        }
        crate::session::tagged(out, &p.tag, status, &text);
    }

    #[allow(clippy::too_many_arguments)]
    async fn store(
        &mut self,
        out: &mut Vec<u8>,
        uid: bool,
        set: &SequenceSet,
        unchanged_since: Option<u64>,
        mode: StoreMode,
        silent: bool,
        flags: Vec<String>,
    ) -> Reply {
        let uids = self.resolve_uids(set, uid);
        let (id, read_only) = {
            let sel = self.selected.as_ref().expect("selected");
            (sel.id, sel.read_only)
        };
        if read_only {
            return no("[READ-ONLY] The folder is open read-only.");
        }
        if unchanged_since.is_some() {
            self.enable_condstore(out);
        }
        let update = FlagUpdate {
            uids,
            op: match mode {
                StoreMode::Add => FlagOp::Add,
                StoreMode::Remove => FlagOp::Remove,
                StoreMode::Replace => FlagOp::Replace,
            },
            flags,
            unchanged_since,
        };
        let account = self.account_id();
        let outcome = match self.svc.set_flags(account, id, update).await {
            Ok(o) => o,
            Err(e) => return no(format!("[SERVERBUG] {e}")),
        };
        let with_recent = !self.rev2;
        let condstore = self.condstore;
        let sel = self.selected.as_mut().expect("selected");
        for m in &outcome.updated {
            let Some(seq) = sel.seq_of(m.uid) else { continue };
            sel.announce_keywords(out, &m.flags);
            Arc::make_mut(&mut sel.messages)[seq as usize - 1] = m.clone();
            // RFC 7162 §3.1.3: with CONDSTORE the new MODSEQ is reported even when silent.
            if silent && !condstore {
                continue;
            }
            let mut items = Vec::new();
            if uid {
                items.push(format!("UID {}", m.uid));
            }
            if !silent {
                items.push(format!("FLAGS ({})", sel.flags_of(m, with_recent)));
            }
            if condstore {
                items.push(format!("MODSEQ ({})", m.modseq));
            }
            untagged(out, &format!("{seq} FETCH ({})", items.join(" ")));
        }
        if !outcome.updated.is_empty()
            && let Some(sel) = self.selected.as_mut()
        {
            sel.dirty = true;
        }
        if !outcome.modified.is_empty() {
            let sel = self.selected.as_ref().expect("selected");
            let list: Vec<u32> = if uid {
                outcome.modified.clone()
            } else {
                outcome.modified.iter().filter_map(|u| sel.seq_of(*u)).collect()
            };
            return ok(&format!(
                "[MODIFIED {}] Conditional STORE failed for some messages",
                uid_set(&list)
            ));
        }
        ok(if uid { "UID STORE completed" } else { "STORE completed" })
    }

    /// Message numbers (or UIDs) matching `key`, in sequence order.
    pub(crate) async fn matching(&self, key: &SearchKey) -> Vec<(u32, u32)> {
        let sel = self.selected.as_ref().expect("selected");
        let ctx = Context {
            max_seq: sel.exists(),
            max_uid: sel.max_uid(),
            saved: &sel.saved,
            now: chrono::Utc::now().timestamp(),
        };
        let load = search::needs_bytes(key);
        let mut hits = Vec::new();
        for (i, meta) in sel.messages.iter().enumerate() {
            let bytes: Option<Arc<Vec<u8>>> = if load {
                self.svc.read(&meta.blob).await.ok()
            } else {
                None
            };
            let c = Candidate {
                seq: i as u32 + 1,
                meta,
                recent: sel.recent.contains(&meta.uid),
                bytes: bytes.as_deref().map(|b| b.as_slice()),
            };
            if search::matches(key, &c, &ctx) {
                hits.push((i as u32 + 1, meta.uid));
            }
        }
        hits
    }

    async fn search(
        &mut self,
        out: &mut Vec<u8>,
        uid: bool,
        return_opts: Option<Vec<ReturnOption>>,
        key: &SearchKey,
    ) -> Reply {
        if search_has_modseq(key) {
            self.enable_condstore(out);
        }
        let hits = self.matching(key).await;
        let numbers: Vec<u32> = hits.iter().map(|(s, u)| if uid { *u } else { *s }).collect();
        let modseq = if search_has_modseq(key) {
            let sel = self.selected.as_ref().expect("selected");
            hits.iter()
                .filter_map(|(s, _)| sel.messages.get(*s as usize - 1).map(|m| m.modseq))
                .max()
        } else {
            None
        };
        let verb = if uid {
            "UID SEARCH completed"
        } else {
            "SEARCH completed"
        };
        let Some(opts) = return_opts else {
            let mut line = String::from("SEARCH");
            for n in &numbers {
                line.push_str(&format!(" {n}"));
            }
            if let Some(m) = modseq {
                line.push_str(&format!(" (MODSEQ {m})"));
            }
            untagged(out, &line);
            return ok(verb);
        };
        // RFC 4731 ESEARCH; `RETURN ()` means ALL.
        let opts = if opts.is_empty() { vec![ReturnOption::All] } else { opts };
        if opts.contains(&ReturnOption::Save) {
            let sel = self.selected.as_mut().expect("selected");
            let saved: HashSet<u32> = hits.iter().map(|(_, u)| *u).collect();
            sel.saved = saved;
            // RFC 5182 §2.1: SAVE alone returns nothing but the tagged OK.
            if opts.iter().all(|o| *o == ReturnOption::Save) && !opts.contains(&ReturnOption::Update) {
                return ok(verb);
            }
        }
        if opts.contains(&ReturnOption::Update) {
            self.register_context(uid, key, None, &hits);
        }
        let mut line = self.esearch_line(uid, &opts, &numbers);
        // RFC 7162 §3.1.5: with only MIN and/or MAX, MODSEQ is that of the messages returned.
        let only_extremes = opts
            .iter()
            .all(|o| matches!(o, ReturnOption::Min | ReturnOption::Max | ReturnOption::Save));
        let modseq = match (modseq, only_extremes, hits.first(), hits.last()) {
            (Some(_), true, Some(first), Some(last)) => {
                let sel = self.selected.as_ref().expect("selected");
                let of = |seq: u32| sel.messages.get(seq as usize - 1).map(|m| m.modseq).unwrap_or(0);
                let min = opts.contains(&ReturnOption::Min).then(|| of(first.0));
                let max = opts.contains(&ReturnOption::Max).then(|| of(last.0));
                min.max(max)
            }
            (m, ..) => m,
        };
        if let Some(m) = modseq {
            line.push_str(&format!(" MODSEQ {m}"));
        }
        out.extend_from_slice(b"* ");
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
        ok(verb)
    }

    /// Matching messages as (sequence number, UID), in the order of `criteria` (RFC 5256 §3).
    pub(crate) async fn sorted(&self, key: &SearchKey, criteria: &[SortCriterion]) -> Vec<(u32, u32)> {
        let hits = self.matching(key).await;
        let mut values = Vec::with_capacity(hits.len());
        for (seq, uid) in hits {
            let meta = &self.selected.as_ref().expect("selected").messages[seq as usize - 1];
            let bytes = self.svc.read(&meta.blob).await.unwrap_or_default();
            values.push((search::sort_values(seq, meta, &bytes), uid));
        }
        values.sort_by(|a, b| search::compare(&a.0, &b.0, criteria));
        values.into_iter().map(|(v, uid)| (v.seq, uid)).collect()
    }

    async fn sort(
        &mut self,
        out: &mut Vec<u8>,
        uid: bool,
        return_opts: Option<Vec<ReturnOption>>,
        criteria: &[SortCriterion],
        key: &SearchKey,
    ) -> Reply {
        let hits = self.sorted(key, criteria).await;
        let numbers: Vec<u32> = hits.iter().map(|(s, u)| if uid { *u } else { *s }).collect();
        match return_opts {
            // RFC 5267 §3 ESORT: the ESEARCH answer, in sort order.
            Some(opts) => {
                let opts = if opts.is_empty() { vec![ReturnOption::All] } else { opts };
                if opts.contains(&ReturnOption::Update) {
                    self.register_context(uid, key, Some(criteria.to_vec()), &hits);
                }
                let line = self.esearch_line(uid, &opts, &numbers);
                untagged(out, &line);
            }
            None => {
                let mut line = String::from("SORT");
                for n in &numbers {
                    line.push_str(&format!(" {n}"));
                }
                untagged(out, &line);
            }
        }
        ok(if uid { "UID SORT completed" } else { "SORT completed" })
    }

    fn register_context(&mut self, uid: bool, key: &SearchKey, sort: Option<Vec<SortCriterion>>, hits: &[(u32, u32)]) {
        let tag = self.tag.clone();
        let sel = self.selected.as_mut().expect("selected");
        sel.updates.push(UpdateContext {
            tag,
            uid,
            key: key.clone(),
            sort,
            results: hits.iter().map(|(_, u)| *u).collect(),
        });
    }

    /// RFC 5256 THREAD: threads of the matching messages by subject or by references.
    async fn thread(&mut self, out: &mut Vec<u8>, uid: bool, algorithm: &str, key: &SearchKey) -> Reply {
        let algorithm: thread::Algorithm = match algorithm {
            "ORDEREDSUBJECT" => thread::ordered_subject,
            "REFERENCES" => thread::references,
            _ => {
                return (
                    "BAD",
                    format!("Unknown threading algorithm {algorithm}; use REFERENCES or ORDEREDSUBJECT."),
                );
            }
        };
        let hits = self.matching(key).await;
        let mut messages = Vec::with_capacity(hits.len());
        for (seq, u) in hits {
            let meta = self.selected.as_ref().expect("selected").messages[seq as usize - 1].clone();
            let bytes = self.svc.read(&meta.blob).await.unwrap_or_default();
            let header = &bytes[..confiance_mail::message::mime::header_end(&bytes)];
            let field = |name: &str| {
                confiance_mail::message::mime::header_field(header, name)
                    .map(|v| String::from_utf8_lossy(&v).into_owned())
            };
            messages.push(ThreadMessage {
                id: if uid { u } else { seq },
                message_id: field("message-id"),
                references: field("references"),
                in_reply_to: field("in-reply-to"),
                subject: field("subject").map(|s| encoded::decode(&s)),
                // RFC 5256 §2.2: the sent date, or the internal date when Date: is unusable.
                date: search::sent_time(&bytes)
                    .map(|d| d.timestamp())
                    .unwrap_or(meta.internal_date),
            });
        }
        let threads = algorithm(&messages, search::base_subject);
        untagged(out, format!("THREAD {threads}").trim_end());
        ok(if uid {
            "UID THREAD completed"
        } else {
            "THREAD completed"
        })
    }

    /// RFC 4731 §3.1 ESEARCH response without its MODSEQ: MIN and MAX are the first and last
    /// of `numbers` (sort order for ESORT, RFC 5267 §3.2), ALL keeps their order.
    fn esearch_line(&self, uid: bool, opts: &[ReturnOption], numbers: &[u32]) -> String {
        let mut line = format!("ESEARCH (TAG \"{}\")", self.tag);
        if uid {
            line.push_str(" UID");
        }
        for o in opts {
            match (o, numbers.first(), numbers.last()) {
                (ReturnOption::Min, Some(first), _) => line.push_str(&format!(" MIN {first}")),
                (ReturnOption::Max, _, Some(last)) => line.push_str(&format!(" MAX {last}")),
                (ReturnOption::All, Some(_), _) => line.push_str(&format!(" ALL {}", ordered_runs(numbers))),
                (ReturnOption::Count, ..) => line.push_str(&format!(" COUNT {}", numbers.len())),
                (ReturnOption::Partial(a, b), ..) => line.push_str(&partial(*a, *b, numbers)),
                _ => {}
            }
        }
        line
    }

    async fn copy(
        &mut self,
        out: &mut Vec<u8>,
        uid: bool,
        set: &SequenceSet,
        mailbox: &Mailbox,
        remove: bool,
    ) -> Reply {
        if !uid && self.seq_out_of_range(set) {
            return ("BAD", "Invalid message sequence number.".into());
        }
        let target = match self.folder(mailbox).await {
            Ok(Some(f)) => f,
            Ok(None) => return no("[TRYCREATE] No such folder."),
            Err(e) => return no(format!("[CANNOT] {e}.")),
        };
        let uids = self.resolve_uids(set, uid);
        let (source, read_only) = {
            let sel = self.selected.as_ref().expect("selected");
            (sel.id, sel.read_only)
        };
        if remove && read_only {
            return no("[READ-ONLY] The folder is open read-only.");
        }
        if uids.is_empty() {
            return ok(if remove {
                "No messages moved"
            } else {
                "No messages copied"
            });
        }
        let target_id = target.id;
        let account = self.account_id();
        let outcome = match self.svc.copy(account, source, uids, target_id, remove).await {
            Ok(o) => o,
            Err(confiance_mail::MailError::Store(StoreError::QuotaExceeded { used, limit })) => {
                return no(format!("[OVERQUOTA] Mailbox full: {used} of {limit} bytes used."));
            }
            Err(e) => return no(format!("[SERVERBUG] {e}")),
        };
        let from: Vec<u32> = outcome.pairs.iter().map(|p| p.0).collect();
        let to: Vec<u32> = outcome.pairs.iter().map(|p| p.1).collect();
        let code = format!(
            "COPYUID {} {} {}",
            outcome.uidvalidity,
            ordered_set(&from),
            ordered_set(&to)
        );
        if remove {
            // RFC 6851 §4.3: COPYUID in an untagged OK before the EXPUNGEs.
            untagged(out, &format!("OK [{code}] Moved"));
            self.refresh(out, true).await;
            return ok(if uid { "UID MOVE completed" } else { "MOVE completed" });
        }
        (
            "OK",
            format!("[{code}] {}", if uid { "UID COPY completed" } else { "COPY completed" }),
        )
    }

    async fn expunge(&mut self, out: &mut Vec<u8>, uids: Option<Vec<u32>>) -> Reply {
        let (id, read_only) = {
            let sel = self.selected.as_ref().expect("selected");
            (sel.id, sel.read_only)
        };
        if read_only {
            return no("[READ-ONLY] The folder is open read-only.");
        }
        let account = self.account_id();
        match self.svc.expunge(account, id, uids).await {
            Err(e) => return no(format!("[SERVERBUG] {e}")),
            Ok(gone) => self.audit_expunged(&gone),
        }
        self.refresh(out, true).await;
        ok("EXPUNGE completed")
    }

    /// Notes whole messages or bodies read (not header lists, which every client fetches to
    /// show a folder) for the reading trace. The UIDs read in a folder make one trace when the
    /// session leaves it, ends, or has read 256 of them or for a minute: a trace per FETCH cost
    /// a tenth of FETCH's rate, and a mail client's first sync would write thousands.
    fn audit_read(&mut self, batch: &[(usize, confiance_mail::model::MessageMeta)]) {
        let Some(folder) = self.selected.as_ref().map(|s| s.name.clone()) else {
            return;
        };
        if self.reads.as_ref().is_some_and(|r| r.folder != folder) {
            self.trace_reads();
        }
        let reads = self.reads.get_or_insert_with(|| {
            Box::new(super::PendingReads {
                folder,
                uids: Vec::new(),
                since: std::time::Instant::now(),
            })
        });
        reads.uids.extend(batch.iter().map(|(_, m)| m.uid));
        if reads.uids.len() >= 256 || reads.since.elapsed() >= std::time::Duration::from_secs(60) {
            self.trace_reads();
        }
    }

    /// The reading trace of what was noted (at debug level: the trace log keeps every level of
    /// `audit`, stderr would repeat it).
    pub(crate) fn trace_reads(&mut self) {
        let (Some(reads), Some(account)) = (self.reads.take(), &self.account) else {
            return;
        };
        let mut uids = reads.uids;
        uids.sort_unstable();
        uids.dedup();
        tracing::debug!(target: "audit", event = "read", protocol = "imap", bal = %account.address, peer = %self.peer,
            folder = %reads.folder, count = uids.len(), uids = %uid_set(&uids));
    }

    /// The deletion trace of an EXPUNGE or CLOSE that removed messages.
    pub(crate) fn audit_expunged(&self, gone: &[u32]) {
        let (Some(account), Some(sel)) = (&self.account, &self.selected) else {
            return;
        };
        if !gone.is_empty() {
            tracing::info!(target: "audit", event = "expunged", protocol = "imap", bal = %account.address, peer = %self.peer,
                folder = %sel.name, count = gone.len(), uids = %uid_set(gone));
        }
    }

    /// `VANISHED (EARLIER)` for the UIDs expunged after `modseq`, within `within` (RFC 7162 §3.2.6).
    async fn vanished_earlier(&mut self, out: &mut Vec<u8>, modseq: u64, within: Option<&SequenceSet>) {
        let Some(sel) = self.selected.as_ref() else { return };
        let (id, max_uid) = (sel.id, sel.max_uid());
        let Ok(changes) = self.svc.changes_since(id, modseq).await else {
            return;
        };
        let gone: Vec<u32> = changes
            .expunged
            .into_iter()
            // `*` reaches the expunged UIDs above the highest one left.
            .filter(|u| within.is_none_or(|set| set.contains(*u, max_uid.max(*u))))
            .collect();
        if !gone.is_empty() {
            untagged(out, &format!("VANISHED (EARLIER) {}", uid_set(&gone)));
        }
    }

    /// SELECT (QRESYNC ...): what vanished and what changed since the client's `modseq`
    /// (RFC 7162 §3.2.5).
    pub(crate) async fn resynchronise(&mut self, out: &mut Vec<u8>, modseq: u64, known: Option<&SequenceSet>) {
        self.vanished_earlier(out, modseq, known).await;
        let sel = self.selected.as_ref().expect("selected");
        for (i, m) in sel.messages.iter().enumerate() {
            if m.modseq > modseq {
                untagged(
                    out,
                    &format!(
                        "{} FETCH (UID {} FLAGS ({}) MODSEQ ({}))",
                        i + 1,
                        m.uid,
                        sel.flags_of(m, !self.rev2),
                        m.modseq
                    ),
                );
            }
        }
    }

    /// Brings the view up to date and reports the differences: EXPUNGE (only when allowed),
    /// EXISTS/RECENT for new messages, FETCH for flags changed elsewhere (RFC 9051 §7.4–7.5).
    pub(crate) async fn refresh(&mut self, out: &mut Vec<u8>, allow_expunge: bool) {
        let Some(sel) = self.selected.as_ref() else { return };
        let (id, since) = (sel.id, sel.modseq);
        let changes = match self.svc.changes_since(id, since).await {
            Ok(c) => c,
            Err(confiance_mail::MailError::Store(StoreError::NoSuchMailbox)) => {
                // Deleted by another session: nothing sensible can follow (RFC 9051 §7.1.5).
                self.selected = None;
                self.closing = true;
                untagged(out, "BYE The selected folder was deleted.");
                return;
            }
            Err(_) => return,
        };
        let with_recent = !self.rev2;
        let condstore = self.condstore;
        let gone: Vec<u32> = changes
            .expunged
            .iter()
            .copied()
            .filter(|u| sel.seq_of(*u).is_some())
            .collect();
        let mut changed = false;
        let any_pending_expunge = !allow_expunge && !gone.is_empty();
        if allow_expunge && !gone.is_empty() {
            self.contexts_forget(out, &gone);
            let qresync = self.qresync;
            let sel = self.selected.as_mut().expect("selected");
            for &u in &gone {
                if let Some(seq) = sel.seq_of(u) {
                    Arc::make_mut(&mut sel.messages).remove(seq as usize - 1);
                    sel.recent.remove(&u);
                    if !qresync {
                        untagged(out, &format!("{seq} EXPUNGE"));
                    }
                }
            }
            if qresync {
                // RFC 7162 §3.2.10: with QRESYNC, expunges are reported by UID.
                untagged(out, &format!("VANISHED {}", uid_set(&gone)));
            }
            changed = true;
        }
        let sel = self.selected.as_mut().expect("selected");
        let max_uid = sel.max_uid();
        let mut new: Vec<MessageMeta> = Vec::new();
        for m in changes.changed {
            if m.uid > max_uid {
                new.push(m);
            } else if let Some(seq) = sel.seq_of(m.uid) {
                let old = &sel.messages[seq as usize - 1];
                let (flags_differ, modseq_differs) = (old.flags != m.flags, old.modseq != m.modseq);
                if flags_differ || (condstore && modseq_differs) {
                    sel.announce_keywords(out, &m.flags);
                    let mut items = format!("FLAGS ({})", sel.flags_of(&m, with_recent));
                    if condstore {
                        items = format!("{items} MODSEQ ({})", m.modseq);
                    }
                    untagged(out, &format!("{seq} FETCH ({items})"));
                    changed = true;
                }
                if flags_differ || modseq_differs {
                    Arc::make_mut(&mut sel.messages)[seq as usize - 1] = m;
                }
            }
        }
        if !new.is_empty() {
            changed = true;
            let mut took_recent = Vec::new();
            // A read-only session leaves \Recent to the next one that selects read-write, and
            // keeps the marks in its view, which is then not shared.
            for mut m in new {
                if m.recent && !sel.read_only {
                    sel.recent.insert(m.uid);
                    took_recent.push(m.uid);
                    m.recent = false;
                } else if sel.claimed.contains(&m.uid) {
                    sel.recent.insert(m.uid);
                }
                sel.marked |= m.recent;
                Arc::make_mut(&mut sel.messages).push(m);
            }
            untagged(out, &format!("{} EXISTS", sel.exists()));
            if with_recent {
                untagged(out, &format!("{} RECENT", sel.recent.len()));
            }
            if !took_recent.is_empty() {
                let _ = self.svc.clear_recent(id).await;
            }
        }
        let sel = self.selected.as_mut().expect("selected");
        if !any_pending_expunge && changes.highest_modseq > sel.modseq {
            sel.modseq = changes.highest_modseq;
            // Every change up to this modseq applied: the view is that state exactly.
            self.svc.share_view(id, sel.modseq, &mut sel.messages, sel.marked);
        }
        // Changes made by this session's own STORE or FETCH mark the view dirty.
        if changed || std::mem::take(&mut sel.dirty) {
            self.contexts_refresh(out).await;
        }
    }
}

fn search_has_modseq(key: &SearchKey) -> bool {
    match key {
        SearchKey::ModSeq { .. } => true,
        SearchKey::Not(k) => search_has_modseq(k),
        SearchKey::Or(a, b) => search_has_modseq(a) || search_has_modseq(b),
        SearchKey::And(keys) => keys.iter().any(search_has_modseq),
        _ => false,
    }
}
