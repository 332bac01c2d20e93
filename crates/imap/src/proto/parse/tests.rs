//! The parser against valid and invalid commands of every kind.

use super::*;

fn p(s: &str) -> CommandBody {
    let line = format!("{s}\r\n");
    match parse_command(line.as_bytes()) {
        Ok(c) => c.body,
        Err(e) => panic!("{s:?}: {e}"),
    }
}

fn perr(s: &[u8]) -> ParseError {
    parse_command(s).expect_err(&String::from_utf8_lossy(s))
}

fn set(s: &str) -> SequenceSet {
    let line = format!("{s}\r\n");
    let mut pr = Parser {
        input: line.as_bytes(),
        pos: 0,
        depth: 0,
    };
    pr.sequence_set().unwrap()
}

#[test]
fn simple_commands() {
    let c = parse_command(b"a1 noop\r\n").unwrap();
    assert_eq!(c.tag, "a1");
    assert_eq!(c.body, CommandBody::Noop);
    for (s, b) in [
        ("x CAPABILITY", CommandBody::Capability),
        ("x LoGoUt", CommandBody::Logout),
        ("x STARTTLS", CommandBody::StartTls),
        ("x check", CommandBody::Check),
        ("x close", CommandBody::Close),
        ("x unselect", CommandBody::Unselect),
        ("x expunge", CommandBody::Expunge),
        ("x idle", CommandBody::Idle),
        ("x namespace", CommandBody::Namespace),
    ] {
        assert_eq!(p(s), b);
    }
    assert_eq!(parse_command(b"a noop\n").unwrap().body, CommandBody::Noop);
}

