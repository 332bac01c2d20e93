//! SASL messages common to IMAP AUTHENTICATE and SMTP AUTH: PLAIN (RFC 4616), XOAUTH2 and
//! OAUTHBEARER (RFC 7628).

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

/// A bearer token presented by a mail client, with the mailbox it wants.
#[derive(Debug, PartialEq, Eq)]
pub struct Bearer {
    /// The mailbox to open (`user=` of XOAUTH2, `a=` of OAUTHBEARER); `None` means the
    /// identity's own single mailbox.
    pub user: Option<String>,
    pub token: String,
}

fn bearer_from_kv(fields: &[&[u8]]) -> Result<String, SaslError> {
    for f in fields {
        let text = std::str::from_utf8(f).map_err(|_| SaslError::Utf8)?;
        if let Some((key, value)) = text.split_once('=')
            && key.eq_ignore_ascii_case("auth")
        {
            let (scheme, token) = value.split_once(' ').ok_or(SaslError::Malformed)?;
            if !scheme.eq_ignore_ascii_case("Bearer") || token.trim().is_empty() {
                return Err(SaslError::Malformed);
            }
            return Ok(token.trim().to_string());
        }
    }
    Err(SaslError::Malformed)
}

/// XOAUTH2 (Google/Microsoft convention, used by MSSanté LPS with PSC tokens, ECO.1.2.1):
/// `user=ADDRESS ^A auth=Bearer TOKEN ^A ^A`, already base64-decoded.
pub fn decode_xoauth2(message: &[u8]) -> Result<Bearer, SaslError> {
    let fields: Vec<&[u8]> = message.split(|b| *b == 1).filter(|f| !f.is_empty()).collect();
    let user = fields
        .iter()
        .find_map(|f| f.strip_prefix(b"user="))
        .map(|u| String::from_utf8(u.to_vec()).map_err(|_| SaslError::Utf8))
        .transpose()?
        .filter(|u| !u.is_empty());
    Ok(Bearer {
        user,
        token: bearer_from_kv(&fields)?,
    })
}

/// OAUTHBEARER (RFC 7628 §3.1): `n,a=ADDRESS, ^A auth=Bearer TOKEN ^A ^A`; the GS2 header's
/// `a=` names the mailbox, with `=2C` and `=3D` escapes (RFC 5801).
pub fn decode_oauthbearer(message: &[u8]) -> Result<Bearer, SaslError> {
    let mut fields = message.split(|b| *b == 1);
    let gs2 = std::str::from_utf8(fields.next().unwrap_or_default()).map_err(|_| SaslError::Utf8)?;
    let mut gs2_parts = gs2.split(',');
    if !matches!(gs2_parts.next(), Some("n" | "y")) {
        return Err(SaslError::Malformed);
    }
    let user = match gs2_parts.next() {
        Some(a) if a.starts_with("a=") => Some(a[2..].replace("=2C", ",").replace("=3D", "=")),
        Some("") | None => None,
        Some(_) => return Err(SaslError::Malformed),
    };
    let rest: Vec<&[u8]> = fields.filter(|f| !f.is_empty()).collect();
    Ok(Bearer {
        user: user.filter(|u| !u.is_empty()),
        token: bearer_from_kv(&rest)?,
    })
}

/// The RFC 7628 §3.2.2 error sent before the client's dummy `^A` ends the exchange.
pub fn oauth_error_json() -> String {
    r#"{"status":"invalid_token","scope":"openid scope_all"}"#.to_string()
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

    #[test]
    fn bearer_tokens() {
        let x = decode_xoauth2(b"user=jean.martin@medecin.x\x01auth=Bearer eyJ.a.b\x01\x01").unwrap();
        assert_eq!(x.user.as_deref(), Some("jean.martin@medecin.x"));
        assert_eq!(x.token, "eyJ.a.b");
        assert_eq!(decode_xoauth2(b"user=\x01auth=Bearer t\x01\x01").unwrap().user, None);
        assert_eq!(
            decode_xoauth2(b"user=a\x01auth=Basic t\x01\x01"),
            Err(SaslError::Malformed)
        );
        assert_eq!(decode_xoauth2(b"user=a\x01\x01"), Err(SaslError::Malformed));
        assert_eq!(
            decode_xoauth2(b"user=a\x01auth=Bearer \x01\x01"),
            Err(SaslError::Malformed)
        );

        let o = decode_oauthbearer(b"n,a=a=2Cb@x,\x01host=h\x01port=143\x01auth=Bearer tok\x01\x01").unwrap();
        assert_eq!(o.user.as_deref(), Some("a,b@x"));
        assert_eq!(o.token, "tok");
        assert_eq!(
            decode_oauthbearer(b"n,,\x01auth=Bearer tok\x01\x01").unwrap().user,
            None
        );
        assert_eq!(
            decode_oauthbearer(b"p=x,,\x01auth=Bearer tok\x01\x01"),
            Err(SaslError::Malformed)
        );
        assert_eq!(decode_oauthbearer(b"n,,\x01\x01"), Err(SaslError::Malformed));
    }
}
