//! The whitelist in force, refreshed from its source (a file, or an http(s) URL such as the
//! ANS's) on a schedule. A refresh that fails (unreachable, missing, truncated, not the ANS
//! format) keeps the list in force, and the last good copy is saved next to the data so that a
//! restart during an outage still has one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::whitelist::Whitelist;

pub struct WhitelistSource {
    /// A path, or an `http://` / `https://` URL.
    source: String,
    /// CA file for an https source; the system's roots otherwise.
    ca: Option<PathBuf>,
    last_good: PathBuf,
    current: RwLock<Arc<Whitelist>>,
}

/// What a load or refresh did, for the log and the admin.
#[derive(Debug)]
pub struct Loaded {
    pub generated: Option<String>,
    pub domains: usize,
    pub dns: usize,
    pub problems: usize,
}

impl Loaded {
    fn of(list: &Whitelist) -> Loaded {
        Loaded {
            generated: list.generated.clone(),
            domains: list.domain_count(),
            dns: list.dn_count(),
            problems: list.problems.len(),
        }
    }
}

fn read(source: &str, ca: Option<&Path>) -> Result<(Vec<u8>, Whitelist), String> {
    let bytes = if crate::fetch::is_url(source) {
        crate::fetch::get(source, ca)?
    } else {
        std::fs::read(source).map_err(|e| format!("impossible de lire {source} : {e}"))?
    };
    let list = Whitelist::parse(&bytes).map_err(|e| format!("{source}: {e}"))?;
    Ok((bytes, list))
}

impl WhitelistSource {
    /// Loads from `source`, or else from the last good copy kept at `last_good`.
    pub fn open(source: &str, ca: Option<&Path>, last_good: &Path) -> Result<(WhitelistSource, Loaded), String> {
        let list = match read(source, ca) {
            Ok((bytes, list)) => {
                save(last_good, &bytes)?;
                list
            }
            Err(first) => {
                let (_, list) = read(&last_good.to_string_lossy(), None).map_err(|_| {
                    format!(
                        "{first}, et aucune dernière copie valide n'existe en {}",
                        last_good.display()
                    )
                })?;
                tracing::warn!(error = %first, copy = %last_good.display(), "whitelist source unusable; last good copy in force");
                list
            }
        };
        let loaded = Loaded::of(&list);
        Ok((
            WhitelistSource {
                source: source.to_string(),
                ca: ca.map(Path::to_path_buf),
                last_good: last_good.to_path_buf(),
                current: RwLock::new(Arc::new(list)),
            },
            loaded,
        ))
    }

    /// The list in force.
    pub fn current(&self) -> Arc<Whitelist> {
        self.current.read().expect("whitelist lock").clone()
    }

    /// Reads the source again; on failure the list in force stays.
    pub fn refresh(&self) -> Result<Loaded, String> {
        let (bytes, list) = read(&self.source, self.ca.as_deref())?;
        save(&self.last_good, &bytes)?;
        let loaded = Loaded::of(&list);
        *self.current.write().expect("whitelist lock") = Arc::new(list);
        Ok(loaded)
    }
}

/// Writes the copy atomically (temporary file, then rename).
fn save(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(&tmp, bytes)
        .and_then(|_| std::fs::rename(&tmp, path))
        .map_err(|e| format!("cannot keep the last good whitelist at {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whitelist::{WhitelistEntry, to_xml};

    fn list(domain: &str) -> String {
        to_xml(
            "2026-11-24",
            &[WhitelistEntry {
                domain: domain.into(),
                description: "x".into(),
                dn: "CN=mx.a.test,O=A,C=FR".into(),
            }],
        )
    }

    #[test]
    fn a_broken_refresh_keeps_the_last_good_list() {
        let dir = tempfile::tempdir().unwrap();
        let (source, copy) = (dir.path().join("lb.xml"), dir.path().join("keep/lb.xml"));
        std::fs::write(&source, list("a.test")).unwrap();
        let (wl, loaded) = WhitelistSource::open(source.to_str().unwrap(), None, &copy).unwrap();
        assert_eq!(loaded.domains, 1);
        std::fs::write(&source, "<ListeBlancheMSSante").unwrap();
        assert!(wl.refresh().is_err());
        assert!(wl.current().contains("a.test"));
        std::fs::write(&source, list("b.test")).unwrap();
        wl.refresh().unwrap();
        assert!(wl.current().contains("b.test") && !wl.current().contains("a.test"));
        // The source disappears: a restart uses the last good copy.
        std::fs::remove_file(&source).unwrap();
        let (wl, _) = WhitelistSource::open(source.to_str().unwrap(), None, &copy).unwrap();
        assert!(wl.current().contains("b.test"));
        std::fs::remove_file(&copy).unwrap();
        assert!(WhitelistSource::open(source.to_str().unwrap(), None, &copy).is_err());
    }
}
