//! The Sieve mail filtering language (RFC 5228), in the subset Confiance runs at delivery.
//!
//! A script goes through four small stages, each in its own module:
//!
//! - `lex`: characters to tokens (RFC 5228 §8.1: comments, strings, `text:`, numbers);
//! - `parse`: tokens to the generic command tree of the grammar (RFC 5228 §8.2), bounding nesting;
//! - `check`: the generic tree to a typed one, checking `require`, argument types and known tags;
//! - `eval`: the typed tree run against one delivery (`matching` and `address` serve the tests).
//!
//! Nothing here does I/O: the caller hands a [`Mail`] in and receives [`Action`]s back.
//! Supported extensions are exactly [`EXTENSIONS`]; anything else is refused at parse time
//! with an error naming it. The error messages are in French: they are shown to the
//! professionals who write the scripts, in the webmail and through ManageSieve clients.
//!
//! A hostile script cannot hurt the server: its text is bounded ([`MAX_SCRIPT_BYTES`]), so is
//! nesting (16 levels), the length of string lists (256), the actions of one run (32) and the
//! redirects of one run (2); Sieve has no loops, so a run does one comparison per (value, key)
//! pair the script names, and `:matches` uses a non-recursive glob matcher (at most value
//! length × pattern length steps). The caller bounds what it hands in: `confiance_mail`
//! reads at most 256 header fields of at most 8 KiB each.

mod address;
mod ast;
mod check;
mod eval;
mod lex;
mod matching;
mod parse;

use std::fmt;

/// Largest script accepted, in bytes of UTF-8.
pub const MAX_SCRIPT_BYTES: usize = 64 * 1024;

/// The capabilities announced by ManageSieve (RFC 5804 SIEVE capability), in this order.
pub const EXTENSIONS: &[&str] = &["fileinto", "envelope", "copy", "imap4flags", "vacation"];

/// Deepest nesting of blocks and tests (an `if` inside an `if` counts one level, so does a test
/// inside `not`, `allof` or `anyof`); it also bounds the parser's recursion.
pub(crate) const MAX_DEPTH: usize = 16;
/// Most strings in one string list.
pub(crate) const MAX_LIST_ITEMS: usize = 256;
/// Most actions one evaluation may produce (the implicit keep is not counted).
pub(crate) const MAX_ACTIONS: usize = 32;
/// Most redirects one evaluation may perform (RFC 5228 §4.2 lets sites limit them).
pub(crate) const MAX_REDIRECTS: usize = 2;

/// An error in a script, at parse time or at run time, with the line it concerns (from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptError {
    pub line: usize,
    pub message: String,
}

impl ScriptError {
    pub(crate) fn new(line: usize, message: impl Into<String>) -> Self {
        ScriptError {
            line,
            message: message.into(),
        }
    }
}

impl fmt::Display for ScriptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ligne {} : {}", self.line, self.message)
    }
}

impl std::error::Error for ScriptError {}

/// A parsed and checked script, ready to be evaluated any number of times.
#[derive(Debug, Clone)]
pub struct Script {
    commands: Vec<ast::Command>,
}

/// Parses and checks a script (syntax, requires, argument types and counts, known tags).
pub fn parse(text: &str) -> Result<Script, ScriptError> {
    if text.len() > MAX_SCRIPT_BYTES {
        return Err(ScriptError::new(
            1,
            format!("script trop long ({MAX_SCRIPT_BYTES} octets au plus)"),
        ));
    }
    let tokens = lex::tokenize(text)?;
    let tree = parse::parse(&tokens)?;
    let commands = check::check(tree)?;
    Ok(Script { commands })
}

/// What the filter sees of one delivery.
pub struct Mail<'a> {
    /// Header fields in order, names as written, values already unfolded and RFC 2047-decoded.
    pub headers: &'a [(String, String)],
    /// RFC 5321 MAIL FROM (empty for the null sender) and the RCPT TO this copy is for.
    pub envelope_from: &'a str,
    pub envelope_to: &'a str,
    pub size: u64,
}

/// One thing the script asks to be done with the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Deliver to INBOX (explicit keep, or the implicit keep of RFC 5228 §2.10.2), with the flags to set.
    Keep {
        flags: Vec<String>,
    },
    FileInto {
        folder: String,
        flags: Vec<String>,
        copy: bool,
    },
    Redirect {
        address: String,
        copy: bool,
    },
    Discard,
    Vacation(Vacation),
}

/// An automatic reply (RFC 5230), to be sent at most once per `days` to each sender for `handle`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vacation {
    /// Already clamped to 1..=30 (RFC 5230 §4.1 lets sites restrict the range).
    pub days: u32,
    pub subject: Option<String>,
    pub from: Option<String>,
    pub addresses: Vec<String>,
    pub mime: bool,
    /// The `:handle` given, or one derived from reason, subject, from and `:mime` (RFC 5230 §4.2).
    pub handle: String,
    pub reason: String,
}

impl Script {
    /// Runs the script against one delivery. Returns the actions in order, with the implicit
    /// keep resolved: a Keep is present (with the internal flags variable's value at the end,
    /// RFC 5232 §3) unless discard, a fileinto without :copy, or a redirect without :copy ran
    /// and no explicit keep did. Duplicate deliveries to the same folder collapse (RFC 5228 §2.10.3).
    /// Errors at run time (too many actions or redirects) return Err; the caller then keeps.
    ///
    /// A second `vacation` in one run is ignored rather than an error (RFC 5230 §4.7 forbids
    /// two; ignoring keeps the message's delivery independent of that mistake).
    pub fn evaluate(&self, mail: &Mail) -> Result<Vec<Action>, ScriptError> {
        eval::run(&self.commands, mail)
    }
}
