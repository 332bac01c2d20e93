//! Structures (issue 16): the hospitals, clinics, care homes and practices, each with its FINESS
//! number, that hold organisational (ORG), applicative (APP) and cabinet (CAB) BALs, and the
//! people who administer them.

use crate::{AccountId, Result};
use confiance_core::MailboxKind;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Structure {
    /// FINESS (juridique or géographique), checked before it gets here.
    pub finess: String,
    pub name: String,
    /// Postal address, as the structure gives it.
    pub address: Option<String>,
    pub created_at: i64,
}

/// A structure's BAL as it is created: its type is fixed from then on.
pub struct NewStructureBal<'a> {
    pub address: &'a str,
    pub kind: MailboxKind,
    pub finess: &'a str,
    /// Shown as the sender's name and in the directory (`Secrétariat de cardiologie`).
    pub display_name: &'a str,
    pub quota_bytes: u64,
}

/// Structures and their administrators, as every backend stores them.
pub trait Structures {
    /// Adds a structure; `StoreError::StructureExists` when its FINESS is taken.
    fn add_structure(&self, finess: &str, name: &str, address: Option<&str>) -> Result<()>;
    fn structure(&self, finess: &str) -> Result<Option<Structure>>;
    fn structures(&self) -> Result<Vec<Structure>>;
    /// Names an administrator of the structure: an IdNat_PS (`8` + RPPS) or an e-mail address.
    /// False when they already were.
    fn add_structure_admin(&self, finess: &str, who: &str) -> Result<bool>;
    fn structure_admins(&self, finess: &str) -> Result<Vec<String>>;
    /// The structures someone administers (an IdNat_PS or a staff e-mail), by name.
    fn administered_by(&self, who: &str) -> Result<Vec<Structure>>;
    /// Creates an ORG, APP or CAB BAL of the structure. Nobody logs in with a password of its
    /// own: its members use theirs, its software a certificate or a token.
    fn create_structure_bal(&self, bal: &NewStructureBal<'_>) -> Result<AccountId>;
    /// The BALs of a structure (ORG, APP, CAB), by address.
    fn structure_bals(&self, finess: &str) -> Result<Vec<crate::Account>>;
}
