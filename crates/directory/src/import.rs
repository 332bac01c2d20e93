//! Builds a [`Snapshot`] from the public extracts: activities are grouped by professional
//! (national identifier), each BAL of the MSSanté file joins its professional, and structures'
//! BAL stand on their own. Either file may be imported alone.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;

use confiance_core::MailboxKind;

use crate::activity::{ActivityImport, ActivityRow, read_activities};
use crate::codec::digest;
use crate::extract::ExtractError;
use crate::model::{Activity, Interner, Mailbox, Organisation, Person, Snapshot, Text};
use crate::mssante::{MailboxEntry, MailboxImport, read_mailboxes};

/// Gathers the extracts of one import.
#[derive(Default)]
pub struct Builder {
    texts: Interner,
    people: Vec<Person>,
    by_id: HashMap<Text, u32>,
    organisations: Vec<Organisation>,
    addresses: HashSet<Text>,
    professions: HashMap<Text, Text>,
    specialties: HashMap<Text, Text>,
    activities_file: String,
    mailboxes_file: String,
    activity_rows: u64,
    mailbox_rows: u64,
    bad_lines: u64,
    /// BAL published on several lines (the national file has ~169): kept once.
    pub duplicates: u64,
}

impl Builder {
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Reads a `PS_LibreAcces_Personne_activite` file.
    pub fn activities<R: BufRead>(&mut self, reader: R, name: &str) -> Result<ActivityImport, ExtractError> {
        let report = read_activities(reader, |row| self.activity(row))?;
        self.activities_file = name.to_string();
        self.activity_rows += report.rows;
        self.bad_lines += report.bad.len() as u64;
        Ok(report)
    }

    /// Reads an `Extraction_Correspondance_MSSante` file.
    pub fn mailboxes<R: BufRead>(&mut self, reader: R, name: &str) -> Result<MailboxImport, ExtractError> {
        let report = read_mailboxes(reader, |entry| self.mailbox(entry))?;
        self.mailboxes_file = name.to_string();
        self.mailbox_rows += report.entries;
        self.bad_lines += report.bad.len() as u64;
        Ok(report)
    }

    /// Adds one of this operator's own BAL (an activated account's directory listing).
    pub fn own_mailbox(&mut self, e: MailboxEntry) {
        self.mailbox_rows += 1;
        self.mailbox(e);
    }

    fn person(&mut self, national_id: &str) -> (&mut Person, bool) {
        let id = self.texts.intern(national_id);
        let mut created = false;
        let i = *self.by_id.entry(id).or_insert_with(|| {
            created = true;
            self.people.push(Person {
                national_id: id,
                ..Person::default()
            });
            (self.people.len() - 1) as u32
        });
        (&mut self.people[i as usize], created)
    }

    fn label(&mut self, specialty: bool, code: &str, label: &str) -> Text {
        let code = self.texts.intern(code);
        if code != 0 && !label.is_empty() {
            let label = self.texts.intern(label);
            let table = if specialty {
                &mut self.specialties
            } else {
                &mut self.professions
            };
            table.entry(code).or_insert(label);
        }
        code
    }

    fn activity(&mut self, row: &ActivityRow<'_>) {
        let profession = self.label(false, row.profession_code, row.profession);
        // Only the spécialité ordinale (type S) says what a doctor is; competences and
        // capacities would make noise in the results.
        let specialty = match row.skill_type {
            "S" | "" => self.label(true, row.skill_code, row.skill),
            _ => 0,
        };
        let t = &mut self.texts;
        let street = street_line(&[row.street_number, row.street_repeat, row.street_type, row.street]);
        let organisation = if row.organisation.is_empty() {
            row.trade_name
        } else {
            row.organisation
        };
        let activity = Activity {
            profession,
            specialty,
            mode: t.intern(row.mode),
            role: t.intern(row.role),
            organisation: t.intern(organisation),
            street: t.intern(&street),
            postcode: t.intern(row.postcode),
            commune_code: t.intern(row.commune_code),
            commune: t.intern(row.commune),
            departement: t.intern(row.departement),
            finess: t.intern(row.finess_site),
            siret: t.intern(row.siret),
            phone: t.intern(row.phone),
        };
        let (civility, family, given) = (
            t.intern(row.civility),
            t.intern(row.family_name),
            t.intern(row.given_name),
        );
        let (person, created) = self.person(&row.national());
        if created {
            person.civility = civility;
            person.family_name = family;
            person.given_name = given;
            person.profession = profession;
        }
        if person.specialty == 0 {
            person.specialty = specialty;
        }
        if !person.activities.contains(&activity) {
            person.activities.push(activity);
        }
    }

