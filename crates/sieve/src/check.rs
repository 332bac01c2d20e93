//! From the generic tree to the checked script (RFC 5228 §3, §4, §5 and the extensions of
//! [`EXTENSIONS`]): `require` comes first and names only supported capabilities, every command,
//! test and tag from an extension needs that extension required (§3.2), tagged arguments come
//! before positional ones and appear once (§2.6.2), and each positional argument has its type.
//! Names from extensions Confiance does not run are refused with the extension named, so that
//! users learn why rather than read "unknown command".

use std::collections::VecDeque;

use crate::address::AddressPart;
use crate::ast::{Command, EnvelopePart, FlagOp, Matcher, Test, flag_words};
use crate::matching::{Comparator, MatchType};
use crate::parse::{self, Arg, Tests};
use crate::{EXTENSIONS, ScriptError, Vacation};

/// Checks a whole script and returns its typed commands.
pub(crate) fn check(tree: Vec<parse::Command>) -> Result<Vec<Command>, ScriptError> {
    let mut checker = Checker { required: Vec::new() };
    let mut commands = tree.into_iter().peekable();
    while let Some(require) = commands.next_if(|c| c.name == "require") {
        checker.require(require)?;
    }
    checker.block(commands.collect())
}

fn unsupported(line: usize, extension: &str) -> ScriptError {
    ScriptError::new(line, format!("extension « {extension} » non prise en charge"))
}

/// The extension a command this implementation does not run comes from.
fn extension_of_command(name: &str) -> Option<&'static str> {
    Some(match name {
        "set" => "variables",
        "reject" => "reject",
        "ereject" => "ereject",
        "notify" => "enotify",
        "include" | "return" | "global" => "include",
        "addheader" | "deleteheader" => "editheader",
        "foreverypart" | "break" => "foreverypart",
        "replace" => "replace",
        "enclose" => "enclose",
        "extracttext" => "extracttext",
        "error" => "ihave",
        "convert" => "convert",
        _ => return None,
    })
}

/// The extension a test this implementation does not run comes from.
fn extension_of_test(name: &str) -> Option<&'static str> {
    Some(match name {
        "date" | "currentdate" => "date",
        "mailboxexists" => "mailbox",
        "string" => "variables",
        "body" => "body",
        "environment" => "environment",
        "spamtest" => "spamtest",
        "virustest" => "virustest",
        "ihave" => "ihave",
        "duplicate" => "duplicate",
        "valid_notify_method" | "notify_method_capability" => "enotify",
        "metadata" | "metadataexists" => "mboxmetadata",
        "servermetadata" | "servermetadataexists" => "servermetadata",
        "specialuse_exists" => "special-use",
        "valid_ext_list" => "extlists",
        _ => return None,
    })
}

/// The extension a tagged argument this implementation does not accept comes from.
fn extension_of_tag(name: &str) -> Option<&'static str> {
    Some(match name {
        "value" | "count" => "relational",
        "regex" => "regex",
        "create" => "mailbox",
        "mailboxid" => "mailboxid",
        "specialuse" => "special-use",
        "seconds" => "vacation-seconds",
        "zone" | "originalzone" => "date",
        "index" | "last" => "index",
        "user" | "detail" => "subaddress",
        "list" => "extlists",
        "fcc" => "fcc",
        _ => return None,
    })
}

struct Checker {
    /// The capabilities required so far, lower-cased.
    required: Vec<String>,
}

impl Checker {
    /// `require <capabilities: string-list>` (§3.2).
    fn require(&mut self, command: parse::Command) -> Result<(), ScriptError> {
        let line = command.line;
        let mut args = Args::of(&command.name, line, command.args);
        no_test_nor_block(&command.name, line, &command.tests, &command.block)?;
        let names = args.list("la liste des extensions")?;
        args.finish()?;
        for name in names {
            let name = name.to_ascii_lowercase();
            // The two comparators every implementation has may be required as well (§2.7.3).
            let comparator = name == "comparator-i;octet" || name == "comparator-i;ascii-casemap";
            if !comparator && !EXTENSIONS.contains(&name.as_str()) {
                return Err(unsupported(line, &name));
            }
            self.required.push(name);
        }
        Ok(())
    }

