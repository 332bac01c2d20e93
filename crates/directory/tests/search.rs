//! Search behaviour over a small directory built from real-format lines: accents, case, typos,
//! prefixes, compound names, homonyms, filters, identifiers and ranking.

use confiance_core::{MailboxKind, Rpps};
use confiance_directory::activity::HEADER_56;
use confiance_directory::{Builder, Directory, Query};

/// A valid RPPS from a 10-digit body.
fn rpps(body: u64) -> String {
    let body = format!("{body:010}");
    (0..10)
        .map(|k| format!("{body}{k}"))
        .find(|r| Rpps::parse(r).is_ok())
        .unwrap()
}

struct Pro<'a> {
    id: u64,
    family: &'a str,
    given: &'a str,
    profession: (&'a str, &'a str),
    specialty: (&'a str, &'a str),
    organisation: &'a str,
    postcode: &'a str,
    commune: &'a str,
    mailbox: Option<(&'a str, &'a str)>,
}

fn activity_line(p: &Pro<'_>) -> String {
    let mut f = vec![String::new(); 56];
    let r = rpps(p.id);
    f[0] = "8".into();
    f[2] = format!("8{r}");
    f[1] = r;
    f[4] = if p.profession.0 == "10" {
        "Docteur".into()
    } else {
        String::new()
    };
    f[7] = p.family.into();
    f[8] = p.given.into();
    f[9] = p.profession.0.into();
    f[10] = p.profession.1.into();
    if !p.specialty.0.is_empty() {
        f[13] = "S".into();
        f[15] = p.specialty.0.into();
        f[16] = p.specialty.1.into();
    }
    f[24] = p.organisation.into();
    f[35] = p.postcode.into();
    f[37] = p.commune.into();
    f[44] = departement(p.postcode).into();
    f.join("|")
}

/// As the ANS files write it: three digits overseas (`974`).
fn departement(postcode: &str) -> &str {
    if postcode.starts_with("97") {
        &postcode[..3]
    } else {
        &postcode[..2]
    }
}

const MSS_HEADER: &str = "Type de BAL|Adresse BAL|Type Identifiant PP|Identifiant PP|Identification nationale PP|Identification Structure|Service de rattachement|Nom d'exercice|Prénom d'exercice|Code Profession|Libellé Profession|Dématérialisation|Raison Sociale structure BAL|L6LIGNEACHEMINEMENT structure BAL|Code postal structure BAL|Département structure BAL";

