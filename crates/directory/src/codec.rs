//! The snapshot file: a versioned binary image of a [`Snapshot`], little-endian, read in one
//! piece at start-up. An import writes a new file beside the old one, syncs it, then renames
//! it over: readers see the old directory or the new one, never a mix (rename is atomic on
//! POSIX file systems).

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::Path;

use confiance_core::MailboxKind;
use sha2::{Digest, Sha256};

use crate::model::{Activity, Mailbox, Organisation, Person, Provenance, Snapshot, Text, Texts};

const MAGIC: &[u8; 8] = b"CFDIR\x00\x00\x01";

#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("cannot read or write the directory snapshot {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path} is not a directory snapshot of this version (re-import the extracts)")]
    Format { path: String },
}

/// A writer that keeps its first error, so encoding reads as a list of fields.
struct Out<W: Write> {
    w: W,
    error: Option<std::io::Error>,
}

impl<W: Write> Out<W> {
    fn new(w: W) -> Out<W> {
        Out { w, error: None }
    }
    fn bytes(&mut self, b: &[u8]) {
        if self.error.is_none()
            && let Err(e) = self.w.write_all(b)
        {
            self.error = Some(e);
        }
    }
    fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.bytes(s.as_bytes());
    }
    fn mailbox(&mut self, m: &Mailbox) {
        self.u32(m.address);
        self.u8(kind_code(m.kind));
        self.u8(match m.dematerialisation {
            None => 0,
            Some(false) => 1,
            Some(true) => 2,
        });
        self.u32(m.service);
    }
    fn finish(self) -> std::io::Result<W> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(self.w),
        }
    }
}

/// Feeds what is written into a SHA-256.
struct Hashing(Sha256);

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn kind_code(k: MailboxKind) -> u8 {
    match k {
        MailboxKind::Personal => 0,
        MailboxKind::Organisational => 1,
        MailboxKind::Applicative => 2,
        MailboxKind::Practice => 3,
    }
}

struct In<'a> {
    data: &'a [u8],
    at: usize,
}

/// Any read past the end or inconsistent value: the file is not ours or is damaged.
#[derive(Debug)]
struct Damaged;

impl In<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Damaged> {
        let b = self.data.get(self.at..self.at + n).ok_or(Damaged)?;
        self.at += n;
        Ok(b)
    }
    fn u8(&mut self) -> Result<u8, Damaged> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, Damaged> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| Damaged)?))
    }
    fn u64(&mut self) -> Result<u64, Damaged> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().map_err(|_| Damaged)?))
    }
    fn len(&mut self) -> Result<usize, Damaged> {
        let n = self.u32()? as usize;
        // A count can never exceed the bytes left: guards against huge allocations.
        if n > self.data.len() - self.at {
            return Err(Damaged);
        }
        Ok(n)
    }
    /// A count of records of at least `min_size` bytes each: more than the bytes left can
    /// hold means damage (and would otherwise ask for gigabytes).
    fn count(&mut self, min_size: usize) -> Result<usize, Damaged> {
        let n = self.u32()? as usize;
        if n.saturating_mul(min_size) > self.data.len() - self.at {
            return Err(Damaged);
        }
        Ok(n)
    }
    fn str(&mut self) -> Result<String, Damaged> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| Damaged)
    }
    fn text(&mut self, texts: usize) -> Result<Text, Damaged> {
        let t = self.u32()?;
        if t as usize >= texts {
            return Err(Damaged);
        }
        Ok(t)
    }
    fn mailbox(&mut self, texts: usize) -> Result<Mailbox, Damaged> {
        Ok(Mailbox {
            address: self.text(texts)?,
            kind: match self.u8()? {
                0 => MailboxKind::Personal,
                1 => MailboxKind::Organisational,
                2 => MailboxKind::Applicative,
                3 => MailboxKind::Practice,
                _ => return Err(Damaged),
            },
            dematerialisation: match self.u8()? {
                0 => None,
                1 => Some(false),
                2 => Some(true),
                _ => return Err(Damaged),
            },
            service: self.text(texts)?,
        })
    }
}

