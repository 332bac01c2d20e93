//! Synthetic extracts in exactly the ANS formats, at any scale up to national (2.2 million
//! activity lines, 540,000 BAL), for tests and benchmarks: realistic French names (frequent
//! ones and a long tail), TRE_G15 professions in national proportions, specialties, real and
//! made-up communes, valid RPPS, FINESS and SIRET check digits. The same seed gives the same
//! files. A set of planted professionals and structures, each with a known address, is
//! written first: the committed search-quality queries look for them.

mod data;
mod planted;

use std::collections::HashSet;
use std::io::{self, Write};

use confiance_core::{Finess, identifier::luhn_key};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::activity::HEADER_56;
use crate::fold::fold;
use crate::mssante::HEADER as MSS_HEADER;
use data::*;
pub use planted::{PLANTED, Planted, QUERIES, QualityQuery};

/// How big a directory to make.
#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub activity_rows: u64,
    pub mailbox_rows: u64,
    pub seed: u64,
}

impl Scale {
    /// The size of the national files (reference §2.8).
    pub const NATIONAL: Scale = Scale {
        activity_rows: 2_200_000,
        mailbox_rows: 540_000,
        seed: 2026,
    };

    /// A fraction of the national size, same proportions.
    pub fn fraction(divisor: u64) -> Scale {
        Scale {
            activity_rows: Self::NATIONAL.activity_rows / divisor,
            mailbox_rows: Self::NATIONAL.mailbox_rows / divisor,
            seed: Self::NATIONAL.seed,
        }
    }
}

/// What was written.
#[derive(Debug, Default, Clone, Copy)]
pub struct Generated {
    pub people: u64,
    pub activity_rows: u64,
    pub mailbox_rows: u64,
}

struct Person {
    rpps: String,
    family: String,
    given: String,
    woman: bool,
    profession: usize,
    specialty: Option<usize>,
}

struct Place {
    organisation: String,
    number: u32,
    street_type: &'static str,
    street: &'static str,
    postcode: String,
    commune_code: String,
    commune: String,
    departement: String,
    departement_label: &'static str,
    finess: String,
    siret: String,
    salaried: bool,
}

struct Generator<A, M> {
    rng: StdRng,
    activities: A,
    mailboxes: M,
    addresses: HashSet<String>,
    reserved: HashSet<(String, String)>,
    next_rpps: u64,
    done: Generated,
}

/// Picks an index with weights decreasing like 1 / (rank + 8): a few very common names, a
/// long tail.
fn zipf(rng: &mut StdRng, n: usize) -> usize {
    // Inverse of the integral of 1/(x+8): x = (n+8)^u * 8^(1-u) - 8.
    let u: f64 = rng.r#gen();
    let x = ((n as f64 + 8.0).powf(u) * 8f64.powf(1.0 - u)) - 8.0;
    (x as usize).min(n - 1)
}

fn weighted<T>(rng: &mut StdRng, items: &[T], weight: impl Fn(&T) -> u32) -> usize {
    let total: u32 = items.iter().map(&weight).sum();
    let mut pick = rng.gen_range(0..total);
    for (i, item) in items.iter().enumerate() {
        let w = weight(item);
        if pick < w {
            return i;
        }
        pick -= w;
    }
    items.len() - 1
}

fn pick<'a>(rng: &mut StdRng, items: &[&'a str]) -> &'a str {
    items[rng.gen_range(0..items.len())]
}

/// The local part of an address from a name (`Jean-Pierre`, `LE GOFF` → `jean-pierre.le-goff`).
pub fn local_part(given: &str, family: &str) -> String {
    let slug = |s: &str| fold(s).split_whitespace().collect::<Vec<_>>().join("-");
    format!("{}.{}", slug(given), slug(family))
}

impl<A: Write, M: Write> Generator<A, M> {
    fn family(&mut self) -> String {
        let rng = &mut self.rng;
        let one = |rng: &mut StdRng| -> String {
            if rng.gen_bool(0.45) {
                FAMILY[zipf(rng, FAMILY.len())].to_string()
            } else {
                let syllables = match rng.gen_range(0..10) {
                    0 => 1,
                    1..=6 => 2,
                    _ => 3,
                };
                let mut s: String = (0..syllables).map(|_| pick(rng, SYLLABLES)).collect();
                s.push_str(pick(rng, ENDINGS));
                s
            }
        };
        if rng.gen_bool(0.03) {
            format!("{}-{}", one(rng), one(rng))
        } else {
            one(rng)
        }
    }

