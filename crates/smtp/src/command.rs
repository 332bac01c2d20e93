//! SMTP command lines (RFC 5321 §4.1) with the parameters of the extensions we announce:
//! SIZE (RFC 1870), 8BITMIME (RFC 6152), SMTPUTF8 (RFC 6531), DSN (RFC 3461), AUTH (RFC 4954).

#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Ehlo(String),
    Helo(String),
    /// Reverse path (empty for `<>`) and parameters.
    Mail(String, Vec<(String, Option<String>)>),
    Rcpt(String, Vec<(String, Option<String>)>),
    Data,
    Rset,
    Noop,
    Quit,
    StartTls,
    /// Mechanism and optional initial response.
    Auth(String, Option<String>),
    Vrfy,
    Help,
    Bdat,
}

#[derive(Debug, PartialEq, Eq)]
pub enum SyntaxError {
    Unknown,
    Arguments(&'static str),
}

pub fn parse_command(line: &str) -> Result<Command, SyntaxError> {
    let line = line.trim_end_matches(['\r', '\n']);
    let (verb, rest) = line.split_once(' ').unwrap_or((line, ""));
    let rest = rest.trim();
    match verb.to_ascii_uppercase().as_str() {
        "EHLO" | "HELO" if rest.is_empty() => Err(SyntaxError::Arguments("a domain name is required")),
        "EHLO" => Ok(Command::Ehlo(rest.to_string())),
        "HELO" => Ok(Command::Helo(rest.to_string())),
        "MAIL" => {
            let (path, params) = path_argument(rest, "FROM:")?;
            Ok(Command::Mail(path, params))
        }
        "RCPT" => {
            let (path, params) = path_argument(rest, "TO:")?;
            if path.is_empty() {
                return Err(SyntaxError::Arguments("the recipient address is empty"));
            }
            Ok(Command::Rcpt(path, params))
        }
        "DATA" => Ok(Command::Data),
        "RSET" => Ok(Command::Rset),
        "NOOP" => Ok(Command::Noop),
        "QUIT" => Ok(Command::Quit),
        "STARTTLS" => Ok(Command::StartTls),
        "VRFY" => Ok(Command::Vrfy),
        "HELP" => Ok(Command::Help),
        "BDAT" => Ok(Command::Bdat),
        "AUTH" => {
            let mut words = rest.split_whitespace();
            let mech = words
                .next()
                .ok_or(SyntaxError::Arguments("a SASL mechanism is required"))?
                .to_ascii_uppercase();
            Ok(Command::Auth(mech, words.next().map(str::to_string)))
        }
        _ => Err(SyntaxError::Unknown),
    }
}

type Params = Vec<(String, Option<String>)>;

/// `FROM:<path> PARAM=value ...` (spaces after the colon tolerated, as many clients send them).
fn path_argument(rest: &str, prefix: &str) -> Result<(String, Params), SyntaxError> {
    if !rest.get(..prefix.len()).is_some_and(|p| p.eq_ignore_ascii_case(prefix)) {
        return Err(SyntaxError::Arguments("expected FROM:<address> or TO:<address>"));
    }
    let rest = rest[prefix.len()..].trim_start();
    let rest = rest
        .strip_prefix('<')
        .ok_or(SyntaxError::Arguments("the address must be enclosed in <>"))?;
    let end = rest
        .find('>')
        .ok_or(SyntaxError::Arguments("missing '>' after the address"))?;
    let mut path = &rest[..end];
    // RFC 5321 §4.1.2: an obsolete source route `@a,@b:user@host` is accepted and ignored.
    if path.starts_with('@')
        && let Some(colon) = path.find(':')
    {
        path = &path[colon + 1..];
    }
    let params = rest[end + 1..]
        .split_whitespace()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (k.to_ascii_uppercase(), Some(v.to_string())),
            None => (p.to_ascii_uppercase(), None),
        })
        .collect();
    Ok((path.to_string(), params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_envelope_commands() {
        assert_eq!(
            parse_command("MAIL FROM:<a@b.fr> SIZE=100 BODY=8BITMIME\r\n"),
            Ok(Command::Mail(
                "a@b.fr".into(),
                vec![
                    ("SIZE".into(), Some("100".into())),
                    ("BODY".into(), Some("8BITMIME".into()))
                ]
            ))
        );
        assert_eq!(parse_command("mail from: <>"), Ok(Command::Mail("".into(), vec![])));
        assert_eq!(
            parse_command("RCPT TO:<@relay:c@d.fr> NOTIFY=SUCCESS,FAILURE"),
            Ok(Command::Rcpt(
                "c@d.fr".into(),
                vec![("NOTIFY".into(), Some("SUCCESS,FAILURE".into()))]
            ))
        );
        assert!(matches!(
            parse_command("RCPT TO:c@d.fr"),
            Err(SyntaxError::Arguments(_))
        ));
        assert!(matches!(parse_command("RCPT TO:<>"), Err(SyntaxError::Arguments(_))));
        assert_eq!(parse_command("FOO"), Err(SyntaxError::Unknown));
        assert_eq!(
            parse_command("AUTH plain AGFAYg=="),
            Ok(Command::Auth("PLAIN".into(), Some("AGFAYg==".into())))
        );
        assert!(matches!(parse_command("EHLO"), Err(SyntaxError::Arguments(_))));
        assert!(matches!(parse_command("MAIL ééé"), Err(SyntaxError::Arguments(_))));
    }
}
