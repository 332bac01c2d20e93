//! Professionals and structures planted in every generated directory, and the committed
//! search-quality queries that must find them (typos, accents, hyphens, apostrophes,
//! homonyms, prefixes, identifiers). Generated people never share a planted name, so each
//! query has one right answer; homonyms among the planted are deliberate.

/// A planted professional.
pub struct Planted {
    /// Distinct number, from which the RPPS is made.
    pub number: u64,
    pub family: &'static str,
    pub given: &'static str,
    pub woman: bool,
    /// TRE_G15 code and specialty code (empty for none).
    pub profession: &'static str,
    pub specialty: &'static str,
    /// One of the real communes of the word lists.
    pub commune: &'static str,
    pub address: Option<&'static str>,
}

/// A planted structure BAL.
pub struct PlantedOrg {
    pub name: &'static str,
    pub service: &'static str,
    pub commune: &'static str,
    /// Six digits of the FINESS after the département.
    pub finess_body: &'static str,
    pub address: &'static str,
}

/// `who`: family name, given name, woman; `job`: TRE_G15 code, specialty code.
const fn pro(
    number: u64,
    who: (&'static str, &'static str, bool),
    job: (&'static str, &'static str),
    commune: &'static str,
    address: &'static str,
) -> Planted {
    let (family, given, woman) = who;
    let (profession, specialty) = job;
    Planted {
        number,
        family,
        given,
        woman,
        profession,
        specialty,
        commune,
        address: Some(address),
    }
}

