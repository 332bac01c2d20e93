//! Running a checked script against one delivery (RFC 5228 §2.10): tests read the mail,
//! actions accumulate in order, and the implicit keep is resolved at the end. Sieve has no
//! loops, so a run visits each command at most once; the action and redirect budgets bound
//! what one run may ask of the server.

use crate::address::parse_list;
use crate::ast::{Command, EnvelopePart, FlagOp, Test, add_flags, remove_flags};
use crate::{Action, MAX_ACTIONS, MAX_REDIRECTS, Mail, ScriptError};

pub(crate) fn run(commands: &[Command], mail: &Mail) -> Result<Vec<Action>, ScriptError> {
    let mut run = Run {
        mail,
        actions: Vec::new(),
        flags: Vec::new(),
        implicit_keep: true,
        explicit_keep: false,
        vacation: false,
        count: 0,
        redirects: 0,
    };
    run.block(commands)?;
    // The implicit keep (§2.10.2) files with the flags the variable holds at the end (RFC 5232 §3).
    if run.implicit_keep && !run.explicit_keep {
        let flags = run.flags.clone();
        run.deliver(Action::Keep { flags });
    }
    Ok(run.actions)
}

struct Run<'m, 'a> {
    mail: &'m Mail<'a>,
    actions: Vec<Action>,
    /// The internal variable of RFC 5232 §3.
    flags: Vec<String>,
    implicit_keep: bool,
    explicit_keep: bool,
    vacation: bool,
    count: usize,
    redirects: usize,
}

/// Whether a block ran to its end or met `stop`.
enum Flow {
    Continue,
    Stop,
}

impl Run<'_, '_> {
    fn block(&mut self, commands: &[Command]) -> Result<Flow, ScriptError> {
        for command in commands {
            if let Flow::Stop = self.command(command)? {
                return Ok(Flow::Stop);
            }
        }
        Ok(Flow::Continue)
    }

    fn command(&mut self, command: &Command) -> Result<Flow, ScriptError> {
        match command {
            Command::If { branches, otherwise } => {
                let chosen = branches.iter().find(|(test, _)| self.test(test));
                return self.block(chosen.map_or(otherwise, |(_, block)| block));
            }
            Command::Stop => return Ok(Flow::Stop),
            Command::Keep { line, flags } => {
                self.count(*line)?;
                self.explicit_keep = true;
                let flags = flags.clone().unwrap_or_else(|| self.flags.clone());
                self.deliver(Action::Keep { flags });
            }
            Command::Discard { line } => {
                self.count(*line)?;
                self.implicit_keep = false;
                self.deliver(Action::Discard);
            }
            Command::Redirect { line, address, copy } => {
                self.count(*line)?;
                self.redirects += 1;
                if self.redirects > MAX_REDIRECTS {
                    return Err(ScriptError::new(
                        *line,
                        format!("trop de redirections ({MAX_REDIRECTS} au plus)"),
                    ));
                }
                self.implicit_keep &= *copy;
                self.deliver(Action::Redirect {
                    address: address.clone(),
                    copy: *copy,
                });
            }
            Command::FileInto {
                line,
                folder,
                flags,
                copy,
            } => {
                self.count(*line)?;
                self.implicit_keep &= *copy;
                let flags = flags.clone().unwrap_or_else(|| self.flags.clone());
                self.deliver(Action::FileInto {
                    folder: folder.clone(),
                    flags,
                    copy: *copy,
                });
            }
            Command::Flags { op, flags } => match op {
                FlagOp::Set => self.flags = flags.clone(),
                FlagOp::Add => add_flags(&mut self.flags, flags.iter().map(String::as_str)),
                FlagOp::Remove => remove_flags(&mut self.flags, flags),
            },
            // A second vacation is ignored (RFC 5230 §4.7 forbids it; refusing the whole run
            // would also lose the filing the user asked for).
            Command::Vacation { line, vacation } if !self.vacation => {
                self.count(*line)?;
                self.vacation = true;
                self.deliver(Action::Vacation(vacation.clone()));
            }
            Command::Vacation { .. } => {}
        }
        Ok(Flow::Continue)
    }

