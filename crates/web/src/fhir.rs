//! A FHIR R4 read and search API shaped like the Annuaire Santé's (reference
//! directory-and-identifiers §3): `Practitioner` (a professional, with its personal BAL),
//! `PractitionerRole` (each situation d'exercice), `Organization` (a structure's BAL). BAL are
//! `telecom` entries with the ANS extensions (`fr-core-contact-point-email-type` = MSSANTE,
//! `as-ext-mailbox-mss-metadata` with the BAL type, service, liste rouge and
//! dématérialisation). Searches need at least one parameter: the directory is not dumped.

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use confiance_directory::fold::folded;
use confiance_directory::index::filter;
use confiance_directory::live::Source;
use confiance_directory::view::{Entry, MailboxView};
use confiance_directory::{Directory, EntryKind, LiveDirectory, Query};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::WebState;

const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";
const EMAIL_TYPE: &str = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type";
const MESSAGING: &str = "https://mos.esante.gouv.fr/NOS/TRE_R256-TypeMessagerie/FHIR/TRE-R256-TypeMessagerie";
const MAILBOX_METADATA: &str =
    "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/as-ext-mailbox-mss-metadata";
const BAL_TYPE: &str = "https://mos.esante.gouv.fr/NOS/TRE_R257-TypeBAL/FHIR/TRE-R257-TypeBAL";
const PROFESSION: &str = "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante";
const SPECIALTY: &str = "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale";
const MODE: &str = "https://mos.esante.gouv.fr/NOS/TRE_R23-ModeExercice/FHIR/TRE-R23-ModeExercice";
const ID_TYPE: &str = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203";
const IDNAT_PS: &str = "urn:oid:1.2.250.1.71.4.2.1";
const IDNAT_STRUCT: &str = "urn:oid:1.2.250.1.71.4.2.2";
const RPPS: &str = "https://rpps.esante.gouv.fr";
const FINESS: &str = "https://finess.esante.gouv.fr";
const PROFILE: &str = "https://interop.esante.gouv.fr/ig/fhir/annuaire/StructureDefinition/";

pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/metadata", get(metadata))
        .route(
            "/Practitioner",
            get(|s, u, h, q| search(Resource::Practitioner, s, u, h, q)),
        )
        .route("/Practitioner/{id}", get(|s, p| read(Resource::Practitioner, s, p)))
        .route(
            "/PractitionerRole",
            get(|s, u, h, q| search(Resource::PractitionerRole, s, u, h, q)),
        )
        .route(
            "/PractitionerRole/{id}",
            get(|s, p| read(Resource::PractitionerRole, s, p)),
        )
        .route(
            "/Organization",
            get(|s, u, h, q| search(Resource::Organization, s, u, h, q)),
        )
        .route("/Organization/{id}", get(|s, p| read(Resource::Organization, s, p)))
}

#[derive(Clone, Copy, PartialEq)]
enum Resource {
    Practitioner,
    PractitionerRole,
    Organization,
}

impl Resource {
    fn name(self) -> &'static str {
        match self {
            Resource::Practitioner => "Practitioner",
            Resource::PractitionerRole => "PractitionerRole",
            Resource::Organization => "Organization",
        }
    }

    fn parameters(self) -> &'static [&'static str] {
        match self {
            Resource::Practitioner => &["_id", "name", "family", "given", "identifier", "mailbox-mss", "_count"],
            Resource::PractitionerRole => &["_id", "practitioner", "identifier", "mailbox-mss", "_count"],
            Resource::Organization => &[
                "_id",
                "name",
                "identifier",
                "mailbox-mss",
                "address-city",
                "address-postalcode",
                "_count",
            ],
        }
    }
}

fn fhir(status: StatusCode, body: Value) -> Response {
    (status, [(header::CONTENT_TYPE, FHIR_JSON)], body.to_string()).into_response()
}

/// An OperationOutcome with one issue, in French and English.
fn outcome(status: StatusCode, code: &str, text: String) -> Response {
    fhir(
        status,
        json!({
            "resourceType": "OperationOutcome",
            "issue": [{"severity": "error", "code": code, "diagnostics": text}]
        }),
    )
}