pub const PLANTED: &[Planted] = &[
    pro(
        1,
        ("MARTIN", "Hélène", true),
        ("10", "SM54"),
        "Brest",
        "helene.martin@medecin.mssante.fr",
    ),
    pro(
        2,
        ("MARTIN", "Hélène", true),
        ("60", ""),
        "Lyon",
        "helene.martin@infirmier.mssante.fr",
    ),
    pro(
        3,
        ("MARTIN-DUPONT", "Jean-Pierre", false),
        ("10", "SM04"),
        "Bordeaux",
        "jean-pierre.martin-dupont@medecin.mssante.fr",
    ),
    pro(
        4,
        ("LEFEBVRE", "Françoise", true),
        ("10", "SM40"),
        "Lille",
        "francoise.lefebvre@medecin.mssante.fr",
    ),
    pro(
        5,
        ("D'ARTAGNAN", "Charles", false),
        ("10", "SM54"),
        "Auch",
        "charles.d-artagnan@medecin.mssante.fr",
    ),
    pro(
        6,
        ("ROUSSEAU", "Zoé", true),
        ("50", ""),
        "Saint-Denis",
        "zoe.rousseau@pro.mssante.fr",
    ),
    pro(
        7,
        ("NGUYEN", "Anh", false),
        ("21", ""),
        "Nantes",
        "anh.nguyen@pharmacien.mssante.fr",
    ),
    pro(
        8,
        ("BÉRANGER-LÉVÊQUE", "Éloïse", true),
        ("40", ""),
        "Grenoble",
        "eloise.beranger-leveque@chirurgien-dentiste.mssante.fr",
    ),
    pro(
        9,
        ("BENALI", "Mohamed", false),
        ("10", "SM59"),
        "Marseille",
        "mohamed.benali@medecin.mssante.fr",
    ),
    pro(
        10,
        ("KOWALCZYK", "Sébastien", false),
        ("70", ""),
        "Metz",
        "sebastien.kowalczyk@masseur-kinesitherapeute.mssante.fr",
    ),
    pro(
        11,
        ("O'NEILL", "Marie-Thérèse", true),
        ("10", "SM42"),
        "Rennes",
        "marie-therese.o-neill@medecin.mssante.fr",
    ),
    pro(
        12,
        ("SCHNEIDERMANN", "Ludovic", false),
        ("10", "SM44"),
        "Strasbourg",
        "ludovic.schneidermann@medecin.mssante.fr",
    ),
    pro(
        13,
        ("FAUCHEUX-BRISSAC", "Aurélie", true),
        ("91", ""),
        "Tours",
        "aurelie.faucheux-brissac@pro.mssante.fr",
    ),
    pro(
        14,
        ("LE GOFF", "Yannick", false),
        ("10", "SM54"),
        "Quimper",
        "yannick.le-goff@medecin.mssante.fr",
    ),
    pro(
        15,
        ("DE LA FONTAINE", "Cécile", true),
        ("10", "SM38"),
        "Versailles",
        "cecile.de-la-fontaine@medecin.mssante.fr",
    ),
    pro(
        16,
        ("TRAN", "Thi Hoa", true),
        ("60", ""),
        "Paris",
        "thi-hoa.tran@infirmier.mssante.fr",
    ),
    pro(
        17,
        ("PÉREZ-GARCIA", "Agnès", true),
        ("80", ""),
        "Perpignan",
        "agnes.perez-garcia@pro.mssante.fr",
    ),
    pro(
        18,
        ("CHÂTEAUNEUF", "Benoît", false),
        ("21", ""),
        "Clermont-Ferrand",
        "benoit.chateauneuf@pharmacien.mssante.fr",
    ),
    pro(
        19,
        ("QUÉMÉNEUR", "Gaëlle", true),
        ("50", ""),
        "Brest",
        "gaelle.quemeneur@pro.mssante.fr",
    ),
    pro(
        20,
        ("ABITBOL", "Jérôme", false),
        ("10", "SM15"),
        "Nice",
        "jerome.abitbol@medecin.mssante.fr",
    ),
    pro(
        21,
        ("DUBOIS", "Inès", true),
        ("10", "SM02"),
        "Toulouse",
        "ines.dubois@medecin.mssante.fr",
    ),
    pro(
        22,
        ("DUBOIS", "Inès", true),
        ("10", "SM20"),
        "Montpellier",
        "ines.dubois2@medecin.mssante.fr",
    ),
    pro(
        23,
        ("VANDENBERGHE", "Grégoire", false),
        ("10", "SM32"),
        "Amiens",
        "gregoire.vandenberghe@medecin.mssante.fr",
    ),
    pro(
        24,
        ("HOARAU", "Maëlle", true),
        ("60", ""),
        "Saint-Denis",
        "maelle.hoarau@infirmier.mssante.fr",
    ),
    pro(
        25,
        ("CHEVALLIER", "Baptiste", false),
        ("10", "SM41"),
        "Dijon",
        "baptiste.chevallier@medecin.mssante.fr",
    ),
];

pub const PLANTED_ORGS: &[PlantedOrg] = &[
    PlantedOrg {
        name: "CENTRE HOSPITALIER UNIVERSITAIRE DE NANTES",
        service: "Cardiologie",
        commune: "Nantes",
        finess_body: "000289",
        address: "cardiologie@chu-nantes.mssante.fr",
    },
    PlantedOrg {
        name: "EHPAD LES GLYCINES",
        service: "Accueil",
        commune: "Dax",
        finess_body: "004512",
        address: "accueil@ehpad-les-glycines.mssante.fr",
    },
    PlantedOrg {
        name: "CENTRE HOSPITALIER DE PAU",
        service: "Urgences",
        commune: "Pau",
        finess_body: "780010",
        address: "urgences@ch-pau.mssante.fr",
    },
];

/// A search-quality query: text and filters, and the address expected in the top five.
pub struct QualityQuery {
    /// `{rpps:N}` stands for planted professional N's RPPS, `{finess:I}` for planted
    /// structure I's FINESS.
    pub text: &'static str,
    pub profession: Option<&'static str>,
    pub commune: Option<&'static str>,
    pub departement: Option<&'static str>,
    pub expected: &'static str,
}

const fn q(text: &'static str, expected: &'static str) -> QualityQuery {
    QualityQuery {
        text,
        profession: None,
        commune: None,
        departement: None,
        expected,
    }
}

