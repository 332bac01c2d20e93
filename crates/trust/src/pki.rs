//! A development PKI shaped like IGC-Santé: a root CA, an intermediate CA for organisations'
//! server certificates, and one RSA server certificate for the operator's host names.
//!
//! IGC-Santé issues RSA certificates (reference spec §2.2: the client suites are ECDHE-RSA only),
//! so the keys here are RSA too, generated with the `rsa` crate because `ring` cannot generate
//! RSA keys; `rcgen` then signs with them.

use std::fs;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_RSA_SHA256,
};
use rsa::pkcs8::EncodePrivateKey;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("cannot generate an RSA key: {0}")]
    Key(String),
    #[error("cannot build a certificate: {0}")]
    Certificate(#[from] rcgen::Error),
    #[error("cannot write {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Paths of the files `DevPki::create` writes under a directory.
#[derive(Clone, Debug)]
pub struct DevPki {
    pub root_cert: PathBuf,
    pub intermediate_cert: PathBuf,
    /// Leaf then intermediate, as a TLS server presents them.
    pub server_chain: PathBuf,
    pub server_key: PathBuf,
    /// The CA of professionals' CPS-like certificates, and its key.
    pub persons_cert: PathBuf,
    pub persons_key: PathBuf,
}

/// The name of the development authority `init` creates.
pub const DEV_AUTHORITY: &str = "CONFIANCE-DEV";

/// RSA key size: 2048 bits, the IGC-Santé size for server certificates.
const RSA_BITS: usize = 2048;

fn rsa_key_pair() -> Result<KeyPair, PkiError> {
    let mut rng = rand::thread_rng();
    let key = rsa::RsaPrivateKey::new(&mut rng, RSA_BITS).map_err(|e| PkiError::Key(e.to_string()))?;
    let der = key.to_pkcs8_der().map_err(|e| PkiError::Key(e.to_string()))?;
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from(der.as_bytes().to_vec());
    KeyPair::from_pkcs8_der_and_sign_algo(&der, &PKCS_RSA_SHA256).map_err(PkiError::from)
}

fn dn(organisation: &str, unit: Option<&str>, common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, "FR");
    dn.push(DnType::OrganizationName, organisation);
    if let Some(unit) = unit {
        dn.push(DnType::OrganizationalUnitName, unit);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

fn write(path: &Path, contents: &str, private: bool) -> Result<(), PkiError> {
    let io = |source| PkiError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io)?;
    }
    fs::write(path, contents).map_err(io)?;
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    let _ = private;
    Ok(())
}

fn ca_params(dn: DistinguishedName, path_len: Option<u8>) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2045, 1, 1);
    params
}

/// A test authority shaped like IGC-Santé: a root and an "organisations" intermediate that signs
/// server certificates.
pub struct TestAuthority {
    pub root_pem: String,
    pub intermediate_pem: String,
    intermediate_key_pem: String,
    intermediate: Issuer<'static, KeyPair>,
    /// The "persons" intermediate, which signs CPS-like certificates of professionals.
    pub persons: PersonsAuthority,
}

/// A CA for professionals' cards, like `AC IGC-SANTE FORT PERSONNES` (CPS certificates).
pub struct PersonsAuthority {
    pub cert_pem: String,
    key_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// The subject of a persons CA of the authority `name`: the issuer name of its certificates.
fn persons_params(name: &str) -> CertificateParams {
    ca_params(
        dn(name, Some("TEST IGC-SANTE"), "TEST AC IGC-SANTE FORT PERSONNES"),
        Some(0),
    )
}

/// A client certificate (a professional's card, a structure's application) and its key.
pub struct IssuedPerson {
    /// Leaf then the persons CA, as a client presents them.
    pub chain_pem: String,
    pub key_pem: String,
}

impl PersonsAuthority {
    /// The persons CA of the authority `name` from its certificate and key (PEM), as `init`
    /// wrote them under `data/ca/`.
    pub fn load(name: &str, cert_pem: String, key_pem: &str) -> Result<PersonsAuthority, PkiError> {
        let key = KeyPair::from_pem_and_sign_algo(key_pem, &PKCS_RSA_SHA256)?;
        Ok(PersonsAuthority {
            cert_pem,
            key_pem: key_pem.to_string(),
            issuer: Issuer::new(persons_params(name), key),
        })
    }

    /// A CPS-like person certificate, subject as IGC-Santé writes it for a CPS: `CN` = the
    /// IdNat_PS (`8` + RPPS), `SN`, `GN`, `title` = the profession, `C=FR`, no `O`/`OU`.
    pub fn issue(&self, national_id: &str, family: &str, given: &str, title: &str) -> Result<IssuedPerson, PkiError> {
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CountryName, "FR");
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 12]), title);
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 4]), family);
        dn.push(DnType::CustomDnType(vec![2, 5, 4, 42]), given);
        dn.push(DnType::CommonName, national_id);
        client_certificate(dn, &self.issuer, &self.cert_pem)
    }
}