fn unavailable() -> Response {
    outcome(
        StatusCode::SERVICE_UNAVAILABLE,
        "transient",
        "aucun annuaire importé / no directory imported".into(),
    )
}

fn telecom(m: &MailboxView, rank: usize) -> Value {
    let mut meta = vec![
        json!({"url": "type", "valueCodeableConcept": {"coding": [{"system": BAL_TYPE, "code": m.kind}]}}),
        json!({"url": "listeRouge", "valueBoolean": false}),
    ];
    if let Some(s) = &m.service {
        meta.push(json!({"url": "service", "valueString": s}));
    }
    if let Some(d) = m.dematerialisation {
        // Removed from the IG in June 2026 but still served by the national API.
        meta.push(json!({"url": "digitization", "valueBoolean": d}));
    }
    json!({
        "extension": [
            {"url": EMAIL_TYPE, "valueCoding": {"system": MESSAGING, "code": "MSSANTE"}},
            {"url": MAILBOX_METADATA, "extension": meta}
        ],
        "system": "email",
        "value": m.address,
        "rank": rank + 1
    })
}

fn identifier(type_code: &str, system: &str, value: &str) -> Value {
    json!({
        "use": "official",
        "type": {"coding": [{"system": ID_TYPE, "code": type_code}]},
        "system": system,
        "value": value
    })
}

fn practitioner(e: &Entry) -> Value {
    let id = e.national_id.clone().unwrap_or_default();
    let mut identifiers = vec![identifier("IDNPS", IDNAT_PS, &id)];
    if let Some(r) = &e.rpps {
        identifiers.push(identifier("RPPS", RPPS, r));
    }
    let mut qualification = Vec::new();
    if let Some(p) = &e.profession {
        qualification.push(json!({"code": {"coding": [{"system": PROFESSION, "code": p.code, "display": p.label}]}}));
    }
    if let Some(s) = &e.specialty {
        qualification.push(json!({"code": {"coding": [{"system": SPECIALTY, "code": s.code, "display": s.label}]}}));
    }
    let mut name = json!({"use": "usual"});
    if let Some(f) = &e.family_name {
        name["family"] = json!(f);
    }
    if let Some(g) = &e.given_name {
        name["given"] = json!([g]);
    }
    if let Some(c) = &e.civility {
        name["prefix"] = json!([c]);
    }
    let mut r = json!({
        "resourceType": "Practitioner",
        "id": id,
        "meta": {"profile": [format!("{PROFILE}as-dp-practitioner")]},
        "identifier": identifiers,
        "active": true,
        "name": [name],
    });
    if !e.mailboxes.is_empty() {
        r["telecom"] = e.mailboxes.iter().enumerate().map(|(i, m)| telecom(m, i)).collect();
    }
    if !qualification.is_empty() {
        r["qualification"] = json!(qualification);
    }
    r
}

/// The roles (situations d'exercice) of professional `doc`.
/// Roles from our own BAL have ids of their own (`-o1`), apart from the national ones.
fn roles(d: &Directory, doc: u32, own: bool) -> Vec<Value> {
    let s = &d.snapshot;
    let Some(p) = s.people.get(doc as usize) else {
        return Vec::new();
    };
    let idnat = s.text(p.national_id);
    p.activities
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let mut code = Vec::new();
            if a.profession != 0 {
                code.push(json!({"coding": [{"system": PROFESSION, "code": s.text(a.profession), "display": s.profession_label(a.profession)}]}));
            }
            if a.mode != 0 {
                code.push(json!({"coding": [{"system": MODE, "code": s.text(a.mode)}]}));
            }
            let mut r = json!({
                "resourceType": "PractitionerRole",
                "id": format!("{idnat}-{}{}", if own { "o" } else { "" }, i + 1),
                "meta": {"profile": [format!("{PROFILE}as-dp-practitionerrole")]},
                "active": true,
                "practitioner": {"reference": format!("Practitioner/{idnat}")},
            });
            if !code.is_empty() {
                r["code"] = json!(code);
            }
            if a.specialty != 0 {
                r["specialty"] = json!([{"coding": [{"system": SPECIALTY, "code": s.text(a.specialty), "display": s.specialty_label(a.specialty)}]}]);
            }
            let site = s.text(a.organisation);
            if !site.is_empty() {
                r["organization"] = json!({"display": site});
            }
            let place: Vec<&str> = [a.street, a.postcode, a.commune].iter().map(|&t| s.text(t)).filter(|v| !v.is_empty()).collect();
            if !place.is_empty() {
                r["location"] = json!([{"display": place.join(" ")}]);
            }
            r
        })
        .collect()
}