const fn qf(
    text: &'static str,
    profession: &'static str,
    commune: &'static str,
    expected: &'static str,
) -> QualityQuery {
    QualityQuery {
        text,
        profession: if profession.is_empty() { None } else { Some(profession) },
        commune: if commune.is_empty() { None } else { Some(commune) },
        departement: None,
        expected,
    }
}

pub const QUERIES: &[QualityQuery] = &[
    // Exact names, any case, with or without accents.
    q("Françoise Lefebvre", "francoise.lefebvre@medecin.mssante.fr"),
    q("francoise lefebvre", "francoise.lefebvre@medecin.mssante.fr"),
    q("LEFEBVRE FRANCOISE", "francoise.lefebvre@medecin.mssante.fr"),
    q(
        "Éloïse Béranger-Lévêque",
        "eloise.beranger-leveque@chirurgien-dentiste.mssante.fr",
    ),
    q(
        "eloise beranger leveque",
        "eloise.beranger-leveque@chirurgien-dentiste.mssante.fr",
    ),
    q("gaelle quemeneur", "gaelle.quemeneur@pro.mssante.fr"),
    q("benoit chateauneuf", "benoit.chateauneuf@pharmacien.mssante.fr"),
    q("Agnès Pérez-Garcia", "agnes.perez-garcia@pro.mssante.fr"),
    q("Schneidermann", "ludovic.schneidermann@medecin.mssante.fr"),
    q("Vandenberghe", "gregoire.vandenberghe@medecin.mssante.fr"),
    // One typo (from 4 letters), transpositions, missing or doubled letters.
    q("francoise lefebre", "francoise.lefebvre@medecin.mssante.fr"),
    q("francoise lefbevre", "francoise.lefebvre@medecin.mssante.fr"),
    q(
        "sebastien kowalczik",
        "sebastien.kowalczyk@masseur-kinesitherapeute.mssante.fr",
    ),
    q("kowalcyzk", "sebastien.kowalczyk@masseur-kinesitherapeute.mssante.fr"),
    q("schneiderman ludovic", "ludovic.schneidermann@medecin.mssante.fr"),
    q("ludovik schneidermann", "ludovic.schneidermann@medecin.mssante.fr"),
    q("jerome abitbolle", "jerome.abitbol@medecin.mssante.fr"),
    q("abitbo jerome", "jerome.abitbol@medecin.mssante.fr"),
    q("chevalllier baptiste", "baptiste.chevallier@medecin.mssante.fr"),
    q("quemeneure gaelle", "gaelle.quemeneur@pro.mssante.fr"),
    // Two typos in long words.
    q("vandemberge gregoire", "gregoire.vandenberghe@medecin.mssante.fr"),
    q("schnaiderman", "ludovic.schneidermann@medecin.mssante.fr"),
    q("chatauneuff benoit", "benoit.chateauneuf@pharmacien.mssante.fr"),
    q("faucheu brisac aurelie", "aurelie.faucheux-brissac@pro.mssante.fr"),
    // Hyphens, apostrophes, particles.
    q(
        "jean-pierre martin-dupont",
        "jean-pierre.martin-dupont@medecin.mssante.fr",
    ),
    q(
        "jean pierre martin dupont",
        "jean-pierre.martin-dupont@medecin.mssante.fr",
    ),
    q("martindupont", "jean-pierre.martin-dupont@medecin.mssante.fr"),
    q("d'artagnan", "charles.d-artagnan@medecin.mssante.fr"),
    q("dartagnan charles", "charles.d-artagnan@medecin.mssante.fr"),
    q("o'neill marie-therese", "marie-therese.o-neill@medecin.mssante.fr"),
    q("oneill", "marie-therese.o-neill@medecin.mssante.fr"),
    q("le goff yannick", "yannick.le-goff@medecin.mssante.fr"),
    q("legoff yannick", "yannick.le-goff@medecin.mssante.fr"),
    q("cecile de la fontaine", "cecile.de-la-fontaine@medecin.mssante.fr"),
    q("thi hoa tran", "thi-hoa.tran@infirmier.mssante.fr"),
    q("faucheux-brissac", "aurelie.faucheux-brissac@pro.mssante.fr"),
    // Prefixes while typing.
    q("vandenb", "gregoire.vandenberghe@medecin.mssante.fr"),
    q("kowalc", "sebastien.kowalczyk@masseur-kinesitherapeute.mssante.fr"),
    q(
        "eloise berang",
        "eloise.beranger-leveque@chirurgien-dentiste.mssante.fr",
    ),
    q("jerome abit", "jerome.abitbol@medecin.mssante.fr"),
    q("maelle hoar", "maelle.hoarau@infirmier.mssante.fr"),
    // Homonyms told apart by profession or place.
    qf("helene martin", "10", "", "helene.martin@medecin.mssante.fr"),
    qf("helene martin", "60", "", "helene.martin@infirmier.mssante.fr"),
    qf("helene martin", "", "Brest", "helene.martin@medecin.mssante.fr"),
    q("helene martin lyon", "helene.martin@infirmier.mssante.fr"),
    qf("ines dubois", "", "Toulouse", "ines.dubois@medecin.mssante.fr"),
    qf("ines dubois", "", "Montpellier", "ines.dubois2@medecin.mssante.fr"),
    q("ines dubois montpellier", "ines.dubois2@medecin.mssante.fr"),
    q("zoe rousseau saint-denis", "zoe.rousseau@pro.mssante.fr"),
    qf("mohamed benali", "", "Marseille", "mohamed.benali@medecin.mssante.fr"),
    q("anh nguyen nantes", "anh.nguyen@pharmacien.mssante.fr"),
    // Identifiers and addresses.
    q("{rpps:12}", "ludovic.schneidermann@medecin.mssante.fr"),
    q("{rpps:4}", "francoise.lefebvre@medecin.mssante.fr"),
    q("jerome.abitbol@medecin.mssante.fr", "jerome.abitbol@medecin.mssante.fr"),
    q("{finess:0}", "cardiologie@chu-nantes.mssante.fr"),
    // Structures by name, service and place.
    q("chu nantes cardiologie", "cardiologie@chu-nantes.mssante.fr"),
    q(
        "centre hospitalier universitaire nantes cardio",
        "cardiologie@chu-nantes.mssante.fr",
    ),
    q("ehpad glycines", "accueil@ehpad-les-glycines.mssante.fr"),
    q("ch pau urgences", "urgences@ch-pau.mssante.fr"),
];