    fn given(&mut self) -> (String, bool) {
        let (first, woman) = GIVEN[zipf(&mut self.rng, GIVEN.len())];
        if self.rng.gen_bool(0.06) {
            let same: Vec<&str> = GIVEN
                .iter()
                .filter(|g| g.1 == woman && g.0 != first)
                .map(|g| g.0)
                .collect();
            (format!("{first}-{}", pick(&mut self.rng, &same)), woman)
        } else {
            (first.to_string(), woman)
        }
    }

    fn rpps(&mut self) -> String {
        self.next_rpps += 1;
        let body = format!("1{:09}", self.next_rpps);
        let key = luhn_key(&body).unwrap_or('0');
        format!("{body}{key}")
    }

    fn person(&mut self) -> Person {
        let profession = weighted(&mut self.rng, PROFESSIONS, |p| p.2);
        let specialty = (PROFESSIONS[profession].0 == "10").then(|| weighted(&mut self.rng, SPECIALTIES, |s| s.2));
        loop {
            let family = self.family();
            let (given, woman) = self.given();
            // Never a homonym of a planted professional: the quality queries must have one answer.
            if self.reserved.contains(&(fold(&family), fold(&given))) {
                continue;
            }
            let rpps = self.rpps();
            return Person {
                rpps,
                family,
                given,
                woman,
                profession,
                specialty,
            };
        }
    }

    fn finess(&mut self, departement: &str) -> String {
        let dept = if departement.len() == 2 { departement } else { "97" };
        let body = format!("{dept}{:06}", self.rng.gen_range(0..1_000_000));
        let key = Finess::key_for(&body).unwrap_or('0');
        format!("{body}{key}")
    }

    fn siret(&mut self) -> String {
        let siren_body = format!("{:08}", self.rng.gen_range(10_000_000..99_999_999u32));
        let siren = format!("{siren_body}{}", luhn_key(&siren_body).unwrap_or('0'));
        let body = format!("{siren}{:04}", self.rng.gen_range(1..100u32));
        format!("{body}{}", luhn_key(&body).unwrap_or('0'))
    }

    fn place(&mut self, person: &Person) -> Place {
        let (commune, postcode, code, dept, label) = if self.rng.gen_bool(0.7) {
            let c = COMMUNES[self.rng.gen_range(0..COMMUNES.len())];
            (c.0.to_string(), c.1.to_string(), c.2.to_string(), c.3.to_string(), c.4)
        } else {
            let c = COMMUNES[self.rng.gen_range(0..COMMUNES.len())];
            let name = format!(
                "{}{}",
                pick(&mut self.rng, COMMUNE_STEMS),
                pick(&mut self.rng, COMMUNE_TAILS)
            );
            let n = self.rng.gen_range(100..990u32);
            let prefix = &c.1[..2];
            (
                name,
                format!("{prefix}{n:03}"),
                format!("{prefix}{n:03}"),
                c.3.to_string(),
                c.4,
            )
        };
        let salaried = self.rng.gen_bool(0.45);
        let organisation = if salaried {
            format!(
                "{} {} {}",
                pick(&mut self.rng, ORGANISATION_KINDS),
                pick(&mut self.rng, ORGANISATION_NAMES),
                commune.to_uppercase()
            )
        } else if self.rng.gen_bool(0.5) {
            format!("CABINET {} {}", person.given.to_uppercase(), person.family)
        } else {
            String::new()
        };
        let finess = if salaried { self.finess(&dept) } else { String::new() };
        let siret = if self.rng.gen_bool(0.6) {
            self.siret()
        } else {
            String::new()
        };
        Place {
            organisation,
            number: self.rng.gen_range(1..200),
            street_type: pick(&mut self.rng, STREET_TYPES),
            street: pick(&mut self.rng, STREETS),
            postcode,
            commune_code: code,
            commune,
            departement: dept,
            departement_label: label,
            finess,
            siret,
            salaried,
        }
    }

