//! Patients' mailboxes in Mon Espace Santé and the rules of writing to them, as pure functions
//! (segur-documents.md §6–7): the address is the patient's matricule INS at the patient domain,
//! the professional may close the exchange, and a document hidden from the patient never goes
//! to the patient.

use crate::identifier::Nir;

/// The production INS-NIR: the OID of a matricule a professional types by hand.
pub const INS_NIR_OID: &str = "1.2.250.1.213.1.4.8";

/// OIDs of the INS in `recordTarget/patientRole/id/@root` and in an XDS `patientId`
/// (segur-documents.md §6), with what they name.
pub const INS_OIDS: &[(&str, &str)] = &[
    (INS_NIR_OID, "INS-NIR"),
    ("1.2.250.1.213.1.4.9", "INS-NIA"),
    ("1.2.250.1.213.1.4.10", "INS-NIR de test"),
    ("1.2.250.1.213.1.4.11", "INS-NIR de démonstration"),
];

/// Whether `oid` identifies an INS (of production, test or demonstration).
pub fn ins_kind(oid: &str) -> Option<&'static str> {
    INS_OIDS.iter().find(|(o, _)| *o == oid.trim()).map(|(_, k)| *k)
}

/// The patient domain an operator writes to, and its service addresses (the whitelist entry
/// of `patient.mssante.fr` names `reponse.automatique-test@patient.mssante.fr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatientDomain {
    pub domain: String,
    pub service_addresses: Vec<String>,
}

impl Default for PatientDomain {
    fn default() -> PatientDomain {
        PatientDomain {
            domain: crate::address::PATIENT_DOMAIN.into(),
            service_addresses: vec!["reponse.automatique-test@patient.mssante.fr".into()],
        }
    }
}

/// Why a patient address cannot be right.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatientAddressError {
    /// Thirteen characters: the social-security number without its key, as a widely read GP
    /// guide tells doctors to write it. `full` is the address with the key.
    MissingKey { full: String },
    /// Fifteen characters whose last two are not the key of the first thirteen.
    WrongKey,
    /// Not a matricule INS at all.
    NotIns,
}

impl PatientAddressError {
    /// The sentence of an SMTP refusal, in French then English (one line).
    pub fn reason(&self, address: &str) -> String {
        match self {
            PatientAddressError::MissingKey { full } => format!(
                "il manque la clé de l'INS à <{address}> : l'adresse du patient est <{full}> / \
                 the INS key is missing, the patient's address is <{full}>"
            ),
            PatientAddressError::WrongKey => format!(
                "clé de l'INS invalide dans <{address}> : vérifiez le matricule INS du patient \
                 (carte Vitale ou attestation) / invalid INS key, check the patient's INS"
            ),
            PatientAddressError::NotIns => format!(
                "<{address}> n'est pas une adresse de patient : elle s'écrit matricule INS \
                 (15 caractères) suivi de @ et du domaine patient / not a patient address, \
                 which is the 15-character INS followed by the patient domain"
            ),
        }
    }
}

impl PatientDomain {
    /// Whether `address` (as written in an envelope) is at the patient domain.
    pub fn is_patient(&self, address: &str) -> bool {
        address
            .trim_matches(['<', '>'])
            .rsplit_once('@')
            .is_some_and(|(_, domain)| domain.eq_ignore_ascii_case(&self.domain))
    }

    /// Whether `address` is one of the domain's service addresses (no patient behind it).
    pub fn is_service(&self, address: &str) -> bool {
        let address = address.trim_matches(['<', '>']);
        self.service_addresses.iter().any(|s| s.eq_ignore_ascii_case(address))
    }

    /// Checks an address at the patient domain: a matricule INS with a valid key, or a
    /// service address. Returns the INS (`None` for a service address).
    pub fn check(&self, address: &str) -> Result<Option<Nir>, PatientAddressError> {
        if self.is_service(address) {
            return Ok(None);
        }
        let local = address
            .trim_matches(['<', '>'])
            .rsplit_once('@')
            .map_or(address, |(l, _)| l);
        let local = local.to_ascii_uppercase();
        // A matricule is ASCII; what follows cuts it by position.
        if !local.is_ascii() {
            return Err(PatientAddressError::NotIns);
        }
        match local.len() {
            13 => match Nir::key_for(&local) {
                Some(key) => Err(PatientAddressError::MissingKey {
                    full: format!("{local}{key}@{}", self.domain),
                }),
                None => Err(PatientAddressError::NotIns),
            },
            15 if Nir::key_for(&local[..13]).is_some() && local[13..].bytes().all(|b| b.is_ascii_digit()) => {
                Nir::parse(&local).map(Some).map_err(|_| PatientAddressError::WrongKey)
            }
            _ => Err(PatientAddressError::NotIns),
        }
    }