/// The FINESS of planted structure `i`.
pub fn planted_finess(i: usize) -> String {
    let o = &PLANTED_ORGS[i];
    let postcode = super::data::COMMUNES
        .iter()
        .find(|c| c.0 == o.commune)
        .map_or("75", |c| &c.1[..2]);
    let body = format!("{postcode}{}", o.finess_body);
    format!("{body}{}", confiance_core::Finess::key_for(&body).unwrap_or('0'))
}

impl QualityQuery {
    /// The directory query, its top `limit` results to be looked at.
    pub fn query(&self, limit: usize) -> crate::Query {
        crate::Query {
            text: self.text(),
            profession: self.profession.map(str::to_string),
            commune: self.commune.map(str::to_string),
            departement: self.departement.map(str::to_string),
            limit,
            ..crate::Query::default()
        }
    }

    /// The query text with its placeholders filled.
    pub fn text(&self) -> String {
        let t = self.text;
        if let Some(n) = t.strip_prefix("{rpps:").and_then(|r| r.strip_suffix('}')) {
            let n: u64 = n.parse().unwrap_or(0);
            return PLANTED
                .iter()
                .find(|p| p.number == n)
                .map(super::planted_rpps)
                .unwrap_or_default();
        }
        if let Some(i) = t.strip_prefix("{finess:").and_then(|r| r.strip_suffix('}')) {
            return planted_finess(i.parse().unwrap_or(0));
        }
        t.to_string()
    }
}