fn directory() -> Directory {
    let gp = ("SM54", "Médecine générale");
    let cardio = ("SM04", "Cardiologie et Maladies vasculaires");
    let doctor = ("10", "Médecin");
    let nurse = ("60", "Infirmier");
    let none = ("", "");
    let pros = [
        Pro {
            id: 1,
            family: "MARTIN",
            given: "Hélène",
            profession: doctor,
            specialty: gp,
            organisation: "CABINET MEDICAL DES LILAS",
            postcode: "75020",
            commune: "Paris",
            mailbox: Some(("helene.martin@medecin.mssante.fr", "true")),
        },
        Pro {
            id: 2,
            family: "MARTIN",
            given: "Hélène",
            profession: nurse,
            specialty: none,
            organisation: "CABINET INFIRMIER DU PORT",
            postcode: "13002",
            commune: "Marseille",
            mailbox: Some(("helene.martin2@infirmier.mssante.fr", "false")),
        },
        Pro {
            id: 3,
            family: "MARTIN-DUPONT",
            given: "Jean-Pierre",
            profession: doctor,
            specialty: cardio,
            organisation: "CLINIQUE DU PARC",
            postcode: "69006",
            commune: "Lyon",
            mailbox: Some(("jp.martin-dupont@medecin.mssante.fr", "true")),
        },
        Pro {
            id: 4,
            family: "MARTINEZ",
            given: "Lucas",
            profession: doctor,
            specialty: gp,
            organisation: "",
            postcode: "31000",
            commune: "Toulouse",
            mailbox: Some(("lucas.martinez@medecin.mssante.fr", "")),
        },
        Pro {
            id: 5,
            family: "LEFEBVRE",
            given: "Françoise",
            profession: doctor,
            specialty: cardio,
            organisation: "HOPITAL SAINT-LOUIS",
            postcode: "75010",
            commune: "Paris",
            mailbox: Some(("francoise.lefebvre@medecin.mssante.fr", "true")),
        },
        Pro {
            id: 6,
            family: "D'ARTAGNAN",
            given: "Charles",
            profession: doctor,
            specialty: gp,
            organisation: "",
            postcode: "32000",
            commune: "Auch",
            mailbox: Some(("charles.dartagnan@medecin.mssante.fr", "true")),
        },
        Pro {
            id: 7,
            family: "NGUYEN",
            given: "Anh",
            profession: nurse,
            specialty: none,
            organisation: "",
            postcode: "44000",
            commune: "Nantes",
            mailbox: None,
        },
        Pro {
            id: 8,
            family: "ROUSSEAU",
            given: "Zoé",
            profession: doctor,
            specialty: gp,
            organisation: "MAISON DE SANTE",
            postcode: "97400",
            commune: "Saint-Denis",
            mailbox: Some(("zoe.rousseau@medecin.mssante.fr", "true")),
        },
    ];
    let mut activities = vec![HEADER_56.to_string()];
    let mut mailboxes = vec![MSS_HEADER.to_string()];
    for p in &pros {
        activities.push(activity_line(p));
        if let Some((address, demat)) = p.mailbox {
            let r = rpps(p.id);
            mailboxes.push(format!(
                "PER|{address}|8|{r}|8{r}|||{}|{}|{}|{}|{demat}|||{}|{}",
                p.family,
                p.given,
                p.profession.0,
                p.profession.1,
                p.postcode,
                departement(p.postcode)
            ));
        }
    }
    mailboxes.push(format!(
        "ORG|cardiologie@chu-exemple.mssante.fr||||1{}|Service de cardiologie|||||true|CHU EXEMPLE|35000 RENNES|35000|35",
        finess()
    ));
    mailboxes.push(
        "ORG|accueil@ehpad-tilleuls.mssante.fr||||3|Accueil|||||false|EHPAD LES TILLEULS|59000 LILLE|59000|59".into(),
    );
    let mut b = Builder::new();
    let r = b.activities(activities.join("\n").as_bytes(), "activites.txt").unwrap();
    assert!(r.bad.is_empty(), "{:?}", r.bad);
    let r = b.mailboxes(mailboxes.join("\n").as_bytes(), "bal.txt").unwrap();
    assert!(r.bad.is_empty(), "{:?}", r.bad);
    Directory::new(b.finish(0))
}

fn finess() -> String {
    let body = "35000001";
    format!("{body}{}", confiance_core::Finess::key_for(body).unwrap())
}

fn q(text: &str) -> Query {
    Query {
        text: text.into(),
        limit: 10,
        ..Query::default()
    }
}

/// The first mailbox (or name) of each result, in order.
fn names(d: &Directory, query: &Query) -> Vec<String> {
    d.search(query)
        .entries
        .iter()
        .map(|e| {
            e.mailboxes
                .first()
                .map_or_else(|| e.display_name.clone(), |m| m.address.clone())
        })
        .collect()
}

#[test]
fn accents_case_and_typos() {
    let d = directory();
    let f = "francoise.lefebvre@medecin.mssante.fr";
    for query in [
        "Françoise Lefebvre ",
        "FRANCOISE LEFEBVRE ",
        "francoise lefevre ",
        "lefbevre ",
        "francois lefebvre",
    ] {
        assert_eq!(names(&d, &q(query)).first().map(String::as_str), Some(f), "{query}");
    }
    // Three letters: no typo allowed, so no noise.
    assert!(names(&d, &q("zxe ")).is_empty());
    assert!(names(&d, &q("durand ")).is_empty());
}

