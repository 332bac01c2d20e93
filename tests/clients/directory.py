"""The directory over HTTPS, as a practice software and a FHIR client use it: the JSON search
API, the FHIR R4 API (every answer validated by the independent `fhir.resources` package),
and the French search page. The directory is a generated one (planted professionals)."""

import http.client
import json
import os
import sys
import urllib.parse

from confiance_env import HOST, check, tls_context
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from fhir.resources.R4B.organization import Organization
from fhir.resources.R4B.practitioner import Practitioner
from fhir.resources.R4B.practitionerrole import PractitionerRole

WEB = int(os.environ["CONFIANCE_WEB"])


def get(path, params=None):
    """GET over HTTPS, certificate verified; returns (status, headers, body text)."""
    if params:
        path += "?" + urllib.parse.urlencode(params)
    # The certificate is checked for HOST (the development certificate names 127.0.0.1).
    conn = http.client.HTTPSConnection(HOST, WEB, context=tls_context(), timeout=30)
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read().decode()
    conn.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def api(params, status=200):
    code, headers, body = get("/api/annuaire", params)
    check(code == status, f"{params}: {code} {body}")
    if status != 200:
        check(headers["content-type"] == "application/problem+json", headers)
    return json.loads(body)


def fhir(path, params=None, status=200):
    code, headers, body = get("/fhir/" + path, params)
    check(code == status, f"{path} {params}: {code} {body}")
    check(headers["content-type"].startswith("application/fhir+json"), headers)
    return json.loads(body)


def addresses(bundle_or_results):
    if "entries" in bundle_or_results:
        return [m["address"] for e in bundle_or_results["entries"] for m in e["mailboxes"]]
    return [t["value"] for e in bundle_or_results.get("entry", []) for t in e["resource"].get("telecom", [])]


def json_api():
    r = api({"q": "schnaiderman ludovic"})
    check(addresses(r)[:1] == ["ludovic.schneidermann@medecin.mssante.fr"], r)
    r = api({"q": "helene martin", "profession": "60"})
    check(addresses(r) == ["helene.martin@infirmier.mssante.fr"], r)
    r = api({"q": "helene martin", "commune": "Brest", "bal": "1"})
    check(addresses(r) == ["helene.martin@medecin.mssante.fr"], r)
    e = r["entries"][0]
    check(e["profession"] == {"code": "10", "label": "Médecin"}, e)
    check(e["mailboxes"][0]["type"] == "PER" and e["mailboxes"][0]["dematerialisation"] in (True, False), e)
    r = api({"q": "ehpad glycines", "type": "ORG", "limit": "3"})
    check(addresses(r)[:1] == ["accueil@ehpad-les-glycines.mssante.fr"], r)
    check(len(r["entries"]) <= 3, r)
    # Bad parameters: 400 with the parameter named.
    for params, word in [({"q": "x", "type": "XYZ"}, "type"), ({"q": "x", "limit": "500"}, "limit"),
                         ({"q": "x", "limit": "abc"}, "limit"), ({"q": "x", "code_postal": "12"}, "code_postal"),
                         ({"q": "x" * 201}, "200"), ({"q": "x", "profession": "médecin"}, "TRE_G15")]:
        p = api(params, status=400)
        check(word in p["detail"] and p["status"] == 400, p)
    return api({"q": "ludovic schneidermann"})["entries"][0]


