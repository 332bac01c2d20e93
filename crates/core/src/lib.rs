//! The domain of an MSSanté operator, without I/O: every rule here is a pure function,
//! so that it can be tested exhaustively and shared by every protocol front.

pub mod address;
pub mod identifier;
pub mod mailbox;
pub mod patient;
pub mod profession;

pub use address::{Address, AddressError};
pub use identifier::{Adeli, Finess, IdentifierError, NationalId, Nir, Rpps, Siren, Siret};
pub use mailbox::{MailboxKind, SpecialUse};
pub use patient::{PatientAddressError, PatientDomain};
pub use profession::{profession_code, profession_label};
