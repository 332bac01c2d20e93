//! The message commands: SEARCH (with its keys, nested within `MAX_SEARCH_DEPTH`), FETCH
//! (attributes, sections, partials), STORE, COPY/MOVE, SORT and THREAD.

use super::super::command::*;
use super::{PResult, Parser};

impl Parser<'_> {
    pub(super) fn search(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let return_opts = self.return_opts()?;
        let charset = if self.try_keyword("CHARSET") {
            self.sp()?;
            let c = Self::utf8(self.astring()?)?;
            self.sp()?;
            Some(c)
        } else {
            None
        };
        let criteria = self.search_keys()?;
        Ok(CommandBody::Search {
            uid,
            return_opts,
            charset,
            criteria,
        })
    }

    /// search-key *(SP search-key), up to end of line; one key is returned as
    /// itself, several as `And`.
    pub(super) fn search_keys(&mut self) -> PResult<SearchKey> {
        let mut keys = vec![self.search_key()?];
        while self.more_args() {
            self.sp()?;
            keys.push(self.search_key()?);
        }
        Ok(if keys.len() == 1 {
            keys.pop().unwrap_or(SearchKey::All)
        } else {
            SearchKey::And(keys)
        })
    }

    pub(super) fn search_key(&mut self) -> PResult<SearchKey> {
        if self.depth >= MAX_SEARCH_DEPTH {
            return self.err("search keys nested too deeply");
        }
        self.depth += 1;
        let r = self.search_key_inner();
        self.depth -= 1;
        r
    }

    pub(super) fn search_key_inner(&mut self) -> PResult<SearchKey> {
        match self.peek() {
            Some(b'(') => {
                let mut keys = self.paren_list(false, Self::search_key)?;
                return Ok(if keys.len() == 1 {
                    keys.pop().unwrap_or(SearchKey::All)
                } else {
                    SearchKey::And(keys)
                });
            }
            Some(b'0'..=b'9' | b'*' | b'$') => {
                return Ok(SearchKey::SequenceSet(self.sequence_set()?));
            }
            _ => {}
        }
        let k = self.keyword()?;
        macro_rules! arg {
            ($f:ident) => {{
                self.sp()?;
                self.$f()?
            }};
        }
        Ok(match k.as_str() {
            "ALL" => SearchKey::All,
            "ANSWERED" => SearchKey::Answered,
            "BCC" => SearchKey::Bcc(arg!(astring)),
            "BEFORE" => SearchKey::Before(arg!(date)),
            "BODY" => SearchKey::Body(arg!(astring)),
            "CC" => SearchKey::Cc(arg!(astring)),
            "DELETED" => SearchKey::Deleted,
            "DRAFT" => SearchKey::Draft,
            "FLAGGED" => SearchKey::Flagged,
            "FROM" => SearchKey::From(arg!(astring)),
            "HEADER" => {
                let name = arg!(astring);
                SearchKey::Header(name, arg!(astring))
            }
            "KEYWORD" => SearchKey::Keyword(String::from_utf8_lossy(arg!(atom)).into_owned()),
            "UNKEYWORD" => SearchKey::Unkeyword(String::from_utf8_lossy(arg!(atom)).into_owned()),
            "LARGER" => SearchKey::Larger(arg!(number64)),
            "SMALLER" => SearchKey::Smaller(arg!(number64)),
            "NEW" => SearchKey::New,
            "NOT" => SearchKey::Not(Box::new(arg!(search_key))),
            "OLD" => SearchKey::Old,
            "ON" => SearchKey::On(arg!(date)),
            "OR" => {
                let a = arg!(search_key);
                SearchKey::Or(Box::new(a), Box::new(arg!(search_key)))
            }
            "RECENT" => SearchKey::Recent,
            "SEEN" => SearchKey::Seen,
            "SENTBEFORE" => SearchKey::SentBefore(arg!(date)),
            "SENTON" => SearchKey::SentOn(arg!(date)),
            "SENTSINCE" => SearchKey::SentSince(arg!(date)),
            "SINCE" => SearchKey::Since(arg!(date)),
            "SUBJECT" => SearchKey::Subject(arg!(astring)),
            "TEXT" => SearchKey::Text(arg!(astring)),
            "TO" => SearchKey::To(arg!(astring)),
            "UID" => SearchKey::Uid(arg!(sequence_set)),
            "UNANSWERED" => SearchKey::Unanswered,
            "UNDELETED" => SearchKey::Undeleted,
            "UNDRAFT" => SearchKey::Undraft,
            "UNFLAGGED" => SearchKey::Unflagged,
            "UNSEEN" => SearchKey::Unseen,
            "OLDER" => SearchKey::Older(arg!(nz_number)),
            "YOUNGER" => SearchKey::Younger(arg!(nz_number)),
            "MODSEQ" => {
                // RFC 7162 §3.1.5: "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer
                self.sp()?;
                let entry = if self.peek().is_some_and(|b| b.is_ascii_digit()) {
                    None
                } else {
                    let name = self.string()?;
                    self.sp()?;
                    let t = self.keyword()?;
                    let t = match t.as_str() {
                        "PRIV" => EntryType::Private,
                        "SHARED" => EntryType::Shared,
                        "ALL" => EntryType::All,
                        _ => return Err(format!("invalid MODSEQ entry type {t}")),
                    };
                    self.sp()?;
                    Some((name, t))
                };
                SearchKey::ModSeq {
                    entry,
                    modseq: self.number64()?,
                }
            }
            _ => return Err(format!("unknown search key {k}")),
        })
    }

    /// fetch = "FETCH" SP sequence-set SP ("ALL" / "FULL" / "FAST" / fetch-att /
    /// "(" fetch-att *(SP fetch-att) ")") [fetch-modifiers]   (RFC 7162 §3.1.4.1)
    pub(super) fn fetch(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let set = self.sequence_set()?;
        self.sp()?;
        let attrs = if self.peek() == Some(b'(') {
            self.paren_list(false, Self::fetch_att)?
        } else if self.try_keyword("ALL") {
            vec![
                FetchAttr::Flags,
                FetchAttr::InternalDate,
                FetchAttr::Rfc822Size,
                FetchAttr::Envelope,
            ]
        } else if self.try_keyword("FAST") {
            vec![FetchAttr::Flags, FetchAttr::InternalDate, FetchAttr::Rfc822Size]
        } else if self.try_keyword("FULL") {
            vec![
                FetchAttr::Flags,
                FetchAttr::InternalDate,
                FetchAttr::Rfc822Size,
                FetchAttr::Envelope,
                FetchAttr::Body,
            ]
        } else {
            vec![self.fetch_att()?]
        };
        let mut changed_since = None;
        let mut vanished = false;
        if self.more_args() {
            self.sp()?;
            self.paren_list(false, |p| {
                let k = p.keyword()?;
                match k.as_str() {
                    "CHANGEDSINCE" => {
                        p.sp()?;
                        changed_since = Some(p.number64()?);
                    }
                    "VANISHED" => vanished = true,
                    _ => return Err(format!("unknown FETCH modifier {k}")),
                }
                Ok(())
            })?;
        }
        if vanished && (!uid || changed_since.is_none()) {
            return self.err("VANISHED requires UID FETCH with CHANGEDSINCE");
        }
        Ok(CommandBody::Fetch {
            uid,
            set,
            attrs,
            changed_since,
            vanished,
        })
    }

    pub(super) fn fetch_att(&mut self) -> PResult<FetchAttr> {
        let name = self
            .take_while(|b| b.is_ascii_alphanumeric() || b == b'.')
            .to_ascii_uppercase();
        let simple = match name.as_slice() {
            b"ENVELOPE" => Some(FetchAttr::Envelope),
            b"FLAGS" => Some(FetchAttr::Flags),
            b"INTERNALDATE" => Some(FetchAttr::InternalDate),
            b"RFC822" => Some(FetchAttr::Rfc822),
            b"RFC822.HEADER" => Some(FetchAttr::Rfc822Header),
            b"RFC822.SIZE" => Some(FetchAttr::Rfc822Size),
            b"RFC822.TEXT" => Some(FetchAttr::Rfc822Text),
            b"BODYSTRUCTURE" => Some(FetchAttr::BodyStructure),
            b"UID" => Some(FetchAttr::Uid),
            b"MODSEQ" => Some(FetchAttr::ModSeq),
            b"BODY" if self.peek() != Some(b'[') => Some(FetchAttr::Body),
            _ => None,
        };
        if let Some(a) = simple {
            return Ok(a);
        }
        match name.as_slice() {
            b"BODY" | b"BODY.PEEK" => {
                let section = self.section()?;
                let partial = self.partial()?;
                Ok(FetchAttr::BodySection {
                    peek: name.len() > 4,
                    section,
                    partial,
                })
            }
            b"BINARY" | b"BINARY.PEEK" => {
                let part = self.binary_section()?;
                let partial = self.partial()?;
                Ok(FetchAttr::Binary {
                    peek: name.len() > 6,
                    part,
                    partial,
                })
            }
            b"BINARY.SIZE" => Ok(FetchAttr::BinarySize {
                part: self.binary_section()?,
            }),
            _ => Err(format!("unknown FETCH attribute {}", String::from_utf8_lossy(&name))),
        }
    }

    /// section-part = nz-number *("." nz-number); stops before ".<letter>".
    pub(super) fn section_part(&mut self) -> PResult<Vec<u32>> {
        let mut part = Vec::new();
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            part.push(self.nz_number()?);
            if self.peek() == Some(b'.') && self.peek_at(1).is_some_and(|b| b.is_ascii_digit()) {
                self.pos += 1;
            } else {
                break;
            }
        }
        Ok(part)
    }

    /// section-binary = "[" [section-part] "]" (RFC 3516 §4.3)
    pub(super) fn binary_section(&mut self) -> PResult<Vec<u32>> {
        self.expect(b'[')?;
        let part = self.section_part()?;
        self.expect(b']')?;
        Ok(part)
    }

    /// section = "[" [section-spec] "]" (RFC 9051 §9)
    pub(super) fn section(&mut self) -> PResult<Section> {
        self.expect(b'[')?;
        let part = self.section_part()?;
        let mut text = None;
        if self.peek() != Some(b']') {
            if !part.is_empty() {
                self.expect(b'.')?;
            }
            let kw = self
                .take_while(|b| b.is_ascii_alphabetic() || b == b'.')
                .to_ascii_uppercase();
            text = Some(match kw.as_slice() {
                b"HEADER" => SectionText::Header,
                b"TEXT" => SectionText::Text,
                b"MIME" if !part.is_empty() => SectionText::Mime,
                b"HEADER.FIELDS" => {
                    self.sp()?;
                    SectionText::HeaderFields(self.paren_list(false, Self::astring)?)
                }
                b"HEADER.FIELDS.NOT" => {
                    self.sp()?;
                    SectionText::HeaderFieldsNot(self.paren_list(false, Self::astring)?)
                }
                _ => return self.err("invalid section"),
            });
        }
        self.expect(b']')?;
        Ok(Section { part, text })
    }

    /// partial = "<" number "." nz-number ">"
    pub(super) fn partial(&mut self) -> PResult<Option<Partial>> {
        if self.peek() != Some(b'<') {
            return Ok(None);
        }
        self.pos += 1;
        let origin = self.number()?;
        self.expect(b'.')?;
        let size = self.nz_number()?;
        self.expect(b'>')?;
        Ok(Some(Partial { origin, size }))
    }

    /// store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags
    pub(super) fn store(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let set = self.sequence_set()?;
        self.sp()?;
        let mut unchanged_since = None;
        if self.peek() == Some(b'(') {
            self.paren_list(false, |p| {
                let k = p.keyword()?;
                if k != "UNCHANGEDSINCE" {
                    return Err(format!("unknown STORE modifier {k}"));
                }
                p.sp()?;
                unchanged_since = Some(p.number64()?);
                Ok(())
            })?;
            self.sp()?;
        }
        let mode = match self.peek() {
            Some(b'+') => StoreMode::Add,
            Some(b'-') => StoreMode::Remove,
            _ => StoreMode::Replace,
        };
        if mode != StoreMode::Replace {
            self.pos += 1;
        }
        let item = self.keyword()?;
        let silent = match item.as_str() {
            "FLAGS" => false,
            "FLAGS.SILENT" => true,
            _ => return Err(format!("unknown STORE item {item}")),
        };
        self.sp()?;
        let flags = if self.peek() == Some(b'(') {
            self.flag_list()?
        } else {
            let mut v = vec![self.flag()?];
            while self.more_args() {
                self.sp()?;
                v.push(self.flag()?);
            }
            v
        };
        Ok(CommandBody::Store {
            uid,
            set,
            unchanged_since,
            mode,
            silent,
            flags,
        })
    }

    pub(super) fn copy_move(&mut self, uid: bool, is_move: bool) -> PResult<CommandBody> {
        self.sp()?;
        let set = self.sequence_set()?;
        let mailbox = self.sp_mailbox()?;
        Ok(if is_move {
            CommandBody::Move { uid, set, mailbox }
        } else {
            CommandBody::Copy { uid, set, mailbox }
        })
    }

    /// sort = ["UID" SP] "SORT" [search-return-opts] SP sort-criteria SP
    /// search-charset 1*(SP search-key)   (RFC 5256 §5, RFC 5267 §3.1)
    pub(super) fn sort(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let return_opts = self.return_opts()?;
        let criteria = self.paren_list(false, |p| {
            let reverse = p.try_keyword("REVERSE");
            if reverse {
                p.sp()?;
            }
            let k = p.keyword()?;
            let key = match k.as_str() {
                "ARRIVAL" => SortKey::Arrival,
                "CC" => SortKey::Cc,
                "DATE" => SortKey::Date,
                "FROM" => SortKey::From,
                "SIZE" => SortKey::Size,
                "SUBJECT" => SortKey::Subject,
                "TO" => SortKey::To,
                "DISPLAYFROM" => SortKey::DisplayFrom,
                "DISPLAYTO" => SortKey::DisplayTo,
                _ => return Err(format!("unknown sort key {k}")),
            };
            Ok(SortCriterion { reverse, key })
        })?;
        self.sp()?;
        let charset = Self::utf8(self.astring()?)?;
        self.sp()?;
        let search = self.search_keys()?;
        Ok(CommandBody::Sort {
            uid,
            return_opts,
            criteria,
            charset,
            search,
        })
    }

    /// thread = ["UID" SP] "THREAD" SP thread-alg SP search-charset 1*(SP search-key)
    pub(super) fn thread(&mut self, uid: bool) -> PResult<CommandBody> {
        self.sp()?;
        let algorithm = self.keyword()?;
        self.sp()?;
        let charset = Self::utf8(self.astring()?)?;
        self.sp()?;
        let search = self.search_keys()?;
        Ok(CommandBody::Thread {
            uid,
            algorithm,
            charset,
            search,
        })
    }
}
