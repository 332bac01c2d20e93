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

impl Structure {
    /// How a BAL of this structure appears in the directory (annuaire) when it is created: the
    /// structure's IdNat_Struct (`1` + FINESS), name, postcode, commune and département, and
    /// the BAL's own name as its service (issue 16).
    pub fn listing_for(&self, kind: MailboxKind, display_name: &str) -> crate::DirectoryListing {
        let (postcode, locality) = postal(self.address.as_deref().unwrap_or(""));
        crate::DirectoryListing {
            kind,
            national_id: None,
            structure_id: Some(format!("1{}", self.finess)),
            civility: None,
            family_name: None,
            given_name: None,
            profession: None,
            specialty: None,
            service: Some(display_name.to_string()),
            organisation: Some(self.name.clone()),
            postcode,
            locality,
            departement: confiance_core::Finess::parse(&self.finess)
                .ok()
                .map(|f| f.departement()),
            dematerialisation: None,
            red_list: false,
        }
    }
}

/// Creates a structure's BAL and publishes it in the directory with its structure. The
/// listing can be changed after (`account publish`) or withdrawn like any other.
pub fn create_published_bal(store: &dyn crate::Store, bal: &NewStructureBal<'_>) -> Result<AccountId> {
    let id = store.create_structure_bal(bal)?;
    if let Some(structure) = store.structure(bal.finess)? {
        store.set_listing(id, Some(&structure.listing_for(bal.kind, bal.display_name)))?;
    }
    Ok(id)
}

/// The postcode of a postal address as people write it (`1 rue X, 75012 Paris`), and the
/// ligne d'acheminement it begins (`75012 PARIS`).
fn postal(address: &str) -> (Option<String>, Option<String>) {
    let words: Vec<&str> = address.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    let Some(i) = words
        .iter()
        .rposition(|w| w.len() == 5 && w.bytes().all(|b| b.is_ascii_digit()))
    else {
        return (None, None);
    };
    let commune = words[i + 1..].join(" ").to_uppercase();
    let line = match commune.is_empty() {
        true => None,
        false => Some(format!("{} {commune}", words[i])),
    };
    (Some(words[i].to_string()), line)
}

#[cfg(test)]
mod tests {
    use super::postal;

    #[test]
    fn postcodes_and_communes_from_a_written_address() {
        assert_eq!(
            postal("1 rue de la Paix, 75012 Paris"),
            (Some("75012".into()), Some("75012 PARIS".into()))
        );
        assert_eq!(
            postal("10000 Troyes"),
            (Some("10000".into()), Some("10000 TROYES".into()))
        );
        assert_eq!(postal("Route nationale 7"), (None, None));
    }
}