    /// The patient's address for what a professional types in an INS field: 15 characters as
    /// they are, 13 with their key computed (spaces and dots ignored).
    pub fn address_for(&self, typed: &str) -> Result<String, PatientAddressError> {
        let ins: String = typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '.')
            .collect::<String>()
            .to_ascii_uppercase();
        match self.check(&format!("{ins}@{}", self.domain)) {
            Ok(Some(nir)) => Ok(format!("{}@{}", nir.as_str(), self.domain)),
            Ok(None) => Err(PatientAddressError::NotIns),
            Err(e) => Err(e),
        }
    }
}

/// Whether a message closes the exchange with the patient: `X-MSS-MES: FIN` (Réf. #2
/// ECO.2.2.8), or `[FIN]` in the subject (ENS Mon Espace Santé v1.3 §7).
pub fn closes_exchange(x_mss_mes: Option<&str>, subject: &str) -> bool {
    x_mss_mes.is_some_and(|v| v.trim().eq_ignore_ascii_case("FIN")) || subject.to_ascii_uppercase().contains("[FIN]")
}

/// Mon Espace Santé refuses messages of more than 25 MB in all (ENS v1.3 §6).
pub const PATIENT_MAX_MESSAGE: u64 = 25 * 1024 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patient_addresses_are_checked_by_their_ins_key() {
        let d = PatientDomain::default();
        assert!(d.check("279035121518989@patient.mssante.fr").unwrap().is_some());
        assert!(d.check("253072A07300443@patient.mssante.fr").unwrap().is_some());
        assert!(d.check("253072b07300470@patient.mssante.fr").unwrap().is_some());
        assert_eq!(
            d.check("279035121518988@patient.mssante.fr"),
            Err(PatientAddressError::WrongKey)
        );
        // An ANS sample's wrong key (segur-documents.md §6).
        assert_eq!(
            d.check("222127505611201@patient.mssante.fr"),
            Err(PatientAddressError::WrongKey)
        );
        assert_eq!(
            d.check("2790351215189@patient.mssante.fr"),
            Err(PatientAddressError::MissingKey {
                full: "279035121518989@patient.mssante.fr".into()
            })
        );
        for bad in [
            "pas-un-ins",
            "27903512151898",
            "2790351215189899",
            "27903512151X989",
            "",
        ] {
            assert_eq!(
                d.check(&format!("{bad}@patient.mssante.fr")),
                Err(PatientAddressError::NotIns),
                "{bad}"
            );
        }
        assert_eq!(d.check("Reponse.Automatique-Test@patient.mssante.fr"), Ok(None));
        assert!(d.is_patient("<x@Patient.MSSante.fr>") && !d.is_patient("x@medecin.mssante.fr"));
        assert!(!d.is_patient("x@notpatient.mssante.fr") && !d.is_patient("patient.mssante.fr"));
        let reason = PatientAddressError::WrongKey.reason("x@patient.mssante.fr");
        assert!(reason.contains("INS") && !reason.contains('\n'));
        assert!(
            PatientAddressError::MissingKey { full: "f@p".into() }
                .reason("x")
                .contains("<f@p>")
        );
    }

    #[test]
    fn an_ins_field_gives_the_address() {
        let d = PatientDomain::default();
        assert_eq!(
            d.address_for("2 79 03 51 215 189").unwrap_err(),
            PatientAddressError::MissingKey {
                full: "279035121518989@patient.mssante.fr".into()
            }
        );
        assert_eq!(
            d.address_for("2 79 03 51 215 189 89").unwrap(),
            "279035121518989@patient.mssante.fr"
        );
        assert_eq!(d.address_for("abc"), Err(PatientAddressError::NotIns));
    }

    #[test]
    fn the_exchange_is_closed_by_header_or_subject() {
        assert!(closes_exchange(Some(" fin "), "Résultats"));
        assert!(closes_exchange(None, "Résultats [FIN]"));
        assert!(closes_exchange(None, "[fin] merci"));
        assert!(!closes_exchange(Some("SUITE"), "Fin du traitement"));
    }

    #[test]
    fn ins_oids_are_known() {
        assert_eq!(ins_kind("1.2.250.1.213.1.4.8"), Some("INS-NIR"));
        assert_eq!(ins_kind("1.2.250.1.213.1.4.13"), None);
    }
}
