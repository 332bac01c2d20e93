//! `Extraction_Correspondance_MSSante`: every published BAL of the trust space, one per line
//! (reference: directory-and-identifiers §2.5, 31 columns today).

use std::io::BufRead;

use confiance_core::{Address, MailboxKind, Rpps};

use crate::extract::{BadLine, Extract, ExtractError};

const KIND: &str = "an Extraction_Correspondance_MSSante file";

/// The exact header of the ANS file (reference §2.5), 31 columns.
pub const HEADER: &str = "Type de BAL|Adresse BAL|Type Identifiant PP|Identifiant PP|Identification nationale PP|Type identifiant structure|Identification Structure|Service de rattachement|Civilité d'exercice|Nom d'exercice|Prénom d'exercice|Catégorie profession|Libellé de catégorie profession|Code Profession|Libellé Profession|Code savoir-faire|Libellé savoir-faire|Dématérialisation|Raison Sociale structure BAL|Enseigne commerciale structure BAL|L2COMPLEMENTLOCALISATION structure BAL|L3COMPLEMENTDISTRIBUTION structure BAL|L4NUMEROVOIE structure BAL|L4COMPLEMENTNUMEROVOIE structure BAL|NL4TYPEVOIE structure BAL|L4LIBELLEVOIE structure BAL|L5LIEUDITMENTION structure BAL|L6LIGNEACHEMINEMENT structure BAL|Code postal structure BAL|Département structure BAL|Pays structure BAL";

/// One BAL as the directory shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailboxEntry {
    pub kind: MailboxKind,
    pub address: Address,
    /// IdNat_PS of the professional (PER), as published (`8` + RPPS, `0` + ADELI…).
    pub national_id: Option<String>,
    /// IdNat_Struct of the structure (ORG).
    pub structure_id: Option<String>,
    pub service: Option<String>,
    pub civility: Option<String>,
    pub family_name: Option<String>,
    pub given_name: Option<String>,
    /// TRE_G15 profession code and label (`10`, `Médecin`).
    pub profession: Option<(String, String)>,
    /// Specialty (savoir-faire) code and label.
    pub specialty: Option<(String, String)>,
    /// Accepts structured documents by mail instead of paper (dématérialisation).
    pub dematerialisation: Option<bool>,
    pub organisation: Option<String>,
    pub postcode: Option<String>,
    /// The commune line (L6 ligne d'acheminement: postcode and commune).
    pub locality: Option<String>,
    pub departement: Option<String>,
}

/// What an import read.
#[derive(Debug, Default)]
pub struct MailboxImport {
    pub entries: u64,
    pub bad: Vec<BadLine>,
}

fn dematerialisation(value: &str) -> Result<Option<bool>, String> {
    // Parsers of the real file accept True/true/1; the MOS defines O/N.
    match value.to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "true" | "1" | "o" | "oui" => Ok(Some(true)),
        "false" | "0" | "n" | "non" => Ok(Some(false)),
        _ => Err(format!("Dématérialisation {value:?} is neither true nor false")),
    }
}

