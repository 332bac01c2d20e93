//! `PS_LibreAcces_Personne_activite`: one line per professional × activity (exercice ×
//! situation d'exercice), reference directory-and-identifiers §2.2. Three header versions
//! exist: 48 columns (2017–2018, up to `Autorité d'enregistrement`), 52 (up to the pharmacists'
//! section) and 56 today (with role and genre d'activité). Columns are found by name, so every
//! version reads the same way; those a version lacks are simply empty.

use std::io::BufRead;

use confiance_core::{Finess, Rpps, Siret};

use crate::extract::{BadLine, Extract, ExtractError, Fields};

const KIND: &str = "a PS_LibreAcces_Personne_activite file";

/// One activity line, borrowed from the reader: the builder keeps what it needs.
#[derive(Debug, Clone, Copy, Default)]
pub struct ActivityRow<'a> {
    /// `8` (RPPS) or `0` (ADELI): TRE_G08 type of the professional's identifier.
    pub id_type: &'a str,
    pub id: &'a str,
    /// Identification nationale PP: the type's prefix then the identifier (`8` + RPPS).
    pub national_id: &'a str,
    /// Civilité d'exercice (`Docteur`, `Professeur`), label then code.
    pub civility: &'a str,
    pub family_name: &'a str,
    pub given_name: &'a str,
    /// TRE_G15 profession.
    pub profession_code: &'a str,
    pub profession: &'a str,
    /// Savoir-faire: its type (`S` spécialité ordinale, `C` compétence…), code and label.
    pub skill_type: &'a str,
    pub skill_code: &'a str,
    pub skill: &'a str,
    /// Mode d'exercice (`L` libéral, `S` salarié, `B` bénévole).
    pub mode: &'a str,
    pub siret: &'a str,
    pub finess_site: &'a str,
    pub finess_legal: &'a str,
    pub structure_id: &'a str,
    /// Raison sociale then enseigne commerciale of the site.
    pub organisation: &'a str,
    pub trade_name: &'a str,
    pub street_number: &'a str,
    pub street_repeat: &'a str,
    pub street_type: &'a str,
    pub street: &'a str,
    pub postcode: &'a str,
    pub commune_code: &'a str,
    pub commune: &'a str,
    pub phone: &'a str,
    pub departement: &'a str,
    pub role: &'a str,
}

/// What an import read.
#[derive(Debug, Default)]
pub struct ActivityImport {
    pub rows: u64,
    pub bad: Vec<BadLine>,
}

struct Columns {
    id_type: usize,
    id: usize,
    national_id: Option<usize>,
    civility: Option<usize>,
    family_name: usize,
    given_name: Option<usize>,
    profession_code: usize,
    profession: Option<usize>,
    skill_type: Option<usize>,
    skill_code: Option<usize>,
    skill: Option<usize>,
    mode: Option<usize>,
    siret: Option<usize>,
    finess_site: Option<usize>,
    finess_legal: Option<usize>,
    structure_id: Option<usize>,
    organisation: Option<usize>,
    trade_name: Option<usize>,
    street_number: Option<usize>,
    street_repeat: Option<usize>,
    street_type: Option<usize>,
    street: Option<usize>,
    postcode: Option<usize>,
    commune_code: Option<usize>,
    commune: Option<usize>,
    phone: Option<usize>,
    departement: Option<usize>,
    role: Option<usize>,
}

const REQUIRED: [&str; 4] = [
    "Type d'identifiant PP",
    "Identifiant PP",
    "Nom d'exercice",
    "Code profession",
];

impl Columns {
    fn find<R: BufRead>(e: &Extract<R>) -> Columns {
        let c = |name: &str| e.column(name);
        let required = |name: &str| e.column(name).unwrap_or_default();
        Columns {
            id_type: required(REQUIRED[0]),
            id: required(REQUIRED[1]),
            national_id: c("Identification nationale PP"),
            civility: c("Libellé civilité d'exercice"),
            family_name: required(REQUIRED[2]),
            given_name: c("Prénom d'exercice"),
            profession_code: required(REQUIRED[3]),
            profession: c("Libellé profession"),
            skill_type: c("Code type savoir-faire"),
            skill_code: c("Code savoir-faire"),
            skill: c("Libellé savoir-faire"),
            mode: c("Code mode exercice"),
            siret: c("Numéro SIRET site"),
            finess_site: c("Numéro FINESS site"),
            finess_legal: c("Numéro FINESS établissement juridique"),
            structure_id: c("Identifiant technique de la structure"),
            organisation: c("Raison sociale site"),
            trade_name: c("Enseigne commerciale site"),
            street_number: c("Numéro Voie (coord. structure)"),
            street_repeat: c("Indice répétition voie (coord. structure)"),
            street_type: c("Libellé type de voie (coord. structure)"),
            street: c("Libellé Voie (coord. structure)"),
            postcode: c("Code postal (coord. structure)"),
            commune_code: c("Code commune (coord. structure)"),
            commune: c("Libellé commune (coord. structure)"),
            phone: c("Téléphone (coord. structure)"),
            departement: c("Code Département (structure)"),
            role: c("Libellé rôle"),
        }
    }