    fn activity_line(&mut self, p: &Person, place: &Place) -> io::Result<()> {
        let (code, label, _, _) = PROFESSIONS[p.profession];
        let doctor = code == "10";
        let (civ_code, civ_label) = if p.woman { ("MME", "Madame") } else { ("M", "Monsieur") };
        let (ex_code, ex_label) = if doctor { ("DR", "Docteur") } else { ("", "") };
        let (sk_type, sk_label_type, sk_code, sk_label) = match p.specialty {
            Some(s) => ("S", "Spécialité ordinale", SPECIALTIES[s].0, SPECIALTIES[s].1),
            None => ("", "", "", ""),
        };
        let (mode, mode_label) = if place.salaried {
            ("S", "Salarié")
        } else {
            ("L", "Libéral, indépendant, artisan, commerçant")
        };
        let siren = place.siret.get(..9).unwrap_or("");
        let phone = format!(
            "0{}{:08}",
            self.rng.gen_range(1..6u32),
            self.rng.gen_range(0..100_000_000u32)
        );
        let structure = format!("S{}", self.rng.gen_range(1_000_000..9_999_999u32));
        let f: [&str; 56] = [
            "8",
            &p.rpps,
            &format!("8{}", p.rpps),
            ex_code,
            ex_label,
            civ_code,
            civ_label,
            &p.family,
            &p.given,
            code,
            label,
            "C",
            "Civil",
            sk_type,
            sk_label_type,
            sk_code,
            sk_label,
            mode,
            mode_label,
            &place.siret,
            siren,
            &place.finess,
            "",
            &structure,
            &place.organisation,
            "",
            "",
            "",
            &place.number.to_string(),
            "",
            "",
            place.street_type,
            place.street,
            "",
            "",
            &place.postcode,
            &place.commune_code,
            &place.commune,
            "99000",
            "France",
            &phone,
            "",
            "",
            "",
            &place.departement,
            place.departement_label,
            "",
            "RPPS/RPPS/RPPS",
            if place.salaried { "SA01" } else { "SA07" },
            if place.salaried {
                "Etablissement public de santé"
            } else {
                "Cabinet individuel"
            },
            "",
            "",
            "FON-01",
            "Titulaire",
            "GENR01",
            "Activité standard de soin ou de pharmacien",
        ];
        writeln!(self.activities, "{}", f.join("|"))?;
        self.done.activity_rows += 1;
        Ok(())
    }

    fn unique(&mut self, local: &str, domain: &str) -> String {
        let mut address = format!("{local}@{domain}");
        let mut n = 1;
        while !self.addresses.insert(address.clone()) {
            n += 1;
            address = format!("{local}{n}@{domain}");
        }
        address
    }

    fn demat(&mut self) -> &'static str {
        if self.rng.gen_bool(0.6) { "true" } else { "false" }
    }

    fn personal_mailbox(&mut self, p: &Person, place: &Place, address: Option<&str>) -> io::Result<()> {
        let address = match address {
            Some(a) => {
                self.addresses.insert(a.to_string());
                a.to_string()
            }
            None => {
                let domain = if self.rng.gen_bool(0.7) {
                    format!("{}.mssante.fr", PROFESSIONS[p.profession].3)
                } else {
                    pick(&mut self.rng, REGIONAL_DOMAINS).to_string()
                };
                self.unique(&local_part(&p.given, &p.family), &domain)
            }
        };
        let (code, label, _, _) = PROFESSIONS[p.profession];
        let (sk_code, sk_label) = p.specialty.map_or(("", ""), |s| (SPECIALTIES[s].0, SPECIALTIES[s].1));
        let civility = if code == "10" { "DR" } else { "" };
        let demat = self.demat();
        let locality = format!("{} {}", place.postcode, place.commune.to_uppercase());
        let f: [&str; 31] = [
            "PER",
            &address,
            "8",
            &p.rpps,
            &format!("8{}", p.rpps),
            "",
            "",
            "",
            civility,
            &p.family,
            &p.given,
            "C",
            "Civil",
            code,
            label,
            sk_code,
            sk_label,
            demat,
            &place.organisation,
            "",
            "",
            "",
            &place.number.to_string(),
            "",
            place.street_type,
            place.street,
            "",
            &locality,
            &place.postcode,
            &place.departement,
            "France",
        ];
        writeln!(self.mailboxes, "{}", f.join("|"))?;
        self.done.mailbox_rows += 1;
        Ok(())
    }

    fn organisation_mailbox(&mut self, planted: Option<&planted::PlantedOrg>) -> io::Result<()> {
        let (name, service, commune, finess, address) = match planted {
            Some(o) => {
                let c = COMMUNES
                    .iter()
                    .find(|c| c.0 == o.commune)
                    .copied()
                    .unwrap_or(COMMUNES[0]);
                let body = format!("{}{}", &c.1[..2], o.finess_body);
                let finess = format!("{body}{}", Finess::key_for(&body).unwrap_or('0'));
                self.addresses.insert(o.address.to_string());
                (
                    o.name.to_string(),
                    o.service.to_string(),
                    c,
                    finess,
                    o.address.to_string(),
                )
            }
            None => {
                let c = COMMUNES[self.rng.gen_range(0..COMMUNES.len())];
                let name = format!(
                    "{} {} {}",
                    pick(&mut self.rng, ORGANISATION_KINDS),
                    pick(&mut self.rng, ORGANISATION_NAMES),
                    c.0.to_uppercase()
                );
                let service = pick(&mut self.rng, SERVICES).to_string();
                let finess = self.finess(c.3);
                let slug = fold(&name).split_whitespace().collect::<Vec<_>>().join("-");
                let address = self.unique(&fold(&service).replace(' ', "-"), &format!("{slug}.mssante.fr"));
                (name, service, c, finess, address)
            }
        };
        let demat = self.demat();
        let locality = format!("{} {}", commune.1, commune.0.to_uppercase());
        let structure = format!("1{finess}");
        let f: [&str; 31] = [
            "ORG", &address, "", "", "", "1", &structure, &service, "", "", "", "", "", "", "", "", "", demat, &name,
            "", "", "", "", "", "", "", "", &locality, commune.1, commune.3, "France",
        ];
        writeln!(self.mailboxes, "{}", f.join("|"))?;
        self.done.mailbox_rows += 1;
        Ok(())
    }

    fn planted(&mut self) -> io::Result<()> {
        for p in PLANTED {
            let profession = PROFESSIONS.iter().position(|x| x.0 == p.profession).unwrap_or(0);
            let specialty = SPECIALTIES.iter().position(|s| s.0 == p.specialty);
            let body = format!("1{:09}", 990_000_000 + p.number);
            let person = Person {
                rpps: format!("{body}{}", luhn_key(&body).unwrap_or('0')),
                family: p.family.to_string(),
                given: p.given.to_string(),
                woman: p.woman,
                profession,
                specialty,
            };
            let mut place = self.place(&person);
            let c = COMMUNES
                .iter()
                .find(|c| c.0 == p.commune)
                .copied()
                .unwrap_or(COMMUNES[0]);
            (place.commune, place.postcode, place.commune_code) = (c.0.into(), c.1.into(), c.2.into());
            (place.departement, place.departement_label) = (c.3.into(), c.4);
            if place.salaried {
                let kind = pick(&mut self.rng, ORGANISATION_KINDS);
                let name = pick(&mut self.rng, ORGANISATION_NAMES);
                place.organisation = format!("{kind} {name} {}", c.0.to_uppercase());
            }
            self.activity_line(&person, &place)?;
            if let Some(address) = p.address {
                self.personal_mailbox(&person, &place, Some(address))?;
            }
            self.done.people += 1;
        }
        for o in planted::PLANTED_ORGS {
            self.organisation_mailbox(Some(o))?;
        }
        Ok(())
    }
}

