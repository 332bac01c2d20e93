//! Certificate revocation lists in force, kept fresh (Réf. #2 ECO.1.1.5, ECO.1.1.6): each
//! configured source (a PEM file, or an http(s) URL) is read again on a schedule and before the
//! `nextUpdate` of what it gave; a file whose CRL names its distribution point (Issuing
//! Distribution Point, RFC 5280 §5.2.5) is fetched from there. A reading that fails keeps the
//! CRL in force; the last good copy of each is kept under the data directory and used at the
//! next start if its source is unusable. A CRL past its `nextUpdate` is not trusted to say a
//! certificate is good: the peer or card it covers is refused (the refusal names the expired
//! list) until a fresh one is read.
//!
//! The TLS verifiers read the CRLs through `LiveClientVerifier` and `LiveServerVerifier`, which
//! rebuild rustls' own verifier when the CRLs change, so a refresh reaches the connections that
//! follow without a restart.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rustls::DistinguishedName;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use sha2::{Digest, Sha256};
use x509_parser::prelude::FromDer;

use crate::fetch;

/// One list and where it came from.
#[derive(Clone)]
struct Crl {
    der: CertificateRevocationListDer<'static>,
    /// The issuer's name, as encoded: a list only replaces one of the same issuer.
    issuer: Vec<u8>,
    this_update: i64,
    next_update: Option<i64>,
    /// The CRL number (RFC 5280 §5.2.3), big-endian: a replacement's is larger.
    number: Option<Vec<u8>>,
    /// The distribution point the list names for itself, if any (an http URL).
    distribution_point: Option<String>,
}

/// What a reading of the sources found.
#[derive(Debug, Default)]
pub struct Refreshed {
    /// Lists replaced by a newer one.
    pub renewed: usize,
    /// Sources that could not be read (the list in force stays), with why.
    pub failures: Vec<String>,
    /// Lists past their nextUpdate after this reading: the certificates they cover are refused.
    pub stale: Vec<String>,
}