/// A stable id for a structure's BAL: from its address (FHIR ids cannot hold `@`).
fn organisation_id(address: &str) -> String {
    format!("bal-{}", &hex::encode(Sha256::digest(address.as_bytes()))[..20])
}

fn organization(e: &Entry) -> Value {
    let address = e.mailboxes.first().map(|m| m.address.as_str()).unwrap_or("");
    let mut identifiers = Vec::new();
    if let Some(s) = &e.structure_id {
        identifiers.push(identifier("IDNST", IDNAT_STRUCT, s));
    }
    let place = e.places.first();
    if let Some(f) = place.and_then(|p| p.finess.as_ref()) {
        identifiers.push(identifier("FINEG", FINESS, f));
    }
    let mut r = json!({
        "resourceType": "Organization",
        "id": organisation_id(address),
        "meta": {"profile": [format!("{PROFILE}as-dp-organization")]},
        "active": true,
        "name": place.and_then(|p| p.organisation.clone()).unwrap_or_else(|| e.display_name.clone()),
        "telecom": e.mailboxes.iter().enumerate().map(|(i, m)| telecom(m, i)).collect::<Vec<_>>(),
    });
    if !identifiers.is_empty() {
        r["identifier"] = json!(identifiers);
    }
    if let Some(p) = place {
        let mut a = json!({"use": "work", "country": "FR"});
        if let Some(c) = &p.postcode {
            a["postalCode"] = json!(c);
        }
        if let Some(c) = &p.commune {
            a["city"] = json!(c);
        }
        r["address"] = json!([a]);
    }
    r
}

/// The absolute base of the links: the authority asked for (`:authority` in HTTP/2, `Host`
/// in HTTP/1.1).
fn base(uri: &Uri, headers: &HeaderMap) -> String {
    let host = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "localhost".into());
    format!("https://{host}/fhir")
}

fn bundle(base: &str, self_url: String, total: usize, resources: Vec<Value>) -> Value {
    let entries: Vec<Value> = resources
        .into_iter()
        .map(|r| {
            let full = format!(
                "{base}/{}/{}",
                r["resourceType"].as_str().unwrap_or(""),
                r["id"].as_str().unwrap_or("")
            );
            json!({"fullUrl": full, "resource": r, "search": {"mode": "match"}})
        })
        .collect();
    let mut b = json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": [{"relation": "self", "url": self_url}],
    });
    // FHIR JSON has no empty arrays.
    if !entries.is_empty() {
        b["entry"] = Value::Array(entries);
    }
    b
}

/// A token parameter's value without its system (`https://rpps.esante.gouv.fr|10001234567`).
fn token(v: &str) -> &str {
    v.rsplit_once('|').map_or(v, |(_, value)| value)
}

/// The documents an identifier names: RPPS (11 digits, or 12 with the `8` prefix), other
/// national identifiers, FINESS (9 characters) or IdNat_Struct (`1` + FINESS).
fn identified(d: &Directory, value: &str) -> Vec<u32> {
    let v = token(value).trim();
    let digits = v.bytes().all(|b| b.is_ascii_digit());
    let (kind, key) = match v.len() {
        11 if digits => (filter::RPPS, v),
        12 if digits && v.starts_with('8') => (filter::RPPS, &v[1..]),
        9 => (filter::FINESS, v),
        10 if v.starts_with('1') => (filter::FINESS, &v[1..]),
        _ => (filter::NATIONAL_ID, v),
    };
    d.with_identifier(kind, &key.to_ascii_uppercase()).to_vec()
}