    fn row<'a>(&self, f: &Fields<'a>) -> Result<ActivityRow<'a>, String> {
        let o = |c: Option<usize>| f.opt(c).unwrap_or("");
        let row = ActivityRow {
            id_type: f.get(self.id_type),
            id: f.get(self.id),
            national_id: o(self.national_id),
            civility: o(self.civility),
            family_name: f.get(self.family_name),
            given_name: o(self.given_name),
            profession_code: f.get(self.profession_code),
            profession: o(self.profession),
            skill_type: o(self.skill_type),
            skill_code: o(self.skill_code),
            skill: o(self.skill),
            mode: o(self.mode),
            siret: o(self.siret),
            finess_site: o(self.finess_site),
            finess_legal: o(self.finess_legal),
            structure_id: o(self.structure_id),
            organisation: o(self.organisation),
            trade_name: o(self.trade_name),
            street_number: o(self.street_number),
            street_repeat: o(self.street_repeat),
            street_type: o(self.street_type),
            street: o(self.street),
            postcode: o(self.postcode),
            commune_code: o(self.commune_code),
            commune: o(self.commune),
            phone: o(self.phone),
            departement: o(self.departement),
            role: o(self.role),
        };
        row.check()?;
        Ok(row)
    }
}

impl ActivityRow<'_> {
    /// The rules a line must meet to enter the directory; the reason names the column.
    fn check(&self) -> Result<(), String> {
        if self.id.is_empty() {
            return Err("Identifiant PP is empty".into());
        }
        match self.id_type {
            // TRE_G08: 8 = RPPS, 0 = ADELI (not checked: no public key rule).
            "8" => {
                Rpps::parse(self.id).map_err(|e| format!("Identifiant PP: {e}"))?;
            }
            "0" | "" => {}
            other => {
                return Err(format!(
                    "Type d'identifiant PP {other:?} is neither 8 (RPPS) nor 0 (ADELI)"
                ));
            }
        }
        if self.family_name.is_empty() {
            return Err("Nom d'exercice is empty".into());
        }
        if self.profession_code.is_empty() || !self.profession_code.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!(
                "Code profession {:?} is not a TRE_G15 code",
                self.profession_code
            ));
        }
        if !self.finess_site.is_empty() {
            Finess::parse(self.finess_site).map_err(|e| format!("Numéro FINESS site: {e}"))?;
        }
        if !self.siret.is_empty() {
            Siret::parse(self.siret).map_err(|e| format!("Numéro SIRET site: {e}"))?;
        }
        Ok(())
    }

    /// The national identifier, built from the type and identifier when the column is absent.
    pub fn national(&self) -> String {
        if self.national_id.is_empty() {
            format!("{}{}", self.id_type, self.id)
        } else {
            self.national_id.to_string()
        }
    }
}

