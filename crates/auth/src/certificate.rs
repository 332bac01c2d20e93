//! Client certificates presented in the TLS handshake of IMAP and submission (SASL EXTERNAL,
//! RFC 4422 appendix A): a professional's card (CPS), or a structure's organisation certificate
//! given to its software (issue 16: applicative BALs). The handshake has already checked the
//! chain against the configured CAs and the revocation lists.

use x509_parser::prelude::*;

use crate::cps::{self, CpsHolder};

/// An organisation certificate of IGC-Santé's organisations CA, as a structure's software
/// presents it: `OU` = the structure's IdNat_Struct, `CN` = the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrganisationCertificate {
    /// The structure's FINESS (from `OU` = `1` + FINESS).
    pub finess: String,
    /// The application it was issued to (`CN`), for the traces.
    pub application: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientCertificate {
    Card(CpsHolder),
    Organisation(OrganisationCertificate),
}

/// The identity a TLS client proved with its certificate, if it presented one we read.
pub fn of_connection(conn: &rustls::ServerConnection) -> Option<ClientCertificate> {
    let der = conn.peer_certificates()?.first()?;
    match cps::holder(der) {
        Some(card) => Some(ClientCertificate::Card(card)),
        None => organisation(der).map(ClientCertificate::Organisation),
    }
}

/// The structure of an organisation certificate, or `None` when `OU` names no FINESS
/// structure (an operator's server certificate has `OU=MSSANTE`; other IdNat_Struct types,
/// SIRET or cabinet, have no structure of ours yet).
pub fn organisation(der: &[u8]) -> Option<OrganisationCertificate> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let first = |oid: &x509_parser::der_parser::Oid<'_>| cps::subject_attribute(&cert, oid);
    let unit = first(&oid_registry::OID_X509_ORGANIZATIONAL_UNIT)?;
    let finess = confiance_core::Finess::parse(unit.strip_prefix('1')?).ok()?;
    Some(OrganisationCertificate {
        finess: finess.to_string(),
        application: first(&oid_registry::OID_X509_COMMON_NAME).unwrap_or_default(),
    })
}