/// Structures' and professionals' BAL whose address contains `part` (`mailbox-mss:contains`).
fn addresses_containing(d: &Directory, part: &str, entry: EntryKind) -> Vec<u32> {
    let s = &d.snapshot;
    let part = part.to_lowercase();
    match entry {
        EntryKind::Person => (0..s.people.len() as u32)
            .filter(|&i| {
                s.people[i as usize]
                    .mailboxes
                    .iter()
                    .any(|m| s.text(m.address).contains(&part))
            })
            .collect(),
        EntryKind::Organisation => (0..s.organisations.len())
            .filter(|&i| s.text(s.organisations[i].mailbox.address).contains(&part))
            .map(|i| (s.people.len() + i) as u32)
            .collect(),
    }
}

/// FHIR string search: case- and accent-insensitive, matching the start of the value or of
/// one of its words.
fn starts(value: Option<&str>, wanted: &str) -> bool {
    let (v, w) = (folded(value.unwrap_or("")), folded(wanted));
    v.starts_with(&w) || v.split(' ').any(|word| word.starts_with(&w))
}

async fn search(
    resource: Resource,
    State(state): State<WebState>,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(sources) = state.directory.sources() else {
        return unavailable();
    };
    let raw = raw.unwrap_or_default();
    let params: Vec<(String, String)> = form_urlencoded::parse(raw.as_bytes()).into_owned().collect();
    for (k, _) in &params {
        let name = k.split(':').next().unwrap_or(k);
        let modifier_ok = !k.contains(':') || k == "mailbox-mss:contains" || k == "mailbox-mss:exact";
        if !resource.parameters().contains(&name) || !modifier_ok {
            return outcome(
                StatusCode::BAD_REQUEST,
                "not-supported",
                format!(
                    "paramètre non pris en charge / unsupported parameter: {k} (accepted: {})",
                    resource.parameters().join(", ")
                ),
            );
        }
    }
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let count = match get("_count").map(str::parse::<usize>) {
        None => 50,
        Some(Ok(n)) if (1..=200).contains(&n) => n,
        Some(_) => return outcome(StatusCode::BAD_REQUEST, "value", "_count: 1 to 200".into()),
    };
    if params.iter().all(|(k, _)| k == "_count") {
        return outcome(
            StatusCode::BAD_REQUEST,
            "too-costly",
            format!(
                "au moins un critère de recherche / at least one of: {}",
                resource.parameters().join(", ")
            ),
        );
    }
    let text: usize = ["name", "family", "given", "address-city"]
        .iter()
        .filter_map(|k| get(k))
        .map(|v| v.chars().count())
        .sum();
    if text > 200 {
        return outcome(
            StatusCode::BAD_REQUEST,
            "too-long",
            "name, family, given, address-city: 200 characters in all".into(),
        );
    }
    if get("mailbox-mss:contains").is_some_and(|v| v.trim().chars().count() < 3) {
        return outcome(
            StatusCode::BAD_REQUEST,
            "too-costly",
            "mailbox-mss:contains: 3 characters at least".into(),
        );
    }
    let base = base(&uri, &headers);
    let self_url = format!("{base}/{}?{raw}", resource.name());
    let entry_kind = if resource == Resource::Organization {
        EntryKind::Organisation
    } else {
        EntryKind::Person
    };
    let live = state.directory.clone();
    let found = crate::blocking(move || {
        let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        let mut resources: Vec<Value> = Vec::new();
        let mut total = 0;
        for source in &sources {
            let (docs, text_query) = find_docs(&source.directory, resource, &params, entry_kind);
            for doc in docs {
                // Never found through a BAL it may not show (liste rouge).
                if text_query
                    .as_ref()
                    .is_some_and(|q| !live.matches_visibly(source, doc, q))
                {
                    continue;
                }
                let e = live.entry(source, doc);
                // A BAL hidden from the national entry (ours, or red-listed) is not matched.
                let shows = |wanted: &str, contains: bool| {
                    let w = wanted.trim().to_lowercase();
                    e.mailboxes.iter().any(|m| {
                        if contains {
                            m.address.contains(&w)
                        } else {
                            m.address == w
                        }
                    })
                };
                let keep = get("family").is_none_or(|f| starts(e.family_name.as_deref(), f))
                    && get("given").is_none_or(|g| starts(e.given_name.as_deref(), g))
                    && get("mailbox-mss")
                        .or(get("mailbox-mss:exact"))
                        .is_none_or(|m| shows(m, false))
                    && get("mailbox-mss:contains").is_none_or(|m| shows(m, true))
                    && (entry_kind == EntryKind::Person || !e.mailboxes.is_empty());
                if !keep {
                    continue;
                }
                let found: Vec<Value> = match resource {
                    Resource::Practitioner => vec![practitioner(&e)],
                    Resource::Organization => vec![organization(&e)],
                    Resource::PractitionerRole => roles(&source.directory, doc, source.own)
                        .into_iter()
                        .filter(|r| get("_id").is_none_or(|w| r["id"] == w))
                        .collect(),
                };
                for r in found {
                    let id = r["id"].as_str().unwrap_or("").to_string();
                    match seen.get(&id) {
                        // The same professional from our own BAL and from the national file:
                        // one resource, with the BAL of both.
                        Some(&i) if i < resources.len() => {
                            if let (Some(mine), Some(theirs)) =
                                (resources[i]["telecom"].as_array().cloned(), r["telecom"].as_array())
                            {
                                let mut all = mine;
                                all.extend(theirs.iter().filter(|t| !all.contains(t)).cloned().collect::<Vec<_>>());
                                resources[i]["telecom"] = Value::Array(all);
                            } else if r.get("telecom").is_some() {
                                resources[i]["telecom"] = r["telecom"].clone();
                            }
                        }
                        Some(_) => {}
                        None => {
                            total += 1;
                            // Only the page asked for is built; the rest is counted.
                            if resources.len() < count {
                                seen.insert(id, resources.len());
                                resources.push(r);
                            } else {
                                seen.insert(id, usize::MAX);
                            }
                        }
                    }
                }
            }
        }
        (total, resources)
    })
    .await;
    match found {
        Some((total, resources)) => fhir(StatusCode::OK, bundle(&base, self_url, total, resources)),
        None => outcome(StatusCode::INTERNAL_SERVER_ERROR, "exception", "search failed".into()),
    }
}

