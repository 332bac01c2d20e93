//! TRE_G15-ProfessionSante: the professions of the RPPS, as JDV_J05 lists them (reference
//! directory-and-identifiers §4.1).

const G15: &[(&str, &str)] = &[
    ("10", "Médecin"),
    ("21", "Pharmacien"),
    ("26", "Audioprothésiste"),
    ("28", "Opticien-Lunetier"),
    ("31", "Assistant dentaire"),
    ("32", "Physicien médical"),
    ("40", "Chirurgien-Dentiste"),
    ("50", "Sage-Femme"),
    ("60", "Infirmier"),
    ("69", "Infirmier psychiatrique"),
    ("70", "Masseur-Kinésithérapeute"),
    ("80", "Pédicure-Podologue"),
    ("81", "Orthoprothésiste"),
    ("82", "Podo-Orthésiste"),
    ("83", "Orthopédiste-Orthésiste"),
    ("84", "Oculariste"),
    ("85", "Epithésiste"),
    ("86", "Technicien de laboratoire médical"),
    ("91", "Orthophoniste"),
    ("92", "Orthoptiste"),
    ("94", "Ergothérapeute"),
    ("95", "Diététicien"),
    ("96", "Psychomotricien"),
    ("98", "Manipulateur ERM"),
];

/// The label of a TRE_G15 code (`10` → `Médecin`).
pub fn profession_label(code: &str) -> Option<&'static str> {
    G15.iter().find(|(c, _)| *c == code).map(|(_, l)| *l)
}

/// The TRE_G15 code of a label, as a CPS `title` carries it (`Médecin` → `10`), ignoring case.
pub fn profession_code(label: &str) -> Option<&'static str> {
    let wanted = label.trim().to_lowercase();
    G15.iter().find(|(_, l)| l.to_lowercase() == wanted).map(|(c, _)| *c)
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_from_labels() {
        assert_eq!(super::profession_code("Médecin"), Some("10"));
        assert_eq!(super::profession_code("chirurgien-dentiste"), Some("40"));
        assert_eq!(super::profession_code("Sorcier"), None);
    }

    #[test]
    fn labels() {
        assert_eq!(super::profession_label("40"), Some("Chirurgien-Dentiste"));
        assert_eq!(super::profession_label("60"), Some("Infirmier"));
        assert_eq!(super::profession_label("99"), None);
    }
}