pub struct Revocation {
    /// The configured sources, in order (`trust.crls`).
    sources: Vec<String>,
    /// Where the last good copy of each source is kept.
    keep: PathBuf,
    current: RwLock<Arc<Vec<Option<Crl>>>>,
    generation: AtomicU64,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Parses one PEM or DER list, with the dates and distribution point that schedule its renewal.
fn parse(bytes: &[u8]) -> Result<Crl, String> {
    let der = match CertificateRevocationListDer::from_pem_slice(bytes) {
        Ok(der) => der,
        Err(_) if bytes.first() == Some(&0x30) => CertificateRevocationListDer::from(bytes.to_vec()),
        Err(e) => return Err(format!("not a CRL: {e}")),
    };
    let (_, parsed) = x509_parser::revocation_list::CertificateRevocationList::from_der(der.as_ref())
        .map_err(|e| format!("unreadable CRL: {e}"))?;
    let distribution_point = parsed.extensions().iter().find_map(|ext| match ext.parsed_extension() {
        x509_parser::extensions::ParsedExtension::IssuingDistributionPoint(idp) => match &idp.distribution_point {
            Some(x509_parser::extensions::DistributionPointName::FullName(names)) => {
                names.iter().find_map(|n| match n {
                    x509_parser::extensions::GeneralName::URI(uri) if fetch::is_url(uri) => Some(uri.to_string()),
                    _ => None,
                })
            }
            _ => None,
        },
        _ => None,
    });
    Ok(Crl {
        issuer: parsed.issuer().as_raw().to_vec(),
        number: parsed.crl_number().map(|n| n.to_bytes_be()),
        this_update: parsed.last_update().timestamp(),
        next_update: parsed.next_update().map(|t| t.timestamp()),
        distribution_point,
        der,
    })
}

/// How far in the future a list's thisUpdate may be (clocks differ a little, never years).
const CLOCK_SKEW: i64 = 300;

impl Crl {
    /// Whether `self` may replace `old`: the same issuer, issued later but not in the future,
    /// with a larger CRL number when both carry one. A list from another CA, or one forged
    /// "from 2099" on an http distribution point, is not taken.
    fn replaces(&self, old: &Crl) -> Result<bool, String> {
        if self.issuer != old.issuer {
            return Err("issued by another CA than the list in force".into());
        }
        if self.this_update > now() + CLOCK_SKEW {
            return Err("issued in the future".into());
        }
        if self.this_update <= old.this_update {
            return Ok(false);
        }
        if let (Some(new), Some(old)) = (&self.number, &old.number)
            && (new.len(), new) <= (old.len(), old)
        {
            return Err("its CRL number does not grow".into());
        }
        Ok(true)
    }
}

impl Revocation {
    /// Reads every source; one that cannot be read is taken from its last good copy, and the
    /// start fails, saying which, when there is none.
    pub fn open(sources: &[String], keep: &Path) -> Result<Revocation, String> {
        let revocation = Revocation {
            sources: sources.to_vec(),
            keep: keep.to_path_buf(),
            current: RwLock::new(Arc::new(vec![None; sources.len()])),
            generation: AtomicU64::new(0),
        };
        let mut lists = Vec::with_capacity(sources.len());
        for source in sources {
            let kept = std::fs::read(revocation.kept(source)).ok().and_then(|k| parse(&k).ok());
            let crl = match revocation.read(source, None) {
                // A restart never goes back to an older list than the one kept.
                Ok(crl) if kept.as_ref().is_some_and(|k| k.replaces(&crl) == Ok(true)) => kept.expect("checked"),
                Ok(crl) => {
                    revocation.save(source, &crl);
                    crl
                }
                Err(e) => {
                    let kept = std::fs::read(revocation.kept(source))
                        .map_err(|_| format!("CRL {source}: {e}, and no earlier copy is kept"))?;
                    tracing::warn!(source = %source, error = %e, "CRL unreadable; the last good copy is used");
                    parse(&kept).map_err(|e2| format!("CRL {source}: {e}; the kept copy: {e2}"))?
                }
            };
            lists.push(Some(crl));
        }
        *revocation.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(lists);
        Ok(revocation)
    }

    /// Lists from nowhere (no `trust.crls`): nothing is revoked.
    pub fn none() -> Arc<Revocation> {
        Arc::new(Revocation {
            sources: Vec::new(),
            keep: PathBuf::new(),
            current: RwLock::new(Arc::new(Vec::new())),
            generation: AtomicU64::new(0),
        })
    }

    fn kept(&self, source: &str) -> PathBuf {
        let name = hex::encode(&Sha256::digest(source.as_bytes())[..8]);
        self.keep.join(format!("crl-{name}.der"))
    }

    fn save(&self, source: &str, crl: &Crl) {
        if self.keep.as_os_str().is_empty() {
            return;
        }
        let path = self.kept(source);
        let tmp = path.with_extension("tmp");
        let saved = std::fs::create_dir_all(&self.keep)
            .and_then(|()| std::fs::write(&tmp, crl.der.as_ref()))
            .and_then(|()| std::fs::rename(&tmp, &path));
        if let Err(e) = saved {
            tracing::warn!(source = %source, error = %e, "the last good CRL could not be kept");
        }
    }

    /// Reads `source`: its distribution point when the list in force names one, else the URL
    /// or file itself.
    fn read(&self, source: &str, in_force: Option<&Crl>) -> Result<Crl, String> {
        let load = |from: &str| -> Result<Crl, String> {
            let bytes = match fetch::is_url(from) {
                true => fetch::get(from, None)?,
                false => std::fs::read(from).map_err(|e| format!("{from}: {e}"))?,
            };
            parse(&bytes).map_err(|e| format!("{from}: {e}"))
        };
        match in_force.and_then(|c| c.distribution_point.as_deref()) {
            // The distribution point first; when it cannot be read, the configured source.
            Some(point) if point != source => load(point).or_else(|e| load(source).map_err(|e2| format!("{e}; {e2}"))),
            _ => load(source),
        }
    }

