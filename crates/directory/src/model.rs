//! What the directory holds: professionals with their activities and BAL, and the BAL of
//! structures. Text is interned: a national file repeats the same communes, labels and
//! hospital names millions of times, and one `u32` per field keeps 2.2 million activities in
//! about 120 MB.

use std::hash::BuildHasher;

use confiance_core::MailboxKind;
use hashbrown::{DefaultHashBuilder, HashTable};

/// An interned text: its index in [`Texts`]. `0` is the empty text.
pub type Text = u32;

/// Every distinct text of a snapshot, in one buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Texts {
    pub(crate) data: String,
    /// Where text `i` starts; text `i` ends where `i + 1` starts.
    pub(crate) offsets: Vec<u32>,
}

impl Default for Texts {
    fn default() -> Texts {
        Texts {
            data: String::new(),
            offsets: vec![0, 0],
        }
    }
}

impl Texts {
    pub fn get(&self, t: Text) -> &str {
        let (a, b) = (self.offsets[t as usize], self.offsets[t as usize + 1]);
        &self.data[a as usize..b as usize]
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() <= 1
    }
}

/// Builds [`Texts`], giving the same index to the same text. The hash table holds only
/// indexes into the one buffer: no allocation per text, which matters for millions of them.
#[derive(Default)]
pub struct Interner {
    texts: Texts,
    table: HashTable<Text>,
    hasher: DefaultHashBuilder,
}

impl Interner {
    pub fn intern(&mut self, s: &str) -> Text {
        if s.is_empty() {
            return 0;
        }
        let Interner { texts, table, hasher } = self;
        let hash = hasher.hash_one(s);
        if let Some(&t) = table.find(hash, |&t| texts.get(t) == s) {
            return t;
        }
        let t = texts.len() as Text;
        texts.data.push_str(s);
        texts.offsets.push(texts.data.len() as u32);
        table.insert_unique(hash, t, |&t| hasher.hash_one(texts.get(t)));
        t
    }

    /// The text of `t`.
    pub fn get(&self, t: Text) -> &str {
        self.texts.get(t)
    }

    /// How many texts, the empty one included.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    pub fn finish(self) -> Texts {
        self.texts
    }
}

/// A BAL as the directory publishes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mailbox {
    pub address: Text,
    pub kind: MailboxKind,
    /// Accepts structured documents by mail instead of paper (dématérialisation).
    pub dematerialisation: Option<bool>,
    /// Service de rattachement (ORG), or the BAL's description.
    pub service: Text,
}

/// A situation d'exercice: where and how a professional works.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Activity {
    /// TRE_G15 profession code and savoir-faire code of this activity.
    pub profession: Text,
    pub specialty: Text,
    /// Mode d'exercice (`L` libéral, `S` salarié…).
    pub mode: Text,
    pub role: Text,
    /// Raison sociale (or enseigne) of the site.
    pub organisation: Text,
    /// Number, type and name of the street, as one line.
    pub street: Text,
    pub postcode: Text,
    pub commune_code: Text,
    pub commune: Text,
    pub departement: Text,
    pub finess: Text,
    pub siret: Text,
    pub phone: Text,
}

impl Activity {
    pub const FIELDS: usize = 13;

    /// Every text of the activity, in one fixed order (the snapshot file's).
    pub fn texts(&self) -> [Text; Activity::FIELDS] {
        [
            self.profession,
            self.specialty,
            self.mode,
            self.role,
            self.organisation,
            self.street,
            self.postcode,
            self.commune_code,
            self.commune,
            self.departement,
            self.finess,
            self.siret,
            self.phone,
        ]
    }

    /// The activity of [`Activity::texts`].
    pub fn from_texts(t: [Text; Activity::FIELDS]) -> Activity {
        let [
            profession,
            specialty,
            mode,
            role,
            organisation,
            street,
            postcode,
            commune_code,
            commune,
            departement,
            finess,
            siret,
            phone,
        ] = t;
        Activity {
            profession,
            specialty,
            mode,
            role,
            organisation,
            street,
            postcode,
            commune_code,
            commune,
            departement,
            finess,
            siret,
            phone,
        }
    }
}

/// A professional (exercice professionnel), found by national identifier.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Person {
    /// Identification nationale PP (`8` + RPPS, `0` + ADELI).
    pub national_id: Text,
    /// Civilité d'exercice (`Docteur`).
    pub civility: Text,
    pub family_name: Text,
    pub given_name: Text,
    pub profession: Text,
    pub specialty: Text,
    pub activities: Vec<Activity>,
    pub mailboxes: Vec<Mailbox>,
}

/// The BAL of a structure (organisational or applicative): one entry per BAL, since each
/// serves a different service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Organisation {
    /// IdNat_Struct (`1` + FINESS, `3` + SIRET…).
    pub structure_id: Text,
    pub name: Text,
    pub postcode: Text,
    /// Ligne d'acheminement: postcode and commune.
    pub locality: Text,
    pub departement: Text,
    pub mailbox: Mailbox,
}

/// Where a snapshot came from, for `directory status` and the search page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Provenance {
    /// Unix time of the import.
    pub imported_at: i64,
    pub activities_file: String,
    pub mailboxes_file: String,
    pub activity_rows: u64,
    pub mailbox_rows: u64,
    pub bad_lines: u64,
    /// SHA-256 of the content (everything but this provenance): equal for equal imports.
    pub digest: String,
}

/// A whole directory, as imported; replaced as one piece by each import.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    pub texts: Texts,
    pub people: Vec<Person>,
    pub organisations: Vec<Organisation>,
    /// Labels of the profession and savoir-faire codes, sorted by code.
    pub professions: Vec<(Text, Text)>,
    pub specialties: Vec<(Text, Text)>,
    pub provenance: Provenance,
}

impl Snapshot {
    pub fn text(&self, t: Text) -> &str {
        self.texts.get(t)
    }

    /// The label of a TRE_G15 profession code, or the code when it has none.
    pub fn profession_label(&self, code: Text) -> &str {
        label(&self.professions, code).map_or_else(|| self.text(code), |l| self.text(l))
    }

    pub fn specialty_label(&self, code: Text) -> &str {
        label(&self.specialties, code).map_or_else(|| self.text(code), |l| self.text(l))
    }

    pub fn mailbox_count(&self) -> usize {
        self.people.iter().map(|p| p.mailboxes.len()).sum::<usize>() + self.organisations.len()
    }
}

fn label(table: &[(Text, Text)], code: Text) -> Option<Text> {
    table.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
}
