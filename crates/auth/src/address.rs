//! Address proposal at activation (step 2): `prenom.nom@<profession>.<domaine>`, as the
//! national service proposes it, or the generic `prenom.nom@pro.<domaine>`.
//!
//! Names are folded to the letters an address may carry: accents dropped (`é` → `e`,
//! `œ` → `oe`), apostrophes removed (`D'Alembert` → `dalembert`), spaces and hyphens of compound
//! names kept as one hyphen (`Jean Pierre` → `jean-pierre`). A name already taken gets the first
//! free numeric suffix (`jean.martin2`).

/// The sub-domain of each profession whose holders get their own (TRE_G15 code → label).
pub const PROFESSION_SUBDOMAINS: &[(&str, &str)] = &[
    ("10", "medecin"),
    ("21", "pharmacien"),
    ("40", "chirurgien-dentiste"),
    ("50", "sage-femme"),
    ("60", "infirmier"),
    ("70", "masseur-kinesitherapeute"),
    ("80", "pedicure-podologue"),
];

/// The generic sub-domain of every other profession.
pub const GENERIC_SUBDOMAIN: &str = "pro";

/// One character folded to what an address local part may hold, or `None` to drop it.
fn fold_char(c: char, out: &mut String) {
    let folded = match c {
        'a'..='z' | '0'..='9' => return out.push(c),
        'A'..='Z' => return out.push(c.to_ascii_lowercase()),
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "a",
        'ç' | 'Ç' => "c",
        'è' | 'é' | 'ê' | 'ë' | 'È' | 'É' | 'Ê' | 'Ë' => "e",
        'ì' | 'í' | 'î' | 'ï' | 'Ì' | 'Í' | 'Î' | 'Ï' => "i",
        'ñ' | 'Ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "o",
        'ù' | 'ú' | 'û' | 'ü' | 'Ù' | 'Ú' | 'Û' | 'Ü' => "u",
        'ý' | 'ÿ' | 'Ý' | 'Ÿ' => "y",
        'æ' | 'Æ' => "ae",
        'œ' | 'Œ' => "oe",
        'ß' => "ss",
        ' ' | '-' | '\u{2010}' | '\u{2011}' | '_' | '.' => "-",
        // Apostrophes and anything else vanish: `D'Alembert` → `dalembert`.
        _ => "",
    };
    out.push_str(folded);
}

/// A name as it appears in an address: `Élise-Marie d'Orléans` → `elise-marie-dorleans`.
pub fn fold_name(name: &str) -> String {
    let mut raw = String::with_capacity(name.len());
    for c in name.chars() {
        fold_char(c, &mut raw);
    }
    let mut out = String::with_capacity(raw.len());
    for part in raw.split('-').filter(|p| !p.is_empty()) {
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(part);
    }
    out
}

/// The local part `prenom.nom`, or `None` when a name folds to nothing.
pub fn local_part(given: &str, family: &str) -> Option<String> {
    let (g, f) = (fold_name(given), fold_name(family));
    (!g.is_empty() && !f.is_empty()).then(|| format!("{g}.{f}"))
}

/// The hosted domain for a profession: `medecin.<base>` when hosted, else `pro.<base>`, else
/// the first hosted domain.
pub fn domain_for<'a>(profession: Option<&str>, hosted: &'a [String]) -> Option<&'a str> {
    let wanted = profession
        .and_then(|code| PROFESSION_SUBDOMAINS.iter().find(|(c, _)| *c == code))
        .map(|(_, sub)| *sub);
    let starting = |sub: &str| {
        hosted
            .iter()
            .find(|d| d.strip_prefix(sub).is_some_and(|r| r.starts_with('.')))
    };
    wanted
        .and_then(starting)
        .or_else(|| starting(GENERIC_SUBDOMAIN))
        .or(hosted.first())
        .map(String::as_str)
}

/// Addresses to offer, best first: the profession's domain, then the generic one when it
/// differs. `taken` says whether an address already exists; homonyms get a numeric suffix.
pub fn propose(
    given: &str,
    family: &str,
    profession: Option<&str>,
    hosted: &[String],
    taken: impl Fn(&str) -> bool,
) -> Vec<String> {
    let Some(local) = local_part(given, family) else {
        return Vec::new();
    };
    let mut domains: Vec<&str> = Vec::new();
    for d in [domain_for(profession, hosted), domain_for(None, hosted)]
        .into_iter()
        .flatten()
    {
        if !domains.contains(&d) {
            domains.push(d);
        }
    }
    domains
        .into_iter()
        .filter_map(|domain| {
            (1..1000).find_map(|n| {
                let candidate = match n {
                    1 => format!("{local}@{domain}"),
                    n => format!("{local}{n}@{domain}"),
                };
                (!taken(&candidate)).then_some(candidate)
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosted() -> Vec<String> {
        vec![
            "medecin.confiance.test".into(),
            "pro.confiance.test".into(),
            "infirmier.confiance.test".into(),
        ]
    }

    #[test]
    fn folds_accents_apostrophes_and_compound_names() {
        assert_eq!(fold_name("Élise-Marie"), "elise-marie");
        assert_eq!(fold_name("D'ORLÉANS"), "dorleans");
        assert_eq!(fold_name("d’Alembert"), "dalembert");
        assert_eq!(fold_name("Jean  Pierre"), "jean-pierre");
        assert_eq!(fold_name("Le Bœuf--Çà"), "le-boeuf-ca");
        assert_eq!(fold_name(" -Anaïs- "), "anais");
        assert_eq!(fold_name("Zoë O'Neil"), "zoe-oneil");
        assert_eq!(fold_name("李"), "");
        assert_eq!(
            local_part("Hélène", "Müller-Lüdenscheidt").as_deref(),
            Some("helene.muller-ludenscheidt")
        );
        assert_eq!(local_part("", "Martin"), None);
    }

    #[test]
    fn profession_picks_its_domain() {
        let h = hosted();
        assert_eq!(domain_for(Some("10"), &h), Some("medecin.confiance.test"));
        assert_eq!(domain_for(Some("60"), &h), Some("infirmier.confiance.test"));
        // Pharmacists have a sub-domain of their own, but this operator does not host it.
        assert_eq!(domain_for(Some("21"), &h), Some("pro.confiance.test"));
        assert_eq!(domain_for(Some("93"), &h), Some("pro.confiance.test"));
        assert_eq!(domain_for(None, &["sante.example".to_string()]), Some("sante.example"));
        // `pro` must be a whole label: `promo.x` is not the generic domain.
        assert_eq!(domain_for(None, &["promo.x".into(), "pro.x".into()]), Some("pro.x"));
    }

    #[test]
    fn proposals_and_homonyms() {
        let h = hosted();
        let none = |_: &str| false;
        assert_eq!(
            propose("Jean", "Martin", Some("10"), &h, none),
            ["jean.martin@medecin.confiance.test", "jean.martin@pro.confiance.test"]
        );
        assert_eq!(
            propose("Ana", "Lopez", Some("93"), &h, none),
            ["ana.lopez@pro.confiance.test"]
        );
        let taken = |a: &str| a == "jean.martin@medecin.confiance.test" || a == "jean.martin2@medecin.confiance.test";
        assert_eq!(
            propose("Jean", "Martin", Some("10"), &h, taken),
            ["jean.martin3@medecin.confiance.test", "jean.martin@pro.confiance.test"]
        );
        assert!(propose("", "X", Some("10"), &h, none).is_empty());
    }
}