#[test]
fn login_strings() {
    assert_eq!(
        p(r#"a LOGIN "fr\"ed" "p\\w d""#),
        CommandBody::Login {
            username: b"fr\"ed".to_vec(),
            password: b"p\\w d".to_vec()
        }
    );
    let c = parse_command(b"a login {5}\r\nfr\ned {3+}\r\n)(x\r\n").unwrap();
    assert_eq!(
        c.body,
        CommandBody::Login {
            username: b"fr\ned".to_vec(),
            password: b")(x".to_vec()
        }
    );
    assert_eq!(
        p("a login user]x pass"),
        CommandBody::Login {
            username: b"user]x".to_vec(),
            password: b"pass".to_vec()
        }
    );
}

#[test]
fn authenticate() {
    assert_eq!(
        p("a AUTHENTICATE plain AGZyZWQAcHdk"),
        CommandBody::Authenticate {
            mechanism: "PLAIN".into(),
            initial_response: Some(b"\0fred\0pwd".to_vec())
        }
    );
    assert_eq!(
        p("a AUTHENTICATE EXTERNAL ="),
        CommandBody::Authenticate {
            mechanism: "EXTERNAL".into(),
            initial_response: Some(vec![])
        }
    );
    assert_eq!(
        p("a AUTHENTICATE XOAUTH2"),
        CommandBody::Authenticate {
            mechanism: "XOAUTH2".into(),
            initial_response: None
        }
    );
    assert!(parse_command(b"a AUTHENTICATE PLAIN abc\r\n").is_err());
    // RFC 4648 §4, padding required, none inside.
    let initial = |s: &str| match p(&format!("a AUTHENTICATE PLAIN {s}")) {
        CommandBody::Authenticate { initial_response, .. } => initial_response,
        other => panic!("{other:?}"),
    };
    assert_eq!(initial("YQ=="), Some(b"a".to_vec()));
    assert_eq!(initial("YWI="), Some(b"ab".to_vec()));
    assert!(parse_command(b"a AUTHENTICATE PLAIN YQ==YQ==\r\n").is_err());
}

#[test]
fn enable_select() {
    assert_eq!(
        p("a enable condstore utf8=accept"),
        CommandBody::Enable {
            capabilities: vec!["CONDSTORE".into(), "UTF8=ACCEPT".into()]
        }
    );
    assert_eq!(
        p("a select inbox (condstore)"),
        CommandBody::Select {
            mailbox: Mailbox(b"INBOX".to_vec()),
            params: vec![SelectParam::CondStore]
        }
    );
    assert_eq!(
        p(r#"a EXAMINE "Inbox""#),
        CommandBody::Examine {
            mailbox: Mailbox(b"INBOX".to_vec()),
            params: vec![]
        }
    );
    assert_eq!(
        p("a select INBOX.sub"),
        CommandBody::Select {
            mailbox: Mailbox(b"INBOX.sub".to_vec()),
            params: vec![]
        }
    );
    assert_eq!(
        p("a select foo (QRESYNC (67890007 20050715194045000 41,43:211,214:541))"),
        CommandBody::Select {
            mailbox: Mailbox(b"foo".to_vec()),
            params: vec![SelectParam::QResync {
                uidvalidity: 67890007,
                modseq: 20050715194045000,
                known_uids: Some(set("41,43:211,214:541")),
                seq_match: None
            }]
        }
    );
    assert!(matches!(
        p("a select foo (QRESYNC (1 2 1:5 (1,3 10,30)))"),
        CommandBody::Select { .. }
    ));
    assert!(parse_command(b"a select foo (bogus)\r\n").is_err());
}

#[test]
fn create_rename_etc() {
    assert_eq!(
        p(r"a CREATE MyDrafts (USE (\drafts \Sent))"),
        CommandBody::Create {
            mailbox: Mailbox(b"MyDrafts".to_vec()),
            special_use: vec!["\\Drafts".into(), "\\Sent".into()]
        }
    );
    assert_eq!(
        p("a rename a b"),
        CommandBody::Rename {
            from: Mailbox(b"a".to_vec()),
            to: Mailbox(b"b".to_vec())
        }
    );
    assert!(matches!(p("a delete x"), CommandBody::Delete { .. }));
    assert!(matches!(p("a subscribe x"), CommandBody::Subscribe { .. }));
    assert!(matches!(p("a unsubscribe x"), CommandBody::Unsubscribe { .. }));
}

#[test]
fn list() {
    assert_eq!(
        p(r#"a LIST "" %"#),
        CommandBody::List {
            selection: vec![],
            reference: vec![],
            patterns: vec![b"%".to_vec()],
            return_opts: vec![]
        }
    );
    assert_eq!(
        p(r#"a list (subscribed recursivematch) "" (foo/* bar) return (children status (messages unseen))"#),
        CommandBody::List {
            selection: vec![ListSelectOption::Subscribed, ListSelectOption::RecursiveMatch],
            reference: vec![],
            patterns: vec![b"foo/*".to_vec(), b"bar".to_vec()],
            return_opts: vec![
                ListReturnOption::Children,
                ListReturnOption::Status(vec![StatusItem::Messages, StatusItem::Unseen])
            ]
        }
    );
    assert!(matches!(p(r#"a list (special-use) "" *"#), CommandBody::List { .. }));
    assert!(matches!(
        p(r#"a list "" "" return (special-use)"#),
        CommandBody::List { .. }
    ));
    assert!(parse_command(b"a list (recursivematch) \"\" \"\"\r\n").is_err());
    assert!(parse_command(b"a list (imaptest) \"\" \"\"\r\n").is_err());
    assert!(parse_command(b"a list \"\" \"\" return (imaptest)\r\n").is_err());
    assert_eq!(
        p(r#"a lsub "" foo*"#),
        CommandBody::Lsub {
            reference: vec![],
            pattern: b"foo*".to_vec()
        }
    );
}

#[test]
fn status() {
    assert_eq!(
        p("a status inbox (messages uidnext uidvalidity unseen recent size deleted highestmodseq)"),
        CommandBody::Status {
            mailbox: Mailbox(b"INBOX".to_vec()),
            items: vec![
                StatusItem::Messages,
                StatusItem::UidNext,
                StatusItem::UidValidity,
                StatusItem::Unseen,
                StatusItem::Recent,
                StatusItem::Size,
                StatusItem::Deleted,
                StatusItem::HighestModSeq
            ]
        }
    );
    assert!(parse_command(b"a status x ()\r\n").is_err());
    assert!(parse_command(b"a status x (foo)\r\n").is_err());
}

#[test]
fn append() {
    let c =
        parse_command(b"a APPEND saved-messages (\\Seen kw) \" 7-Feb-1994 21:52:25 -0800\" {5}\r\nhello\r\n").unwrap();
    assert_eq!(
        c.body,
        CommandBody::Append {
            mailbox: Mailbox(b"saved-messages".to_vec()),
            messages: vec![AppendMessage {
                flags: vec!["\\Seen".into(), "kw".into()],
                date: Some(DateTime {
                    date: Date {
                        year: 1994,
                        month: 2,
                        day: 7
                    },
                    hour: 21,
                    minute: 52,
                    second: 25,
                    zone_minutes: -480
                }),
                data: AppendData::Literal {
                    data: b"hello".to_vec(),
                    binary: false
                }
            }]
        }
    );
    // MULTIAPPEND with literal8
    let c = parse_command(b"a append x {2+}\r\nab (\\flagged) ~{3}\r\n\0\x01\x02\r\n").unwrap();
    let CommandBody::Append { messages, .. } = c.body else {
        panic!()
    };
    assert_eq!(messages.len(), 2);
    assert_eq!(messages[1].flags, vec!["\\Flagged".to_string()]);
    assert_eq!(
        messages[1].data,
        AppendData::Literal {
            data: vec![0, 1, 2],
            binary: true
        }
    );
    // CATENATE
    let c = parse_command(b"a append x catenate (url \"/a;uid=1\" text {2}\r\nab)\r\n").unwrap();
    let CommandBody::Append { messages, .. } = c.body else {
        panic!()
    };
    assert_eq!(
        messages[0].data,
        AppendData::Catenate(vec![
            CatPart::Url(b"/a;uid=1".to_vec()),
            CatPart::Text {
                data: b"ab".to_vec(),
                binary: false
            }
        ])
    );
    // Errors
    assert!(parse_command(b"a append x\r\n").is_err());
    assert!(parse_command(b"a append x {2}\r\n\0a\r\n").is_err());
    assert!(parse_command(b"a append x {10}\r\nab\r\n").is_err());
    assert!(parse_command(b"a append x (\\Recent) {1}\r\na\r\n").is_err());
    assert!(parse_command(b"a append x \"30-Feb-2020 00:00:00 +0000\" {1}\r\na\r\n").is_err());
}

#[test]
fn id_quota() {
    assert_eq!(p("a ID NIL"), CommandBody::Id { params: None });
    assert_eq!(
        p(r#"a id ("name" "sodr" "version" NIL)"#),
        CommandBody::Id {
            params: Some(vec![
                (b"name".to_vec(), Some(b"sodr".to_vec())),
                (b"version".to_vec(), None)
            ])
        }
    );
    assert_eq!(p(r#"a GETQUOTA """#), CommandBody::GetQuota { root: vec![] });
    assert!(matches!(p("a getquotaroot inbox"), CommandBody::GetQuotaRoot { .. }));
    assert_eq!(
        p(r#"a SETQUOTA "" (storage 512 MESSAGE 1000)"#),
        CommandBody::SetQuota {
            root: vec![],
            limits: vec![("STORAGE".into(), 512), ("MESSAGE".into(), 1000)]
        }
    );
}

#[test]
fn sequence_sets() {
    assert_eq!(
        set("1:3,5,*:7"),
        SequenceSet::Ranges(vec![
            SeqRange {
                start: SeqNum::Value(1),
                end: SeqNum::Value(3)
            },
            SeqRange {
                start: SeqNum::Value(5),
                end: SeqNum::Value(5)
            },
            SeqRange {
                start: SeqNum::Largest,
                end: SeqNum::Value(7)
            },
        ])
    );
    let s = set("4:2,9,*,7:*");
    assert_eq!(s.normalize(10), vec![(2, 4), (7, 10)]);
    assert_eq!(s.iter(10).collect::<Vec<_>>(), vec![2, 3, 4, 7, 8, 9, 10]);
    assert!(s.contains(3, 10) && !s.contains(5, 10) && s.contains(10, 10));
    assert!(!s.contains(11, 10));
    // `*` with a max below the range start: "15:*" with max 12 contains 12.
    assert_eq!(set("15:*").normalize(12), vec![(12, 12)]);
    assert!(set("15:*").contains(12, 12));
    assert!(set("1:*").normalize(0).is_empty());
    assert_eq!(set("$"), SequenceSet::Saved);
    assert_eq!(set("1:4294967295").normalize(u32::MAX), vec![(1, u32::MAX)]);
    assert!(parse_command(b"a fetch 0 flags\r\n").is_err());
    assert!(parse_command(b"a fetch 4294967296 flags\r\n").is_err());
    assert!(parse_command(b"a fetch 1: flags\r\n").is_err());
    assert!(parse_command(b"a fetch 1,,2 flags\r\n").is_err());
}

#[test]
fn search() {
    assert_eq!(
        p("a search return (min max all count save) charset utf-8 from \"bob\" since 1-Feb-1994 not seen"),
        CommandBody::Search {
            uid: false,
            return_opts: Some(vec![
                ReturnOption::Min,
                ReturnOption::Max,
                ReturnOption::All,
                ReturnOption::Count,
                ReturnOption::Save
            ]),
            charset: Some("utf-8".into()),
            criteria: SearchKey::And(vec![
                SearchKey::From(b"bob".to_vec()),
                SearchKey::Since(Date {
                    year: 1994,
                    month: 2,
                    day: 1
                }),
                SearchKey::Not(Box::new(SearchKey::Seen))
            ])
        }
    );
    assert_eq!(
        p("a uid search or (1:3 uid 5) $ header X-Foo \"\""),
        CommandBody::Search {
            uid: true,
            return_opts: None,
            charset: None,
            criteria: SearchKey::And(vec![
                SearchKey::Or(
                    Box::new(SearchKey::And(vec![
                        SearchKey::SequenceSet(set("1:3")),
                        SearchKey::Uid(set("5"))
                    ])),
                    Box::new(SearchKey::SequenceSet(SequenceSet::Saved))
                ),
                SearchKey::Header(b"X-Foo".to_vec(), vec![])
            ])
        }
    );
    assert_eq!(
        p(r#"a search modseq "/flags/\\draft" all 620162338"#),
        CommandBody::Search {
            uid: false,
            return_opts: None,
            charset: None,
            criteria: SearchKey::ModSeq {
                entry: Some((b"/flags/\\draft".to_vec(), EntryType::All)),
                modseq: 620162338
            }
        }
    );
    assert!(matches!(p("a search modseq 5"), CommandBody::Search { .. }));
    for k in [
        "all",
        "answered",
        "bcc x",
        "before 1-Jan-2000",
        "body x",
        "cc x",
        "deleted",
        "draft",
        "flagged",
        "from x",
        "header a b",
        "keyword $Fwd",
        "larger 10",
        "new",
        "not 1",
        "old",
        "on \"29-Feb-2024\"",
        "or 1 2",
        "recent",
        "seen",
        "sentbefore 1-jan-2000",
        "senton 1-jan-2000",
        "sentsince 1-jan-2000",
        "since 1-jan-2000",
        "smaller 1",
        "subject x",
        "text x",
        "to x",
        "uid 1:*",
        "unanswered",
        "undeleted",
        "undraft",
        "unflagged",
        "unkeyword x",
        "unseen",
        "older 5",
        "younger 5",
        "(seen)",
    ] {
        assert!(parse_command(format!("a search {k}\r\n").as_bytes()).is_ok(), "{k}");
    }
    assert!(matches!(
        p("a search return (partial -1:-100) all"),
        CommandBody::Search {
            return_opts: Some(ref r), ..
        } if r == &[ReturnOption::Partial(-1, -100)]
    ));
    for bad in [
        "a search\r\n",
        "a search bogus\r\n",
        "a search on 30-Feb-2020\r\n",
        "a search on 1-Foo-2020\r\n",
        "a search larger 99999999999999999999\r\n",
        "a search (seen\r\n",
        "a search seen)\r\n",
        "a search or seen\r\n",
        "a search return (partial 1) all\r\n",
        "a search return (partial 1:*) all\r\n",
        "a search return (partial -1:2) all\r\n",
        "a search return (bogus) all\r\n",
        "a search modseq \"/flags/x\" foo 1\r\n",
    ] {
        assert!(parse_command(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn search_nesting_limit() {
    let deep = format!("a search {}seen{}\r\n", "(".repeat(10_000), ")".repeat(10_000));
    let e = perr(deep.as_bytes());
    assert!(e.reason.contains("nested"));
    let nots = format!("a search {}seen\r\n", "not ".repeat(10_000));
    assert!(parse_command(nots.as_bytes()).is_err());
    let ok = format!("a search {}seen{}\r\n", "(".repeat(20), ")".repeat(20));
    assert!(parse_command(ok.as_bytes()).is_ok());
}

#[test]
fn fetch() {
    assert_eq!(
        p(
            "a fetch 1:* (flags body.peek[1.2.header.fields (from \"to\")]<0.100> binary[2]<5.10> binary.size[] bodystructure)"
        ),
        CommandBody::Fetch {
            uid: false,
            set: set("1:*"),
            attrs: vec![
                FetchAttr::Flags,
                FetchAttr::BodySection {
                    peek: true,
                    section: Section {
                        part: vec![1, 2],
                        text: Some(SectionText::HeaderFields(vec![b"from".to_vec(), b"to".to_vec()]))
                    },
                    partial: Some(Partial { origin: 0, size: 100 })
                },
                FetchAttr::Binary {
                    peek: false,
                    part: vec![2],
                    partial: Some(Partial { origin: 5, size: 10 })
                },
                FetchAttr::BinarySize { part: vec![] },
                FetchAttr::BodyStructure
            ],
            changed_since: None,
            vanished: false
        }
    );
    assert_eq!(
        p("a uid fetch 1:* (flags) (changedsince 12345 vanished)"),
        CommandBody::Fetch {
            uid: true,
            set: set("1:*"),
            attrs: vec![FetchAttr::Flags],
            changed_since: Some(12345),
            vanished: true
        }
    );
    let CommandBody::Fetch { attrs, .. } = p("a fetch 1 full") else {
        panic!()
    };
    assert_eq!(attrs.len(), 5);
    let CommandBody::Fetch { attrs, .. } = p("a fetch 1 body[]") else {
        panic!()
    };
    assert_eq!(
        attrs,
        vec![FetchAttr::BodySection {
            peek: false,
            section: Section::default(),
            partial: None
        }]
    );
    for s in [
        "body[text]",
        "body[header]",
        "body[1.mime]",
        "body[1.2.3]",
        "body[1.text]",
        "body[header.fields.not (date)]",
        "rfc822",
        "rfc822.header",
        "rfc822.size",
        "rfc822.text",
        "envelope",
        "internaldate",
        "uid",
        "modseq",
        "body",
        "binary.peek[1]",
    ] {
        assert!(parse_command(format!("a fetch 1 {s}\r\n").as_bytes()).is_ok(), "{s}");
    }
    for bad in [
        "a fetch 1 body[mime]\r\n",
        "a fetch 1 body[1.foo]\r\n",
        "a fetch 1 body[header.fields ()]\r\n",
        "a fetch 1 body[text]<1.0>\r\n",
        "a fetch 1 binary[text]\r\n",
        "a fetch 1 (all)\r\n",
        "a fetch 1 bogus\r\n",
        "a fetch 1 (flags\r\n",
        "a fetch 1 flags (vanished)\r\n",
        "a fetch 1 body[1.0]\r\n",
    ] {
        assert!(parse_command(bad.as_bytes()).is_err(), "{bad}");
    }
}

#[test]
fn store() {
    assert_eq!(
        p(r"a store 2:4 +FLAGS.SILENT (\deleted $Label1 \SEEN)"),
        CommandBody::Store {
            uid: false,
            set: set("2:4"),
            unchanged_since: None,
            mode: StoreMode::Add,
            silent: true,
            flags: vec!["\\Deleted".into(), "$Label1".into(), "\\Seen".into()]
        }
    );
    assert_eq!(
        p(r"a uid store 1 (unchangedsince 5) -flags \answered \draft"),
        CommandBody::Store {
            uid: true,
            set: set("1"),
            unchanged_since: Some(5),
            mode: StoreMode::Remove,
            silent: false,
            flags: vec!["\\Answered".into(), "\\Draft".into()]
        }
    );
    assert!(matches!(
        p("a store 1 flags ()"),
        CommandBody::Store { mode: StoreMode::Replace, ref flags, .. } if flags.is_empty()
    ));
    assert!(parse_command(b"a store 1 flags (\\recent)\r\n").is_err());
    assert!(parse_command(b"a store 1 +labels (x)\r\n").is_err());
    assert!(parse_command(b"a store 1 flags\r\n").is_err());
}

#[test]
fn copy_move_expunge() {
    assert_eq!(
        p("a uid move 1:5 Trash"),
        CommandBody::Move {
            uid: true,
            set: set("1:5"),
            mailbox: Mailbox(b"Trash".to_vec())
        }
    );
    assert_eq!(
        p("a copy $ inbox"),
        CommandBody::Copy {
            uid: false,
            set: SequenceSet::Saved,
            mailbox: Mailbox(b"INBOX".to_vec())
        }
    );
    assert_eq!(
        p("a uid expunge 3000:3002"),
        CommandBody::UidExpunge { set: set("3000:3002") }
    );
    assert!(parse_command(b"a uid noop\r\n").is_err());
}

#[test]
fn sort_thread() {
    assert_eq!(
        p("a uid sort return (count) (reverse arrival displayfrom) utf-8 all"),
        CommandBody::Sort {
            uid: true,
            return_opts: Some(vec![ReturnOption::Count]),
            criteria: vec![
                SortCriterion {
                    reverse: true,
                    key: SortKey::Arrival
                },
                SortCriterion {
                    reverse: false,
                    key: SortKey::DisplayFrom
                }
            ],
            charset: "utf-8".into(),
            search: SearchKey::All
        }
    );
    assert_eq!(
        p("a thread references us-ascii seen 1:5"),
        CommandBody::Thread {
            uid: false,
            algorithm: "REFERENCES".into(),
            charset: "us-ascii".into(),
            search: SearchKey::And(vec![SearchKey::Seen, SearchKey::SequenceSet(set("1:5"))])
        }
    );
    assert!(parse_command(b"a sort () utf-8 all\r\n").is_err());
    assert!(parse_command(b"a sort (bogus) utf-8 all\r\n").is_err());
    assert!(parse_command(b"a sort (reverse) utf-8 all\r\n").is_err());
    assert!(parse_command(b"a thread references\r\n").is_err());
}

#[test]
fn errors_carry_tag() {
    let e = perr(b"a001 bogus\r\n");
    assert_eq!(e.tag.as_deref(), Some("a001"));
    assert!(e.to_string().starts_with("a001 BAD"));
    let e = perr(b"(x noop\r\n");
    assert_eq!(e.tag, None);
    assert!(e.to_string().starts_with("* BAD"));
    assert_eq!(perr(b"\r\n").tag, None);
    assert_eq!(perr(b"a+b noop\r\n").tag, None);
    assert_eq!(perr(b"a noop").tag.as_deref(), Some("a"));
    assert!(parse_command(b"a noop extra\r\n").is_err());
    assert!(parse_command(b"a  noop\r\n").is_err());
}

#[test]
fn malformed_never_panics() {
    for bad in [
        &b"a login \"unterminated\r\n"[..],
        b"a login \"bad\\escape\" x\r\n",
        b"a login {99999999999999999999}\r\nx x\r\n",
        b"a login {18446744073709551615}\r\n",
        b"a login {5}\r\nab",
        b"a login {3",
        b"a select \"a\r\nb\"\r\n",
        b"a select ~{1}\r\nx\r\n",
        b"a fetch 1 body[",
        b"a fetch 1 body[1.",
        b"a fetch 1 body.peek[]<",
        b"a store 1 +",
        b"a search header",
        b"a search on \"1-jan-2000",
        b"a append x \"7-Feb-1994 21:52",
        b"a id (\"k\"",
        b"a uid",
        b"a list (",
        b"a \xff\xfe\r\n",
        b"\xff noop\r\n",
    ] {
        assert!(parse_command(bad).is_err(), "{}", String::from_utf8_lossy(bad));
    }
    // Fuzz-ish: every prefix of some valid commands must not panic.
    for cmd in [
        &b"a append x (\\Seen) \"7-Feb-1994 21:52:25 -0800\" {3}\r\nabc\r\n"[..],
        b"a uid fetch 1:*,3 (body.peek[1.header.fields (a b)]<1.2>) (changedsince 1)\r\n",
        b"a search return (partial 1:5) or not (seen uid 1:*) modseq \"/flags/x\" priv 1\r\n",
        b"a list (subscribed) \"\" (a b) return (status (messages))\r\n",
    ] {
        assert!(parse_command(cmd).is_ok());
        for i in 0..cmd.len() {
            let _ = parse_command(&cmd[..i]);
        }
    }
}
