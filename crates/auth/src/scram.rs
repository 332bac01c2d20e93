//! SCRAM-SHA-256 (RFC 5802, RFC 7677): the client proves it knows the password without sending
//! it, and the server proves it holds the keys. What the server keeps per credential is the
//! StoredKey and ServerKey, never the password; checking a proof costs two HMACs and a SHA-256
//! (microseconds), the client pays the key derivation.
//!
//! One salt and iteration count per account, shared by all its credentials (account password,
//! app passwords): the server must name them before it knows which password the client holds,
//! and then tries the proof against each credential's StoredKey (at most eleven).
//!
//! Only the message syntax and the arithmetic are here; `login` finds the keys and the account.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ring::{digest, hmac, pbkdf2};
use std::num::NonZeroU32;
use subtle::ConstantTimeEq;

/// PBKDF2-HMAC-SHA256 rounds for keys derived now. The keys of an account password are a second
/// stored form of a human password beside its Argon2id hash, so they get as many rounds as
/// clients will compute: 65,536 is the most Cyrus SASL accepts (mbsync, mutt and the practice
/// software built on it refuse more, and fail the login rather than fall back to PLAIN), 16
/// times RFC 7677's floor of 4,096. The count is kept with each key, so it can change later.
pub const ITERATIONS: u32 = 65_536;

/// The keys a server keeps for one password (RFC 5802 §3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keys {
    pub stored_key: [u8; 32],
    pub server_key: [u8; 32],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScramError {
    #[error("the SCRAM message is malformed (RFC 5802 §7)")]
    Malformed,
    /// RFC 5802 §6: we offer no -PLUS variant, so a client asking for channel binding is wrong.
    #[error("channel binding is not offered here: use SCRAM-SHA-256, not SCRAM-SHA-256-PLUS")]
    ChannelBinding,
    #[error("the SCRAM exchange does not continue the one begun (nonce or GS2 header differ)")]
    Mismatch,
    /// RFC 5802 §5.1: an `m=` extension the server does not know ends the exchange.
    #[error("mandatory SCRAM extension not supported")]
    Extension,
}

/// The keys of `password`, or none when it is not plain printable ASCII: RFC 5802 asks both
/// sides to SASLprep the password (RFC 4013), which leaves such passwords unchanged; for any
/// other, only PLAIN opens the account (no normalisation table is carried here).
pub fn derive(password: &str, salt: &[u8], iterations: u32) -> Option<Keys> {
    if !carries(password) {
        return None;
    }
    let rounds = NonZeroU32::new(iterations)?;
    let mut salted = [0u8; 32];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        rounds,
        salt,
        password.as_bytes(),
        &mut salted,
    );
    let key = hmac::Key::new(hmac::HMAC_SHA256, &salted);
    let client_key = hmac::sign(&key, b"Client Key");
    let server_key = hmac::sign(&key, b"Server Key");
    Some(Keys {
        stored_key: sha256(client_key.as_ref()),
        server_key: server_key.as_ref().try_into().expect("32 bytes"),
    })
}

/// Whether SCRAM can carry `password` as it is (see `derive`).
pub fn carries(password: &str) -> bool {
    !password.is_empty() && password.bytes().all(|b| (0x20..0x7f).contains(&b))
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    digest::digest(&digest::SHA256, bytes)
        .as_ref()
        .try_into()
        .expect("32 bytes")
}

/// The client's first message (RFC 5802 §7: gs2-header client-first-message-bare).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFirst {
    /// `n,,` or `y,,` or `n,a=…,`, repeated base64-encoded in the final message.
    gs2_header: String,
    /// The message without the GS2 header, part of the AuthMessage.
    bare: String,
    /// The authentication identity (`n=`), unescaped.
    pub user: String,
    /// The authorization identity (`a=`), when given.
    pub authzid: Option<String>,
    nonce: String,
}