    fn count(&mut self, line: usize) -> Result<(), ScriptError> {
        self.count += 1;
        if self.count > MAX_ACTIONS {
            return Err(ScriptError::new(
                line,
                format!("trop d'actions ({MAX_ACTIONS} au plus)"),
            ));
        }
        Ok(())
    }

    /// Appends an action, collapsing duplicates (§2.10.3): deliveries to the same folder
    /// (`keep` is INBOX) merge their flags, a redirect to the same address or a second
    /// discard adds nothing. A merged delivery is `:copy` only if all of its parts were.
    fn deliver(&mut self, action: Action) {
        let folder_of = |action: &Action| match action {
            Action::Keep { .. } => Some("INBOX".to_string()),
            Action::FileInto { folder, .. } if folder.eq_ignore_ascii_case("INBOX") => Some("INBOX".to_string()),
            Action::FileInto { folder, .. } => Some(folder.clone()),
            _ => None,
        };
        if let Some(folder) = folder_of(&action) {
            let (new_flags, new_copy) = match &action {
                Action::FileInto { flags, copy, .. } => (flags.clone(), *copy),
                Action::Keep { flags } => (flags.clone(), false),
                _ => unreachable!("only deliveries have a folder"),
            };
            for existing in &mut self.actions {
                if folder_of(existing).as_ref() == Some(&folder) {
                    match existing {
                        Action::Keep { flags } => add_flags(flags, new_flags.iter().map(String::as_str)),
                        Action::FileInto { flags, copy, .. } => {
                            add_flags(flags, new_flags.iter().map(String::as_str));
                            *copy &= new_copy;
                        }
                        _ => {}
                    }
                    return;
                }
            }
        }
        for existing in &mut self.actions {
            match (existing, &action) {
                (
                    Action::Redirect { address, copy },
                    Action::Redirect {
                        address: new,
                        copy: new_copy,
                    },
                ) if address.eq_ignore_ascii_case(new) => {
                    *copy &= new_copy;
                    return;
                }
                (Action::Discard, Action::Discard) => return,
                _ => {}
            }
        }
        self.actions.push(action);
    }

