//! Who wrote a message: exactly one author, read the same way by every front (submission, the
//! webmail, the MX). Two `From:` fields, or one naming two mailboxes or a group, let a sender
//! show a colleague's name to a reader whose client picks another field than the check did, so
//! such messages are refused, not interpreted (RFC 5322 §3.6: From and Date once, Sender,
//! Reply-To, To, Cc, Bcc, Message-ID, In-Reply-To, References and Subject at most once).

use confiance_core::Address;

/// Fields RFC 5322 §3.6 allows at most once, and the MIME fields that say how the message is
/// read (RFC 2045 §3): a second Content-Type would show as another kind of message.
const ONCE: [&str; 13] = [
    "date",
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "bcc",
    "message-id",
    "in-reply-to",
    "references",
    "subject",
    "content-type",
    "mime-version",
];

/// Why a message's author cannot be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorError {
    /// A field that may appear once appears `count` times.
    Repeated { field: &'static str, count: usize },
    /// `From:` or `Sender:` names several mailboxes (RFC 5322 §3.6.2: Sender is one mailbox,
    /// and a From of several needs a Sender; MSSanté: one professional signs).
    SeveralMailboxes { field: &'static str },
    /// `From:` or `Sender:` is a group (`name: a@b, c@d;`).
    Group { field: &'static str },
    /// `From:` or `Sender:` holds no readable address.
    Unreadable { field: &'static str },
    /// A header line that is not a field RFC 5322 §2.2 allows: a name with white space or
    /// characters outside printable ASCII, none at all, or a bare CR. Readers differ on such
    /// lines (one reads `Fr om:` as `From:`), so they could hide a second author.
    Malformed,
}

impl AuthorError {
    /// The refusal in French, then English, for an SMTP reply or a page.
    pub fn sentence(&self) -> String {
        match self {
            AuthorError::Repeated { field, count } => format!(
                "le champ {f}: apparaît {count} fois, une seule est permise (RFC 5322 §3.6) / \
                 the {f}: field appears {count} times, only one is allowed",
                f = title(field)
            ),
            AuthorError::SeveralMailboxes { field } => format!(
                "le champ {f}: doit nommer une seule adresse / the {f}: field must name exactly one address",
                f = title(field)
            ),
            AuthorError::Group { field } => format!(
                "le champ {f}: ne peut pas être un groupe / the {f}: field cannot be a group",
                f = title(field)
            ),
            AuthorError::Unreadable { field } => format!(
                "le champ {f}: ne contient pas d'adresse lisible / the {f}: field holds no readable address",
                f = title(field)
            ),
            AuthorError::Malformed => "l'en-tête contient une ligne qui n'est pas un champ valide (RFC 5322 §2.2) / \
                 the header holds a line that is not a valid field"
                .into(),
        }
    }
}

fn title(field: &str) -> String {
    field
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// The author of a message whose header passed the counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Author {
    /// The one mailbox of `From:`, if the field is there (a submission server may add it,
    /// RFC 6409 §8.2).
    pub from: Option<Address>,
    /// The one mailbox of `Sender:`, if any.
    pub sender: Option<Address>,
    /// The top-level `Content-Type:` is `multipart/report` (a delivery or read report).
    pub is_report: bool,
}

/// Reads the header of `message` (up to the first empty line) and tells its author.
pub fn author(message: &[u8]) -> Result<Author, AuthorError> {
    if !message.contains(&b':') {
        // No header at all: the whole input is a body, and the submission server writes the
        // header (RFC 6409 §8).
        return Ok(Author {
            from: None,
            sender: None,
            is_report: false,
        });
    }
    let fields = header_fields(message)?;
    for name in ONCE {
        let count = fields.iter().filter(|(n, _)| n == name).count();
        if count > 1 {
            return Err(AuthorError::Repeated { field: name, count });
        }
    }
    let value = |name: &str| fields.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let from = value("from").map(|v| one_mailbox(v, "from")).transpose()?;
    let sender = value("sender").map(|v| one_mailbox(v, "sender")).transpose()?;
    let is_report = value("content-type").is_some_and(crate::reports::is_report_type);
    Ok(Author {
        from,
        sender,
        is_report,
    })
}

/// The header's fields, names lower-cased, values unfolded (RFC 5322 §2.2.3). A name must be
/// printable ASCII without white space or colon (§2.2, `ftext`); the obsolete white space
/// before the colon (§4.5.3) is refused too, as is a bare CR anywhere in the header.
fn header_fields(message: &[u8]) -> Result<Vec<(String, String)>, AuthorError> {
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in message.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.contains(&b'\r') {
            return Err(AuthorError::Malformed);
        }
        let line = String::from_utf8_lossy(line);
        if line.starts_with([' ', '\t']) {
            match fields.last_mut() {
                Some((_, v)) => v.push_str(&line),
                None => return Err(AuthorError::Malformed),
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(AuthorError::Malformed);
        };
        if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b)) {
            return Err(AuthorError::Malformed);
        }
        fields.push((name.to_ascii_lowercase(), value.to_string()));
    }
    Ok(fields)
}

/// The single mailbox of an address field: `addr@dom`, `Name <addr@dom>`, with comments and
/// quoted names; never a list or a group.
fn one_mailbox(value: &str, field: &'static str) -> Result<Address, AuthorError> {
    let mut plain = String::new(); // outside comments, quoted strings and the angle brackets
    let mut angle: Option<String> = None;
    let mut in_angle: Option<String> = None;
    let mut after_angle = String::new();
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => escaped = true,
            '"' if depth == 0 => quoted = !quoted,
            _ if quoted => {}
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ if depth > 0 => {}
            '<' if in_angle.is_none() => {
                if angle.is_some() {
                    return Err(AuthorError::SeveralMailboxes { field });
                }
                in_angle = Some(String::new());
            }
            '>' if in_angle.is_some() => angle = in_angle.take(),
            c if in_angle.is_some() => in_angle.as_mut().expect("inside").push(c),
            ',' => return Err(AuthorError::SeveralMailboxes { field }),
            ':' | ';' => return Err(AuthorError::Group { field }),
            c if angle.is_some() => after_angle.push(c),
            c => plain.push(c),
        }
    }
    if quoted || depth > 0 || in_angle.is_some() {
        return Err(AuthorError::Unreadable { field });
    }
    let address = match angle {
        Some(a) => {
            // Anything after the closing bracket but white space is a second address.
            if !after_angle.trim().is_empty() {
                return Err(AuthorError::SeveralMailboxes { field });
            }
            // RFC 5322 §4.4 obsolete route (`<@relay:addr@dom>`): the address is after it.
            let a = match a.rsplit_once(':') {
                Some((route, addr)) if route.trim_start().starts_with('@') => addr.to_string(),
                Some(_) => return Err(AuthorError::Unreadable { field }),
                None => a,
            };
            if a.contains(',') {
                return Err(AuthorError::SeveralMailboxes { field });
            }
            a
        }
        None => plain.clone(),
    };
    Address::parse(address.trim()).map_err(|_| AuthorError::Unreadable { field })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from_of(header: &str) -> Result<String, AuthorError> {
        let m = format!("{header}\r\nSubject: x\r\n\r\nbody\r\nFrom: ignored@body.fr\r\n");
        author(m.as_bytes()).map(|a| a.from.map(|f| f.to_string()).unwrap_or_default())
    }

    #[test]
    fn one_mailbox_in_its_usual_forms() {
        assert_eq!(from_of("From: jean@x.fr").unwrap(), "jean@x.fr");
        assert_eq!(
            from_of("From: \"Dupont, Jean\" <Jean@X.fr> (cabinet)")
                .unwrap()
                .to_lowercase(),
            "jean@x.fr"
        );
        assert_eq!(
            from_of("From: =?UTF-8?Q?H=C3=A9l=C3=A8ne?= <h@x.fr>").unwrap(),
            "h@x.fr"
        );
        assert_eq!(from_of("From: Jean\r\n <jean@x.fr>").unwrap(), "jean@x.fr");
        assert_eq!(from_of("From: \"a <b@evil.fr>\" <me@x.fr>").unwrap(), "me@x.fr");
        assert_eq!(from_of("From: <@relay.fr:me@x.fr>").unwrap(), "me@x.fr");
    }

    #[test]
    fn two_from_fields_are_refused_however_written() {
        for h in ["From: me@x.fr\r\nFrom: boss@x.fr", "From: me@x.fr\r\nfrom: boss@x.fr"] {
            assert_eq!(
                from_of(h),
                Err(AuthorError::Repeated {
                    field: "from",
                    count: 2
                }),
                "{h}"
            );
        }
    }

    #[test]
    fn lines_other_readers_take_for_a_from_are_refused() {
        // mail-parser reads each of these as a second From: and shows the last one.
        for h in [
            "From: me@x.fr\r\nFROM : boss@x.fr",
            "From: me@x.fr\r\nFr om: boss@x.fr",
            "From: me@x.fr\r\n:From: boss@x.fr",
            "From: me@x.fr\r\nF\trom: boss@x.fr",
            "From: me@x.fr\rFrom: boss@x.fr",
            "From: me@x.fr\r\nnot a field",
            " From: boss@x.fr\r\nFrom: me@x.fr",
        ] {
            assert_eq!(from_of(h), Err(AuthorError::Malformed), "{h:?}");
        }
        let m = b"From: me@x.fr\r\nContent-Type: multipart/report\r\nContent-Type: text/html\r\n\r\n";
        assert_eq!(
            author(m),
            Err(AuthorError::Repeated {
                field: "content-type",
                count: 2
            })
        );
    }

    #[test]
    fn lists_and_groups_are_refused() {
        assert_eq!(
            from_of("From: <me@x.fr> boss@x.fr"),
            Err(AuthorError::SeveralMailboxes { field: "from" })
        );
        assert_eq!(
            from_of("From: <boss@x.fr:me@x.fr>"),
            Err(AuthorError::Unreadable { field: "from" })
        );
        assert_eq!(
            from_of("From: me@x.fr, boss@x.fr"),
            Err(AuthorError::SeveralMailboxes { field: "from" })
        );
        assert_eq!(
            from_of("From: Me <me@x.fr> <boss@x.fr>"),
            Err(AuthorError::SeveralMailboxes { field: "from" })
        );
        assert_eq!(
            from_of("From: Team: me@x.fr, boss@x.fr;"),
            Err(AuthorError::Group { field: "from" })
        );
        assert_eq!(
            from_of("From: Undisclosed:;"),
            Err(AuthorError::Group { field: "from" })
        );
        assert_eq!(from_of("From: <>"), Err(AuthorError::Unreadable { field: "from" }));
        assert_eq!(
            from_of("From: \"unterminated <me@x.fr>"),
            Err(AuthorError::Unreadable { field: "from" })
        );
    }

    #[test]
    fn other_fields_once_each() {
        let m = b"From: me@x.fr\r\nSubject: a\r\nSubject: b\r\n\r\n";
        assert_eq!(
            author(m),
            Err(AuthorError::Repeated {
                field: "subject",
                count: 2
            })
        );
        let m = b"From: me@x.fr\r\nSender: a@x.fr, b@x.fr\r\n\r\n";
        assert_eq!(author(m), Err(AuthorError::SeveralMailboxes { field: "sender" }));
        // Received and X- fields may repeat; Reply-To may list several addresses.
        let m = b"Received: a\r\nReceived: b\r\nX-A: 1\r\nX-A: 2\r\nReply-To: a@x.fr, b@x.fr\r\nFrom: me@x.fr\r\n\r\n";
        assert!(author(m).is_ok());
    }

    #[test]
    fn reports_are_recognised_and_sentences_name_the_field() {
        let m = b"From: postmaster@x.fr\r\nContent-Type: Multipart/Report; report-type=delivery-status\r\n\r\n";
        assert!(author(m).unwrap().is_report);
        let e = AuthorError::Repeated {
            field: "reply-to",
            count: 3,
        };
        assert!(e.sentence().contains("Reply-To: apparaît 3 fois"));
    }
}
