//! CPS cards as TLS client certificates. The IGC-Santé person certificate carries the holder's
//! IdNat_PS in `CN` (`8` + RPPS, `0` + ADELI), the names in `SN`/`GN` and the profession label
//! in `title`; the TLS layer has already checked the chain against the CPS authority.

use x509_parser::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpsHolder {
    pub national_id: String,
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    /// Profession label (`Médecin`).
    pub title: Option<String>,
}

/// An IdNat_PS as a CPS carries it: `8` + 11-digit RPPS, or `0` + 9-character ADELI.
pub fn is_national_id(s: &str) -> bool {
    match s.as_bytes() {
        [b'8', rest @ ..] => rest.len() == 11 && rest.iter().all(u8::is_ascii_digit),
        [b'0', rest @ ..] => rest.len() == 9 && rest.iter().all(u8::is_ascii_alphanumeric),
        _ => false,
    }
}

/// The card holder of a TLS connection whose client presented a certificate the persons CA
/// vouched for (the handshake already checked the chain).
pub fn of_connection(conn: &rustls::ServerConnection) -> Option<CpsHolder> {
    holder(conn.peer_certificates()?.first()?)
}

/// The holder of a CPS person certificate, or `None` when the certificate is not one.
pub fn holder(der: &[u8]) -> Option<CpsHolder> {
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let first = |oid: &x509_parser::der_parser::Oid<'_>| subject_attribute(&cert, oid);
    let national_id = first(&oid_registry::OID_X509_COMMON_NAME)?;
    if !is_national_id(&national_id) {
        return None;
    }
    Some(CpsHolder {
        national_id,
        family_name: first(&oid_registry::OID_X509_SURNAME),
        given_name: first(&oid_registry::OID_X509_GIVEN_NAME),
        title: first(&oid_registry::OID_X509_TITLE),
    })
}

/// The first value of a subject attribute of `cert` (`CN`, `OU`…), as text.
pub(crate) fn subject_attribute(cert: &X509Certificate<'_>, oid: &x509_parser::der_parser::Oid<'_>) -> Option<String> {
    cert.subject()
        .iter_attributes()
        .find(|a| a.attr_type() == oid)
        .and_then(|a| a.as_str().ok())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn national_ids() {
        assert!(is_national_id("899700771191"));
        assert!(is_national_id("00B7010446"));
        assert!(!is_national_id("99700771191"));
        assert!(!is_national_id("8997007711911"));
        assert!(!is_national_id("3760021832/000000018"));
        assert!(!is_national_id("sonde1.mssante.fr"));
    }
}
