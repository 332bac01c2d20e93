//! What is kept of a BAL an administrator deletes (issue 16): its folders as mbox files under
//! `data_dir/archives/<address>/<UTC time of deletion>/`, readable by the operator's staff
//! only (mode 0700), kept `[accounts] archive_days`, then removed by the hourly housekeeping.
//! Deleting never goes on when the archive could not be written: nothing is lost.

use std::path::{Path, PathBuf};

use confiance_mail::MailService;
use confiance_mail::archive::Exported;
use confiance_store::Account;

use crate::config::Config;

const STAMP: &str = "%Y%m%dT%H%M%SZ";

fn root(data_dir: &Path) -> PathBuf {
    data_dir.join("archives")
}

fn private_dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// Writes the archive of `account`; its folder and what it holds.
pub async fn keep(config: &Config, svc: &MailService, account: &Account) -> anyhow::Result<(PathBuf, Exported)> {
    private_dir(&root(&config.data_dir))?;
    let dir = root(&config.data_dir)
        .join(&account.address)
        .join(chrono::Utc::now().format(STAMP).to_string());
    private_dir(&dir)?;
    let done = svc.export_mbox(account.id, &dir).await.map_err(|e| {
        anyhow::anyhow!(
            "l'archive de {} n'a pas pu être écrite dans {} : {e}",
            account.address,
            dir.display()
        )
    })?;
    tracing::info!(target: "audit", event = "bal_archived", account = %account.address, folders = done.folders,
        messages = done.messages, path = %dir.display());
    Ok((dir, done))
}

/// Removes the archives of `data_dir` older than `days` at `now`; how many went.
pub fn purge(data_dir: &Path, days: u64, now: chrono::DateTime<chrono::Utc>) -> std::io::Result<usize> {
    let root = root(data_dir);
    let Ok(addresses) = std::fs::read_dir(&root) else {
        return Ok(0);
    };
    let limit = now - chrono::Duration::days(days as i64);
    let mut gone = 0;
    for address in addresses.flatten() {
        for archive in std::fs::read_dir(address.path())?.flatten() {
            let name = archive.file_name().to_string_lossy().to_string();
            let made = chrono::NaiveDateTime::parse_from_str(&name, STAMP).map(|t| t.and_utc());
            if made.is_ok_and(|t| t < limit) {
                std::fs::remove_dir_all(archive.path())?;
                tracing::info!(target: "audit", event = "bal_archive_purged", account = %address.file_name().to_string_lossy(),
                    archive = %name);
                gone += 1;
            }
        }
        // The address's folder goes with its last archive.
        let _ = std::fs::remove_dir(address.path());
    }
    Ok(gone)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_past_their_time_go_and_the_others_stay() {
        let data = tempfile::tempdir().unwrap();
        let now = chrono::Utc::now();
        let stamp = |days: i64| (now - chrono::Duration::days(days)).format(STAMP).to_string();
        let old = root(data.path()).join("a@x.test").join(stamp(91));
        let recent = root(data.path()).join("b@x.test").join(stamp(89));
        for dir in [&old, &recent] {
            std::fs::create_dir_all(dir).unwrap();
            std::fs::write(dir.join("INBOX.mbox"), "From MAILER-DAEMON\n").unwrap();
        }
        assert_eq!(purge(data.path(), 90, now).unwrap(), 1);
        assert!(!old.exists() && !old.parent().unwrap().exists());
        assert!(recent.join("INBOX.mbox").exists());
        assert_eq!(purge(&data.path().join("nothing"), 90, now).unwrap(), 0);
    }
}