    /// Refuses `what` unless `extension` was required (§3.2).
    fn need(&self, extension: &str, what: &str, line: usize) -> Result<(), ScriptError> {
        if self.required.iter().any(|r| r == extension) {
            return Ok(());
        }
        Err(ScriptError::new(
            line,
            format!("« {what} » exige require \"{extension}\""),
        ))
    }

    fn block(&self, commands: Vec<parse::Command>) -> Result<Vec<Command>, ScriptError> {
        let mut checked = Vec::new();
        let mut commands = commands.into_iter().peekable();
        while let Some(command) = commands.next() {
            match command.name.as_str() {
                "if" => {
                    let mut branches = vec![self.branch(command)?];
                    let mut otherwise = Vec::new();
                    while let Some(next) = commands.next_if(|c| c.name == "elsif" || c.name == "else") {
                        if next.name == "elsif" {
                            branches.push(self.branch(next)?);
                        } else {
                            no_test_nor_block(&next.name, next.line, &next.tests, &None)?;
                            Args::of(&next.name, next.line, next.args).finish()?;
                            let block = next.block.ok_or_else(|| missing_block(&next.name, next.line))?;
                            otherwise = self.block(block)?;
                            break;
                        }
                    }
                    checked.push(Command::If { branches, otherwise });
                }
                "elsif" | "else" => {
                    let message = format!("« {} » doit suivre « if » ou « elsif »", command.name);
                    return Err(ScriptError::new(command.line, message));
                }
                "require" => {
                    return Err(ScriptError::new(
                        command.line,
                        "« require » doit précéder toute autre commande",
                    ));
                }
                _ => checked.push(self.command(command)?),
            }
        }
        Ok(checked)
    }

    /// `if` or `elsif`: one test and a block (§3.1).
    fn branch(&self, command: parse::Command) -> Result<(Test, Vec<Command>), ScriptError> {
        let parse::Command {
            name,
            line,
            args,
            tests,
            block,
        } = command;
        Args::of(&name, line, args).finish()?;
        let Tests::One(test) = tests else {
            return Err(ScriptError::new(line, format!("« {name} » attend un test")));
        };
        let block = block.ok_or_else(|| missing_block(&name, line))?;
        Ok((self.test(*test)?, self.block(block)?))
    }

