//! `confiance account publish`: how one of our mailboxes appears in the directory (annuaire) —
//! its holder, and the choices made at activation (liste rouge, dématérialisation). Until the
//! activation pages exist (issue 5) this is how an admin records them. Also the bridge from
//! the store's listings to the directory's entries, for the server and the export.

use clap::Args;
use confiance_core::{Address, Finess, MailboxKind, Rpps, profession_label};
use confiance_directory::MailboxEntry;
use confiance_store::{DirectoryListing, Store};

#[derive(Args)]
pub struct PublishArgs {
    pub address: String,
    /// PER (un professionnel), ORG (un service d'une structure) ou APP (un logiciel).
    #[arg(long = "type", default_value = "PER")]
    pub kind: String,
    /// RPPS du titulaire (PER).
    #[arg(long)]
    pub rpps: Option<String>,
    /// FINESS de la structure (ORG, APP).
    #[arg(long)]
    pub finess: Option<String>,
    #[arg(long)]
    pub civility: Option<String>,
    #[arg(long)]
    pub family: Option<String>,
    #[arg(long)]
    pub given: Option<String>,
    /// Code de profession TRE_G15 (10 médecin, 60 infirmier…).
    #[arg(long)]
    pub profession: Option<String>,
    /// Code et libellé de savoir-faire, `SM54:Médecine générale`.
    #[arg(long)]
    pub specialty: Option<String>,
    /// Service de rattachement (ORG).
    #[arg(long)]
    pub service: Option<String>,
    #[arg(long)]
    pub organisation: Option<String>,
    #[arg(long)]
    pub postcode: Option<String>,
    #[arg(long)]
    pub commune: Option<String>,
    #[arg(long)]
    pub departement: Option<String>,
    /// Accepte les documents structurés par messagerie (dématérialisation) : true ou false.
    #[arg(long)]
    pub dematerialisation: Option<bool>,
    /// Liste rouge : jamais affichée dans l'annuaire, ses API ni ses extractions.
    #[arg(long)]
    pub liste_rouge: bool,
    /// Retire la BAL de l'annuaire.
    #[arg(long)]
    pub withdraw: bool,
}

/// The listing the arguments describe, or why they do not describe one.
pub fn listing(a: &PublishArgs) -> anyhow::Result<DirectoryListing> {
    let kind = MailboxKind::from_code(&a.kind).ok_or_else(|| anyhow::anyhow!("--type {} : PER, ORG ou APP", a.kind))?;
    let national_id = match &a.rpps {
        Some(r) => Some(
            Rpps::parse(r)
                .map_err(|e| anyhow::anyhow!("--rpps : {e}"))?
                .national_id(),
        ),
        None => None,
    };
    let structure_id = match &a.finess {
        Some(f) => Some(format!(
            "1{}",
            Finess::parse(f).map_err(|e| anyhow::anyhow!("--finess : {e}"))?
        )),
        None => None,
    };
    let profession = match &a.profession {
        Some(code) => {
            let label = profession_label(code).ok_or_else(|| {
                anyhow::anyhow!("--profession {code} : pas un code TRE_G15 (10 médecin, 60 infirmier…)")
            })?;
            Some((code.clone(), label.to_string()))
        }
        None => None,
    };
    match kind {
        MailboxKind::Personal | MailboxKind::Practice if national_id.is_none() || a.family.is_none() => {
            anyhow::bail!("une BAL personnelle est publiée avec son titulaire : --rpps et --family (et --given)")
        }
        MailboxKind::Organisational | MailboxKind::Applicative
            if a.organisation.is_none() && structure_id.is_none() =>
        {
            anyhow::bail!(
                "une BAL organisationnelle ou applicative est publiée avec sa structure : --organisation et/ou --finess"
            )
        }
        _ => {}
    }
    let locality = match (&a.postcode, &a.commune) {
        (Some(p), Some(c)) => Some(format!("{p} {}", c.to_uppercase())),
        (None, Some(c)) => Some(c.to_uppercase()),
        _ => None,
    };
    Ok(DirectoryListing {
        kind,
        national_id,
        structure_id,
        civility: a.civility.clone(),
        family_name: a.family.clone(),
        given_name: a.given.clone(),
        profession,
        specialty: a.specialty.as_ref().map(|s| {
            s.split_once(':')
                .map_or((s.clone(), String::new()), |(c, l)| (c.into(), l.into()))
        }),
        service: a.service.clone(),
        organisation: a.organisation.clone(),
        postcode: a.postcode.clone(),
        locality,
        departement: a
            .departement
            .clone()
            .or_else(|| a.postcode.as_ref().and_then(|p| p.get(..2)).map(str::to_string)),
        dematerialisation: a.dematerialisation,
        red_list: a.liste_rouge,
    })
}

/// The directory entry of one of our listings.
pub fn entry(address: &str, l: &DirectoryListing) -> Option<MailboxEntry> {
    Some(MailboxEntry {
        kind: l.kind,
        address: Address::parse(address).ok()?,
        national_id: l.national_id.clone(),
        structure_id: l.structure_id.clone(),
        service: l.service.clone(),
        civility: l.civility.clone(),
        family_name: l.family_name.clone(),
        given_name: l.given_name.clone(),
        profession: l.profession.clone(),
        specialty: l.specialty.clone(),
        dematerialisation: l.dematerialisation,
        organisation: l.organisation.clone(),
        postcode: l.postcode.clone(),
        locality: l.locality.clone(),
        departement: l.departement.clone(),
    })
}

/// Our BAL as the directory shows them (liste rouge left out), and the red-listed addresses.
pub fn own(store: &dyn Store) -> anyhow::Result<(Vec<MailboxEntry>, Vec<String>)> {
    let mut published = Vec::new();
    let mut red = Vec::new();
    for (address, l) in store.listings()? {
        if l.red_list {
            red.push(address);
        } else if let Some(e) = entry(&address, &l) {
            published.push(e);
        }
    }
    Ok((published, red))
}
