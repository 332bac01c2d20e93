//! `confiance indicators`: the monthly usage figures an operator owes the ANS (Réf. #1 v1.3,
//! "indicateurs et procédure de dépôt") and that a structure wants to see of itself.
//!
//! The ANS annex with the exact file names and fields is not public (reference digest §6): the
//! rows below are what the digest infers, in a long form (`mois;portee;indicateur;detail;valeur`)
//! that takes a new indicator without a new column. Everything is counted from the accounts and
//! the audit trail, so a figure can always be traced back to its events.

use std::collections::{BTreeMap, HashMap, HashSet};

use clap::{Args, ValueEnum};
use confiance_core::Finess;
use confiance_store::{Account, DirectoryListing, Store, Trace, TraceQuery, Traces};

use crate::config::Config;
use crate::traces::csv_cell;

#[derive(Args)]
pub struct IndicatorsArgs {
    /// Le mois, `AAAA-MM` (heure locale).
    #[arg(long)]
    pub month: String,
    /// Seulement les BAL de cette structure (ses BAL ORG, APP et CAB, et les BAL PER qui y sont rattachées).
    #[arg(long, conflicts_with_all = ["departement", "national"])]
    pub structure: Option<String>,
    /// Seulement les BAL de ce département (`75`, `2A`, `971`).
    #[arg(long, conflicts_with = "national")]
    pub departement: Option<String>,
    /// Seulement les chiffres nationaux. Sans portée : national, chaque département, chaque structure.
    #[arg(long)]
    pub national: bool,
    /// Le fichier « Connexions » à la place : chaque BAL avec la date de sa dernière connexion.
    #[arg(long)]
    pub connexions: bool,
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Csv,
    Json,
}

/// Where a BAL is counted besides the nation.
struct Place {
    departement: Option<String>,
    structure: Option<String>,
}

fn departement_of_postcode(postcode: &str) -> Option<String> {
    let p = postcode.trim();
    if p.len() != 5 || !p.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match &p[..2] {
        "97" | "98" => p[..3].to_string(),
        // Corse-du-Sud's postcodes run from 20000 to 20190, Haute-Corse's from 20200.
        "20" => match p[2..3].parse::<u8>().unwrap_or(0) {
            0 | 1 => "2A".into(),
            _ => "2B".into(),
        },
        d => d.to_string(),
    })
}

fn place(account: &Account, listing: Option<&DirectoryListing>) -> Place {
    let listed_finess = listing
        .and_then(|l| l.structure_id.as_deref())
        .and_then(|id| id.strip_prefix('1'))
        .and_then(|f| Finess::parse(f).ok());
    let structure = account
        .structure
        .as_deref()
        .and_then(|f| Finess::parse(f).ok())
        .or(listed_finess);
    let listed_departement = listing.and_then(|l| {
        l.departement
            .as_deref()
            .map(str::trim)
            .filter(|d| (2..=3).contains(&d.len()))
            .map(str::to_string)
            .or_else(|| l.postcode.as_deref().and_then(departement_of_postcode))
    });
    Place {
        departement: match (&account.structure, listed_departement) {
            (None, Some(d)) => Some(d),
            (_, d) => structure.as_ref().map(Finess::departement).or(d),
        },
        structure: structure.map(|f| f.to_string()),
    }
}

/// Every account, the directory listings by address, and where each BAL counts.
type Placed = (Vec<Account>, HashMap<String, DirectoryListing>, HashMap<String, Place>);

fn placed(store: &dyn Store) -> anyhow::Result<Placed> {
    let accounts = store.accounts()?;
    let listings: HashMap<String, DirectoryListing> = store.listings()?.into_iter().collect();
    let places = accounts
        .iter()
        .map(|a| (a.address.clone(), place(a, listings.get(&a.address))))
        .collect();
    Ok((accounts, listings, places))
}