    fn command(&self, command: parse::Command) -> Result<Command, ScriptError> {
        let parse::Command {
            name,
            line,
            args,
            tests,
            block,
        } = command;
        if let Some(extension) = extension_of_command(&name) {
            return Err(unsupported(line, extension));
        }
        let mut a = Args::of(&name, line, args);
        let known = [
            "stop",
            "keep",
            "discard",
            "redirect",
            "fileinto",
            "setflag",
            "addflag",
            "removeflag",
            "vacation",
        ];
        if !known.contains(&name.as_str()) {
            return Err(ScriptError::new(line, format!("commande « {name} » inconnue")));
        }
        no_test_nor_block(&name, line, &tests, &block)?;
        let checked = match name.as_str() {
            "stop" => Command::Stop,
            "discard" => Command::Discard { line },
            "keep" => {
                let mut flags = None;
                while let Some(tag) = a.tag() {
                    match tag.as_str() {
                        "flags" => self.flags_tag(&mut a, &tag, &mut flags)?,
                        _ => return Err(a.unknown_tag(&tag)),
                    }
                }
                Command::Keep { line, flags }
            }
            "redirect" => {
                let mut copy = false;
                while let Some(tag) = a.tag() {
                    match tag.as_str() {
                        "copy" => self.copy_tag(&a, &tag, &mut copy)?,
                        _ => return Err(a.unknown_tag(&tag)),
                    }
                }
                let address = a.string("une adresse")?;
                if !valid_address(&address) {
                    return Err(a.err(format!("adresse de redirection invalide : « {address} »")));
                }
                Command::Redirect { line, address, copy }
            }
            "fileinto" => {
                self.need("fileinto", "fileinto", line)?;
                let (mut copy, mut flags) = (false, None);
                while let Some(tag) = a.tag() {
                    match tag.as_str() {
                        "copy" => self.copy_tag(&a, &tag, &mut copy)?,
                        "flags" => self.flags_tag(&mut a, &tag, &mut flags)?,
                        _ => return Err(a.unknown_tag(&tag)),
                    }
                }
                let folder = a.string("le nom d'un dossier")?;
                if folder.is_empty() {
                    return Err(a.err("le nom de dossier de « fileinto » est vide"));
                }
                Command::FileInto {
                    line,
                    folder,
                    flags,
                    copy,
                }
            }
            "setflag" | "addflag" | "removeflag" => {
                self.need("imap4flags", &name, line)?;
                if let Some(tag) = a.tag() {
                    return Err(a.unknown_tag(&tag));
                }
                let flags = a.list("une liste de drapeaux")?;
                if a.more_strings() {
                    return Err(unsupported(line, "variables"));
                }
                let op = match name.as_str() {
                    "setflag" => FlagOp::Set,
                    "addflag" => FlagOp::Add,
                    _ => FlagOp::Remove,
                };
                Command::Flags {
                    op,
                    flags: flag_words(&flags),
                }
            }
            _ => self.vacation(&mut a, line)?,
        };
        a.finish()?;
        Ok(checked)
    }

    fn copy_tag(&self, a: &Args, tag: &str, copy: &mut bool) -> Result<(), ScriptError> {
        self.need("copy", ":copy", a.line)?;
        if std::mem::replace(copy, true) {
            return Err(a.repeated(tag));
        }
        Ok(())
    }

    fn flags_tag(&self, a: &mut Args, tag: &str, flags: &mut Option<Vec<String>>) -> Result<(), ScriptError> {
        self.need("imap4flags", ":flags", a.line)?;
        let list = a.tag_list(tag)?;
        a.set(flags, tag, flag_words(&list))
    }

    /// `vacation [:days n] [:subject s] [:from s] [:addresses l] [:mime] [:handle s] reason`
    /// (RFC 5230 §4).
    fn vacation(&self, a: &mut Args, line: usize) -> Result<Command, ScriptError> {
        self.need("vacation", "vacation", line)?;
        let (mut days, mut subject, mut from, mut addresses, mut handle) = (None, None, None, None, None);
        let mut mime = false;
        while let Some(tag) = a.tag() {
            match tag.as_str() {
                "days" => {
                    let n = a.tag_number(&tag)?;
                    a.set(&mut days, &tag, n)?;
                }
                "subject" | "from" => {
                    let value = a.tag_string(&tag)?;
                    // They become header fields of the reply: no line break may slip in.
                    if value.contains(['\r', '\n']) {
                        return Err(a.err(format!("« :{tag} » ne doit pas contenir de fin de ligne")));
                    }
                    a.set(if tag == "subject" { &mut subject } else { &mut from }, &tag, value)?;
                }
                "addresses" => {
                    let list = a.tag_list(&tag)?;
                    a.set(&mut addresses, &tag, list)?;
                }
                "handle" => {
                    let value = a.tag_string(&tag)?;
                    a.set(&mut handle, &tag, value)?;
                }
                "mime" if !mime => mime = true,
                "mime" => return Err(a.repeated(&tag)),
                _ => return Err(a.unknown_tag(&tag)),
            }
        }
        let reason = a.string("le texte de la réponse")?;
        // RFC 5230 §4.1 lets sites bound :days; 1 to 30 days keeps replies neither too
        // frequent nor forgotten.
        let days = days.unwrap_or(7).clamp(1, 30) as u32;
        let handle = handle.unwrap_or_else(|| derive_handle(&reason, subject.as_deref(), from.as_deref(), mime));
        let addresses = addresses.unwrap_or_default();
        let vacation = Vacation {
            days,
            subject,
            from,
            addresses,
            mime,
            handle,
            reason,
        };
        Ok(Command::Vacation { line, vacation })
    }