/// The content, without the provenance: what the digest covers.
fn encode_content<W: Write>(s: &Snapshot, o: &mut Out<W>) {
    o.str(&s.texts.data);
    o.u32(s.texts.offsets.len() as u32);
    for &off in &s.texts.offsets {
        o.u32(off);
    }
    for table in [&s.professions, &s.specialties] {
        o.u32(table.len() as u32);
        for &(code, label) in table {
            o.u32(code);
            o.u32(label);
        }
    }
    o.u32(s.people.len() as u32);
    for p in &s.people {
        for t in [
            p.national_id,
            p.civility,
            p.family_name,
            p.given_name,
            p.profession,
            p.specialty,
        ] {
            o.u32(t);
        }
        o.u32(p.activities.len() as u32);
        for a in &p.activities {
            for t in a.texts() {
                o.u32(t);
            }
        }
        o.u32(p.mailboxes.len() as u32);
        for m in &p.mailboxes {
            o.mailbox(m);
        }
    }
    o.u32(s.organisations.len() as u32);
    for g in &s.organisations {
        for t in [g.structure_id, g.name, g.postcode, g.locality, g.departement] {
            o.u32(t);
        }
        o.mailbox(&g.mailbox);
    }
}

/// SHA-256 of the content, hex.
pub fn digest(s: &Snapshot) -> String {
    let mut o = Out::new(Hashing(Sha256::new()));
    encode_content(s, &mut o);
    let hashing = o.finish().expect("hashing does not fail");
    hex::encode(hashing.0.finalize())
}

fn encode<W: Write>(s: &Snapshot, w: W) -> std::io::Result<W> {
    let mut o = Out::new(w);
    o.bytes(MAGIC);
    let p = &s.provenance;
    o.u64(p.imported_at as u64);
    o.str(&p.activities_file);
    o.str(&p.mailboxes_file);
    o.u64(p.activity_rows);
    o.u64(p.mailbox_rows);
    o.u64(p.bad_lines);
    o.str(&p.digest);
    encode_content(s, &mut o);
    o.finish()
}

fn decode_provenance(i: &mut In<'_>) -> Result<Provenance, Damaged> {
    if i.take(MAGIC.len())? != MAGIC {
        return Err(Damaged);
    }
    Ok(Provenance {
        imported_at: i.u64()? as i64,
        activities_file: i.str()?,
        mailboxes_file: i.str()?,
        activity_rows: i.u64()?,
        mailbox_rows: i.u64()?,
        bad_lines: i.u64()?,
        digest: i.str()?,
    })
}

