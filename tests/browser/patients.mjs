// Patients and Ségur documents in Chromium: a professional activates her BAL, receives every
// ANS Ségur fixture (CDA in archives, the two metadata files, a patient's reply with a bare
// CDA), sees each with its patient and document type, views a CDA's narrative and a level-1
// CDA's PDF, then writes to a patient from the 13 digits of the social-security number,
// closes the exchange and attaches a structured document. Every page is photographed and
// checked by axe-core (WCAG 2.1 A and AA). The sent message's timeline is shown and its proof's
// signature checked against the certificate it carries.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import path from 'node:path';
import assert from 'node:assert/strict';
import { activate, base, launch, photographer } from './harness.mjs';

const browser = await launch();
const shot = photographer(process.env.SCREENSHOTS);
// Activation through the PSC sandbox.
const { page, address } = await activate(browser, 'Élise-Marie', 'elise@example.org');

// The documents arrive as another operator's software and a patient send them.
await page.goto(`${base}/compte`);
await page.getByLabel('Logiciel', { exact: true }).fill('Logiciel de test');
await page.getByRole('button', { name: 'Créer un mot de passe' }).click();
const appPassword = await page.locator('#nouveau-mot-de-passe').innerText();
execFileSync('python3', [path.join(process.env.REPO, 'tests/clients/seed_files.py')], {
  env: { ...process.env, SEED_ADDRESS: address, SEED_PASSWORD: appPassword },
  stdio: 'inherit',
});

await page.goto(`${base}/webmail`);
await page.waitForURL(/webmail\/dossier\/\d+/);
const links = await page.locator('#liste a.subject').evaluateAll((as) => as.map((a) => a.href));
assert.equal(links.length, Number(process.env.SEED_COUNT));