    fn test(&self, test: parse::Test) -> Result<Test, ScriptError> {
        let parse::Test {
            name,
            line,
            args,
            tests,
        } = test;
        if let Some(extension) = extension_of_test(&name) {
            return Err(unsupported(line, extension));
        }
        let mut a = Args::of(&name, line, args);
        let checked = match (name.as_str(), tests) {
            ("allof" | "anyof", Tests::List(list)) => {
                let list = list.into_iter().map(|t| self.test(t)).collect::<Result<Vec<_>, _>>()?;
                if name == "allof" {
                    Test::AllOf(list)
                } else {
                    Test::AnyOf(list)
                }
            }
            ("allof" | "anyof", _) => {
                return Err(a.err(format!("« {name} » attend une liste de tests entre parenthèses")));
            }
            ("not", Tests::One(test)) => Test::Not(Box::new(self.test(*test)?)),
            ("not", _) => return Err(a.err("« not » attend un test")),
            (_, Tests::None) => self.simple_test(&name, &mut a)?,
            (_, _) if self.is_test(&name) => return Err(a.err(format!("« {name} » n'accepte pas de test"))),
            (_, _) => return Err(a.err(format!("test « {name} » inconnu"))),
        };
        a.finish()?;
        Ok(checked)
    }

    fn is_test(&self, name: &str) -> bool {
        [
            "true", "false", "exists", "size", "header", "address", "envelope", "hasflag",
        ]
        .contains(&name)
    }

    /// The tests that take no test (§5 and RFC 5232 §4).
    fn simple_test(&self, name: &str, a: &mut Args) -> Result<Test, ScriptError> {
        Ok(match name {
            "true" => Test::True,
            "false" => Test::False,
            "exists" => Test::Exists(header_names(a)?),
            "size" => {
                let mut over = None;
                while let Some(tag) = a.tag() {
                    match tag.as_str() {
                        "over" | "under" if over.is_none() => over = Some(tag == "over"),
                        "over" | "under" => return Err(a.err("« size » attend « :over » ou « :under », pas les deux")),
                        _ => return Err(a.unknown_tag(&tag)),
                    }
                }
                let over = over.ok_or_else(|| a.err("« size » attend « :over » ou « :under »"))?;
                Test::Size {
                    over,
                    limit: a.number("une taille")?,
                }
            }
            "header" | "address" | "envelope" => {
                if name == "envelope" {
                    self.need("envelope", "envelope", a.line)?;
                }
                let mut m = MatchArgs::default();
                while let Some(tag) = a.tag() {
                    if !m.take(a, &tag, name != "header")? {
                        return Err(a.unknown_tag(&tag));
                    }
                }
                let part = m.part.unwrap_or(AddressPart::All);
                if name == "envelope" {
                    let parts = a.list("la liste des parties d'enveloppe")?;
                    let parts = parts
                        .iter()
                        .map(|p| envelope_part(a, p))
                        .collect::<Result<Vec<_>, _>>()?;
                    Test::Envelope {
                        part,
                        parts,
                        matcher: m.matcher(a.list("la liste des clés")?),
                    }
                } else {
                    let headers = header_names(a)?;
                    let matcher = m.matcher(a.list("la liste des clés")?);
                    if name == "header" {
                        Test::Header { headers, matcher }
                    } else {
                        Test::Address { part, headers, matcher }
                    }
                }
            }
            "hasflag" => {
                self.need("imap4flags", "hasflag", a.line)?;
                let mut m = MatchArgs::default();
                while let Some(tag) = a.tag() {
                    if !m.take(a, &tag, false)? {
                        return Err(a.unknown_tag(&tag));
                    }
                }
                let keys = a.list("la liste des drapeaux")?;
                if a.more_strings() {
                    return Err(unsupported(a.line, "variables"));
                }
                Test::HasFlag(m.matcher(keys))
            }
            _ => return Err(a.err(format!("test « {name} » inconnu"))),
        })
    }
}