/// Reads the extract, handing each usable line to `row`. Unusable lines are counted with their
/// number and reason; they never stop the import.
pub fn read_activities<R: BufRead>(
    reader: R,
    mut row: impl FnMut(&ActivityRow<'_>),
) -> Result<ActivityImport, ExtractError> {
    let mut extract = Extract::open(reader, KIND, &REQUIRED)?;
    let columns = Columns::find(&extract);
    let mut report = ActivityImport::default();
    while let Some((line, fields)) = extract.next_line()? {
        match fields.and_then(|f| columns.row(&f).map_err(|reason| BadLine { line, reason })) {
            Ok(r) => {
                report.rows += 1;
                row(&r);
            }
            Err(bad) => report.bad.push(bad),
        }
    }
    Ok(report)
}

/// The header of every published version, oldest first (reference §2.2): 48, 52, 56 columns.
pub fn header(columns: usize) -> String {
    let all = HEADER_56.split('|').collect::<Vec<_>>();
    all[..columns].join("|")
}

/// The current header, exactly as published.
pub const HEADER_56: &str = "Type d'identifiant PP|Identifiant PP|Identification nationale PP|Code civilité d'exercice|Libellé civilité d'exercice|Code civilité|Libellé civilité|Nom d'exercice|Prénom d'exercice|Code profession|Libellé profession|Code catégorie professionnelle|Libellé catégorie professionnelle|Code type savoir-faire|Libellé type savoir-faire|Code savoir-faire|Libellé savoir-faire|Code mode exercice|Libellé mode exercice|Numéro SIRET site|Numéro SIREN site|Numéro FINESS site|Numéro FINESS établissement juridique|Identifiant technique de la structure|Raison sociale site|Enseigne commerciale site|Complément destinataire (coord. structure)|Complément point géographique (coord. structure)|Numéro Voie (coord. structure)|Indice répétition voie (coord. structure)|Code type de voie (coord. structure)|Libellé type de voie (coord. structure)|Libellé Voie (coord. structure)|Mention distribution (coord. structure)|Bureau cedex (coord. structure)|Code postal (coord. structure)|Code commune (coord. structure)|Libellé commune (coord. structure)|Code pays (coord. structure)|Libellé pays (coord. structure)|Téléphone (coord. structure)|Téléphone 2 (coord. structure)|Télécopie (coord. structure)|Adresse e-mail (coord. structure)|Code Département (structure)|Libellé Département (structure)|Ancien identifiant de la structure|Autorité d'enregistrement|Code secteur d'activité|Libellé secteur d'activité|Code section tableau pharmaciens|Libellé section tableau pharmaciens|Code rôle|Libellé rôle|Code genre activité|Libellé genre activité";

#[cfg(test)]
mod tests {
    use super::*;

    /// A line of the current format, cut to `columns` fields like the older versions.
    fn line(rpps: &str, family: &str, finess: &str, columns: usize) -> String {
        let mut f = vec![""; 56];
        f[0] = "8";
        f[1] = rpps;
        let national = format!("8{rpps}");
        f[2] = &national;
        f[4] = "Docteur";
        f[7] = family;
        f[8] = "Jean";
        f[9] = "10";
        f[10] = "Médecin";
        f[13] = "S";
        f[15] = "SM54";
        f[16] = "Médecine générale";
        f[17] = "L";
        f[21] = finess;
        f[24] = "CABINET DU DR DUPONT";
        f[28] = "12";
        f[31] = "Rue";
        f[32] = "de la Paix";
        f[35] = "75002";
        f[36] = "75102";
        f[37] = "Paris 2e  Arrondissement";
        f[44] = "75";
        f[53] = "Titulaire de cabinet";
        f[..columns].join("|")
    }

    #[test]
    fn every_header_version_reads_the_same() {
        for columns in [48, 52, 56] {
            // Some versions end each line with `|` (an empty last column).
            let trailing = if columns == 52 { "|" } else { "" };
            let file = format!(
                "{}{trailing}\n{}{trailing}\n",
                header(columns),
                line("10000005479", "DUPONT", "", columns)
            );
            let mut got = Vec::new();
            let report = read_activities(file.as_bytes(), |r| {
                got.push((
                    r.national(),
                    r.family_name.to_string(),
                    r.postcode.to_string(),
                    r.role.to_string(),
                ))
            })
            .unwrap();
            assert_eq!(report.rows, 1, "{columns} columns: {:?}", report.bad);
            let role = if columns == 56 { "Titulaire de cabinet" } else { "" };
            assert_eq!(
                got,
                vec![("810000005479".into(), "DUPONT".into(), "75002".into(), role.into())]
            );
        }
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let good = format!("75000001{}", Finess::key_for("75000001").unwrap());
        let mut wrong = good.clone();
        let last = wrong.pop().unwrap().to_digit(10).unwrap();
        wrong.push(char::from_digit((last + 1) % 10, 10).unwrap());
        let mut zero_type = line("10000005479", "MARTIN", "", 56);
        zero_type.replace_range(0..1, "9");
        let file = [
            HEADER_56.to_string(),
            line("10000005479", "DUPONT", &good, 56),
            line("10000005478", "DUPONT", "", 56),
            line("10000005479", "", "", 56),
            line("10000005479", "DUPONT", &wrong, 56),
            zero_type,
            "8|10000005479|810000005479".into(),
            line("10000005479", "DURAND", "", 56).replace("|L|||", "|L||123|"),
        ]
        .join("\n");
        let report = read_activities(file.as_bytes(), |_| {}).unwrap();
        assert_eq!(report.rows, 1);
        let lines: Vec<_> = report.bad.iter().map(|b| (b.line, b.reason.as_str())).collect();
        assert_eq!(lines[0].0, 3);
        assert!(lines[0].1.contains("Identifiant PP"), "{lines:?}");
        assert_eq!(lines[1], (4, "Nom d'exercice is empty"));
        assert!(lines[2].1.starts_with("Numéro FINESS site"), "{lines:?}");
        assert!(lines[3].1.contains("neither 8 (RPPS) nor 0 (ADELI)"), "{lines:?}");
        assert_eq!(lines[4], (7, "3 fields where the header has 56"));
        assert_eq!(lines[5].0, 8);
        assert!(matches!(
            read_activities("Identifiant PP|Nom\n".as_bytes(), |_| {}),
            Err(ExtractError::MissingColumn { .. })
        ));
    }
}
