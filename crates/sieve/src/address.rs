//! Reading addresses out of header values for the `address` test (RFC 5228 §5.1) and
//! splitting them into the address parts of §2.7.4.
//!
//! The parser follows RFC 5322 §3.4 loosely, as mail in the wild requires: mailboxes are
//! separated by commas, `Name <a@b>` keeps the part in angle brackets, groups `g: a@b, c@d;`
//! contribute their members, quoted strings may hold commas, and comments `( )` (nested, with
//! escapes) are dropped. Whatever cannot be understood yields text that simply will not match.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AddressPart {
    All,
    LocalPart,
    Domain,
}

impl AddressPart {
    /// The part of `address`; an address without `@` has no local part nor domain, so it only
    /// matches with `:all` (§2.7.4: invalid addresses match no `:localpart` or `:domain`).
    pub(crate) fn of(self, address: &str) -> Option<&str> {
        match self {
            AddressPart::All => Some(address),
            AddressPart::LocalPart => address.rsplit_once('@').map(|(local, _)| local),
            AddressPart::Domain => address.rsplit_once('@').map(|(_, domain)| domain),
        }
    }
}

/// The addresses in an address-list header value, in order.
pub(crate) fn parse_list(value: &str) -> Vec<String> {
    let mut addresses = Vec::new();
    // Text outside angle brackets (a bare addr-spec, or a display name), and the bracketed part.
    let mut text = String::new();
    let mut angle: Option<String> = None;
    let mut chars = value.chars().peekable();
    let mut finish = |text: &mut String, angle: &mut Option<String>| {
        let address = match angle.take() {
            Some(inner) => inner,
            None => text.trim().to_string(),
        };
        text.clear();
        if !address.is_empty() {
            addresses.push(address);
        }
    };
    while let Some(c) = chars.next() {
        match c {
            '(' => skip_comment(&mut chars),
            '"' => {
                text.push('"');
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => text.extend(chars.next()),
                        c => text.push(c),
                    }
                }
                text.push('"');
            }
            '<' => {
                let mut inner = String::new();
                for c in chars.by_ref() {
                    if c == '>' {
                        break;
                    }
                    if !c.is_whitespace() {
                        inner.push(c);
                    }
                }
                // An obsolete source route `<@a,@b:user@host>` is dropped (RFC 5322 §4.4).
                if let Some((_, rest)) = inner.rsplit_once(':') {
                    inner = rest.to_string();
                }
                angle = Some(inner);
            }
            // The group's name is no address; its members follow.
            ':' if angle.is_none() => text.clear(),
            ',' | ';' => finish(&mut text, &mut angle),
            c => text.push(c),
        }
    }
    finish(&mut text, &mut angle);
    addresses
}

fn skip_comment(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    let mut depth = 1;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_names_groups_and_comments() {
        assert_eq!(parse_list("a@b.fr"), vec!["a@b.fr"]);
        assert_eq!(
            parse_list("\"Dupont, Jean\" <jean.dupont@chu.fr>, marie@ch.fr (Marie), <x@y>"),
            vec!["jean.dupont@chu.fr", "marie@ch.fr", "x@y"]
        );
        assert_eq!(
            parse_list("Service: a@b.fr, Dr X <c@d.fr>; e@f.fr"),
            vec!["a@b.fr", "c@d.fr", "e@f.fr"]
        );
        assert_eq!(parse_list("undisclosed-recipients:;"), Vec::<String>::new());
        assert_eq!(parse_list("jean(le (vrai) Jean)@chu.fr"), vec!["jean@chu.fr"]);
        assert_eq!(parse_list("<@relay.fr:a@b.fr>"), vec!["a@b.fr"]);
        assert_eq!(parse_list("\"a b\"@c.fr"), vec!["\"a b\"@c.fr"]);
        assert_eq!(parse_list(""), Vec::<String>::new());
    }

    #[test]
    fn parts() {
        assert_eq!(AddressPart::LocalPart.of("jean@chu.fr"), Some("jean"));
        assert_eq!(AddressPart::Domain.of("jean@chu.fr"), Some("chu.fr"));
        assert_eq!(AddressPart::Domain.of("postmaster"), None);
        assert_eq!(AddressPart::All.of("postmaster"), Some("postmaster"));
    }
}