fn no_test_nor_block(
    name: &str,
    line: usize,
    tests: &Tests,
    block: &Option<Vec<parse::Command>>,
) -> Result<(), ScriptError> {
    if !matches!(tests, Tests::None) {
        return Err(ScriptError::new(line, format!("« {name} » n'accepte pas de test")));
    }
    if block.is_some() {
        return Err(ScriptError::new(line, format!("« {name} » n'accepte pas de bloc")));
    }
    Ok(())
}

fn missing_block(name: &str, line: usize) -> ScriptError {
    ScriptError::new(line, format!("« {name} » attend un bloc {{ … }}"))
}

/// Header names: printable ASCII without colon (RFC 5322 §3.6.8), as §5.7 asks to check.
fn header_names(a: &mut Args) -> Result<Vec<String>, ScriptError> {
    let names = a.list("la liste des en-têtes")?;
    for name in &names {
        if name.is_empty() || !name.bytes().all(|b| (33..=126).contains(&b) && b != b':') {
            return Err(a.err(format!("nom d'en-tête invalide : « {name} »")));
        }
    }
    Ok(names)
}

/// The envelope parts supported (RFC 5228 §5.4 defines "from" and "to").
fn envelope_part(a: &Args, part: &str) -> Result<EnvelopePart, ScriptError> {
    match part.to_ascii_lowercase().as_str() {
        "from" => Ok(EnvelopePart::From),
        "to" => Ok(EnvelopePart::To),
        _ => Err(a.err(format!("partie d'enveloppe « {part} » non prise en charge"))),
    }
}

/// A plain `local@domain` address, as `redirect` must refuse invalid ones (§4.2).
fn valid_address(address: &str) -> bool {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && address
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[],;:\\\"".contains(c))
        && domain.chars().all(|c| c.is_alphanumeric() || c == '-' || c == '.')
}

