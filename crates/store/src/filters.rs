//! A BAL's Sieve scripts (RFC 5228) and what its out-of-office replies remember (RFC 5230):
//! written by the webmail and by ManageSieve clients (RFC 5804), read at each delivery.

use crate::{AccountId, Result};

/// One named script of a BAL; at most one is active (RFC 5804 §1.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SieveScript {
    pub name: String,
    pub content: String,
    pub active: bool,
}

/// What became of a change to a BAL's scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScriptChange {
    Done,
    /// No script of that name (RFC 5804 `NONEXISTENT`).
    NoSuchScript,
    /// The new name is another script's (RFC 5804 `ALREADYEXISTS`).
    NameTaken,
    /// The active script cannot be deleted (RFC 5804 §2.10 `ACTIVE`).
    Active,
}

pub trait Filters {
    /// The BAL's scripts, by name.
    fn sieve_scripts(&self, account: AccountId) -> Result<Vec<SieveScript>>;
    /// The script run at delivery, if one is active.
    fn active_sieve_script(&self, account: AccountId) -> Result<Option<SieveScript>>;
    /// Creates or replaces a script's text; an active script stays active.
    fn put_sieve_script(&self, account: AccountId, name: &str, content: &str) -> Result<()>;
    /// Makes `name` the active script, or deactivates every script with `None`.
    fn activate_sieve_script(&self, account: AccountId, name: Option<&str>) -> Result<ScriptChange>;
    fn delete_sieve_script(&self, account: AccountId, name: &str) -> Result<ScriptChange>;
    fn rename_sieve_script(&self, account: AccountId, from: &str, to: &str) -> Result<ScriptChange>;
    /// Whether an out-of-office reply to `sender` for this `handle` may go now: true, and
    /// recorded, when none went in the last `days` days (RFC 5230 §4.1), so that two
    /// deliveries at once answer once.
    fn claim_vacation_reply(&self, account: AccountId, sender: &str, handle: &str, days: u32) -> Result<bool>;
    /// Forgets a claim whose reply could not be sent.
    fn release_vacation_reply(&self, account: AccountId, sender: &str, handle: &str) -> Result<()>;
}
