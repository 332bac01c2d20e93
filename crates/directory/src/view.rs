//! A directory entry as the API, the search page and the CLI show it: enough to tell homonyms
//! apart (profession, specialty, places of practice) and every published BAL with its type
//! and dématérialisation flag.

use serde::Serialize;

use crate::model::{Mailbox, Snapshot, Text};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Coded {
    pub code: String,
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Place {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub postcode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commune: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub departement: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finess: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailboxView {
    pub address: String,
    /// `PER`, `ORG`, `APP` or `CAB`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `null` when the file did not say.
    pub dematerialisation: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A professional.
    Person,
    /// A structure's BAL.
    Organisation,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub kind: EntryKind,
    /// What to show as the entry's title (`Dr Jean DUPONT`, `CH EXEMPLE — Cardiologie`).
    pub display_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub national_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rpps: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub structure_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub civility: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profession: Option<Coded>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub specialty: Option<Coded>,
    pub places: Vec<Place>,
    pub mailboxes: Vec<MailboxView>,
}

fn opt(s: &Snapshot, t: Text) -> Option<String> {
    (t != 0).then(|| s.text(t).to_string())
}

fn mailbox(s: &Snapshot, m: &Mailbox) -> MailboxView {
    MailboxView {
        address: s.text(m.address).to_string(),
        kind: m.kind.code(),
        dematerialisation: m.dematerialisation,
        service: opt(s, m.service),
    }
}

/// The short civility shown before a name (`Docteur` → `Dr`).
fn title(civility: &str) -> &str {
    match civility {
        "Docteur" | "DR" => "Dr",
        "Professeur" | "PR" => "Pr",
        "Madame" | "MME" => "Mme",
        "Monsieur" | "M" => "M.",
        other => other,
    }
}

impl Entry {
    /// The entry of document `doc` (people first, then structures' BAL).
    pub fn of(s: &Snapshot, doc: u32) -> Entry {
        let doc = doc as usize;
        match s.people.get(doc) {
            Some(p) => {
                let national = s.text(p.national_id);
                let display_name = [title(s.text(p.civility)), s.text(p.given_name), s.text(p.family_name)]
                    .iter()
                    .filter(|w| !w.is_empty())
                    .copied()
                    .collect::<Vec<_>>()
                    .join(" ");
                let coded = |code: Text, label: &str| {
                    (code != 0).then(|| Coded {
                        code: s.text(code).to_string(),
                        label: label.to_string(),
                    })
                };
                Entry {
                    kind: EntryKind::Person,
                    display_name,
                    national_id: opt(s, p.national_id),
                    rpps: national.strip_prefix('8').map(str::to_string),
                    structure_id: None,
                    family_name: opt(s, p.family_name),
                    given_name: opt(s, p.given_name),
                    civility: opt(s, p.civility),
                    profession: coded(p.profession, s.profession_label(p.profession)),
                    specialty: coded(p.specialty, s.specialty_label(p.specialty)),
                    places: p
                        .activities
                        .iter()
                        .map(|a| Place {
                            organisation: opt(s, a.organisation),
                            street: opt(s, a.street),
                            postcode: opt(s, a.postcode),
                            commune: opt(s, a.commune),
                            departement: opt(s, a.departement),
                            finess: opt(s, a.finess),
                            phone: opt(s, a.phone),
                        })
                        .collect(),
                    mailboxes: p.mailboxes.iter().map(|m| mailbox(s, m)).collect(),
                }
            }
            None => {
                let g = &s.organisations[doc - s.people.len()];
                let name = s.text(g.name);
                let service = s.text(g.mailbox.service);
                let display_name = match (name.is_empty(), service.is_empty()) {
                    (false, false) => format!("{name} — {service}"),
                    (false, true) => name.to_string(),
                    (true, false) => service.to_string(),
                    (true, true) => s.text(g.mailbox.address).to_string(),
                };
                let postcode = s.text(g.postcode);
                Entry {
                    kind: EntryKind::Organisation,
                    display_name,
                    national_id: None,
                    rpps: None,
                    structure_id: opt(s, g.structure_id),
                    family_name: None,
                    given_name: None,
                    civility: None,
                    profession: None,
                    specialty: None,
                    places: vec![Place {
                        organisation: opt(s, g.name),
                        street: None,
                        postcode: opt(s, g.postcode),
                        commune: Some(crate::import::commune_of(s.text(g.locality), postcode).to_string())
                            .filter(|c| !c.is_empty()),
                        departement: opt(s, g.departement),
                        finess: s.text(g.structure_id).strip_prefix('1').map(str::to_string),
                        phone: None,
                    }],
                    mailboxes: vec![mailbox(s, &g.mailbox)],
                }
            }
        }
    }
}