    /// Reads every source again and keeps what is newer.
    pub fn refresh(&self) -> Refreshed {
        let before = self.current();
        let mut lists: Vec<Option<Crl>> = before.as_ref().clone();
        let mut done = Refreshed::default();
        for (i, source) in self.sources.iter().enumerate() {
            let read = self.read(source, lists[i].as_ref()).and_then(|crl| {
                let newer = match &lists[i] {
                    Some(old) => crl.replaces(old)?,
                    None => true,
                };
                Ok(newer.then_some(crl))
            });
            match read {
                Ok(Some(crl)) => {
                    self.save(source, &crl);
                    lists[i] = Some(crl);
                    done.renewed += 1;
                }
                Ok(None) => {}
                Err(e) => done.failures.push(format!("{source}: {e}")),
            }
            if lists[i]
                .as_ref()
                .and_then(|c| c.next_update)
                .is_some_and(|n| n <= now())
            {
                done.stale.push(source.clone());
            }
        }
        if done.renewed > 0 {
            *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(lists);
            self.generation.fetch_add(1, Ordering::SeqCst);
        }
        done
    }

    /// How long until the next reading: `every`, or sooner when a list's nextUpdate comes
    /// first (a tenth of the way before it, at least a minute ahead of it being stale).
    pub fn next_reading(&self, every: Duration) -> Duration {
        let now = now();
        let soonest = self
            .current()
            .iter()
            .flatten()
            .filter_map(|c| c.next_update)
            .map(|next| {
                let lead = ((next - now) / 10).max(60);
                (next - lead - now).max(60)
            })
            .min();
        match soonest {
            Some(s) => every.min(Duration::from_secs(s as u64)),
            None => every,
        }
    }

    fn current(&self) -> Arc<Vec<Option<Crl>>> {
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The lists in force, for rustls.
    pub fn lists(&self) -> Vec<CertificateRevocationListDer<'static>> {
        self.current().iter().flatten().map(|c| c.der.clone()).collect()
    }

    /// Changes each time the lists in force change.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

/// How a verifier is made from the lists in force.
type Build<V> = dyn Fn(Vec<CertificateRevocationListDer<'static>>) -> Result<Arc<V>, String> + Send + Sync;

/// A rustls verifier made again when the lists in force change.
struct Live<V: ?Sized> {
    revocation: Arc<Revocation>,
    build: Box<Build<V>>,
    inner: RwLock<(u64, Arc<V>)>,
}

impl<V: ?Sized> Live<V> {
    fn new(revocation: Arc<Revocation>, build: Box<Build<V>>) -> Result<Self, String> {
        let generation = revocation.generation();
        let first = build(revocation.lists())?;
        Ok(Live {
            revocation,
            build,
            inner: RwLock::new((generation, first)),
        })
    }

    /// The verifier for the lists in force now.
    fn current(&self) -> Arc<V> {
        let generation = self.revocation.generation();
        let (seen, current) = self.inner.read().unwrap_or_else(|p| p.into_inner()).clone();
        if seen == generation {
            return current;
        }
        match (self.build)(self.revocation.lists()) {
            Ok(fresh) => {
                *self.inner.write().unwrap_or_else(|p| p.into_inner()) = (generation, fresh.clone());
                fresh
            }
            Err(e) => {
                tracing::error!(error = %e, "new CRLs not applied; the previous ones stay");
                current
            }
        }
    }
}

/// A verifier of client certificates (peers on the MX, professionals' cards) that follows the
/// CRLs in force.
pub struct LiveClientVerifier {
    live: Live<dyn ClientCertVerifier>,
    hints: Vec<DistinguishedName>,
}

impl std::fmt::Debug for LiveClientVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveClientVerifier")
    }
}

impl LiveClientVerifier {
    pub fn new(revocation: Arc<Revocation>, build: Box<Build<dyn ClientCertVerifier>>) -> Result<Arc<Self>, String> {
        let live = Live::new(revocation, build)?;
        let hints = live.current().root_hint_subjects().to_vec();
        Ok(Arc::new(LiveClientVerifier { live, hints }))
    }

