//! Every command line of imaptest's scripts (the shared fixtures) parses, or is refused where
//! the script expects BAD, or belongs to an extension deliberately not supported.

use confiance_imap::proto::command::parse_command;

/// Variables used by the imaptest scripts, with plausible values.
fn substitute_vars(line: &str) -> String {
    let mut out = String::new();
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        match chars.peek() {
            Some('$') => {
                chars.next();
                out.push('$');
            }
            Some('!') => {
                // $!directive: imaptest-specific, not a real argument.
                out.push_str("$!");
            }
            Some('{') => {
                chars.next();
                let name: String = chars.by_ref().take_while(|&c| c != '}').collect();
                out.push_str(var_value(&name));
            }
            _ => {
                let mut name = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        name.push(c);
                        chars.next();
                    } else {
                        break;
                    }
                }
                if name.is_empty() {
                    out.push('$');
                } else {
                    out.push_str(var_value(&name));
                }
            }
        }
    }
    out
}

fn var_value(name: &str) -> &'static str {
    match name {
        "mailbox" => "testbox",
        "sep" => "/",
        "searchtag" => "tag1",
        "mailbox_url" => "testbox",
        "username" | "user" => "user",
        "domain" => "example.com",
        n if n.starts_with("mail_url") => "\"imap://user@example.com/testbox/;uid=1\"",
        _ => "5",
    }
}

/// Extract command lines from an imaptest script, joining `{{{ ... }}}`
/// multi-line literals into real IMAP literals. Returns (expected status, command).
fn script_commands(text: &[u8]) -> Vec<(String, Vec<u8>)> {
    let text = String::from_utf8_lossy(text).replace("\r\n", "\n");
    let mut lines = text.split('\n');
    // Header: "key: value" lines up to the first blank line.
    for l in lines.by_ref() {
        if l.trim().is_empty() {
            break;
        }
    }
    let mut out = Vec::new();
    while let Some(line) = lines.next() {
        let t = line.trim_end();
        if t.starts_with('*') || t.starts_with('!') || t.starts_with('?') {
            // Expected untagged response: skip it and its {{{ }}} literals.
            let mut cur = t.to_string();
            while cur.ends_with("{{{") {
                cur.clear();
                for l in lines.by_ref() {
                    if let Some(a) = l.strip_prefix("}}}") {
                        cur = a.trim_end().to_string();
                        break;
                    }
                }
            }
            continue;
        }
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        // Strip connection number and expected status.
        let mut rest = t;
        if let Some((first, r)) = rest.split_once(' ')
            && first.chars().all(|c| c.is_ascii_digit())
        {
            rest = r;
        }
        if let Some((first, r)) = rest.split_once(' ')
            && first.starts_with("tag")
            && first[3..].chars().all(|c| c.is_ascii_digit())
        {
            rest = r;
        }
        let (status, cmd) = match rest.split_once(' ') {
            Some((s, r)) if ["ok", "no", "bad", "\"\""].contains(&s.to_ascii_lowercase().as_str()) => {
                (s.to_ascii_lowercase(), r)
            }
            _ => (String::new(), rest),
        };
        let lower = cmd.to_ascii_lowercase();
        if ["ok", "no", "bad"].contains(&lower.as_str()) || cmd.starts_with('[') {
            continue; // expected-result line
        }
        let mut cmd = substitute_vars(cmd);
        // Join {{{ literals: content up to a line starting with "}}}".
        let mut wire: Vec<u8> = Vec::new();
        while cmd.ends_with("{{{") {
            cmd.truncate(cmd.len() - 3);
            let mut content = Vec::new();
            let mut after = String::new();
            for l in lines.by_ref() {
                if let Some(a) = l.strip_prefix("}}}") {
                    after = substitute_vars(a.trim_end());
                    break;
                }
                content.extend_from_slice(l.as_bytes());
                content.extend_from_slice(b"\r\n");
            }
            wire.extend_from_slice(cmd.as_bytes());
            wire.extend_from_slice(format!("{{{}}}\r\n", content.len()).as_bytes());
            wire.extend_from_slice(&content);
            cmd = after;
        }
        wire.extend_from_slice(cmd.as_bytes());
        // imaptest fills in the message for a bare "append [mailbox]".
        let lower = String::from_utf8_lossy(&wire).to_ascii_lowercase();
        if lower == "append" {
            wire = b"append testbox {5}\r\nhello".to_vec();
        } else if lower.starts_with("append ") && !lower.contains('{') && !lower.contains("catenate") {
            wire.extend_from_slice(b" {5}\r\nhello");
        }
        wire.extend_from_slice(b"\r\n");
        out.push((status, wire));
    }
    out
}

/// Commands from the scripts that are deliberately not supported.
const UNSUPPORTED: [&str; 3] = ["GENURLAUTH", "URLFETCH", "RESETKEY"];

#[test]
fn imaptest_scripts() {
    // The shared fixtures sit beside the repository (`../shared`).
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/imaptest");
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("imaptest fixtures at {}: {e}", dir.display()));
    let mut total = 0;
    let mut skipped = 0;
    let mut failures = Vec::new();
    let mut names: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    names.sort();
    for path in names {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !path.is_file() || name.ends_with(".mbox") || name == "COPYING.MIT" {
            continue;
        }
        let text = std::fs::read(&path).unwrap();
        for (status, wire) in script_commands(&text) {
            let mut line = b"t1 ".to_vec();
            line.extend_from_slice(&wire);
            let first = String::from_utf8_lossy(&wire)
                .split(' ')
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            if UNSUPPORTED.contains(&first.as_str()) {
                skipped += 1;
                assert!(parse_command(&line).is_err());
                continue;
            }
            total += 1;
            let r = parse_command(&line);
            if status == "bad" {
                if r.is_ok() {
                    failures.push(format!("{name}: expected BAD: {}", String::from_utf8_lossy(&line)));
                }
            } else if let Err(e) = r {
                failures.push(format!("{name}: {e}: {}", String::from_utf8_lossy(&line)));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    eprintln!("imaptest: {total} commands checked, {skipped} unsupported skipped");
    assert!(total > 500);
}