// Every message: its documents with patient, INS and type; what senders got wrong, said.
const seen = [];
for (const link of links) {
  await page.goto(link);
  const panel = page.locator('section.segur');
  await panel.waitFor();
  const text = await panel.innerText();
  assert.match(text, /Patient/, link);
  assert.match(text, /INS\s+\d{15}/, link);
  assert.match(text, /Type de document/, link);
  seen.push(text);
}
const all = seen.join('\n');
for (const patient of ['PAT-TROIS DOMINIQUE', 'DECOURCY Marie', 'PAT-SIX Alain', 'PAT-HUIT FRANCOISE']) {
  assert.ok(all.includes(patient), `${patient} shown`);
}
for (const kind of ['CR d’imagerie médicale', 'Lettre de liaison', 'Note de vaccination', 'Synthèse Suites de Couches Mère']) {
  assert.match(all, new RegExp(kind, 'i'));
}
// The cross-validator's request names two patients; the DRIMbox archive's files are absent.
assert.match(all, /ne désignent pas le même patient \(INS 162018885045327 et 274075176079430\)/);
assert.match(all, /SS000001\/KOS_1_1\.DCM annoncé dans l'archive est absent/);
assert.match(all, /Non visible par le patient/);

// The patient's reply: marked, with their INS, and the bare CDA viewed.
const fromPatient = page.locator('#liste a.subject', { hasText: 'Ma note de vaccination' });
await page.goto(`${base}/webmail`);
await fromPatient.click();
await page.waitForURL(/message/);
assert.match(await page.locator('.headers').innerText(), /Patient\s+INS 279035121518989/);
await shot(page, 'message-patient');
await page.getByRole('link', { name: 'Voir le document' }).click();
await page.waitForURL(/document\/\d+\/\d+$/);
assert.match(await page.locator('h1').innerText(), /vaccination/i);
assert.ok(await page.locator('.cda-section').count() >= 1, 'narrative sections');
assert.equal(await page.locator('.cda script, .cda [href^="javascript"]').count(), 0);
await shot(page, 'document-cda');

// The level-1 CDA: its PDF in the viewer.
await page.goto(`${base}/webmail`);
await page.locator('#liste a.subject', { hasText: 'IMG_CR_IMG' }).click();
await page.getByRole('link', { name: 'Voir le document' }).click();
await page.waitForURL(/document\/\d+\/\d+$/);
const frame = page.locator('iframe.document');
const pdf = await page.request.get(new URL(await frame.getAttribute('src'), base).href);
assert.equal(pdf.headers()['content-type'], 'application/pdf');
assert.ok((await pdf.body()).subarray(0, 5).toString() === '%PDF-');
await shot(page, 'document-pdf');

// Writing to a patient from the 13 digits: the key is proposed, then the address confirmed.
await page.goto(`${base}/webmail`);
await page.getByRole('link', { name: 'Écrire à un patient' }).click();
await page.waitForURL(/webmail\/ecrire\?patient=1/);
await page.getByLabel('Matricule INS du patient').pressSequentially('2790351215189', { delay: 10 });
await page.locator('#ins-etat').getByText(/il manque la clé/).waitFor();
assert.match(await page.locator('#ins-etat').innerText(), /279035121518989@patient\.mssante\.fr/);
await shot(page, 'ecrire-patient-cle');
await page.getByRole('button', { name: "Utiliser l'INS complet" }).click();
await page.locator('#ins-etat').getByText(/Adresse du patient : 279035121518989@patient\.mssante\.fr/).waitFor();
// A wrong key is said as it is typed.
await page.getByLabel('Matricule INS du patient').fill('');
await page.getByLabel('Matricule INS du patient').pressSequentially('279035121518988', { delay: 10 });
await page.locator('#ins-etat').getByText(/clé de l'INS est invalide/).waitFor();
await page.getByLabel('Matricule INS du patient').fill('279035121518989');
await page.locator('#ins-etat').getByText(/Adresse du patient : 279035121518989@patient\.mssante\.fr/).waitFor();
await page.getByLabel(/Clore l'échange/).check();
// A copy to herself: delivered here, a step the timeline shows at once.
await page.locator('#cc').fill(address);
await page.locator('#corps').fill('Bonjour, voici votre lettre de liaison.');
await page.locator('details.structured summary').click();
await page.getByLabel('Document CDA ou PDF').setInputFiles(process.env.CDA_FILE);
// The patient the CDA names, read in the page as the file is picked.
await page.locator('#document-patient').getByText('Patient du document : PAT-TROIS DOMINIQUE (INS 279035121518989)').waitFor();
await shot(page, 'ecrire-patient-document');
await page.getByRole('button', { name: 'Envoyer', exact: true }).click();
await page.waitForURL(/webmail\/dossier/);
assert.match(await page.locator('.flash').innerText(), /Message envoyé/);

// The copy in Sent: the archive we built, read back by our reader, and the exchange closed.
await page.getByRole('link', { name: /Envoyés/ }).click();
await page.locator('#liste a.subject').first().click();
await page.waitForURL(/message/);
assert.match(await page.locator('h1').innerText(), /Lettre de liaison/i);
assert.match(await page.locator('section.segur').innerText(), /PAT-TROIS DOMINIQUE[\s\S]*279035121518989/);
assert.match(await page.locator('article').innerText(), /Cet échange avec le patient est clos/);
await shot(page, 'envoye-patient');

// The timeline of the sending, and the proof signed by the operator.
await page.getByRole('link', { name: "Suivi de l'envoi et preuve" }).click();
await page.waitForURL(/suivi$/);
const timeline = await page.locator('table.timeline').innerText();
assert.match(timeline, new RegExp(`${address.replace(/\./g, '\\.')}\\s+.*Remis dans sa BAL`));
assert.match(timeline, /279035121518989@patient\.mssante\.fr/);
await shot(page, 'suivi-envoi');
const proofResponse = await page.request.get(page.url().replace(/suivi$/, 'preuve'));
assert.equal(proofResponse.status(), 200);
const proof = await proofResponse.json();
const content = JSON.parse(proof.contenu);
assert.match(content.message_id, /^<.+>$/);
assert.equal(content.pieces_jointes.find((p) => p.nom === 'IHE_XDM.ZIP').sha256.length, 64);
const certificate = crypto.createPublicKey(proof.signature.certificat);
const signature = Buffer.from(proof.signature.valeur, 'base64');
assert.ok(crypto.verify('sha256', Buffer.from(proof.contenu), certificate, signature), 'the proof verifies');
assert.ok(!crypto.verify('sha256', Buffer.from(proof.contenu + ' '), certificate, signature), 'a changed proof does not');

await browser.close();
console.log(JSON.stringify({ address, messages: links.length }));
