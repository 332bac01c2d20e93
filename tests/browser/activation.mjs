// Walks activation with the PSC sandbox in Chromium, then logs in with password + one-time
// code, then an authenticator app; a screenshot of each step goes to $SCREENSHOTS.
// Prints one JSON line for the Rust harness: the addresses made and an app password.
import assert from 'node:assert/strict';
import { base, launch, newPage as pageOf, photographer, totp } from './harness.mjs';

const shots = process.env.SCREENSHOTS;
const browser = await launch();
// The operator's certificate comes from its own development authority, which Chromium does not
// know; the relying party itself verifies the sandbox's certificate against that authority.
const newPage = () => pageOf(browser);
// Each step is photographed and checked by axe-core against WCAG 2.1 A and AA: no violation.
const shot = photographer(shots);

async function pscLogin(page, who) {
  await page.getByRole('button', { name: /Pro Santé Connect/ }).click();
  await page.waitForURL(/psc-bac-a-sable\/authorize/);
  await page.getByLabel(new RegExp(who)).check();
  return page;
}

async function latestCode(to) {
  const page = await newPage();
  await page.goto(`${base}/dev/messages`);
  const text = await page.locator('tr', { hasText: to }).first().locator('td.text').innerText();
  await page.context().close();
  return text.match(/(\d{6})/)[1];
}

const out = {};

// 1. Identification with PSC (accents, apostrophe and compound name in the identity).
let page = await newPage();
await page.goto(`${base}/activation`);
assert.match(await page.locator('h1').innerText(), /Activer ma BAL/);
await shot(page, 'etape1-identification');
await pscLogin(page, 'Élise-Marie');
await shot(page, 'psc-bac-a-sable');
await page.getByRole('button', { name: 'Se connecter' }).click();

// 2. Address: proposed from the profession, folded; terms must be accepted.
await page.waitForURL(/activation\/adresse/);
const proposed = await page.locator('input[name=adresse]').evaluateAll((els) => els.map((e) => e.value));
assert.deepEqual(proposed, [`elise-marie.dorleans@medecin.${process.env.BASE_DOMAIN}`, `elise-marie.dorleans@pro.${process.env.BASE_DOMAIN}`]);
await page.locator('input[name=cgu]').evaluate((e) => e.removeAttribute('required'));
await page.getByRole('button', { name: 'Continuer' }).click();
assert.match(await page.locator('#erreur').innerText(), /conditions générales/);
await page.getByLabel(/J'ai lu et j'accepte/).check();
await shot(page, 'etape2-adresse');
await page.getByRole('button', { name: 'Continuer' }).click();

// 3. Settings: a weak password and a missing e-mail are refused with a precise message.
await page.waitForURL(/activation\/parametres/);
await page.getByLabel('Mot de passe', { exact: true }).fill('faible');
await page.getByLabel('Confirmation du mot de passe').fill('faible');
await page.getByRole('button', { name: 'Activer ma BAL' }).click();
assert.match(await page.locator('#erreur').innerText(), /au moins 8 caractères/);
await page.getByLabel('Mot de passe', { exact: true }).fill('Clinique2026');
await page.getByLabel('Confirmation du mot de passe').fill('Clinique2026');
await page.getByLabel('par e-mail personnel').check();
await page.getByRole('button', { name: 'Activer ma BAL' }).click();
assert.match(await page.locator('#erreur').innerText(), /e-mail personnel/);
await page.getByLabel('Mot de passe', { exact: true }).fill('Clinique2026');
await page.getByLabel('Confirmation du mot de passe').fill('Clinique2026');
await page.getByLabel('E-mail personnel (hors MSSanté)').fill('elise.dorleans@example.org');
await page.getByLabel(/Me prévenir/).check();
await page.getByLabel(/Liste rouge/).check();
await shot(page, 'etape3-parametres');
await page.getByRole('button', { name: 'Activer ma BAL' }).click();