/// The documents of one directory matching every criterion the index can answer.
/// With the text query used, if any (its matches must be checked for visibility).
fn find_docs(
    d: &Directory,
    resource: Resource,
    params: &[(String, String)],
    entry_kind: EntryKind,
) -> (Vec<u32>, Option<Query>) {
    let get = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let mut docs: Option<Vec<u32>> = None;
    let mut narrow = |found: Vec<u32>| {
        docs = Some(match docs.take() {
            None => found,
            Some(prev) => {
                let found: std::collections::HashSet<u32> = found.into_iter().collect();
                prev.into_iter().filter(|x| found.contains(x)).collect()
            }
        });
    };
    let mut text_query = None;
    let id = get("_id").or(get("practitioner").map(|p| p.trim_start_matches("Practitioner/")));
    if let Some(id) = id {
        let id = if resource == Resource::PractitionerRole {
            id.split('-').next().unwrap_or(id)
        } else {
            id
        };
        narrow(match resource {
            Resource::Organization => addresses_by_id(d, id),
            _ => identified(d, id),
        });
    }
    if let Some(v) = get("identifier") {
        narrow(identified(d, v));
    }
    if let Some(v) = get("mailbox-mss").or(get("mailbox-mss:exact")) {
        narrow(d.with_identifier(filter::ADDRESS, &v.trim().to_lowercase()).to_vec());
    }
    if let Some(v) = get("mailbox-mss:contains") {
        narrow(addresses_containing(d, v, entry_kind));
    }
    let words: Vec<&str> = ["name", "family", "given", "address-city"]
        .iter()
        .filter_map(|k| get(k))
        .collect();
    let postcode = get("address-postalcode").map(str::to_string);
    if !words.is_empty() || postcode.is_some() {
        let q = Query {
            text: words.join(" "),
            postcode,
            entry: Some(entry_kind),
            limit: 200,
            ..Query::default()
        };
        narrow(d.index.search(&q).hits.iter().map(|h| h.doc).collect());
        text_query = Some(q);
    }
    let people = d.snapshot.people.len();
    let docs = docs
        .unwrap_or_default()
        .into_iter()
        .filter(|&doc| (doc as usize >= people) == (entry_kind == EntryKind::Organisation))
        .collect();
    (docs, text_query)
}