/// Reads the extract, handing each usable BAL to `entry`. Unusable lines are counted with their
/// number and reason; they never stop the import.
pub fn read_mailboxes<R: BufRead>(
    reader: R,
    mut entry: impl FnMut(MailboxEntry),
) -> Result<MailboxImport, ExtractError> {
    let mut extract = Extract::open(reader, KIND, &["Type de BAL", "Adresse BAL"])?;
    let col = |name: &str| extract.column(name);
    let (kind, address) = (col("Type de BAL").unwrap_or(0), col("Adresse BAL").unwrap_or(1));
    let id_type = col("Type Identifiant PP");
    let id_pp = col("Identifiant PP");
    let national = col("Identification nationale PP");
    let structure = col("Identification Structure");
    let service = col("Service de rattachement");
    let civility = col("Civilité d'exercice");
    let family = col("Nom d'exercice");
    let given = col("Prénom d'exercice");
    let profession = (col("Code Profession"), col("Libellé Profession"));
    let specialty = (col("Code savoir-faire"), col("Libellé savoir-faire"));
    let demat = col("Dématérialisation");
    let organisation = col("Raison Sociale structure BAL");
    let postcode = col("Code postal structure BAL");
    let locality = col("L6LIGNEACHEMINEMENT structure BAL");
    let departement = col("Département structure BAL");
    let mut report = MailboxImport::default();
    while let Some((line, fields)) = extract.next_line()? {
        let fields = match fields {
            Ok(f) => f,
            Err(bad) => {
                report.bad.push(bad);
                continue;
            }
        };
        let get = |c: Option<usize>| fields.opt(c);
        let owned = |c: Option<usize>| get(c).map(str::to_string);
        let pair = |(a, b): (Option<usize>, Option<usize>)| Some((owned(a)?, owned(b).unwrap_or_default()));
        let parsed = (|| {
            let kind = MailboxKind::from_code(fields.get(kind))
                .ok_or_else(|| format!("Type de BAL {:?} is not PER, ORG, APP or CAB", fields.get(kind)))?;
            let address = Address::parse(fields.get(address))
                .map_err(|e| format!("Adresse BAL {:?}: {e}", fields.get(address)))?;
            if get(id_type) == Some("8")
                && let Some(rpps) = get(id_pp)
            {
                Rpps::parse(rpps).map_err(|e| format!("Identifiant PP: {e}"))?;
            }
            Ok::<_, String>(MailboxEntry {
                kind,
                address,
                national_id: owned(national),
                structure_id: owned(structure),
                service: owned(service),
                civility: owned(civility),
                family_name: owned(family),
                given_name: owned(given),
                profession: pair(profession),
                specialty: pair(specialty),
                dematerialisation: dematerialisation(get(demat).unwrap_or(""))?,
                organisation: owned(organisation),
                postcode: owned(postcode),
                locality: owned(locality),
                departement: owned(departement),
            })
        })();
        match parsed {
            Ok(e) => {
                report.entries += 1;
                entry(e);
            }
            Err(reason) => report.bad.push(BadLine { line, reason }),
        }
    }
    Ok(report)
}