// 4. Summary.
await page.waitForURL(/activation\/recapitulatif/);
out.elise = await page.locator('#adresse-bal').innerText();
assert.equal(out.elise, proposed[0]);
assert.match(await page.locator('main').innerText(), /Liste rouge\s*oui/);
// The personal e-mail typed at step 3 receives nothing but its code until that code comes back.
assert.match(await page.locator('main').innerText(), /elise\.dorleans@example\.org \(à confirmer par le code reçu\)/);
await shot(page, 'etape4-recapitulatif');
await page.getByLabel('Code reçu à elise.dorleans@example.org').fill('000000' === await latestCode('elise.dorleans@example.org') ? '000001' : '000000');
await page.getByRole('button', { name: 'Confirmer', exact: true }).click();
assert.match(await page.locator('[role=alert]').innerText(), /code/i);
await page.getByLabel('Code reçu à elise.dorleans@example.org').fill(await latestCode('elise.dorleans@example.org'));
await page.getByRole('button', { name: 'Confirmer', exact: true }).click();
await page.waitForURL(/\/compte$/);
assert.match(await page.locator('.flash').innerText(), /coordonnées sont confirmées/);

// Account page: an app password for a mail client, shown once.
await page.getByLabel('Logiciel', { exact: true }).fill('Thunderbird du cabinet');
await page.getByRole('button', { name: 'Créer un mot de passe' }).click();
out.app_password = await page.locator('#nouveau-mot-de-passe').innerText();
await shot(page, 'compte-mot-de-passe-application');
await page.reload();
assert.equal(await page.locator('#nouveau-mot-de-passe').count(), 0, 'shown once only');
await page.getByRole('button', { name: 'Se déconnecter' }).click();
await page.waitForURL(/connexion/);

// Login: wrong password counted, then password + code by e-mail (a wrong code first).
await page.getByLabel('Adresse MSSanté').fill(out.elise);
await page.getByLabel('Mot de passe').fill('Mauvais123');
await page.getByRole('button', { name: 'Continuer' }).click();
assert.match(await page.locator('#erreur').innerText(), /Adresse ou mot de passe incorrect\. Après 5 échecs/);
await page.getByLabel('Mot de passe').fill('Clinique2026');
await page.getByRole('button', { name: 'Continuer' }).click();
await page.waitForURL(/connexion\/code/);
assert.match(await page.locator('#consigne').innerText(), /e•••@example\.org/);
await shot(page, 'connexion-code');
const code = await latestCode('elise.dorleans@example.org');
await page.getByLabel('Code de vérification').fill(code === '000000' ? '000001' : '000000');
await page.getByRole('button', { name: 'Se connecter' }).click();
assert.match(await page.locator('#erreur').innerText(), /Code incorrect/);
await page.getByLabel('Code de vérification').fill(code);
await page.getByRole('button', { name: 'Se connecter' }).click();
await page.waitForURL(/webmail\/dossier/);
await page.goto(`${base}/compte`);
assert.equal(await page.locator('#adresse-bal').innerText(), out.elise);
await shot(page, 'compte');

// Activation again with the same identity: the account page, not a second BAL.
page = await newPage();
await page.goto(`${base}/activation`);
await pscLogin(page, 'Élise-Marie');
await page.getByRole('button', { name: 'Se connecter' }).click();
await page.waitForURL(/compte/);
assert.match(await page.locator('.flash').innerText(), /déjà activée/);