def fhir_api(ludovic):
    cap = fhir("metadata")
    CapabilityStatement.model_validate(cap)
    check(cap["fhirVersion"] == "4.0.1", cap)

    b = fhir("Practitioner", {"name": "schneidermann"})
    Bundle.model_validate(b)
    check(b["total"] >= 1 and addresses(b)[0] == "ludovic.schneidermann@medecin.mssante.fr", b)
    practitioner = b["entry"][0]["resource"]
    Practitioner.model_validate(practitioner)
    ids = {i["system"]: i["value"] for i in practitioner["identifier"]}
    check(ids["https://rpps.esante.gouv.fr"] == ludovic["rpps"], ids)
    check(ids["urn:oid:1.2.250.1.71.4.2.1"] == "8" + ludovic["rpps"], ids)
    telecom = practitioner["telecom"][0]
    urls = [x["url"] for x in telecom["extension"]]
    check("https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-contact-point-email-type" in urls, urls)
    meta = [x for x in telecom["extension"] if x["url"].endswith("as-ext-mailbox-mss-metadata")][0]
    sub = {x["url"]: x for x in meta["extension"]}
    check(sub["type"]["valueCodeableConcept"]["coding"][0]["code"] == "PER", sub)
    check(sub["listeRouge"]["valueBoolean"] is False, sub)

    for params in [{"identifier": ludovic["rpps"]}, {"identifier": "https://rpps.esante.gouv.fr|" + ludovic["rpps"]},
                   {"identifier": "8" + ludovic["rpps"]}, {"mailbox-mss": "ludovic.schneidermann@medecin.mssante.fr"},
                   {"family": "schneider"}, {"given": "ludo", "family": "schneidermann"}]:
        b = fhir("Practitioner", params)
        Bundle.model_validate(b)
        check(addresses(b) == ["ludovic.schneidermann@medecin.mssante.fr"], (params, b))
    # FHIR string search on `family` starts the family name: a given name does not match.
    check(fhir("Practitioner", {"family": "ludovic"})["total"] == 0, "family matched a given name")
    b = fhir("Practitioner", {"mailbox-mss:contains": "@pharmacien.mssante.fr", "_count": "5"})
    Bundle.model_validate(b)
    check(b["total"] > 5 and len(b["entry"]) == 5, b["total"])
    check(all(a.endswith("@pharmacien.mssante.fr") for a in addresses(b)), addresses(b))

    read = fhir("Practitioner/8" + ludovic["rpps"])
    Practitioner.model_validate(read)
    check(read["id"] == "8" + ludovic["rpps"], read)
    roles = fhir("PractitionerRole", {"practitioner": "Practitioner/8" + ludovic["rpps"]})
    Bundle.model_validate(roles)
    check(roles["total"] >= 1, roles)
    role = roles["entry"][0]["resource"]
    PractitionerRole.model_validate(role)
    check(role["practitioner"]["reference"] == "Practitioner/8" + ludovic["rpps"], role)
    PractitionerRole.model_validate(fhir("PractitionerRole/" + role["id"]))

    orgs = fhir("Organization", {"name": "centre hospitalier universitaire nantes", "address-city": "nantes"})
    Bundle.model_validate(orgs)
    check("cardiologie@chu-nantes.mssante.fr" in addresses(orgs), orgs)
    org = [e["resource"] for e in orgs["entry"] if addresses({"entry": [e]}) == ["cardiologie@chu-nantes.mssante.fr"]][0]
    Organization.model_validate(org)
    finess = [i["value"] for i in org["identifier"] if i["system"] == "https://finess.esante.gouv.fr"][0]
    by_finess = fhir("Organization", {"identifier": finess})
    check("cardiologie@chu-nantes.mssante.fr" in addresses(by_finess), by_finess)
    Organization.model_validate(fhir("Organization/" + org["id"]))
    b = fhir("Organization", {"mailbox-mss": "urgences@ch-pau.mssante.fr"})
    check(addresses(b) == ["urgences@ch-pau.mssante.fr"], b)
    # No match: a Bundle without `entry` (FHIR JSON has no empty arrays).
    b = fhir("Organization", {"mailbox-mss": "personne@nulle-part.mssante.fr"})
    Bundle.model_validate(b)
    check(b["total"] == 0 and "entry" not in b, b)

    # Errors are OperationOutcomes with a precise reason.
    for path, params, status, word in [("Practitioner", {"colour": "blue"}, 400, "colour"),
                                       ("Practitioner", {}, 400, "at least one"),
                                       ("Practitioner", {"name": "x", "_count": "0"}, 400, "_count"),
                                       ("Practitioner", {"mailbox-mss:contains": "@"}, 400, "3 characters"),
                                       ("Practitioner", {"name": "x" * 201}, 400, "200 characters"),
                                       ("Practitioner/819999999999", None, 404, "unknown"),
                                       ("Organization/bal-0000", None, 404, "unknown")]:
        o = fhir(path, params, status=status)
        OperationOutcome.model_validate(o)
        check(word in o["issue"][0]["diagnostics"], o)


def page():
    code, headers, body = get("/annuaire", {"q": "kowalczik"})
    check(code == 200 and headers["content-type"].startswith("text/html"), (code, headers))
    check('<html lang="fr">' in body and "sebastien.kowalczyk@masseur-kinesitherapeute.mssante.fr" in body, body)
    check("Masseur-Kinésithérapeute" in body and "role=\"search\"" in body, body)
    check('href="mailto:sebastien.kowalczyk@masseur-kinesitherapeute.mssante.fr"' in body, body)
    check("default-src 'self'" in headers["content-security-policy"], headers)
    check(headers["x-content-type-options"] == "nosniff" and headers["referrer-policy"] == "no-referrer", headers)
    code, _, body = get("/annuaire", {"q": "kowalczik", "lang": "en"})
    check('<html lang="en">' in body and "MSSanté directory" in body, body)
    # What the user typed comes back escaped.
    code, _, body = get("/annuaire", {"q": '<script>alert("x")</script>'})
    check(code == 200 and "<script>" not in body and "&lt;script&gt;" in body, body)
    code, _, body = get("/annuaire", {"q": "x", "type": "XYZ"})
    check(code == 400 and "PER, ORG, APP ou CAB" in body and 'role="alert"' in body, body)


def main():
    what = sys.argv[1]
    if what == "unavailable":
        p = api({"q": "martin"}, status=503)
        check("directory import" in p["detail"], p)
        o = fhir("Practitioner", {"name": "martin"}, status=503)
        OperationOutcome.model_validate(o)
        print("ok")
    elif what == "all":
        ludovic = json_api()
        fhir_api(ludovic)
        page()
        print("ok")
    elif what == "count":
        print(api({"q": sys.argv[2]})["total"])
    elif what == "addresses":
        print(" ".join(addresses(api({"q": sys.argv[2], "limit": "50"}))))
    elif what == "fhir-addresses":
        b = fhir(sys.argv[2], {sys.argv[3]: sys.argv[4]})
        Bundle.model_validate(b)
        print(" ".join(addresses(b)))
    elif what == "fhir-organization":
        # A structure's BAL: the Organization found by its address, validated, as JSON.
        b = fhir("Organization", {"mailbox-mss": sys.argv[2]})
        Bundle.model_validate(b)
        check(b.get("total") == 1, b)
        print(json.dumps(b["entry"][0]["resource"]))


if __name__ == "__main__":
    main()