/// The structure BAL with this resource id.
fn addresses_by_id(d: &Directory, id: &str) -> Vec<u32> {
    let s = &d.snapshot;
    (0..s.organisations.len())
        .filter(|&i| organisation_id(s.text(s.organisations[i].mailbox.address)) == id)
        .map(|i| (s.people.len() + i) as u32)
        .collect()
}

async fn read(resource: Resource, State(state): State<WebState>, Path(id): Path<String>) -> Response {
    let Some(sources) = state.directory.sources() else {
        return unavailable();
    };
    let live = state.directory.clone();
    let found = crate::blocking(move || read_blocking(resource, &live, &sources, &id).ok_or(id)).await;
    match found {
        Some(Ok(r)) => fhir(StatusCode::OK, r),
        Some(Err(id)) => outcome(
            StatusCode::NOT_FOUND,
            "not-found",
            format!("{}/{id} : inconnu / unknown", resource.name()),
        ),
        None => outcome(StatusCode::INTERNAL_SERVER_ERROR, "exception", "read failed".into()),
    }
}

fn read_blocking(resource: Resource, live: &LiveDirectory, sources: &[Source], id: &str) -> Option<Value> {
    let person = |d: &Directory, key: &str| {
        identified(d, key)
            .into_iter()
            .find(|&doc| (doc as usize) < d.snapshot.people.len())
    };
    sources.iter().find_map(|source| {
        let d = &source.directory;
        match resource {
            Resource::Practitioner => person(d, id)
                .map(|doc| practitioner(&live.entry(source, doc)))
                .filter(|r| r["id"] == id),
            Resource::PractitionerRole => id.split_once('-').and_then(|(key, _)| {
                person(d, key).and_then(|doc| roles(d, doc, source.own).into_iter().find(|r| r["id"] == id))
            }),
            Resource::Organization => addresses_by_id(d, id)
                .first()
                .map(|&doc| live.entry(source, doc))
                .filter(|e| !e.mailboxes.is_empty())
                .map(|e| organization(&e)),
        }
    })
}

async fn metadata() -> Response {
    let resources: Vec<Value> = [Resource::Practitioner, Resource::PractitionerRole, Resource::Organization]
        .iter()
        .map(|r| {
            json!({
                "type": r.name(),
                "interaction": [{"code": "read"}, {"code": "search-type"}],
                "searchParam": r.parameters().iter().map(|p| json!({"name": p, "type": if *p == "_count" { "number" } else if ["identifier", "_id"].contains(p) { "token" } else if *p == "practitioner" { "reference" } else { "string" }})).collect::<Vec<_>>()
            })
        })
        .collect();
    fhir(
        StatusCode::OK,
        json!({
            "resourceType": "CapabilityStatement",
            "status": "active",
            "date": "2026-12-04",
            "kind": "instance",
            "software": {"name": "Confiance", "version": env!("CARGO_PKG_VERSION")},
            "fhirVersion": "4.0.1",
            "format": ["application/fhir+json"],
            "rest": [{"mode": "server", "resource": resources}]
        }),
    )
}
