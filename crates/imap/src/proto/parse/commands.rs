//! Command bodies other than the message commands: session state, authentication, folders,
//! LIST, STATUS, APPEND, NOTIFY, ID and the rest of RFC 9051 §6.1–6.3.

use base64::Engine;

use super::super::command::*;
use super::{PResult, Parser};

impl Parser<'_> {
    pub(super) fn command_body(&mut self) -> PResult<CommandBody> {
        let name = self.keyword()?;
        let body = match name.as_str() {
            "CAPABILITY" => CommandBody::Capability,
            "NOOP" => CommandBody::Noop,
            "LOGOUT" => CommandBody::Logout,
            "STARTTLS" => CommandBody::StartTls,
            "CHECK" => CommandBody::Check,
            "CLOSE" => CommandBody::Close,
            "UNSELECT" => CommandBody::Unselect,
            "EXPUNGE" => CommandBody::Expunge,
            "IDLE" => CommandBody::Idle,
            "NAMESPACE" => CommandBody::Namespace,
            "AUTHENTICATE" => self.authenticate()?,
            "LOGIN" => {
                self.sp()?;
                let username = self.astring()?;
                self.sp()?;
                let password = self.astring()?;
                CommandBody::Login { username, password }
            }
            "ENABLE" => {
                let mut capabilities = Vec::new();
                while self.more_args() {
                    self.sp()?;
                    capabilities.push(self.keyword()?);
                }
                if capabilities.is_empty() {
                    return self.err("ENABLE needs at least one capability");
                }
                CommandBody::Enable { capabilities }
            }
            "SELECT" | "EXAMINE" => {
                self.sp()?;
                let mailbox = self.mailbox()?;
                let params = if self.more_args() {
                    self.sp()?;
                    self.paren_list(false, Self::select_param)?
                } else {
                    Vec::new()
                };
                if name == "SELECT" {
                    CommandBody::Select { mailbox, params }
                } else {
                    CommandBody::Examine { mailbox, params }
                }
            }
            "CREATE" => self.create()?,
            "DELETE" => CommandBody::Delete {
                mailbox: self.sp_mailbox()?,
            },
            "SUBSCRIBE" => CommandBody::Subscribe {
                mailbox: self.sp_mailbox()?,
            },
            "UNSUBSCRIBE" => CommandBody::Unsubscribe {
                mailbox: self.sp_mailbox()?,
            },
            "RENAME" => {
                let from = self.sp_mailbox()?;
                let to = self.sp_mailbox()?;
                CommandBody::Rename { from, to }
            }
            "LIST" => self.list()?,
            "LSUB" => {
                self.sp()?;
                let reference = self.astring()?;
                self.sp()?;
                let pattern = self.list_mailbox()?;
                CommandBody::Lsub { reference, pattern }
            }
            "STATUS" => {
                let mailbox = self.sp_mailbox()?;
                self.sp()?;
                let items = self.paren_list(false, Self::status_item)?;
                CommandBody::Status { mailbox, items }
            }
            "APPEND" => self.append()?,
            "ID" => {
                self.sp()?;
                let params = if self.try_keyword("NIL") {
                    None
                } else {
                    Some(self.paren_list(true, |p| {
                        let k = p.string()?;
                        p.sp()?;
                        Ok((k, p.nstring()?))
                    })?)
                };
                CommandBody::Id { params }
            }
            "GETQUOTA" => {
                self.sp()?;
                CommandBody::GetQuota { root: self.astring()? }
            }
            "GETQUOTAROOT" => CommandBody::GetQuotaRoot {
                mailbox: self.sp_mailbox()?,
            },
            "SETQUOTA" => {
                self.sp()?;
                let root = self.astring()?;
                self.sp()?;
                let limits = self.paren_list(true, |p| {
                    let r = p.keyword()?;
                    p.sp()?;
                    Ok((r, p.number64()?))
                })?;
                CommandBody::SetQuota { root, limits }
            }
            "SEARCH" => self.search(false)?,
            "FETCH" => self.fetch(false)?,
            "STORE" => self.store(false)?,
            "COPY" => self.copy_move(false, false)?,
            "MOVE" => self.copy_move(false, true)?,
            "SORT" => self.sort(false)?,
            "THREAD" => self.thread(false)?,
            "UID" => {
                self.sp()?;
                let sub = self.keyword()?;
                match sub.as_str() {
                    "SEARCH" => self.search(true)?,
                    "FETCH" => self.fetch(true)?,
                    "STORE" => self.store(true)?,
                    "COPY" => self.copy_move(true, false)?,
                    "MOVE" => self.copy_move(true, true)?,
                    "SORT" => self.sort(true)?,
                    "THREAD" => self.thread(true)?,
                    "EXPUNGE" => {
                        self.sp()?;
                        CommandBody::UidExpunge {
                            set: self.sequence_set()?,
                        }
                    }
                    _ => return Err(format!("unknown UID command {sub}")),
                }
            }
            "CANCELUPDATE" => {
                let mut tags = Vec::new();
                while self.more_args() {
                    self.sp()?;
                    tags.push(self.string()?);
                }
                if tags.is_empty() {
                    return self.err("CANCELUPDATE needs a tag");
                }
                CommandBody::CancelUpdate { tags }
            }
            "NOTIFY" => {
                self.sp()?;
                if self.try_keyword("NONE") {
                    CommandBody::Notify {
                        status: false,
                        groups: None,
                    }
                } else if self.try_keyword("SET") {
                    self.sp()?;
                    let status = self.try_keyword("STATUS");
                    if status {
                        self.sp()?;
                    }
                    let mut groups = vec![self.notify_group()?];
                    while self.more_args() {
                        self.sp()?;
                        groups.push(self.notify_group()?);
                    }
                    CommandBody::Notify {
                        status,
                        groups: Some(groups),
                    }
                } else {
                    return self.err("expected SET or NONE");
                }
            }
            _ => return Err(format!("unknown or unsupported command {name}")),
        };
        self.end()?;
        Ok(body)
    }

    /// `"(" filter-mailboxes SP events ")"` (RFC 5465 §8).
    pub(super) fn notify_group(&mut self) -> PResult<NotifyGroup> {
        self.expect(b'(')?;
        let filter = match self.keyword()?.as_str() {
            "SELECTED" => NotifyFilter::Selected,
            "SELECTED-DELAYED" => NotifyFilter::SelectedDelayed,
            "INBOXES" => NotifyFilter::Inboxes,
            "PERSONAL" => NotifyFilter::Personal,
            "SUBSCRIBED" => NotifyFilter::Subscribed,
            kw @ ("SUBTREE" | "MAILBOXES") => {
                self.sp()?;
                let list = if self.peek() == Some(b'(') {
                    self.paren_list(false, Self::mailbox)?
                } else {
                    vec![self.mailbox()?]
                };
                if kw == "SUBTREE" {
                    NotifyFilter::Subtree(list)
                } else {
                    NotifyFilter::Mailboxes(list)
                }
            }
            other => return Err(format!("unknown NOTIFY filter {other}")),
        };
        self.sp()?;
        let mut events = Vec::new();
        if !self.try_keyword("NONE") {
            self.expect(b'(')?;
            loop {
                let event = self.keyword()?;
                // MessageNew may carry the FETCH items to push; they are parsed and not used.
                if event == "MESSAGENEW" && self.peek() == Some(b' ') && self.peek_at(1) == Some(b'(') {
                    self.sp()?;
                    self.skip_parenthesised()?;
                }
                events.push(event);
                match self.peek() {
                    Some(b' ') => self.pos += 1,
                    Some(b')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return self.err("expected SP or ')' in NOTIFY events"),
                }
            }
        }
        self.expect(b')')?;
        Ok(NotifyGroup { filter, events })
    }

    /// Skips a balanced `( ... )` group (no literals inside).
    pub(super) fn skip_parenthesised(&mut self) -> PResult<()> {
        self.expect(b'(')?;
        let mut depth = 1;
        while depth > 0 {
            match self.peek() {
                Some(b'(') => depth += 1,
                Some(b')') => depth -= 1,
                Some(b'\r' | b'\n') | None => return self.err("unbalanced parentheses"),
                _ => {}
            }
            self.pos += 1;
        }
        Ok(())
    }

    pub(super) fn sp_mailbox(&mut self) -> PResult<Mailbox> {
        self.sp()?;
        self.mailbox()
    }

    /// authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp] (RFC 4959)
    pub(super) fn authenticate(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let mechanism = self.keyword()?;
        let initial_response = if self.more_args() {
            self.sp()?;
            let raw = self.take_while(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/' || b == b'=');
            if raw == b"=" {
                Some(Vec::new())
            } else {
                Some(
                    base64::engine::general_purpose::STANDARD
                        .decode(raw)
                        .map_err(|_| "invalid base64 initial response")?,
                )
            }
        } else {
            None
        };
        Ok(CommandBody::Authenticate {
            mechanism,
            initial_response,
        })
    }

    pub(super) fn select_param(&mut self) -> PResult<SelectParam> {
        let name = self.keyword()?;
        match name.as_str() {
            "CONDSTORE" => Ok(SelectParam::CondStore),
            "QRESYNC" => {
                self.sp()?;
                self.expect(b'(')?;
                let uidvalidity = self.nz_number()?;
                self.sp()?;
                let modseq = self.number64()?;
                let mut known_uids = None;
                let mut seq_match = None;
                if self.peek() == Some(b' ') && self.peek_at(1) != Some(b'(') {
                    self.sp()?;
                    known_uids = Some(self.sequence_set()?);
                }
                if self.peek() == Some(b' ') {
                    self.sp()?;
                    self.expect(b'(')?;
                    let seqs = self.sequence_set()?;
                    self.sp()?;
                    let uids = self.sequence_set()?;
                    self.expect(b')')?;
                    seq_match = Some((seqs, uids));
                }
                self.expect(b')')?;
                Ok(SelectParam::QResync {
                    uidvalidity,
                    modseq,
                    known_uids,
                    seq_match,
                })
            }
            _ => Err(format!("unknown SELECT parameter {name}")),
        }
    }

    /// create = "CREATE" SP mailbox [SP "(" USE SP "(" use-attr... ")" ")"] (RFC 6154 §6)
    pub(super) fn create(&mut self) -> PResult<CommandBody> {
        let mailbox = self.sp_mailbox()?;
        let mut special_use = Vec::new();
        if self.more_args() {
            self.sp()?;
            let params = self.paren_list(false, |p| {
                let name = p.keyword()?;
                if name != "USE" {
                    return Err(format!("unknown CREATE parameter {name}"));
                }
                p.sp()?;
                p.paren_list(true, |p| {
                    p.expect(b'\\')?;
                    let a = String::from_utf8_lossy(p.atom()?).into_owned();
                    Ok(canonical_special_use(&a))
                })
            })?;
            special_use = params.into_iter().flatten().collect();
        }
        Ok(CommandBody::Create { mailbox, special_use })
    }

    /// list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]
    /// (RFC 5258 §6, RFC 9051 §9).
    pub(super) fn list(&mut self) -> PResult<CommandBody> {
        self.sp()?;
        let mut selection = Vec::new();
        if self.peek() == Some(b'(') {
            selection = self.paren_list(true, |p| {
                let k = p.keyword()?;
                Ok(match k.as_str() {
                    "SUBSCRIBED" => ListSelectOption::Subscribed,
                    "REMOTE" => ListSelectOption::Remote,
                    "RECURSIVEMATCH" => ListSelectOption::RecursiveMatch,
                    "SPECIAL-USE" => ListSelectOption::SpecialUse,
                    _ => return Err(format!("unsupported LIST selection option {k}")),
                })
            })?;
            // RFC 5258 §3.1: RECURSIVEMATCH needs another (non-REMOTE) selection option.
            if selection.contains(&ListSelectOption::RecursiveMatch)
                && !selection
                    .iter()
                    .any(|o| matches!(o, ListSelectOption::Subscribed | ListSelectOption::SpecialUse))
            {
                return self.err("RECURSIVEMATCH requires another selection option");
            }
            self.sp()?;
        }
        let reference = self.astring()?;
        self.sp()?;
        let patterns = if self.peek() == Some(b'(') {
            self.paren_list(false, Self::list_mailbox)?
        } else {
            vec![self.list_mailbox()?]
        };
        let mut return_opts = Vec::new();
        if self.more_args() {
            self.sp()?;
            if !self.try_keyword("RETURN") {
                return self.err("expected RETURN");
            }
            self.sp()?;
            return_opts = self.paren_list(true, |p| {
                let k = p.keyword()?;
                Ok(match k.as_str() {
                    "SUBSCRIBED" => ListReturnOption::Subscribed,
                    "CHILDREN" => ListReturnOption::Children,
                    "SPECIAL-USE" => ListReturnOption::SpecialUse,
                    "STATUS" => {
                        p.sp()?;
                        ListReturnOption::Status(p.paren_list(false, Self::status_item)?)
                    }
                    _ => return Err(format!("unsupported LIST return option {k}")),
                })
            })?;
        }
        Ok(CommandBody::List {
            selection,
            reference,
            patterns,
            return_opts,
        })
    }

    pub(super) fn status_item(&mut self) -> PResult<StatusItem> {
        let k = self.keyword()?;
        Ok(match k.as_str() {
            "MESSAGES" => StatusItem::Messages,
            "UIDNEXT" => StatusItem::UidNext,
            "UIDVALIDITY" => StatusItem::UidValidity,
            "UNSEEN" => StatusItem::Unseen,
            "RECENT" => StatusItem::Recent,
            "SIZE" => StatusItem::Size,
            "DELETED" => StatusItem::Deleted,
            "HIGHESTMODSEQ" => StatusItem::HighestModSeq,
            _ => return Err(format!("unknown STATUS item {k}")),
        })
    }

    /// append = "APPEND" SP mailbox 1*append-message (RFC 3502 §6);
    /// append-message = [SP flag-list] [SP date-time] SP append-data;
    /// append-data = literal / literal8 / "CATENATE" SP "(" cat-part *(SP cat-part) ")".
    pub(super) fn append(&mut self) -> PResult<CommandBody> {
        let mailbox = self.sp_mailbox()?;
        let mut messages = Vec::new();
        while self.more_args() || messages.is_empty() {
            self.sp()?;
            let mut flags = Vec::new();
            let mut date = None;
            if self.peek() == Some(b'(') {
                flags = self.flag_list()?;
                self.sp()?;
            }
            if self.peek() == Some(b'"') {
                date = Some(self.date_time()?);
                self.sp()?;
            }
            let data = match self.peek() {
                Some(b'{' | b'~') => {
                    let (data, binary) = self.literal(true)?;
                    AppendData::Literal { data, binary }
                }
                _ if self.try_keyword("CATENATE") => {
                    self.sp()?;
                    AppendData::Catenate(self.paren_list(false, |p| {
                        let k = p.keyword()?;
                        p.sp()?;
                        match k.as_str() {
                            "TEXT" => {
                                let (data, binary) = p.literal(true)?;
                                Ok(CatPart::Text { data, binary })
                            }
                            "URL" => Ok(CatPart::Url(p.astring()?)),
                            _ => Err(format!("unknown CATENATE part {k}")),
                        }
                    })?)
                }
                _ => return self.err("expected message literal or CATENATE"),
            };
            messages.push(AppendMessage { flags, date, data });
        }
        Ok(CommandBody::Append { mailbox, messages })
    }

    /// search-return-opts = SP "RETURN" SP "(" [search-return-opt *(SP search-return-opt)] ")"
    pub(super) fn return_opts(&mut self) -> PResult<Option<Vec<ReturnOption>>> {
        if !self.try_keyword("RETURN") {
            return Ok(None);
        }
        self.sp()?;
        let opts = self.paren_list(true, |p| {
            let k = p.keyword()?;
            Ok(match k.as_str() {
                "MIN" => ReturnOption::Min,
                "MAX" => ReturnOption::Max,
                "ALL" => ReturnOption::All,
                "COUNT" => ReturnOption::Count,
                "SAVE" => ReturnOption::Save,
                "CONTEXT" => ReturnOption::Context,
                "UPDATE" => ReturnOption::Update,
                "PARTIAL" => {
                    // RFC 9394 §4: partial-range-first / partial-range-last.
                    p.sp()?;
                    let neg = p.peek() == Some(b'-');
                    let sign = |p: &mut Self| -> PResult<i64> {
                        if neg {
                            p.expect(b'-')?;
                        }
                        let n = i64::from(p.nz_number()?);
                        Ok(if neg { -n } else { n })
                    };
                    let a = sign(p)?;
                    p.expect(b':')?;
                    let b = sign(p)?;
                    ReturnOption::Partial(a, b)
                }
                _ => return Err(format!("unknown RETURN option {k}")),
            })
        })?;
        self.sp()?;
        Ok(Some(opts))
    }
}

/// Canonical spelling of RFC 6154 §2 special-use attributes (without the
/// leading backslash in input); unknown ones are case-preserved.
fn canonical_special_use(a: &str) -> String {
    const KNOWN: [&str; 7] = ["All", "Archive", "Drafts", "Flagged", "Junk", "Sent", "Trash"];
    KNOWN
        .iter()
        .find(|k| k.eq_ignore_ascii_case(a))
        .map_or_else(|| format!("\\{a}"), |k| format!("\\{k}"))
}