/// RFC 5802 §5.1 saslname: `=2C` is a comma, `=3D` an equals sign, no other `=`.
fn unescape(name: &str) -> Result<String, ScramError> {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(i) = rest.find('=') {
        out.push_str(&rest[..i]);
        match rest.get(i..i + 3) {
            Some("=2C") => out.push(','),
            Some("=3D") => out.push('='),
            _ => return Err(ScramError::Malformed),
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A nonce is printable ASCII without a comma (RFC 5802 §7).
fn valid_nonce(nonce: &str) -> bool {
    !nonce.is_empty() && nonce.bytes().all(|b| (0x21..0x7f).contains(&b) && b != b',')
}

pub fn parse_client_first(message: &[u8]) -> Result<ClientFirst, ScramError> {
    let text = std::str::from_utf8(message).map_err(|_| ScramError::Malformed)?;
    let mut parts = text.splitn(3, ',');
    let (cb, authzid, bare) = (parts.next(), parts.next(), parts.next());
    let (Some(cb), Some(authzid), Some(bare)) = (cb, authzid, bare) else {
        return Err(ScramError::Malformed);
    };
    match cb {
        "n" | "y" => {}
        p if p.starts_with("p=") => return Err(ScramError::ChannelBinding),
        _ => return Err(ScramError::Malformed),
    }
    let authzid = match authzid {
        "" => None,
        a => Some(unescape(a.strip_prefix("a=").ok_or(ScramError::Malformed)?)?),
    };
    let mut fields = bare.split(',');
    let first = fields.next().unwrap_or_default();
    if first.starts_with("m=") {
        return Err(ScramError::Extension);
    }
    let user = unescape(first.strip_prefix("n=").ok_or(ScramError::Malformed)?)?;
    let nonce = fields
        .next()
        .and_then(|f| f.strip_prefix("r="))
        .filter(|n| valid_nonce(n))
        .ok_or(ScramError::Malformed)?;
    if user.is_empty() {
        return Err(ScramError::Malformed);
    }
    Ok(ClientFirst {
        gs2_header: text[..text.len() - bare.len()].to_string(),
        bare: bare.to_string(),
        user,
        authzid,
        nonce: nonce.to_string(),
    })
}

/// The server's first message, and what the final check needs of it.
#[derive(Debug, Clone)]
pub struct ServerFirst {
    pub message: String,
    nonce: String,
}

/// `r=` the client's nonce and ours, `s=` the account's salt, `i=` its rounds.
pub fn server_first(client: &ClientFirst, server_nonce: &[u8], salt: &[u8], iterations: u32) -> ServerFirst {
    let nonce = format!(
        "{}{}",
        client.nonce,
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(server_nonce)
    );
    ServerFirst {
        message: format!("r={nonce},s={},i={iterations}", STANDARD.encode(salt)),
        nonce,
    }
}

/// The client's final message, checked against the exchange it ends; its proof is still to be
/// tried against the keys.
pub struct ClientFinal {
    auth_message: String,
    proof: [u8; 32],
}

pub fn parse_client_final(
    client: &ClientFirst,
    server: &ServerFirst,
    message: &[u8],
) -> Result<ClientFinal, ScramError> {
    let text = std::str::from_utf8(message).map_err(|_| ScramError::Malformed)?;
    let (without_proof, proof) = text.rsplit_once(",p=").ok_or(ScramError::Malformed)?;
    let mut fields = without_proof.split(',');
    let binding = fields
        .next()
        .and_then(|f| f.strip_prefix("c="))
        .ok_or(ScramError::Malformed)?;
    let nonce = fields
        .next()
        .and_then(|f| f.strip_prefix("r="))
        .ok_or(ScramError::Malformed)?;
    if STANDARD.decode(binding).ok().as_deref() != Some(client.gs2_header.as_bytes()) || nonce != server.nonce {
        return Err(ScramError::Mismatch);
    }
    let proof: [u8; 32] = STANDARD
        .decode(proof)
        .ok()
        .and_then(|p| p.try_into().ok())
        .ok_or(ScramError::Malformed)?;
    Ok(ClientFinal {
        auth_message: format!("{},{},{without_proof}", client.bare, server.message),
        proof,
    })
}

impl ClientFinal {
    /// Whether the proof was made with the password of `keys` (RFC 5802 §3: the ClientKey it
    /// reveals hashes to the StoredKey); compared in constant time.
    pub fn proves(&self, keys: &Keys) -> bool {
        let signature = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &keys.stored_key),
            self.auth_message.as_bytes(),
        );
        let client_key: Vec<u8> = self.proof.iter().zip(signature.as_ref()).map(|(p, s)| p ^ s).collect();
        sha256(&client_key).ct_eq(&keys.stored_key).into()
    }

    /// The server's final message, `v=` its signature: the client's proof that we hold the keys.
    pub fn server_final(&self, keys: &Keys) -> String {
        let signature = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, &keys.server_key),
            self.auth_message.as_bytes(),
        );
        format!("v={}", STANDARD.encode(signature.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exchange of RFC 7677 §3, byte for byte.
    #[test]
    fn rfc7677_example() {
        let salt = STANDARD.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
        let keys = derive("pencil", &salt, 4096).unwrap();
        let client = parse_client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO").unwrap();
        assert_eq!(client.user, "user");
        let server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let server = ServerFirst {
            message: format!("r=rOprNGfwEbeRWgbNEkqO{server_nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"),
            nonce: format!("rOprNGfwEbeRWgbNEkqO{server_nonce}"),
        };
        let last = b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        let fin = parse_client_final(&client, &server, last).unwrap();
        assert!(fin.proves(&keys));
        assert_eq!(
            fin.server_final(&keys),
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
        // The same exchange against another password's keys proves nothing.
        assert!(!fin.proves(&derive("pencil2", &salt, 4096).unwrap()));
    }

    #[test]
    fn hostile_messages() {
        assert_eq!(
            parse_client_first(b"p=tls-unique,,n=u,r=abc"),
            Err(ScramError::ChannelBinding)
        );
        assert_eq!(parse_client_first(b"n,,m=x,n=u,r=abc"), Err(ScramError::Extension));
        assert_eq!(parse_client_first(b"n,,n=u"), Err(ScramError::Malformed));
        assert_eq!(parse_client_first(b"n,,n=u=2X,r=abc"), Err(ScramError::Malformed));
        assert_eq!(parse_client_first(b"x,,n=u,r=abc"), Err(ScramError::Malformed));
        assert_eq!(parse_client_first(b"n,,n=,r=abc"), Err(ScramError::Malformed));
        let c = parse_client_first(b"n,a=a=3Db=2Cc,n=a=3Db=2Cc,r=abc").unwrap();
        assert_eq!((c.user.as_str(), c.authzid.as_deref()), ("a=b,c", Some("a=b,c")));
        let server = server_first(&c, b"0123456789ab", b"salt", 4096);
        // A replayed final message of another exchange: the nonce differs.
        let other = b"c=biws,r=abcXYZ,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
        assert!(matches!(
            parse_client_final(&c, &server, other),
            Err(ScramError::Mismatch)
        ));
        // A short proof.
        let short = format!("c={},r={},p=AAAA", STANDARD.encode(&c.gs2_header), server.nonce);
        assert!(matches!(
            parse_client_final(&c, &server, short.as_bytes()),
            Err(ScramError::Malformed)
        ));
        assert_eq!(derive("Mot de passé1", b"s", 4096), None);
        assert_eq!(derive("", b"s", 4096), None);
    }
}