/// The RPPS of a planted professional.
pub fn planted_rpps(p: &Planted) -> String {
    let body = format!("1{:09}", 990_000_000 + p.number);
    format!("{body}{}", luhn_key(&body).unwrap_or('0'))
}

/// Writes both extracts. `progress` is called with the activity lines written so far.
pub fn generate<A: Write, M: Write>(
    scale: Scale,
    mut activities: A,
    mut mailboxes: M,
    mut progress: impl FnMut(u64),
) -> io::Result<Generated> {
    writeln!(activities, "{HEADER_56}")?;
    writeln!(mailboxes, "{MSS_HEADER}")?;
    let mut g = Generator {
        rng: StdRng::seed_from_u64(scale.seed),
        activities,
        mailboxes,
        addresses: HashSet::new(),
        reserved: PLANTED.iter().map(|p| (fold(p.family), fold(p.given))).collect(),
        next_rpps: 0,
        done: Generated::default(),
    };
    g.planted()?;
    // 85 % of the published BAL are personal (PER 455,471 of 535,357 in 2026).
    let personal_target = scale.mailbox_rows * 85 / 100;
    let expected_people = (scale.activity_rows as f64 / 1.6).max(1.0);
    let share = (personal_target as f64 / expected_people).min(1.0);
    while g.done.activity_rows < scale.activity_rows {
        let person = g.person();
        let activities = match g.rng.gen_range(0..20) {
            0..=10 => 1,
            11..=16 => 2,
            _ => 3,
        }
        .min(scale.activity_rows - g.done.activity_rows);
        let mut first = None;
        for _ in 0..activities {
            let place = g.place(&person);
            g.activity_line(&person, &place)?;
            first.get_or_insert(place);
        }
        g.done.people += 1;
        let doctor_bonus = if PROFESSIONS[person.profession].0 == "10" {
            1.6
        } else {
            0.85
        };
        if let Some(place) = first
            && g.done.mailbox_rows < personal_target
            && g.rng.gen_bool((share * doctor_bonus).min(1.0))
        {
            g.personal_mailbox(&person, &place, None)?;
        }
        if g.done.activity_rows % 10_000 < activities {
            progress(g.done.activity_rows);
        }
    }
    while g.done.mailbox_rows < scale.mailbox_rows {
        g.organisation_mailbox(None)?;
    }
    progress(g.done.activity_rows);
    g.activities.flush()?;
    g.mailboxes.flush()?;
    Ok(g.done)
}