/// A TLS client certificate with subject `dn`, signed by `issuer` (whose certificate follows
/// it in the chain).
fn client_certificate(
    dn: DistinguishedName,
    issuer: &Issuer<'static, KeyPair>,
    issuer_pem: &str,
) -> Result<IssuedPerson, PkiError> {
    let key = rsa_key_pair()?;
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    params.not_before = rcgen::date_time_ymd(2025, 1, 1);
    params.not_after = rcgen::date_time_ymd(2030, 1, 1);
    let mut serial: [u8; 16] = rand::random();
    serial[0] = (serial[0] & 0x7f) | 0x01;
    params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
    let cert = params.signed_by(&key, issuer)?;
    Ok(IssuedPerson {
        chain_pem: format!("{}{}", cert.pem(), issuer_pem),
        key_pem: key.serialize_pem(),
    })
}

/// The "organisations" CA of an authority, like `AC IGC-SANTE … ORGANISATIONS`: besides the
/// operators' server certificates, it signs the certificates structures give their software
/// (the DPI, the laboratory's system) to authenticate as their applicative BAL.
pub struct OrganisationsAuthority {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

fn organisations_params(name: &str) -> CertificateParams {
    ca_params(
        dn(name, Some("TEST IGC-SANTE"), "TEST AC IGC-SANTE ORGANISATIONS"),
        Some(0),
    )
}

impl OrganisationsAuthority {
    /// The organisations CA of the authority `name`, as `init` wrote it under `data/ca/`.
    pub fn load(name: &str, cert_pem: String, key_pem: &str) -> Result<OrganisationsAuthority, PkiError> {
        let key = KeyPair::from_pem_and_sign_algo(key_pem, &PKCS_RSA_SHA256)?;
        Ok(OrganisationsAuthority {
            cert_pem,
            issuer: Issuer::new(organisations_params(name), key),
        })
    }

    /// A structure's application certificate: `OU` = the structure's IdNat_Struct (`1` +
    /// FINESS), `O` = its name, `CN` = the application, as IGC-Santé writes an organisation's
    /// certificate (`CN=DRIMbox, OU=499700367909006, O=CABINET …`).
    pub fn issue_application(
        &self,
        structure_id: &str,
        structure: &str,
        application: &str,
    ) -> Result<IssuedPerson, PkiError> {
        client_certificate(
            dn(structure, Some(structure_id), application),
            &self.issuer,
            &self.cert_pem,
        )
    }
}

/// A server certificate issued by a `TestAuthority`.
pub struct IssuedServer {
    /// Leaf then intermediate, as a TLS server presents them.
    pub chain_pem: String,
    pub key_pem: String,
    /// Subject in the whitelist's string form (`CN=…,OU=…,O=…,C=FR`).
    pub subject: String,
    /// Serial number, to revoke it.
    pub serial: Vec<u8>,
}

impl TestAuthority {
    pub fn new(name: &str) -> Result<TestAuthority, PkiError> {
        let root_key = rsa_key_pair()?;
        let root_params = ca_params(dn(name, Some("TEST IGC-SANTE"), "TEST AC IGC-SANTE RACINE"), Some(1));
        let root_cert = root_params.self_signed(&root_key)?;
        let root = Issuer::new(root_params, root_key);
        let inter_key = rsa_key_pair()?;
        let inter_params = organisations_params(name);
        let inter_cert = inter_params.signed_by(&inter_key, &root)?;
        let intermediate_key_pem = inter_key.serialize_pem();
        let persons_key = rsa_key_pair()?;
        let persons_cert = persons_params(name).signed_by(&persons_key, &root)?;
        let persons = PersonsAuthority {
            cert_pem: persons_cert.pem(),
            key_pem: persons_key.serialize_pem(),
            issuer: Issuer::new(persons_params(name), persons_key),
        };
        Ok(TestAuthority {
            root_pem: root_cert.pem(),
            intermediate_pem: inter_cert.pem(),
            intermediate_key_pem,
            intermediate: Issuer::new(inter_params, inter_key),
            persons,
        })
    }