fn decode(data: &[u8]) -> Result<Snapshot, Damaged> {
    let mut i = In { data, at: 0 };
    let provenance = decode_provenance(&mut i)?;
    let data = i.str()?;
    let n = i.count(4)?;
    let mut offsets = Vec::with_capacity(n);
    for _ in 0..n {
        offsets.push(i.u32()?);
    }
    let sound = offsets.len() >= 2
        && offsets.windows(2).all(|w| w[0] <= w[1])
        && offsets.last().is_some_and(|&e| e as usize == data.len())
        && offsets.iter().all(|&o| data.is_char_boundary(o as usize));
    if !sound {
        return Err(Damaged);
    }
    let texts = Texts { data, offsets };
    let nt = texts.len();
    let mut tables = [Vec::new(), Vec::new()];
    for table in &mut tables {
        for _ in 0..i.count(8)? {
            table.push((i.text(nt)?, i.text(nt)?));
        }
    }
    let [professions, specialties] = tables;
    let n = i.count(32)?;
    let mut people = Vec::with_capacity(n);
    for _ in 0..n {
        let mut p = Person {
            national_id: i.text(nt)?,
            civility: i.text(nt)?,
            family_name: i.text(nt)?,
            given_name: i.text(nt)?,
            profession: i.text(nt)?,
            specialty: i.text(nt)?,
            ..Person::default()
        };
        for _ in 0..i.count(4 * Activity::FIELDS)? {
            let mut f = [0; Activity::FIELDS];
            for t in &mut f {
                *t = i.text(nt)?;
            }
            p.activities.push(Activity::from_texts(f));
        }
        for _ in 0..i.count(10)? {
            p.mailboxes.push(i.mailbox(nt)?);
        }
        people.push(p);
    }
    let n = i.count(30)?;
    let mut organisations = Vec::with_capacity(n);
    for _ in 0..n {
        organisations.push(Organisation {
            structure_id: i.text(nt)?,
            name: i.text(nt)?,
            postcode: i.text(nt)?,
            locality: i.text(nt)?,
            departement: i.text(nt)?,
            mailbox: i.mailbox(nt)?,
        });
    }
    if i.at != i.data.len() {
        return Err(Damaged);
    }
    Ok(Snapshot {
        texts,
        people,
        organisations,
        professions,
        specialties,
        provenance,
    })
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> SnapshotError + '_ {
    move |source| SnapshotError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Snapshot {
    /// Reads a snapshot written by [`Snapshot::write`].
    pub fn read(path: &Path) -> Result<Snapshot, SnapshotError> {
        let file = File::open(path).map_err(io(path))?;
        Snapshot::read_from(file, path)
    }

    /// Reads a snapshot from a file already opened (`path` names it in errors).
    pub fn read_from(mut file: File, path: &Path) -> Result<Snapshot, SnapshotError> {
        let mut data = Vec::new();
        file.read_to_end(&mut data).map_err(io(path))?;
        decode(&data).map_err(|Damaged| SnapshotError::Format {
            path: path.display().to_string(),
        })
    }

    /// Only the provenance of the snapshot at `path` (its first bytes): to compare digests
    /// without loading a national directory.
    pub fn read_provenance(path: &Path) -> Result<Provenance, SnapshotError> {
        let mut head = Vec::new();
        File::open(path)
            .and_then(|f| f.take(64 * 1024).read_to_end(&mut head))
            .map_err(io(path))?;
        decode_provenance(&mut In { data: &head, at: 0 }).map_err(|Damaged| SnapshotError::Format {
            path: path.display().to_string(),
        })
    }

    /// Replaces the snapshot at `path` atomically: written to a temporary file in the same
    /// folder, synced, renamed over the old one, and the folder synced.
    pub fn write(&self, path: &Path) -> Result<(), SnapshotError> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(io(dir))?;
        // A name of its own, created exclusively: two imports at once never write one file.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let tmp = path.with_extension(format!("tmp.{}.{nanos}", std::process::id()));
        let written = (|| {
            let file = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
            let w = encode(self, BufWriter::with_capacity(1 << 20, file))?;
            let file = w.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = fs::remove_file(&tmp);
            return Err(io(&tmp)(e));
        }
        fs::rename(&tmp, path).map_err(io(path))?;
        File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Interner;

    fn sample() -> Snapshot {
        let mut t = Interner::default();
        let person = Person {
            national_id: t.intern("810000005479"),
            family_name: t.intern("DUPONT"),
            given_name: t.intern("Jean"),
            profession: t.intern("10"),
            activities: vec![Activity {
                commune: t.intern("Paris"),
                postcode: t.intern("75002"),
                ..Activity::default()
            }],
            mailboxes: vec![Mailbox {
                address: t.intern("jean.dupont@medecin.mssante.fr"),
                kind: MailboxKind::Personal,
                dematerialisation: Some(true),
                service: 0,
            }],
            ..Person::default()
        };
        let professions = vec![(t.intern("10"), t.intern("Médecin"))];
        let mut s = Snapshot {
            people: vec![person],
            professions,
            texts: t.finish(),
            ..Snapshot::default()
        };
        s.provenance.digest = digest(&s);
        s
    }

    #[test]
    fn round_trip_and_damage() {
        let dir = std::env::temp_dir().join(format!("confiance-codec-{}", std::process::id()));
        let path = dir.join("directory.snapshot");
        let s = sample();
        s.write(&path).unwrap();
        let back = Snapshot::read(&path).unwrap();
        assert_eq!(back, s);
        assert_eq!(back.profession_label(back.people[0].profession), "Médecin");
        let files: Vec<_> = fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(
            files,
            vec![std::ffi::OsString::from("directory.snapshot")],
            "no temporary left"
        );
        let mut bytes = fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 3);
        fs::write(&path, &bytes).unwrap();
        let err = Snapshot::read(&path).unwrap_err().to_string();
        assert!(err.contains("is not a directory snapshot"), "{err}");
        fs::remove_dir_all(dir).unwrap();
    }
}