#[test]
fn full_name_beats_partial_and_prefix_while_typing() {
    let d = directory();
    let got = names(&d, &q("martin "));
    // Both Hélène MARTIN (exact family name) before MARTIN-DUPONT (a part of it); MARTINEZ is
    // only a prefix and the query is finished (trailing space), so it is not there.
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[..2].contains(&"helene.martin@medecin.mssante.fr".to_string()));
    assert_eq!(got[2], "jp.martin-dupont@medecin.mssante.fr");
    let typing = names(&d, &q("marti"));
    assert_eq!(typing.len(), 4, "{typing:?}");
    assert_eq!(
        names(&d, &q("jean-pierre martin-dupont"))[0],
        "jp.martin-dupont@medecin.mssante.fr"
    );
    assert_eq!(names(&d, &q("jeanpierre "))[0], "jp.martin-dupont@medecin.mssante.fr");
    assert_eq!(names(&d, &q("dartagnan "))[0], "charles.dartagnan@medecin.mssante.fr");
    assert_eq!(
        names(&d, &q("d'artagnan charles"))[0],
        "charles.dartagnan@medecin.mssante.fr"
    );
}

#[test]
fn homonyms_are_told_apart_and_filtered() {
    let d = directory();
    let r = d.search(&q("helene martin"));
    assert_eq!(r.total, 2);
    let details: Vec<(String, String)> = r
        .entries
        .iter()
        .map(|e| {
            (
                e.profession.as_ref().unwrap().label.clone(),
                e.places[0].commune.clone().unwrap(),
            )
        })
        .collect();
    assert!(details.contains(&("Médecin".into(), "Paris".into())), "{details:?}");
    assert!(
        details.contains(&("Infirmier".into(), "Marseille".into())),
        "{details:?}"
    );
    let nurse = Query {
        profession: Some("60".into()),
        ..q("helene martin")
    };
    assert_eq!(names(&d, &nurse), vec!["helene.martin2@infirmier.mssante.fr"]);
    let in_paris = Query {
        commune: Some("PARIS".into()),
        ..q("martin")
    };
    assert_eq!(names(&d, &in_paris), vec!["helene.martin@medecin.mssante.fr"]);
    let dept = Query {
        departement: Some("13".into()),
        ..q("")
    };
    assert_eq!(names(&d, &dept), vec!["helene.martin2@infirmier.mssante.fr"]);
    let reunion = Query {
        departement: Some("97".into()),
        ..q("rousseau")
    };
    assert!(names(&d, &reunion).is_empty(), "97400 is in département 974, not 97");
    let reunion = Query {
        departement: Some("974".into()),
        ..reunion
    };
    assert_eq!(names(&d, &reunion), vec!["zoe.rousseau@medecin.mssante.fr"]);
    let cardio = Query {
        specialty: Some("SM04".into()),
        ..q("")
    };
    assert_eq!(d.search(&cardio).total, 2);
}

#[test]
fn identifiers_places_and_organisations() {
    let d = directory();
    assert_eq!(names(&d, &q(&rpps(5))), vec!["francoise.lefebvre@medecin.mssante.fr"]);
    assert_eq!(
        names(&d, &q(&format!("8{}", rpps(5)))),
        vec!["francoise.lefebvre@medecin.mssante.fr"]
    );
    assert_eq!(
        names(&d, &q("Zoe.Rousseau@medecin.mssante.fr")),
        vec!["zoe.rousseau@medecin.mssante.fr"]
    );
    assert_eq!(names(&d, &q(&finess())), vec!["cardiologie@chu-exemple.mssante.fr"]);
    assert_eq!(
        names(&d, &q("cardiologie rennes"))[0],
        "cardiologie@chu-exemple.mssante.fr"
    );
    assert_eq!(names(&d, &q("tilleuls")), vec!["accueil@ehpad-tilleuls.mssante.fr"]);
    assert_eq!(names(&d, &q("75020")), vec!["helene.martin@medecin.mssante.fr"]);
    let orgs = Query {
        kind: Some(MailboxKind::Organisational),
        ..q("")
    };
    assert_eq!(d.search(&orgs).total, 2);
    // NGUYEN has no BAL: found by name, left out when only BAL are wanted.
    assert_eq!(d.search(&q("nguyen")).total, 1);
    let with_bal = Query {
        with_mailbox: true,
        ..q("nguyen")
    };
    assert_eq!(d.search(&with_bal).total, 0);
    let entry = &d.search(&q("lucas martinez")).entries[0];
    assert_eq!(entry.mailboxes[0].dematerialisation, None);
    assert_eq!(entry.display_name, "Dr Lucas MARTINEZ");
    let json = serde_json::to_value(entry).unwrap();
    assert_eq!(json["mailboxes"][0]["type"], "PER");
    assert_eq!(json["specialty"]["code"], "SM54");
}

