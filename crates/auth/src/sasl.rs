//! SASL messages common to IMAP AUTHENTICATE and SMTP AUTH.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SaslError {
    #[error("the SASL response is not valid base64")]
    Base64,
    #[error("the PLAIN message must be authzid NUL authcid NUL password (RFC 4616)")]
    Malformed,
    #[error("the SASL response is not UTF-8")]
    Utf8,
}

/// Credentials carried by a PLAIN or LOGIN exchange.
#[derive(Debug, PartialEq, Eq)]
pub struct Credentials {
    /// Identity to act as, when it differs from the authenticated one (RFC 4616 authzid).
    pub authzid: Option<String>,
    pub username: String,
    pub password: String,
}

pub fn decode_base64(input: &[u8]) -> Result<Vec<u8>, SaslError> {
    let trimmed: Vec<u8> = input.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    if trimmed == b"=" {
        return Ok(Vec::new());
    }
    STANDARD.decode(trimmed).map_err(|_| SaslError::Base64)
}

pub fn encode_base64(input: &[u8]) -> String {
    STANDARD.encode(input)
}

/// RFC 4616: `[authzid] NUL authcid NUL passwd`, already base64-decoded.
pub fn decode_plain(message: &[u8]) -> Result<Credentials, SaslError> {
    let parts: Vec<&[u8]> = message.split(|b| *b == 0).collect();
    let [authzid, authcid, password] = parts.as_slice() else {
        return Err(SaslError::Malformed);
    };
    let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| SaslError::Utf8);
    if authcid.is_empty() {
        return Err(SaslError::Malformed);
    }
    Ok(Credentials {
        authzid: (!authzid.is_empty()).then(|| text(authzid)).transpose()?,
        username: text(authcid)?,
        password: text(password)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain() {
        let c = decode_plain(b"\0alice@x.fr\0pw").unwrap();
        assert_eq!(c.username, "alice@x.fr");
        assert_eq!(c.password, "pw");
        assert_eq!(c.authzid, None);
        assert_eq!(decode_plain(b"bob\0alice\0pw").unwrap().authzid.as_deref(), Some("bob"));
        assert_eq!(decode_plain(b"alice\0pw"), Err(SaslError::Malformed));
        assert_eq!(decode_plain(b"\0\0pw"), Err(SaslError::Malformed));
        assert_eq!(decode_base64(b"AGE="), Ok(vec![0, b'a']));
        assert_eq!(decode_base64(b"!!"), Err(SaslError::Base64));
    }
}