/// A stable handle for a vacation without `:handle` (RFC 5230 §4.2): FNV-1a (64 bits) of
/// what makes two replies the same, each part marked present or absent.
fn derive_handle(reason: &str, subject: Option<&str>, from: Option<&str>, mime: bool) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let parts = [Some(reason), subject, from, mime.then_some("")];
    for part in parts {
        let bytes = match part {
            Some(text) => [1]
                .iter()
                .chain(text.as_bytes())
                .chain(&[0])
                .copied()
                .collect::<Vec<u8>>(),
            None => vec![2],
        };
        for b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// The comparator, match type and address part tags shared by the tests (§2.7).
#[derive(Default)]
struct MatchArgs {
    cmp: Option<Comparator>,
    mt: Option<MatchType>,
    part: Option<AddressPart>,
}

impl MatchArgs {
    /// Takes `tag` if it is one of these (address parts only `with_parts`).
    fn take(&mut self, a: &mut Args, tag: &str, with_parts: bool) -> Result<bool, ScriptError> {
        let mt = match tag {
            "is" => Some(MatchType::Is),
            "contains" => Some(MatchType::Contains),
            "matches" => Some(MatchType::Matches),
            _ => None,
        };
        if let Some(mt) = mt {
            if self.mt.replace(mt).is_some() {
                return Err(a.err("un seul type de comparaison (:is, :contains, :matches) est permis"));
            }
            return Ok(true);
        }
        let part = match tag {
            "all" => Some(AddressPart::All),
            "localpart" => Some(AddressPart::LocalPart),
            "domain" => Some(AddressPart::Domain),
            _ => None,
        };
        if let (Some(part), true) = (part, with_parts) {
            if self.part.replace(part).is_some() {
                return Err(a.err("une seule partie d'adresse (:all, :localpart, :domain) est permise"));
            }
            return Ok(true);
        }
        if tag == "comparator" {
            let name = a.tag_string(tag)?;
            let cmp =
                Comparator::named(&name).ok_or_else(|| a.err(format!("comparateur « {name} » non pris en charge")))?;
            return a.set(&mut self.cmp, tag, cmp).map(|()| true);
        }
        Ok(false)
    }

    /// The defaults are `:is` and `i;ascii-casemap` (§2.7.1, §2.7.3).
    fn matcher(&self, keys: Vec<String>) -> Matcher {
        Matcher {
            cmp: self.cmp.unwrap_or(Comparator::AsciiCasemap),
            mt: self.mt.unwrap_or(MatchType::Is),
            keys,
        }
    }
}

/// The arguments of one command or test, consumed in order: tags first, then positional.
struct Args {
    name: String,
    line: usize,
    items: VecDeque<Arg>,
}

impl Args {
    fn of(name: &str, line: usize, args: Vec<Arg>) -> Args {
        Args {
            name: name.to_string(),
            line,
            items: args.into(),
        }
    }

    fn err(&self, message: impl Into<String>) -> ScriptError {
        ScriptError::new(self.line, message)
    }

    fn repeated(&self, tag: &str) -> ScriptError {
        self.err(format!("argument « :{tag} » répété"))
    }

    fn unknown_tag(&self, tag: &str) -> ScriptError {
        match extension_of_tag(tag) {
            Some(extension) => self.err(format!(
                "extension « {extension} » non prise en charge (argument « :{tag} »)"
            )),
            None => self.err(format!("argument « :{tag} » inconnu pour « {} »", self.name)),
        }
    }

    /// Stores a tag's value, refusing a second occurrence.
    fn set<T>(&self, slot: &mut Option<T>, tag: &str, value: T) -> Result<(), ScriptError> {
        match slot.replace(value) {
            Some(_) => Err(self.repeated(tag)),
            None => Ok(()),
        }
    }

    /// The next argument if it is a tag.
    fn tag(&mut self) -> Option<String> {
        match self.items.front() {
            Some(Arg::Tag(_)) => match self.items.pop_front() {
                Some(Arg::Tag(tag)) => Some(tag),
                _ => None,
            },
            _ => None,
        }
    }

    fn more_strings(&self) -> bool {
        matches!(self.items.front(), Some(Arg::Strings { .. }))
    }

    /// The next argument; `what` names what was expected for the error message.
    fn next(&mut self, what: &str) -> Result<Arg, ScriptError> {
        match self.items.pop_front() {
            Some(Arg::Tag(tag)) => Err(self.err(format!("argument « :{tag} » mal placé pour « {} »", self.name))),
            Some(arg) => Ok(arg),
            None => Err(self.err(format!("« {} » attend {what}", self.name))),
        }
    }

    fn string(&mut self, what: &str) -> Result<String, ScriptError> {
        match self.next(what)? {
            Arg::Strings { values, list: false } => Ok(values.into_iter().next().unwrap_or_default()),
            _ => Err(self.err(format!("« {} » attend {what}", self.name))),
        }
    }

    fn list(&mut self, what: &str) -> Result<Vec<String>, ScriptError> {
        match self.next(what)? {
            Arg::Strings { values, .. } => Ok(values),
            _ => Err(self.err(format!("« {} » attend {what}", self.name))),
        }
    }

    fn number(&mut self, what: &str) -> Result<u64, ScriptError> {
        match self.next(what)? {
            Arg::Number(n) => Ok(n),
            _ => Err(self.err(format!("« {} » attend {what}", self.name))),
        }
    }

    fn tag_string(&mut self, tag: &str) -> Result<String, ScriptError> {
        match self.items.pop_front() {
            Some(Arg::Strings { values, list: false }) => Ok(values.into_iter().next().unwrap_or_default()),
            _ => Err(self.err(format!("« :{tag} » attend une chaîne"))),
        }
    }

    fn tag_list(&mut self, tag: &str) -> Result<Vec<String>, ScriptError> {
        match self.items.pop_front() {
            Some(Arg::Strings { values, .. }) => Ok(values),
            _ => Err(self.err(format!("« :{tag} » attend une liste de chaînes"))),
        }
    }

    fn tag_number(&mut self, tag: &str) -> Result<u64, ScriptError> {
        match self.items.pop_front() {
            Some(Arg::Number(n)) => Ok(n),
            _ => Err(self.err(format!("« :{tag} » attend un nombre"))),
        }
    }

    /// No argument may be left over.
    fn finish(mut self) -> Result<(), ScriptError> {
        match self.items.pop_front() {
            None => Ok(()),
            Some(Arg::Tag(tag)) => Err(self.err(format!("argument « :{tag} » mal placé pour « {} »", self.name))),
            Some(_) => Err(self.err(format!("trop d'arguments pour « {} »", self.name))),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{MAX_SCRIPT_BYTES, parse};

    fn error(script: &str) -> String {
        parse(script).map(|_| ()).unwrap_err().to_string()
    }

    #[test]
    fn require_rules() {
        assert!(parse("require [\"fileinto\", \"COPY\", \"comparator-i;octet\"]; keep;").is_ok());
        assert_eq!(
            error("keep;\n\nrequire \"date\";"),
            "ligne 3 : « require » doit précéder toute autre commande"
        );
        assert_eq!(
            error("require [\"fileinto\",\n \"date\"];"),
            "ligne 1 : extension « date » non prise en charge"
        );
        assert_eq!(
            error("require \"foo\";"),
            "ligne 1 : extension « foo » non prise en charge"
        );
        assert_eq!(
            error("\nfileinto \"A\";"),
            "ligne 2 : « fileinto » exige require \"fileinto\""
        );
        assert_eq!(
            error("redirect :copy \"a@b.fr\";"),
            "ligne 1 : « :copy » exige require \"copy\""
        );
        assert_eq!(
            error("vacation \"x\";"),
            "ligne 1 : « vacation » exige require \"vacation\""
        );
        assert_eq!(
            error("setflag \"a\";"),
            "ligne 1 : « setflag » exige require \"imap4flags\""
        );
        assert_eq!(
            error("keep :flags \"a\";"),
            "ligne 1 : « :flags » exige require \"imap4flags\""
        );
        assert_eq!(
            error("if hasflag \"a\" {}"),
            "ligne 1 : « hasflag » exige require \"imap4flags\""
        );
        assert_eq!(
            error("if envelope \"from\" \"\" {}"),
            "ligne 1 : « envelope » exige require \"envelope\""
        );
    }

    #[test]
    fn unsupported_and_unknown_names() {
        assert_eq!(
            error("keep;\nset \"a\" \"b\";"),
            "ligne 2 : extension « variables » non prise en charge"
        );
        assert_eq!(
            error("if\n date :is \"date\" \"x\" {}"),
            "ligne 2 : extension « date » non prise en charge"
        );
        assert_eq!(
            error("require \"fileinto\";\nfileinto :create \"A\";"),
            "ligne 2 : extension « mailbox » non prise en charge (argument « :create »)"
        );
        assert_eq!(
            error("if header :value \"gt\" \"x\" \"1\" {}"),
            "ligne 1 : extension « relational » non prise en charge (argument « :value »)"
        );
        assert_eq!(error("frobnicate;"), "ligne 1 : commande « frobnicate » inconnue");
        assert_eq!(error("if frob {}"), "ligne 1 : test « frob » inconnu");
        assert_eq!(
            error("\n\nkeep :foo;"),
            "ligne 3 : argument « :foo » inconnu pour « keep »"
        );
        assert_eq!(
            error("if header :comparator \"i;ascii-numeric\" \"a\" \"b\" {}"),
            "ligne 1 : comparateur « i;ascii-numeric » non pris en charge"
        );
        assert_eq!(
            error("require \"envelope\"; if envelope \"auth\" \"x\" {}"),
            "ligne 1 : partie d'enveloppe « auth » non prise en charge"
        );
        assert_eq!(
            error("require \"imap4flags\"; setflag \"v\" \"a\";"),
            "ligne 1 : extension « variables » non prise en charge"
        );
    }

    #[test]
    fn argument_checks() {
        assert_eq!(error("redirect;"), "ligne 1 : « redirect » attend une adresse");
        assert_eq!(
            error("redirect \"pas une adresse\";"),
            "ligne 1 : adresse de redirection invalide : « pas une adresse »"
        );
        assert_eq!(
            error("redirect [\"a@b.fr\"];"),
            "ligne 1 : « redirect » attend une adresse"
        );
        assert_eq!(error("keep \"x\";"), "ligne 1 : trop d'arguments pour « keep »");
        assert_eq!(
            error("if header \"a\" \"b\" :is {}"),
            "ligne 1 : argument « :is » mal placé pour « header »"
        );
        assert!(error("if header :is :contains \"a\" \"b\" {}").contains("un seul type"));
        assert_eq!(
            error("if header :all \"a\" \"b\" {}"),
            "ligne 1 : argument « :all » inconnu pour « header »"
        );
        assert_eq!(
            error("if size 10 {}"),
            "ligne 1 : « size » attend « :over » ou « :under »"
        );
        assert_eq!(error("if size :over \"10\" {}"), "ligne 1 : « size » attend une taille");
        assert_eq!(
            error("if allof true {}"),
            "ligne 1 : « allof » attend une liste de tests entre parenthèses"
        );
        assert_eq!(error("if true keep;"), "ligne 1 : « if » attend un bloc { … }");
        assert_eq!(
            error("else { keep; }"),
            "ligne 1 : « else » doit suivre « if » ou « elsif »"
        );
        assert_eq!(error("keep { stop; }"), "ligne 1 : « keep » n'accepte pas de bloc");
        assert_eq!(
            error("if exists \"a:b\" {}"),
            "ligne 1 : nom d'en-tête invalide : « a:b »"
        );
        assert_eq!(
            error("require \"vacation\"; vacation :days 3 :days 4 \"x\";"),
            "ligne 1 : argument « :days » répété"
        );
        assert!(error("require \"vacation\"; vacation :subject \"a\r\nBcc: x@y.fr\" \"x\";").contains("fin de ligne"));
        assert!(parse("if true {} elsif false {} else {}").is_ok());
    }

    #[test]
    fn script_size_limit() {
        let padding = "#".repeat(MAX_SCRIPT_BYTES - 5);
        // Just under the limit is read (and refused for the missing `;`, not for its size).
        assert_eq!(
            error(&format!("{padding}\nkeep")),
            "ligne 2 : « ; » attendu après « keep », la fin du script trouvé"
        );
        assert!(parse(&format!("{padding}\n")).is_ok());
        let big = format!("{}\nkeep;", "#".repeat(65 * 1024));
        assert_eq!(error(&big), "ligne 1 : script trop long (65536 octets au plus)");
    }

    #[test]
    fn strings_with_escapes_and_text() {
        let script = "require \"fileinto\";\nfileinto \"Dossier \\\"cité\\\" \\\\ x\";";
        let headers = Vec::new();
        let mail = crate::Mail {
            headers: &headers,
            envelope_from: "",
            envelope_to: "",
            size: 0,
        };
        let actions = parse(script).unwrap().evaluate(&mail).unwrap();
        let expected = crate::Action::FileInto {
            folder: "Dossier \"cité\" \\ x".into(),
            flags: vec![],
            copy: false,
        };
        assert_eq!(actions, vec![expected]);
        let script = "require \"vacation\";\nvacation text:\n..Point\n.\n;\nkeep;";
        let actions = parse(script).unwrap().evaluate(&mail).unwrap();
        assert!(matches!(&actions[0], crate::Action::Vacation(v) if v.reason == ".Point\r\n"));
    }
}