#[test]
fn own_mailboxes_replace_and_red_list_hides_national_entries() {
    use confiance_core::Address;
    use confiance_directory::{LiveDirectory, MailboxEntry};
    // Until our own listings are known, nothing is shown (the liste rouge could not apply).
    let path = std::env::temp_dir().join(format!("confiance-live-{}.snapshot", std::process::id()));
    directory().snapshot.write(&path).unwrap();
    let starting = LiveDirectory::open(path.clone()).unwrap();
    assert!(starting.search(&q("lefebvre")).is_none());
    starting.set_own(Vec::new(), Vec::new());
    assert_eq!(starting.search(&q("lefebvre")).unwrap().total, 1);
    std::fs::remove_file(&path).unwrap();

    // National BAL on our own domains are never shown from the national file.
    let ours = LiveDirectory::from_directory(directory()).for_domains(&["MEDECIN.mssante.fr".to_string()]);
    let r = ours.search(&q("lefebvre")).unwrap();
    assert!(r.entries[0].mailboxes.is_empty(), "{:?}", r.entries);

    let live = LiveDirectory::from_directory(directory());
    let find = |text: &str| {
        let r = live.search(&q(text)).unwrap();
        r.entries
            .iter()
            .flat_map(|e| e.mailboxes.iter().map(|m| m.address.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        find("lefebvre francoise"),
        vec!["francoise.lefebvre@medecin.mssante.fr"]
    );
    let own = MailboxEntry {
        kind: MailboxKind::Personal,
        address: Address::parse("f.lefebvre@pro.confiance.test").unwrap(),
        national_id: Some(format!("8{}", rpps(5))),
        structure_id: None,
        service: None,
        civility: None,
        family_name: Some("LEFEBVRE".into()),
        given_name: Some("Françoise".into()),
        profession: Some(("10".into(), "Médecin".into())),
        specialty: None,
        dematerialisation: Some(true),
        organisation: None,
        postcode: None,
        locality: None,
        departement: None,
    };
    // Her national BAL is red-listed by its holder here: it is gone everywhere, at once.
    assert!(live.set_own(vec![own.clone()], vec!["Francoise.Lefebvre@medecin.mssante.fr".into()]));
    assert!(!live.set_own(vec![own.clone()], vec!["Francoise.Lefebvre@medecin.mssante.fr".into()]));
    let found = find("lefebvre francoise");
    assert_eq!(found, vec!["f.lefebvre@pro.confiance.test"], "{found:?}");
    // Nor is she found through the hidden BAL: its address says nothing any more.
    let by_address = live.search(&q("francoise.lefebvre@medecin.mssante.fr")).unwrap();
    assert_eq!(
        (by_address.total, by_address.entries.len()),
        (0, 0),
        "{:?}",
        by_address.entries
    );
    let national_only = Query {
        with_mailbox: true,
        ..q("lefebvre")
    };
    let r = live.search(&national_only).unwrap();
    assert!(r.entries.iter().all(|e| {
        e.mailboxes
            .iter()
            .all(|m| m.address != "francoise.lefebvre@medecin.mssante.fr")
    }));
    // A red-listed structure BAL: its entry disappears.
    assert!(live.set_own(Vec::new(), vec!["accueil@ehpad-tilleuls.mssante.fr".into()]));
    assert!(find("tilleuls").is_empty());
    assert_eq!(
        find("lefebvre francoise"),
        vec!["francoise.lefebvre@medecin.mssante.fr"]
    );
}