    fn verifier(&self) -> Arc<dyn ClientCertVerifier> {
        self.live.current()
    }
}

impl ClientCertVerifier for LiveClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.verifier().offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.verifier().client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.verifier().verify_client_cert(end_entity, intermediates, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.verifier().supported_verify_schemes()
    }
}

/// A verifier of peers' server certificates (the relay) that follows the CRLs in force.
pub struct LiveServerVerifier(Live<dyn ServerCertVerifier>);

impl std::fmt::Debug for LiveServerVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveServerVerifier")
    }
}

impl LiveServerVerifier {
    pub fn new(revocation: Arc<Revocation>, build: Box<Build<dyn ServerCertVerifier>>) -> Result<Arc<Self>, String> {
        Ok(Arc::new(LiveServerVerifier(Live::new(revocation, build)?)))
    }

    fn verifier(&self) -> Arc<dyn ServerCertVerifier> {
        self.0.current()
    }
}

impl ServerCertVerifier for LiveServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.verifier()
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier().verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.verifier().verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.verifier().supported_verify_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MtaTls;
    use crate::pki::{TestAuthority, write_server};
    use crate::tls::load_chain;

    fn day(days: i64) -> time::OffsetDateTime {
        time::OffsetDateTime::now_utc() + time::Duration::days(days)
    }

    #[test]
    fn crls_are_renewed_a_stale_one_refuses_and_the_last_good_survives_a_restart() {
        let authority = TestAuthority::new("TEST").unwrap();
        let peer = authority
            .issue_server("OPERATEUR B", "1750000002", &["mx.b.test".into()])
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (chain, key) = (dir.path().join("b.pem"), dir.path().join("b.key"));
        write_server(&peer, &chain, &key).unwrap();
        std::fs::write(dir.path().join("root.pem"), &authority.root_pem).unwrap();
        let source = dir.path().join("crl.pem");
        let keep = dir.path().join("kept");
        std::fs::write(&source, authority.crl_dated(&[], day(-3), day(30), None).unwrap()).unwrap();
        let sources = vec![source.display().to_string()];
        let revocation = Arc::new(Revocation::open(&sources, &keep).unwrap());
        let tls = |revocation: &Arc<Revocation>| MtaTls {
            chain: chain.clone(),
            key: key.clone(),
            anchors: dir.path().join("root.pem"),
            crls: revocation.clone(),
        };
        let verifier = tls(&revocation).peer_verifier().unwrap();
        let certs = load_chain(&chain).unwrap();
        let check = |v: &LiveClientVerifier| v.verify_client_cert(&certs[0], &certs[1..], UnixTime::now());
        assert!(check(&verifier).is_ok());

        // The same list read again is not news; one past its nextUpdate refuses the peer.
        assert_eq!(revocation.refresh().renewed, 0);
        std::fs::write(&source, authority.crl_dated(&[], day(-2), day(-1), None).unwrap()).unwrap();
        let done = revocation.refresh();
        assert_eq!((done.renewed, done.stale.len()), (1, 1));
        let e = check(&verifier).unwrap_err();
        assert!(e.to_string().to_lowercase().contains("expired"), "{e}");
        // A fresh list that revokes the peer: refused for that reason.
        std::fs::write(
            &source,
            authority
                .crl_dated(std::slice::from_ref(&peer.serial), day(-1), day(30), None)
                .unwrap(),
        )
        .unwrap();
        assert_eq!(revocation.refresh().renewed, 1);
        let e = check(&verifier).unwrap_err();
        assert!(e.to_string().to_lowercase().contains("revoked"), "{e}");
        // An unreadable source keeps the list in force and says so.
        std::fs::write(&source, "pas une CRL").unwrap();
        let done = revocation.refresh();
        assert_eq!(done.failures.len(), 1, "{:?}", done.failures);
        assert!(check(&verifier).is_err());
        // A list of another CA, or one "issued" next year, does not replace the one in force.
        let other = TestAuthority::new("AUTRE").unwrap();
        std::fs::write(&source, other.crl_dated(&[], day(0), day(30), None).unwrap()).unwrap();
        assert!(revocation.refresh().failures[0].contains("another CA"));
        std::fs::write(&source, authority.crl_dated(&[], day(365), day(400), None).unwrap()).unwrap();
        assert!(revocation.refresh().failures[0].contains("future"));
        assert!(
            check(&verifier)
                .unwrap_err()
                .to_string()
                .to_lowercase()
                .contains("revoked")
        );
        // After a restart with the source gone, the last good copy is in force.
        std::fs::remove_file(&source).unwrap();
        let restarted = Arc::new(Revocation::open(&sources, &keep).unwrap());
        let e = check(&tls(&restarted).peer_verifier().unwrap()).unwrap_err();
        assert!(e.to_string().to_lowercase().contains("revoked"), "{e}");
        // Without a kept copy either, the start fails and names the source.
        let elsewhere = dir.path().join("nothing-kept");
        let e = Revocation::open(&sources, &elsewhere).err().unwrap();
        assert!(e.contains("crl.pem") && e.contains("no earlier copy"), "{e}");
    }

    #[test]
    fn the_next_reading_comes_before_the_next_update() {
        let authority = TestAuthority::new("TEST").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("crl.pem");
        // Good for 2 hours: read again well before that, not in an hour's schedule.
        std::fs::write(
            &source,
            authority
                .crl_dated(&[], day(0), day(0) + time::Duration::hours(2), None)
                .unwrap(),
        )
        .unwrap();
        let r = Revocation::open(&[source.display().to_string()], dir.path()).unwrap();
        let next = r.next_reading(Duration::from_secs(24 * 3600));
        assert!(
            next < Duration::from_secs(2 * 3600) && next >= Duration::from_secs(60),
            "{next:?}"
        );
        assert_eq!(
            Revocation::none().next_reading(Duration::from_secs(3600)),
            Duration::from_secs(3600)
        );
    }

    /// A list that names its distribution point is read from there; one whose source is a
    /// URL is fetched; an unreachable URL keeps the list in force.
    #[test]
    fn lists_are_fetched_from_their_distribution_point() {
        use std::io::{Read, Write};
        let authority = TestAuthority::new("TEST").unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}/crl.pem", listener.local_addr().unwrap().port());
        let newer = authority.crl_dated(&[vec![7]], day(-1), day(30), Some(&url)).unwrap();
        let server = std::thread::spawn(move || {
            for _ in 0..2 {
                let (mut c, _) = listener.accept().unwrap();
                let mut request = [0u8; 1024];
                let _ = c.read(&mut request);
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    newer.len()
                );
                c.write_all(head.as_bytes()).unwrap();
                c.write_all(newer.as_bytes()).unwrap();
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("crl.pem");
        std::fs::write(&file, authority.crl_dated(&[], day(-3), day(30), Some(&url)).unwrap()).unwrap();
        let from_file = Revocation::open(&[file.display().to_string()], dir.path()).unwrap();
        let first = from_file.lists()[0].clone();
        assert_eq!(from_file.refresh().renewed, 1, "read from the distribution point");
        assert_ne!(from_file.lists()[0], first);
        let from_url = Revocation::open(std::slice::from_ref(&url), dir.path()).unwrap();
        server.join().unwrap();
        assert_eq!(from_url.lists().len(), 1);
        let done = from_url.refresh();
        assert_eq!((done.renewed, done.failures.len()), (0, 1), "{:?}", done.failures);
        assert_eq!(from_url.lists().len(), 1, "the list in force stays");
    }
}