    /// An IGC-Santé-like SERV SSL certificate for `hostnames` (the first is the CN), usable
    /// as server and as client: MSSanté MTAs present the same one both ways.
    pub fn issue_server(&self, organisation: &str, unit: &str, hostnames: &[String]) -> Result<IssuedServer, PkiError> {
        let key = rsa_key_pair()?;
        let mut params = CertificateParams::new(hostnames.to_vec())?;
        params.distinguished_name = dn(organisation, Some(unit), &hostnames[0]);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
        params.not_before = rcgen::date_time_ymd(2025, 1, 1);
        params.not_after = rcgen::date_time_ymd(2035, 1, 1);
        // RFC 5280 §4.1.2.2: positive, unique, at most 20 octets.
        let mut serial: [u8; 16] = rand::random();
        serial[0] = (serial[0] & 0x7f) | 0x01;
        params.serial_number = Some(rcgen::SerialNumber::from_slice(&serial));
        let cert = params.signed_by(&key, &self.intermediate)?;
        Ok(IssuedServer {
            chain_pem: format!("{}{}", cert.pem(), self.intermediate_pem),
            key_pem: key.serialize_pem(),
            subject: format!("CN={},OU={unit},O={organisation},C=FR", hostnames[0]),
            serial: serial.to_vec(),
        })
    }

    /// The intermediate's certificate revocation list (PEM) revoking these serial numbers.
    pub fn crl(&self, revoked: &[Vec<u8>]) -> Result<String, PkiError> {
        let now = rcgen::date_time_ymd(2026, 1, 1);
        self.crl_dated(revoked, now, rcgen::date_time_ymd(2036, 1, 1), None)
    }

    /// The same, issued at `this_update` and good until `next_update` (a list that goes stale),
    /// naming the URL it is published at, if any (Issuing Distribution Point, RFC 5280 §5.2.5).
    pub fn crl_dated(
        &self,
        revoked: &[Vec<u8>],
        this_update: time::OffsetDateTime,
        next_update: time::OffsetDateTime,
        published_at: Option<&str>,
    ) -> Result<String, PkiError> {
        let now = this_update;
        let params = rcgen::CertificateRevocationListParams {
            this_update,
            next_update,
            crl_number: rcgen::SerialNumber::from(this_update.unix_timestamp().max(1) as u64),
            issuing_distribution_point: published_at.map(|url| rcgen::CrlIssuingDistributionPoint {
                distribution_point: rcgen::CrlDistributionPoint {
                    uris: vec![url.to_string()],
                },
                scope: None,
            }),
            revoked_certs: revoked
                .iter()
                .map(|serial| rcgen::RevokedCertParams {
                    serial_number: rcgen::SerialNumber::from_slice(serial),
                    revocation_time: now,
                    reason_code: Some(rcgen::RevocationReason::KeyCompromise),
                    invalidity_date: None,
                })
                .collect(),
            key_identifier_method: rcgen::KeyIdMethod::Sha256,
        };
        Ok(params.signed_by(&self.intermediate)?.pem()?)
    }

    /// Writes the CA certificates (and the intermediate's key) under `dir/ca`.
    pub fn write_ca(&self, dir: &Path) -> Result<(), PkiError> {
        write(&dir.join("ca/root.pem"), &self.root_pem, false)?;
        write(&dir.join("ca/intermediate.pem"), &self.intermediate_pem, false)?;
        write(&dir.join("ca/intermediate.key"), &self.intermediate_key_pem, true)?;
        write(&dir.join("ca/persons.pem"), &self.persons.cert_pem, false)?;
        write(&dir.join("ca/persons.key"), &self.persons.key_pem, true)
    }
}

/// Writes a server certificate chain and key.
pub fn write_server(issued: &IssuedServer, chain: &Path, key: &Path) -> Result<(), PkiError> {
    write(chain, &issued.chain_pem, false)?;
    write(key, &issued.key_pem, true)
}

/// Writes a person certificate chain and key (mode 0600).
pub fn write_person(issued: &IssuedPerson, chain: &Path, key: &Path) -> Result<(), PkiError> {
    write(chain, &issued.chain_pem, false)?;
    write(key, &issued.key_pem, true)
}

impl DevPki {
    pub fn paths(dir: &Path) -> DevPki {
        DevPki {
            root_cert: dir.join("ca/root.pem"),
            intermediate_cert: dir.join("ca/intermediate.pem"),
            server_chain: dir.join("tls/server.pem"),
            server_key: dir.join("tls/server.key"),
            persons_cert: dir.join("ca/persons.pem"),
            persons_key: dir.join("ca/persons.key"),
        }
    }

    /// Creates the PKI under `dir` for an operator named `organisation` serving `hostnames`.
    pub fn create(dir: &Path, organisation: &str, hostnames: &[String]) -> Result<DevPki, PkiError> {
        let paths = Self::paths(dir);
        let authority = TestAuthority::new(DEV_AUTHORITY)?;
        let server = authority.issue_server(organisation, "MSSANTE", hostnames)?;
        authority.write_ca(dir)?;
        write_server(&server, &paths.server_chain, &paths.server_key)?;
        Ok(paths)
    }
}