// Two doctors named Jean MARTIN: the second gets a numeric suffix, and an authenticator app.
for (const [i, expected] of [[0, 'jean.martin@'], [1, 'jean.martin2@']]) {
  page = await newPage();
  await page.goto(`${base}/activation`);
  await page.getByRole('button', { name: /Pro Santé Connect/ }).click();
  await page.locator('input[name=identite]').nth(i).check();
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL(/activation\/adresse/);
  const first = await page.locator('input[name=adresse]').first().getAttribute('value');
  assert.ok(first.startsWith(expected + 'medecin.'), first);
  await page.getByLabel(/J'ai lu et j'accepte/).check();
  await page.getByRole('button', { name: 'Continuer' }).click();
  await page.getByLabel('Mot de passe', { exact: true }).fill('Cabinet2026');
  await page.getByLabel('Confirmation du mot de passe').fill('Cabinet2026');
  await page.getByLabel("avec une application d'authentification").check();
  const key = await page.locator('#cle-totp').innerText();
  await page.getByLabel("Code affiché par l'application").fill('123456' === totp(key) ? '654321' : '123456');
  await page.getByRole('button', { name: 'Activer ma BAL' }).click();
  assert.match(await page.locator('#erreur').innerText(), /application d'authentification est incorrect/);
  await page.getByLabel('Mot de passe', { exact: true }).fill('Cabinet2026');
  await page.getByLabel('Confirmation du mot de passe').fill('Cabinet2026');
  await page.getByLabel("Code affiché par l'application").fill(totp(key));
  await page.getByRole('button', { name: 'Activer ma BAL' }).click();
  await page.waitForURL(/activation\/recapitulatif/);
  out[`martin${i + 1}`] = await page.locator('#adresse-bal').innerText();
  if (i === 1) {
    await shot(page, 'homonyme-recapitulatif');
    // Log in again with password + authenticator code, in English this time.
    page = await newPage();
    await page.goto(`${base}/connexion?lang=en`);
    await page.getByLabel('MSSanté address').fill(out.martin2);
    await page.getByLabel('Password').fill('Cabinet2026');
    await page.getByRole('button', { name: 'Continue' }).click();
    await page.waitForURL(/connexion\/code/);
    assert.match(await page.locator('#consigne').innerText(), /authenticator app/);
    const used = totp(key);
    await page.getByLabel('Verification code').fill(used);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.waitForURL(/webmail\/dossier/);
    await page.goto(`${base}/compte`);
    await shot(page, 'account-english');
    // The same code cannot open a second session (replay), whatever the browser.
    const other = await newPage();
    await other.goto(`${base}/connexion`);
    await other.getByLabel('Adresse MSSanté').fill(out.martin2);
    await other.getByLabel('Mot de passe').fill('Cabinet2026');
    await other.getByRole('button', { name: 'Continuer' }).click();
    await other.waitForURL(/connexion\/code/);
    await other.getByLabel('Code de vérification').fill(used);
    await other.getByRole('button', { name: 'Se connecter' }).click();
    // Within its 90 s window the code is refused as used; a step later it is simply wrong.
    assert.match(await other.locator('#erreur').innerText(), /déjà servi|Code incorrect/);
    assert.ok(other.url().includes('/connexion/code'), 'no session opened');
  }
}

// A CPS card in the reader (a client certificate): identification without PSC.
if (process.env.CPS_CERT) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true,
    bypassCSP: true,
    clientCertificates: [{ origin: base, certPath: process.env.CPS_CERT, keyPath: process.env.CPS_KEY }],
  });
  page = await context.newPage();
  await page.goto(`${base}/activation`);
  await page.getByRole('link', { name: /carte CPS dans le lecteur/ }).click();
  await page.waitForURL(/activation\/adresse/);
  assert.match(await page.locator('main').innerText(), /Carole PHARMACH — RPPS 99700075122/);
  // Pharmacists have a sub-domain of their own, not hosted here: the generic one.
  const cps = await page.locator('input[name=adresse]').first().getAttribute('value');
  assert.equal(cps, `carole.pharmach@pro.${process.env.BASE_DOMAIN}`);
  await page.getByLabel(/J'ai lu et j'accepte/).check();
  await page.getByRole('button', { name: 'Continuer' }).click();
  await page.getByLabel('Mot de passe', { exact: true }).fill('Officine2026');
  await page.getByLabel('Confirmation du mot de passe').fill('Officine2026');
  await page.getByLabel('Téléphone mobile').fill('06 12 34 56 78');
  await page.getByLabel('par SMS').check();
  await page.getByRole('button', { name: 'Activer ma BAL' }).click();
  await page.waitForURL(/activation\/recapitulatif/);
  assert.match(await page.locator('main').innerText(), /\+33612345678 \(à confirmer par le code reçu\)/);
  assert.match(await page.locator('main').innerText(), /par SMS/);
  out.carole = await page.locator('#adresse-bal').innerText();
  await shot(page, 'cps-recapitulatif');
  // Without the card, the CPS login says what is missing.
  const bare = await newPage();
  const resp = await bare.goto(`${base}/cps/connexion?pour=connexion`);
  assert.equal(resp.status(), 401);
  assert.match(await bare.locator('#erreur').innerText(), /Aucune carte CPS/);
}

// The staff login (a structure's secretaries, no CPS): the page, then its one answer to a
// wrong identifier, password or code, announced to screen readers.
page = await newPage();
await page.goto(`${base}/structure/connexion`);
assert.match(await page.locator('h1').innerText(), /personnel/);
await shot(page, 'personnel-connexion');
await page.getByLabel('Identifiant (adresse électronique)').fill('personne@chu-test.fr');
await page.getByLabel('Mot de passe', { exact: true }).fill('Secret123');
await page.getByLabel("Code de l'application d'authentification").fill('123456');
await page.getByRole('button', { name: 'Se connecter' }).click();
assert.match(await page.locator('[role=alert]').innerText(), /Identifiant, mot de passe ou code incorrect/);
await shot(page, 'personnel-refus');

await browser.close();
console.log(JSON.stringify(out));