    fn mailbox(&mut self, e: MailboxEntry) {
        let address = self.texts.intern(&e.address.to_string().to_lowercase());
        if !self.addresses.insert(address) {
            self.duplicates += 1;
            return;
        }
        let (code, label) = e.profession.clone().unwrap_or_default();
        let profession = self.label(false, &code, &label);
        let (code, label) = e.specialty.clone().unwrap_or_default();
        let specialty = self.label(true, &code, &label);
        let t = &mut self.texts;
        let mailbox = Mailbox {
            address,
            kind: e.kind,
            dematerialisation: e.dematerialisation,
            service: t.intern(e.service.as_deref().unwrap_or("")),
        };
        let text = |t: &mut Interner, v: &Option<String>| t.intern(v.as_deref().unwrap_or(""));
        let postcode = text(t, &e.postcode);
        let locality = text(t, &e.locality);
        let departement = text(t, &e.departement);
        let organisation = text(t, &e.organisation);
        let personal = matches!(e.kind, MailboxKind::Personal | MailboxKind::Practice);
        match (&e.national_id, personal) {
            (Some(national_id), true) => {
                let commune = commune_of(e.locality.as_deref().unwrap_or(""), e.postcode.as_deref().unwrap_or(""));
                let commune = self.texts.intern(commune);
                let (civility, family, given) = (
                    text(&mut self.texts, &e.civility),
                    text(&mut self.texts, &e.family_name),
                    text(&mut self.texts, &e.given_name),
                );
                let (person, created) = self.person(national_id);
                if created {
                    // Known only from the MSSanté file (ADELI professionals, or no activity
                    // file imported): what that file says of them is all there is.
                    person.civility = civility;
                    person.family_name = family;
                    person.given_name = given;
                    person.profession = profession;
                    person.specialty = specialty;
                    person.activities.push(Activity {
                        profession,
                        specialty,
                        organisation,
                        postcode,
                        commune,
                        departement,
                        ..Activity::default()
                    });
                }
                person.mailboxes.push(mailbox);
            }
            _ => self.organisations.push(Organisation {
                structure_id: text(&mut self.texts, &e.structure_id),
                name: organisation,
                postcode,
                locality,
                departement,
                mailbox,
            }),
        }
    }

    /// The snapshot, with its provenance and digest.
    pub fn finish(self, imported_at: i64) -> Snapshot {
        let sorted = |m: HashMap<Text, Text>, texts: &Interner| {
            let mut v: Vec<_> = m.into_iter().collect();
            v.sort_by(|a, b| texts.get(a.0).cmp(texts.get(b.0)));
            v
        };
        let professions = sorted(self.professions, &self.texts);
        let specialties = sorted(self.specialties, &self.texts);
        let mut s = Snapshot {
            texts: self.texts.finish(),
            people: self.people,
            organisations: self.organisations,
            professions,
            specialties,
            provenance: Default::default(),
        };
        s.provenance.digest = digest(&s);
        s.provenance.imported_at = imported_at;
        s.provenance.activities_file = self.activities_file;
        s.provenance.mailboxes_file = self.mailboxes_file;
        s.provenance.activity_rows = self.activity_rows;
        s.provenance.mailbox_rows = self.mailbox_rows;
        s.provenance.bad_lines = self.bad_lines;
        s
    }
}

