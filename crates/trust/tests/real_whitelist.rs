//! The real ANS whitelist of 13 March 2025 (../shared/fixtures), with its known counts
//! (reference spec §1.1): 6,554 entries, 5,002 domain names, 392 certificate DNs as written
//! (383 once normalised),
//! one malformed domain name, and no closing root tag in the file as published.

use confiance_trust::dn::Dn;
use confiance_trust::whitelist::Whitelist;

#[test]
fn the_national_whitelist_parses_with_its_known_counts() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures/listeblanchemssante-2025-03-13.xml");
    let xml = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let w = Whitelist::parse(&xml).unwrap();
    assert_eq!(w.generated.as_deref(), Some("2025-03-13T14:54:10Z"));
    assert_eq!(w.entries, 6554);
    assert_eq!(w.names_seen, 5002);
    assert_eq!(w.dn_strings_seen, 392);
    // Eight MTAs are written in two or three ways (", " or "," between attributes, the O= value
    // quoted or not, doubled or no-break spaces): 383 distinct certificates.
    assert_eq!(w.dn_count(), 383);
    assert_eq!(w.problems.len(), 1, "{:?}", w.problems);
    assert_eq!(w.problems[0].domain, "sessad@ase.ditepbeziers.mssante.fr");
    assert_eq!(w.domain_count(), 5001);
    // Mon espace santé's two MTAs are listed for patient.mssante.fr.
    let patient: Vec<String> = w.dns_for("patient.mssante.fr").map(|d| d.to_string()).collect();
    assert_eq!(patient.len(), 2, "{patient:?}");
    let atos = Dn::parse(patient[0].as_str()).unwrap();
    assert!(w.allows("patient.mssante.fr", &atos));
    assert!(!w.allows("gmail.com", &atos));
    // Upper case in the file, lower case in mail.
    assert!(w.contains("uc-cmp.mssante.fr"));
}