    /// The values of the header fields named `name`, in order (names are case-insensitive).
    fn values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s str> + 's {
        self.mail
            .headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn test(&self, test: &Test) -> bool {
        match test {
            // §5.7: any occurrence of any named header against any key; no header, no match.
            Test::Header { headers, matcher } => headers.iter().any(|h| self.values(h).any(|v| matcher.matches(v))),
            // §5.1: each address of each occurrence, reduced to the address part.
            Test::Address { part, headers, matcher } => headers.iter().any(|h| {
                self.values(h).any(|v| {
                    parse_list(v)
                        .iter()
                        .any(|a| part.of(a).is_some_and(|p| matcher.matches(p)))
                })
            }),
            Test::Envelope { part, parts, matcher } => parts.iter().any(|p| {
                let value = match p {
                    EnvelopePart::From => self.mail.envelope_from,
                    EnvelopePart::To => self.mail.envelope_to,
                };
                let value = value.trim().trim_start_matches('<').trim_end_matches('>');
                // §5.4: the null reverse-path is the empty string whatever the address part.
                if value.is_empty() {
                    return matcher.matches("");
                }
                part.of(value).is_some_and(|p| matcher.matches(p))
            }),
            Test::Exists(headers) => headers.iter().all(|h| self.values(h).next().is_some()),
            Test::Size { over: true, limit } => self.mail.size > *limit,
            Test::Size { over: false, limit } => self.mail.size < *limit,
            Test::AllOf(tests) => tests.iter().all(|t| self.test(t)),
            Test::AnyOf(tests) => tests.iter().any(|t| self.test(t)),
            Test::Not(test) => !self.test(test),
            Test::True => true,
            Test::False => false,
            // RFC 5232 §4: any flag of the internal variable against any key.
            Test::HasFlag(matcher) => self.flags.iter().any(|f| matcher.matches(f)),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Action, Mail, Vacation, parse};

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    fn run_with(script: &str, pairs: &[(&str, &str)], from: &str, size: u64) -> Vec<Action> {
        let headers = headers(pairs);
        let mail = Mail {
            headers: &headers,
            envelope_from: from,
            envelope_to: "dr.martin@chu-exemple.mssante.fr",
            size,
        };
        parse(script).unwrap_or_else(|e| panic!("{e}")).evaluate(&mail).unwrap()
    }

    fn run(script: &str) -> Vec<Action> {
        let pairs = [
            ("From", "\"Labo Central\" <resultats@labo.mssante.fr>"),
            (
                "To",
                "Dr Martin <dr.martin@chu-exemple.mssante.fr>, secretariat@chu-exemple.mssante.fr",
            ),
            ("Subject", "Résultats : patient 1234"),
            ("Received", "from a"),
            ("Received", "from b by mx"),
            ("List-Id", "<cardio.lists.example>"),
        ];
        run_with(script, &pairs, "bounce@labo.mssante.fr", 20_000)
    }

    fn keep() -> Action {
        Action::Keep { flags: vec![] }
    }

    fn fileinto(folder: &str) -> Action {
        Action::FileInto {
            folder: folder.into(),
            flags: vec![],
            copy: false,
        }
    }

    /// Whether the test in `if <test> { discard; }` holds against the sample mail.
    fn holds(test: &str) -> bool {
        let script = format!("require [\"envelope\", \"imap4flags\"];\nif {test} {{ discard; }}");
        run(&script) == vec![Action::Discard]
    }

    #[test]
    fn typical_out_of_office_and_filters() {
        let script = r#"
            require ["fileinto", "vacation", "imap4flags", "copy"];
            # Mailing lists go to their folder.
            if header :contains "list-id" "cardio" {
                fileinto "Listes/Cardio";
                stop;
            }
            if address :domain :is "from" "labo.mssante.fr" {
                addflag "\\Flagged";
                fileinto :copy "Résultats";
            }
            vacation :days 10 :subject "Absent" :addresses ["dr.martin@chu-exemple.mssante.fr"] text:
Je suis absent jusqu'au 3 juin.
..
.
;
"#;
        let actions = run_with(
            script,
            &[("From", "resultats@labo.mssante.fr")],
            "x@labo.mssante.fr",
            10,
        );
        assert_eq!(actions.len(), 3);
        assert_eq!(
            actions[0],
            Action::FileInto {
                folder: "Résultats".into(),
                flags: vec!["\\Flagged".into()],
                copy: true
            }
        );
        let Action::Vacation(v) = &actions[1] else {
            panic!("{actions:?}")
        };
        assert_eq!(
            (v.days, v.subject.as_deref(), v.reason.as_str(), v.mime),
            (10, Some("Absent"), "Je suis absent jusqu'au 3 juin.\r\n.\r\n", false)
        );
        assert_eq!(v.addresses, vec!["dr.martin@chu-exemple.mssante.fr".to_string()]);
        assert_eq!(v.handle.len(), 16);
        // The implicit keep carries the flags set along the way.
        assert_eq!(
            actions[2],
            Action::Keep {
                flags: vec!["\\Flagged".into()]
            }
        );
        assert_eq!(run(script), vec![fileinto("Listes/Cardio")]);
    }

    #[test]
    fn header_test() {
        assert!(holds(r#"header :is "SUBJECT" "résultats : patient 1234""#));
        assert!(holds(r#"header :contains ["x-nope", "received"] ["zzz", "by mx"]"#));
        assert!(holds(r#"header :matches "subject" "R*ts : patient ????""#));
        assert!(!holds(r#"header :is "subject" "Résultats""#));
        // A missing header matches nothing, not even the empty string.
        assert!(!holds(r#"header :contains "x-missing" """#));
        assert!(holds(r#"header :contains "subject" """#));
        // i;octet is exact; ascii-casemap folds ASCII only.
        assert!(!holds(r#"header :contains :comparator "i;octet" "subject" "PATIENT""#));
        assert!(holds(r#"header :contains :comparator "i;octet" "subject" "patient""#));
        assert!(!holds(r#"header :contains "subject" "RÉSULTATS""#));
        assert!(holds(r#"header :contains "subject" "RéSULTATS""#));
    }

    #[test]
    fn address_test() {
        assert!(holds(r#"address "from" "RESULTATS@labo.mssante.fr""#));
        assert!(holds(r#"address :localpart "to" "secretariat""#));
        assert!(holds(r#"address :domain :matches "to" "*.mssante.fr""#));
        assert!(!holds(r#"address :localpart "from" "Labo Central""#));
        assert!(!holds(r#"address :all :contains "x-missing" "a""#));
        let group = [("Cc", "Équipe: a@x.fr, \"B, C\" <b@y.fr>;"), ("Subject", "a@x.fr")];
        let script = "if address :domain \"cc\" \"y.fr\" { discard; }";
        assert_eq!(run_with(script, &group, "", 1), vec![Action::Discard]);
        // Any header may be read as addresses; garbage simply does not match.
        let script = "if address :domain \"subject\" \"x.fr\" { discard; }";
        assert_eq!(run_with(script, &group, "", 1), vec![Action::Discard]);
    }

    #[test]
    fn envelope_test_and_null_sender() {
        assert!(holds(r#"envelope :domain "from" "labo.mssante.fr""#));
        assert!(holds(r#"envelope :localpart ["TO"] "dr.martin""#));
        assert!(!holds(r#"envelope "from" """#));
        let script = "require \"envelope\"; if envelope :all \"from\" \"\" { discard; }";
        assert_eq!(run_with(script, &[], "", 1), vec![Action::Discard]);
        assert_eq!(run_with(script, &[], "<>", 1), vec![Action::Discard]);
        let script = "require \"envelope\"; if envelope :domain \"from\" \"\" { discard; }";
        assert_eq!(run_with(script, &[], "", 1), vec![Action::Discard]);
    }

    #[test]
    fn exists_size_and_logic() {
        assert!(holds(r#"exists ["from", "received"]"#));
        assert!(!holds(r#"exists ["from", "x-missing"]"#));
        assert!(holds("size :over 19K"));
        assert!(!holds("size :over 20000"));
        assert!(!holds("size :under 20000"));
        assert!(holds("size :under 1M"));
        assert!(holds("allof (true, not false, anyof (false, true))"));
        assert!(!holds("allof (true, false)"));
        assert!(!holds("anyof (false, false)"));
        assert!(holds("not not true"));
    }

    #[test]
    fn elsif_else_and_stop() {
        let script = r#"require "fileinto";
            if header :is "subject" "x" { fileinto "A"; }
            elsif exists "list-id" { fileinto "B"; }
            else { fileinto "C"; }
            stop;
            fileinto "D";"#;
        assert_eq!(run(script), vec![fileinto("B")]);
        let script = "require \"fileinto\"; if false { keep; } else { fileinto \"C\"; }";
        assert_eq!(run(script), vec![fileinto("C")]);
    }

    #[test]
    fn implicit_keep_rules() {
        assert_eq!(run(""), vec![keep()]);
        assert_eq!(run("stop;"), vec![keep()]);
        assert_eq!(run("discard;"), vec![Action::Discard]);
        assert_eq!(run("discard; keep;"), vec![Action::Discard, keep()]);
        let r = |copy| Action::Redirect {
            address: "a@b.fr".into(),
            copy,
        };
        assert_eq!(run("redirect \"a@b.fr\";"), vec![r(false)]);
        assert_eq!(
            run("require \"copy\"; redirect :copy \"a@b.fr\";"),
            vec![r(true), keep()]
        );
        assert_eq!(
            run("require \"fileinto\"; fileinto \"A\"; keep;"),
            vec![fileinto("A"), keep()]
        );
        let copy = Action::FileInto {
            folder: "A".into(),
            flags: vec![],
            copy: true,
        };
        assert_eq!(
            run("require [\"fileinto\", \"copy\"]; fileinto :copy \"A\";"),
            vec![copy, keep()]
        );
    }

    #[test]
    fn duplicates_collapse() {
        let script = r#"require ["fileinto", "imap4flags"];
            fileinto :flags "\\Seen" "A"; fileinto :flags "$Work \\seen" "A";
            keep; fileinto "inbox"; redirect "a@b.fr"; redirect "A@B.FR"; discard; discard;"#;
        let a = Action::FileInto {
            folder: "A".into(),
            flags: vec!["\\Seen".into(), "$Work".into()],
            copy: false,
        };
        let r = Action::Redirect {
            address: "a@b.fr".into(),
            copy: false,
        };
        assert_eq!(run(script), vec![a, keep(), r, Action::Discard]);
    }

    #[test]
    fn imap4flags() {
        let script = r#"require ["imap4flags", "fileinto"];
            setflag "\\Seen  $Label1";
            addflag ["\\SEEN", "\\Flagged"];
            removeflag "$label1";
            if hasflag :is "\\flagged" { fileinto "Flagged"; }
            if hasflag :contains "lab" { fileinto "Never"; }
            keep :flags ["\\Answered"];
            addflag "$Late";"#;
        let flagged = Action::FileInto {
            folder: "Flagged".into(),
            flags: vec!["\\Seen".into(), "\\Flagged".into()],
            copy: false,
        };
        assert_eq!(
            run(script),
            vec![
                flagged,
                Action::Keep {
                    flags: vec!["\\Answered".into()]
                }
            ]
        );
        // Without :flags, keep and the implicit keep take the variable's current value.
        let script = "require \"imap4flags\"; setflag \"\\\\Seen\"; addflag \"$A\";";
        assert_eq!(
            run(script),
            vec![Action::Keep {
                flags: vec!["\\Seen".into(), "$A".into()]
            }]
        );
    }

    #[test]
    fn vacation_defaults_clamp_and_once() {
        let vacation = |script: &str| match &run(script)[0] {
            Action::Vacation(v) => v.clone(),
            other => panic!("{other:?}"),
        };
        let v = vacation("require \"vacation\"; vacation \"Absent.\";");
        let expected = Vacation {
            days: 7,
            subject: None,
            from: None,
            addresses: vec![],
            mime: false,
            handle: v.handle.clone(),
            reason: "Absent.".into(),
        };
        assert_eq!(v, expected);
        assert_eq!(vacation("require \"vacation\"; vacation :days 0 \"a\";").days, 1);
        assert_eq!(vacation("require \"vacation\"; vacation :days 365 \"a\";").days, 30);
        let handled = vacation("require \"vacation\"; vacation :mime :handle \"h1\" :from \"a@b.fr\" \"x\";");
        assert_eq!(
            (handled.handle.as_str(), handled.mime, handled.from.as_deref()),
            ("h1", true, Some("a@b.fr"))
        );
        // The derived handle is stable and depends on the reply's content.
        let again = vacation("require \"vacation\"; vacation :days 3 \"Absent.\";");
        assert_eq!(again.handle, v.handle);
        assert_ne!(
            vacation("require \"vacation\"; vacation :subject \"S\" \"Absent.\";").handle,
            v.handle
        );
        // A second vacation in the same run is ignored.
        let actions = run("require \"vacation\"; vacation \"one\"; vacation \"two\";");
        assert_eq!(actions.len(), 2);
        assert!(matches!(&actions[0], Action::Vacation(v) if v.reason == "one"));
    }

    #[test]
    fn run_time_limits() {
        let many = |n: usize| {
            let body: String = (0..n).map(|i| format!("fileinto \"F{i}\";\n")).collect();
            format!("require \"fileinto\";\n{body}")
        };
        assert_eq!(run(&many(32)).len(), 32);
        let headers = headers(&[]);
        let mail = Mail {
            headers: &headers,
            envelope_from: "",
            envelope_to: "a@b.fr",
            size: 1,
        };
        let err = parse(&many(33)).unwrap().evaluate(&mail).unwrap_err();
        assert_eq!(err.to_string(), "ligne 34 : trop d'actions (32 au plus)");
        let script = "redirect \"a@b.fr\";\nredirect \"c@d.fr\";\nredirect \"e@f.fr\";";
        let err = parse(script).unwrap().evaluate(&mail).unwrap_err();
        assert_eq!(err.to_string(), "ligne 3 : trop de redirections (2 au plus)");
        // Only redirects that run count.
        let script = "if false { redirect \"a@b.fr\"; } redirect \"c@d.fr\"; redirect \"e@f.fr\";";
        assert_eq!(parse(script).unwrap().evaluate(&mail).unwrap().len(), 2);
    }

    #[test]
    fn pathological_matches_finishes() {
        let long = "a".repeat(10_000);
        let pairs = [("Subject", long.as_str())];
        let script = r#"if header :matches "subject" "*a*a*a*a*a*a*a*a*b" { discard; }"#;
        assert_eq!(run_with(script, &pairs, "", 1), vec![keep()]);
    }
}
