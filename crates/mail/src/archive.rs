//! A BAL's messages written out as mbox files (the mboxrd variant), one per folder: what an
//! administrator keeps of a BAL before deleting it (issue 16), readable by any mail client or
//! `mutt -f`. The `From ` line carries the arrival time; lines that begin with `From ` (after
//! any number of `>`) get one more `>`, so that reading the file back restores them exactly.

use std::io::Write;
use std::path::Path;

use confiance_store::{AccountId, StoreError};

use crate::{MailService, Result};

/// What was written: folders and messages.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Exported {
    pub folders: usize,
    pub messages: usize,
}

/// A folder's name as a file name: `/` and anything unusual percent-encoded.
fn file_name(folder: &str) -> String {
    let mut name = String::new();
    for c in folder.chars() {
        match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '-' | '_' | ' ' | '.' if !(c == '.' && name.is_empty()) => name.push(c),
            c => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    name.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    format!("{name}.mbox")
}

/// Appends one message to an mboxrd file.
fn write_message(out: &mut impl Write, arrival: i64, message: &[u8]) -> std::io::Result<()> {
    let date = chrono::DateTime::from_timestamp(arrival, 0).unwrap_or_default();
    writeln!(out, "From MAILER-DAEMON {}", date.format("%a %b %e %H:%M:%S %Y"))?;
    for line in message.split_inclusive(|b| *b == b'\n') {
        let text = line.strip_suffix(b"\n").unwrap_or(line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().skip_while(|b| **b == b'>').take(5).eq(b"From ".iter()) {
            out.write_all(b">")?;
        }
        out.write_all(text)?;
        out.write_all(b"\n")?;
    }
    out.write_all(b"\n")
}

impl MailService {
    /// Writes every folder of `account` under `dir` (created), one mbox file each.
    pub async fn export_mbox(&self, account: AccountId, dir: &Path) -> Result<Exported> {
        let io = |e: std::io::Error| crate::MailError::Store(StoreError::Io(e));
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut done = Exported::default();
        for folder in self.folders(account).await? {
            let path = dir.join(file_name(&folder.name));
            let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(io)?);
            for meta in self.messages(folder.id).await? {
                let bytes = self.read(&meta.blob).await?;
                write_message(&mut out, meta.internal_date, &bytes).map_err(io)?;
                done.messages += 1;
            }
            out.into_inner()
                .map_err(|e| io(e.into_error()))?
                .sync_all()
                .map_err(io)?;
            done.folders += 1;
        }
        Ok(done)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mboxrd_quotes_from_lines_and_keeps_the_rest() {
        let mut out = Vec::new();
        write_message(&mut out, 0, b"Subject: x\r\n\r\nFrom here\r\n>From there\r\nend").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "From MAILER-DAEMON Thu Jan  1 00:00:00 1970\nSubject: x\n\n>From here\n>>From there\nend\n\n"
        );
    }

    #[test]
    fn folder_names_become_safe_file_names() {
        assert_eq!(file_name("INBOX"), "INBOX.mbox");
        assert_eq!(file_name("Projets/Été"), "Projets%2F%C3%89t%C3%A9.mbox");
        assert_eq!(file_name("../x"), "%2E.%2Fx.mbox");
    }
}
