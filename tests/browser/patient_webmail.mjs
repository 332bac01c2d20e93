// A patient's webmail on the patients' side of a test trust space (`[patients] serve_domain`):
// the patient logs in with the password and the code sent to their personal e-mail (the
// development outbox here), has no "Écrire", answers the professional who wrote to them, and
// meets the closed exchange: no "Répondre" on the closing message, and an answer to that
// professional refused with the reason. Every page is checked by axe-core.
import assert from 'node:assert/strict';
import { base, launch, newPage, photographer } from './harness.mjs';

const browser = await launch();
const shot = photographer(process.env.SCREENSHOTS);
const page = await newPage(browser);
const patient = process.env.PATIENT_ADDRESS;

await page.goto(`${base}/connexion`);
await page.getByLabel('Adresse MSSanté').fill(patient);
await page.getByLabel('Mot de passe', { exact: true }).fill(process.env.PATIENT_PASSWORD);
await page.getByRole('button', { name: 'Continuer' }).click();
await page.waitForURL(/connexion\/code/);
const outbox = await newPage(browser);
await outbox.goto(`${base}/dev/messages`);
const code = (await outbox.locator('td.text').last().innerText()).match(/\b(\d{6})\b/)[1];
await page.getByLabel('Code de vérification').fill(code);
await page.getByRole('button', { name: 'Se connecter' }).click();
await page.waitForURL(/webmail\/dossier\/\d+/);
// No new conversation: neither "Écrire" nor "Écrire à un patient".
assert.equal(await page.getByRole('link', { name: /^Écrire/ }).count(), 0);
await shot(page, 'patient-boite');
await page.goto(`${base}/webmail/ecrire`);
await page.waitForURL(/webmail\/dossier/);
assert.match(await page.locator('[role=alert]').innerText(), /répondre aux messages des professionnels/);

// The closing message: the exchange is closed, no "Répondre".
await page.locator('#liste a.subject', { hasText: 'Fin du suivi' }).click();
await page.waitForURL(/message/);
assert.match(await page.locator('article').innerText(), /Le professionnel a clos cet échange/);
assert.equal(await page.getByRole('link', { name: 'Répondre', exact: true }).count(), 0);
await shot(page, 'patient-echange-clos');

// The colleague who wrote without closing: answered from the webmail.
await page.goto(`${base}/webmail`);
await page.locator('#liste a.subject', { hasText: 'Rendez-vous' }).click();
await page.getByRole('link', { name: 'Répondre', exact: true }).click();
await page.waitForURL(/webmail\/ecrire\?repondre=/);
assert.equal(await page.locator('details.patient, details.structured').count(), 0);
await page.locator('#corps').fill('Merci, je serai présente.');
await shot(page, 'patient-reponse');
await page.getByRole('button', { name: 'Envoyer', exact: true }).click();
await page.waitForURL(/webmail\/dossier/);
assert.match(await page.locator('.flash').innerText(), /Message envoyé/);

// An earlier message of the professional who closed: the answer is refused, said why, kept.
await page.locator('#liste a.subject', { hasText: 'Vos resultats' }).click();
await page.getByRole('link', { name: 'Répondre', exact: true }).click();
await page.locator('#corps').fill('Encore une question.');
await page.getByRole('button', { name: 'Envoyer', exact: true }).click();
await page.waitForURL(/brouillon=/);
const said = await page.locator('[role=alert]').first().innerText();
assert.match(said, /a clos cet échange/);
assert.doesNotMatch(said, /550|5\.7\.1|No valid recipients/);
await shot(page, 'patient-reponse-refusee');

await browser.close();
console.log(JSON.stringify({ patient }));