/// `12`, `B`, `Rue`, `de la Paix` → `12 B Rue de la Paix`.
fn street_line(parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The commune from a ligne d'acheminement (`75002 PARIS` → `PARIS`).
pub(crate) fn commune_of<'a>(locality: &'a str, postcode: &str) -> &'a str {
    let rest = locality.strip_prefix(postcode).unwrap_or(locality).trim();
    rest.strip_prefix(|c: char| c.is_ascii_digit())
        .map_or(rest, |_| rest.trim_start_matches(|c: char| c.is_ascii_digit()).trim())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::activity::HEADER_56;

    const MSS_HEADER: &str = "Type de BAL|Adresse BAL|Type Identifiant PP|Identifiant PP|Identification nationale PP|Identification Structure|Service de rattachement|Nom d'exercice|Prénom d'exercice|Code Profession|Libellé Profession|Dématérialisation|Raison Sociale structure BAL|L6LIGNEACHEMINEMENT structure BAL|Code postal structure BAL|Département structure BAL";

    fn activity(rpps: &str, family: &str, given: &str, commune: &str) -> String {
        let mut f = vec![""; 56];
        let national = format!("8{rpps}");
        (f[0], f[1], f[2], f[7], f[8], f[9], f[10]) = ("8", rpps, &national, family, given, "10", "Médecin");
        (f[13], f[15], f[16], f[37], f[35]) = ("S", "SM54", "Médecine générale", commune, "75002");
        f.join("|")
    }

    fn build() -> (Snapshot, u64) {
        let activities = [
            HEADER_56.to_string(),
            activity("10000005479", "DUPONT", "Jean", "Paris"),
            activity("10000005479", "DUPONT", "Jean", "Lyon"),
            activity("10000005479", "DUPONT", "Jean", "Lyon"),
            activity("10000000017", "MARTIN", "Anne", "Nantes"),
        ]
        .join("\n");
        let mailboxes = [
            MSS_HEADER,
            "PER|jean.dupont@medecin.mssante.fr|8|10000005479|810000005479|||DUPONT|Jean|10|Médecin|true||75002 PARIS|75002|75",
            "PER|Jean.Dupont@medecin.mssante.fr|8|10000005479|810000005479|||DUPONT|Jean|10|Médecin|true||75002 PARIS|75002|75",
            "PER|ide.leroy@infirmier.mssante.fr|0|123456789|0123456789|||LEROY|Paule|60|Infirmier|false|CABINET LEROY|44000 NANTES|44000|44",
            "ORG|cardio@ch-exemple.mssante.fr||||1760021832|Cardiologie|||||true|CH EXEMPLE|76000 ROUEN|76000|76",
        ]
        .join("\n");
        let mut b = Builder::new();
        let r = b.activities(activities.as_bytes(), "a.txt").unwrap();
        assert_eq!((r.rows, r.bad.len()), (4, 0));
        let r = b.mailboxes(mailboxes.as_bytes(), "m.txt").unwrap();
        assert_eq!((r.entries, r.bad.len()), (4, 0), "{:?}", r.bad);
        let dups = b.duplicates;
        (b.finish(1_700_000_000), dups)
    }

    #[test]
    fn joins_activities_and_mailboxes() {
        let (s, duplicates) = build();
        assert_eq!(duplicates, 1);
        assert_eq!(s.people.len(), 3);
        let jean = &s.people[0];
        assert_eq!(s.text(jean.family_name), "DUPONT");
        assert_eq!(jean.activities.len(), 2, "the repeated Lyon line is kept once");
        assert_eq!(s.specialty_label(jean.specialty), "Médecine générale");
        assert_eq!(s.text(jean.mailboxes[0].address), "jean.dupont@medecin.mssante.fr");
        let leroy = &s.people[2];
        assert_eq!(s.profession_label(leroy.profession), "Infirmier");
        assert_eq!(s.text(leroy.activities[0].commune), "NANTES");
        assert_eq!(leroy.mailboxes[0].dematerialisation, Some(false));
        assert_eq!(s.organisations.len(), 1);
        assert_eq!(s.text(s.organisations[0].mailbox.service), "Cardiologie");
        assert_eq!(s.mailbox_count(), 3);
    }

    #[test]
    fn the_same_files_give_the_same_digest() {
        let (a, _) = build();
        let (b, _) = build();
        assert_eq!(a.provenance.digest, b.provenance.digest);
        assert_eq!(a.provenance.digest.len(), 64);
    }

    #[test]
    fn commune_from_the_delivery_line() {
        assert_eq!(commune_of("75002 PARIS", "75002"), "PARIS");
        assert_eq!(commune_of("13001 MARSEILLE CEDEX 01", ""), "MARSEILLE CEDEX 01");
        assert_eq!(commune_of("SAINT-DENIS", "93200"), "SAINT-DENIS");
    }
}