/// Writes BAL in the format of the ANS file (header then one line each), for publishing this
/// operator's own BAL. `|` and line breaks cannot occur in a field: they are replaced by spaces.
pub fn write_mailboxes<W: std::io::Write>(mut w: W, entries: &[MailboxEntry]) -> std::io::Result<()> {
    writeln!(w, "{HEADER}")?;
    let columns: Vec<&str> = HEADER.split('|').collect();
    for e in entries {
        let mut fields = vec![String::new(); columns.len()];
        let mut set = |name: &str, value: Option<&str>| {
            if let (Some(i), Some(v)) = (columns.iter().position(|c| *c == name), value) {
                fields[i] = v.replace(['|', '\r', '\n'], " ");
            }
        };
        set("Type de BAL", Some(e.kind.code()));
        let address = e.address.to_string();
        set("Adresse BAL", Some(&address));
        if let Some(n) = &e.national_id {
            // Identification nationale: its first character is the identifier type (8 RPPS, 0 ADELI).
            set("Type Identifiant PP", n.get(..1));
            set("Identifiant PP", n.get(1..));
            set("Identification nationale PP", Some(n));
        }
        if let Some(s) = &e.structure_id {
            set("Type identifiant structure", s.get(..1));
            set("Identification Structure", Some(s));
        }
        set("Service de rattachement", e.service.as_deref());
        set("Civilité d'exercice", e.civility.as_deref());
        set("Nom d'exercice", e.family_name.as_deref());
        set("Prénom d'exercice", e.given_name.as_deref());
        if let Some((code, label)) = &e.profession {
            set("Code Profession", Some(code));
            set("Libellé Profession", Some(label));
        }
        if let Some((code, label)) = &e.specialty {
            set("Code savoir-faire", Some(code));
            set("Libellé savoir-faire", Some(label));
        }
        set(
            "Dématérialisation",
            e.dematerialisation.map(|d| if d { "true" } else { "false" }),
        );
        set("Raison Sociale structure BAL", e.organisation.as_deref());
        set("L6LIGNEACHEMINEMENT structure BAL", e.locality.as_deref());
        set("Code postal structure BAL", e.postcode.as_deref());
        set("Département structure BAL", e.departement.as_deref());
        set("Pays structure BAL", Some("France"));
        writeln!(w, "{}", fields.join("|"))?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: &str, address: &str, rpps: &str, demat: &str) -> String {
        format!(
            "{kind}|{address}|8|{rpps}|8{rpps}|||||DUPONT|Jean|C|Civil|10|Médecin|SM54|Médecine générale (SM)|{demat}|CABINET DUPONT||||12||R|de la Paix||75002 PARIS|75002|75|France"
        )
    }

    #[test]
    fn reads_the_real_header_and_reports_bad_lines() {
        let file = [
            HEADER.to_string(),
            row("PER", "jean.dupont@medecin.mssante.fr", "10000005479", "true"),
            row("XYZ", "a@b.fr", "10000005479", "true"),
            row("PER", "pas une adresse", "10000005479", "true"),
            row("PER", "x@medecin.mssante.fr", "10000005478", "true"),
            row("PER", "y@medecin.mssante.fr", "10000005479", "peut-être"),
            "ORG|secretariat@ch-exemple.mssante.fr|||||1760021832|Cardiologie".to_string(),
            row("ORG", "accueil@ch-exemple.mssante.fr", "", "N"),
        ]
        .join("\r\n");
        let mut got = Vec::new();
        let report = read_mailboxes(file.as_bytes(), |e| got.push(e)).unwrap();
        assert_eq!(report.entries, 2);
        let lines: Vec<u64> = report.bad.iter().map(|b| b.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7]);
        assert!(report.bad[0].reason.contains("not PER, ORG, APP or CAB"));
        assert!(report.bad[2].reason.contains("clé de contrôle fausse"));
        assert!(report.bad[3].reason.contains("Dématérialisation"));
        assert!(report.bad[4].reason.contains("8 fields where the header has 31"));
        let jean = &got[0];
        assert_eq!(jean.kind, MailboxKind::Personal);
        assert_eq!(jean.national_id.as_deref(), Some("810000005479"));
        assert_eq!(jean.profession, Some(("10".into(), "Médecin".into())));
        assert_eq!(jean.dematerialisation, Some(true));
        assert_eq!(jean.locality.as_deref(), Some("75002 PARIS"));
        assert_eq!(got[1].dematerialisation, Some(false));
    }

    #[test]
    fn written_files_read_back_the_same() {
        let file = [
            HEADER.to_string(),
            row("PER", "jean.dupont@medecin.mssante.fr", "10000005479", "true"),
            row("ORG", "accueil@ch-exemple.mssante.fr", "", "false"),
        ]
        .join("\n");
        let mut entries = Vec::new();
        read_mailboxes(file.as_bytes(), |e| entries.push(e)).unwrap();
        let mut written = Vec::new();
        write_mailboxes(&mut written, &entries).unwrap();
        let mut again = Vec::new();
        let report = read_mailboxes(&written[..], |e| again.push(e)).unwrap();
        assert!(report.bad.is_empty(), "{:?}", report.bad);
        assert_eq!(again, entries);
        let text = String::from_utf8(written).unwrap();
        assert_eq!(text.lines().next(), Some(HEADER));
        assert!(text.lines().all(|l| l.split('|').count() == 31));
    }

    #[test]
    fn columns_are_found_by_name_whatever_their_order() {
        let file = "Adresse BAL|Nom d'exercice|Type de BAL\nmarie@infirmier.mssante.fr|MARTIN|PER\n";
        let mut got = Vec::new();
        let report = read_mailboxes(file.as_bytes(), |e| got.push(e)).unwrap();
        assert_eq!(report.entries, 1);
        assert_eq!(got[0].family_name.as_deref(), Some("MARTIN"));
        assert!(matches!(
            read_mailboxes("Nom|Prénom\n".as_bytes(), |_| {}),
            Err(ExtractError::MissingColumn {
                column: "Type de BAL",
                ..
            })
        ));
    }
}