/// How someone logged in, as the indicators split it.
fn login_method(t: &Trace) -> &'static str {
    match (t.get("credential"), t.get("method")) {
        (Some("psc token"), _) | (_, Some("psc")) => "psc",
        (Some("cps card"), _) | (_, Some("cps")) => "cps",
        (Some("app password"), _) => "mot_de_passe_applicatif",
        (Some("certificate"), _) => "certificat",
        (_, Some(m)) if m.starts_with("password+") => "mot_de_passe_et_code",
        _ => "mot_de_passe",
    }
}

fn count(t: &Trace, key: &str) -> u64 {
    t.get(key).and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// The figures of one scope, keyed by (indicator, detail).
#[derive(Default)]
pub struct Tally(pub BTreeMap<(&'static str, String), u64>);

impl Tally {
    fn add(&mut self, indicator: &'static str, detail: impl Into<String>, n: u64) {
        *self.0.entry((indicator, detail.into())).or_default() += n;
    }
}

/// The month's bounds in Unix milliseconds, local time.
pub fn month_bounds(month: &str) -> anyhow::Result<(i64, i64)> {
    let unreadable = || anyhow::anyhow!("--month : « {month} » n'est pas un mois (écrire par exemple 2026-11)");
    let first =
        chrono::NaiveDate::parse_from_str(&format!("{}-01", month.trim()), "%Y-%m-%d").map_err(|_| unreadable())?;
    let next = first
        .checked_add_months(chrono::Months::new(1))
        .ok_or_else(unreadable)?;
    let at = |d: chrono::NaiveDate| {
        d.and_hms_opt(0, 0, 0)
            .and_then(|t| t.and_local_timezone(chrono::Local).earliest())
            .map(|t| t.timestamp_millis())
            .ok_or_else(unreadable)
    };
    Ok((at(first)?, at(next)?))
}

/// The figures of every scope (national, each département, each structure) for the month
/// `[since, until)`, keyed by scope then (indicator, detail).
pub fn compute(
    store: &dyn Store,
    traces: &dyn Traces,
    since: i64,
    until: i64,
) -> anyhow::Result<BTreeMap<String, Tally>> {
    let (accounts, listings, places) = placed(store)?;
    // The scopes a BAL counts in.
    let scopes_of = |bal: &str| -> Vec<String> {
        let mut scopes = vec!["national".to_string()];
        if let Some(p) = places.get(bal) {
            scopes.extend(p.departement.clone());
            scopes.extend(p.structure.clone());
        }
        scopes
    };
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    tallies.entry("national".into()).or_default();
    // The BALs that exist at the end of the month, by type and state.
    for a in accounts.iter().filter(|a| a.created_at * 1_000 < until) {
        for scope in scopes_of(&a.address) {
            let t = tallies.entry(scope).or_default();
            t.add("bal", format!("{}:{}", a.kind.code(), a.status.as_str()), 1);
            if listings.get(&a.address).is_some_and(|l| l.red_list) {
                t.add("liste_rouge", a.kind.code(), 1);
            }
        }
    }
    let mut active: HashSet<String> = HashSet::new();
    let query = TraceQuery {
        message_id: None,
        since_ms: since,
        until_ms: until,
        bal: None,
        events: &["login", "sent", "delivered"],
    };
    traces.scan(&query, &mut |t| {
        let Some(bal) = t.bal.clone() else { return true };
        for scope in scopes_of(&bal) {
            let tally = tallies.entry(scope).or_default();
            match t.event.as_str() {
                "login" if t.outcome.as_deref() == Some("success") => tally.add("connexions", login_method(&t), 1),
                "sent" => {
                    tally.add("messages_envoyes", "total", 1);
                    for (key, detail) in [
                        ("internal", "interne"),
                        ("operators", "operateurs"),
                        ("patients", "patients"),
                    ] {
                        if count(&t, key) > 0 {
                            tally.add("messages_envoyes", detail, 1);
                        }
                    }
                    if t.get("codecda").is_some() {
                        tally.add("messages_segur", "envoyes", 1);
                    }
                    tally.add("logiciel", t.get("nil").unwrap_or("aucun"), 1);
                }
                "delivered" => {
                    tally.add("messages_recus", "total", 1);
                    let origin = match t.get("origin") {
                        Some("internal") => "interne",
                        Some("patient") => "patients",
                        _ => "operateurs",
                    };
                    tally.add("messages_recus", origin, 1);
                    if t.get("codecda").is_some() {
                        tally.add("messages_segur", "recus", 1);
                    }
                }
                _ => {}
            }
        }
        if t.event == "login" && t.outcome.as_deref() == Some("success") {
            active.insert(bal);
        }
        true
    })?;
    for a in accounts.iter().filter(|a| active.contains(&a.address)) {
        for scope in scopes_of(&a.address) {
            tallies.entry(scope).or_default().add("bal_actives", a.kind.code(), 1);
        }
    }
    Ok(tallies)
}

/// The figures the structure console draws, computed on demand from the same counts as the
/// files.
pub struct Console {
    pub store: std::sync::Arc<dyn Store>,
    pub traces: std::sync::Arc<dyn Traces>,
}

impl confiance_web::Indicators for Console {
    fn figures(&self, finess: &str, month: &str) -> Option<[confiance_web::Figures; 3]> {
        let (since, until) = month_bounds(month).ok()?;
        let tallies = compute(&*self.store, &*self.traces, since, until).ok()?;
        let departement = Finess::parse(finess).ok()?.departement();
        let of = |scope: &str| -> confiance_web::Figures {
            tallies
                .get(scope)
                .map(|t| t.0.iter().map(|((i, d), v)| ((i.to_string(), d.clone()), *v)).collect())
                .unwrap_or_default()
        };
        Some([of(finess), of(&departement), of("national")])
    }
}

pub fn run(config: &Config, args: IndicatorsArgs) -> anyhow::Result<()> {
    let (since, until) = month_bounds(&args.month)?;
    let month = args.month.trim().to_string();
    let store = crate::accounts::open(config)?;
    let traces = crate::audit::start(config)?;
    let structure = match &args.structure {
        Some(f) => Some(
            Finess::parse(f)
                .map_err(|e| anyhow::anyhow!("--structure : {e}"))?
                .to_string(),
        ),
        None => None,
    };
    if args.connexions {
        let (accounts, _, places) = placed(&*store)?;
        return connexions(&*traces, &accounts, &places, &args, structure.as_deref(), since, until);
    }
    let tallies = compute(&*store, &*traces, since, until)?;
    let wanted = |scope: &str| match (&structure, &args.departement, args.national) {
        (Some(f), _, _) => scope == f,
        (None, Some(d), _) => scope.eq_ignore_ascii_case(d.trim()),
        (None, None, true) => scope == "national",
        (None, None, false) => true,
    };
    let rows: Vec<(&str, &str, &str, u64)> = tallies
        .iter()
        .filter(|(scope, _)| wanted(scope))
        .flat_map(|(scope, t)| t.0.iter().map(move |((i, d), v)| (scope.as_str(), *i, d.as_str(), *v)))
        .collect();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    use std::io::Write;
    match args.format {
        Format::Csv => {
            writeln!(out, "mois;portee;indicateur;detail;valeur")?;
            for (scope, indicator, detail, value) in rows {
                writeln!(
                    out,
                    "{month};{};{indicator};{};{value}",
                    csv_cell(scope),
                    csv_cell(detail)
                )?;
            }
        }
        Format::Json => {
            let rows: Vec<serde_json::Value> = rows
                .into_iter()
                .map(|(scope, indicator, detail, value)| {
                    serde_json::json!({"mois": month, "portee": scope, "indicateur": indicator, "detail": detail, "valeur": value})
                })
                .collect();
            writeln!(out, "{}", serde_json::Value::Array(rows))?;
        }
    }
    out.flush()?;
    Ok(())
}

/// The "Connexions" file: every BAL that exists at the end of the month, with the day of its
/// last authenticated connection up to then. Réf. #1 v1.3.1 says what `Date` holds when the
/// connection is unknown; that text is not public, so a BAL never connected has an empty Date.
fn connexions(
    traces: &dyn Traces,
    accounts: &[Account],
    places: &HashMap<String, Place>,
    args: &IndicatorsArgs,
    structure: Option<&str>,
    since: i64,
    until: i64,
) -> anyhow::Result<()> {
    let in_scope = |a: &Account| {
        let p = places.get(&a.address);
        match (structure, &args.departement) {
            (Some(f), _) => p.and_then(|p| p.structure.as_deref()) == Some(f),
            (None, Some(d)) => p
                .and_then(|p| p.departement.as_deref())
                .is_some_and(|x| x.eq_ignore_ascii_case(d.trim())),
            (None, None) => true,
        }
    };
    let bals: Vec<&Account> = accounts
        .iter()
        .filter(|a| a.created_at * 1_000 < until && in_scope(a))
        .collect();
    // The last login up to the month's end: from the trail, or the account's own record when
    // that is earlier than the month (the trail may have been purged since).
    let mut last: HashMap<String, i64> = HashMap::new();
    let query = TraceQuery {
        message_id: None,
        since_ms: 0,
        until_ms: until,
        bal: None,
        events: &["login"],
    };
    traces.scan(&query, &mut |t| {
        if t.outcome.as_deref() == Some("success")
            && let Some(bal) = t.bal
        {
            last.insert(bal, t.at_ms);
        }
        true
    })?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    use std::io::Write;
    let day = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|d| d.with_timezone(&chrono::Local).format("%Y-%m-%d").to_string())
            .unwrap_or_default()
    };
    let mut rows = Vec::new();
    for a in bals {
        let recorded = a.last_login_at.map(|s| s * 1_000).filter(|ms| *ms < since);
        let at = last.get(&a.address).copied().or(recorded);
        rows.push((a.address.clone(), a.kind, at.map(day).unwrap_or_default()));
    }
    match args.format {
        Format::Csv => {
            writeln!(out, "Adresse BAL;Type de BAL;Date")?;
            for (address, kind, date) in rows {
                writeln!(out, "{};{};{date}", csv_cell(&address), kind.code())?;
            }
        }
        Format::Json => {
            let rows: Vec<serde_json::Value> = rows
                .into_iter()
                .map(|(a, k, d)| serde_json::json!({"adresse": a, "type": k.code(), "date": d}))
                .collect();
            writeln!(out, "{}", serde_json::Value::Array(rows))?;
        }
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_runs_from_its_first_local_midnight_to_the_next() {
        let (from, to) = month_bounds("2026-02").unwrap();
        assert_eq!((to - from) / 3_600_000, 28 * 24);
        assert!(month_bounds("2026-13").is_err());
        assert!(month_bounds("février").is_err());
    }

    #[test]
    fn postcodes_name_their_département() {
        assert_eq!(departement_of_postcode("75002").as_deref(), Some("75"));
        assert_eq!(departement_of_postcode("20090").as_deref(), Some("2A"));
        assert_eq!(departement_of_postcode("20200").as_deref(), Some("2B"));
        assert_eq!(departement_of_postcode("97400").as_deref(), Some("974"));
        assert_eq!(departement_of_postcode("7500"), None);
    }

    #[test]
    fn logins_are_split_by_how_they_were_proven() {
        let login = |pairs: &[(&str, &str)]| Trace {
            event: "login".into(),
            detail: pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            ..Trace::default()
        };
        assert_eq!(login_method(&login(&[("method", "psc")])), "psc");
        assert_eq!(
            login_method(&login(&[("method", "XOAUTH2"), ("credential", "psc token")])),
            "psc"
        );
        assert_eq!(
            login_method(&login(&[("method", "EXTERNAL"), ("credential", "cps card")])),
            "cps"
        );
        assert_eq!(
            login_method(&login(&[("method", "PLAIN"), ("credential", "app password")])),
            "mot_de_passe_applicatif"
        );
        assert_eq!(
            login_method(&login(&[("method", "password+totp")])),
            "mot_de_passe_et_code"
        );
        assert_eq!(
            login_method(&login(&[("method", "LOGIN"), ("credential", "password")])),
            "mot_de_passe"
        );
    }
}
