// Walks the structure administrators' console in Chromium, in French: a staff administrator
// logs in with password and authenticator code, creates an organisational BAL, creates a
// staff account, gives it rights on the BAL, changes them, meets a refusal, suspends the staff
// member who left and then the BAL. Each page is photographed to $SCREENSHOTS and checked by
// axe-core (WCAG 2.1 A and AA, no violation). A staff member who is no administrator gets 403.
// Prints one JSON line for the Rust harness.
import assert from 'node:assert/strict';
import { base, launch, newPage as pageOf, photographer, totp } from './harness.mjs';

const finess = process.env.FINESS;
const browser = await launch();
const newPage = () => pageOf(browser);
const shot = photographer(process.env.SCREENSHOTS);

async function staffLogin(page, email, password, secret) {
  await page.goto(`${base}/structure/connexion`);
  await page.getByLabel('Identifiant (adresse électronique)').fill(email);
  await page.getByLabel('Mot de passe', { exact: true }).fill(password);
  await page.getByLabel("Code de l'application d'authentification").fill(totp(secret));
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL(/\/structure$/);
}

const out = {};
const flash = (page) => page.locator('[role=status]').first().innerText();

// 1. The administrator logs in and reaches the console from their page.
const page = await newPage();
await staffLogin(page, process.env.ADMIN_EMAIL, process.env.ADMIN_PASSWORD, process.env.ADMIN_SECRET);
await page.getByRole('link', { name: /Administrer : Centre hospitalier de Test/ }).click();
await page.waitForURL(new RegExp(`/console/${finess}$`));
assert.match(await page.locator('h1').innerText(), /Console de la structure — Centre hospitalier de Test/);
// The month's activity, for the structure, its département (75) and the nation.
const figures = await page.locator('table.figures').innerText();
assert.match(figures, /Messages envoyés/);
assert.match(figures, /Département 75/);
assert.match(figures, /Connexions/);
// The doctor's message of the harness counts nationally, not for the structure.
const sentRow = page.locator('table.figures tr', { has: page.getByRole('rowheader', { name: 'Messages envoyés', exact: true }) });
assert.deepEqual(await sentRow.locator('.valeur').allInnerTexts(), ['0', '0', '1']);
await shot(page, 'console-structure');

// 2. An organisational BAL.
await page.getByLabel('Nom affiché (ex. Secrétariat de cardiologie)').fill('Secrétariat de cardiologie');
await page.getByLabel('Adresse, avant le @').fill('secretariat.cardio');
await page.getByLabel(/Organisationnelle \(ORG\)/).check();
await page.getByRole('button', { name: 'Créer la BAL' }).click();
await page.waitForURL(/\/bal\/secretariat\.cardio@/);
assert.match(await flash(page), /BAL créée : secretariat\.cardio@/);
out.bal = page.url().split('/bal/')[1];
await shot(page, 'console-bal-creee');

// A name longer than the form allows, posted past the browser: refused, said, nothing made.
const csrf = await page.locator('input[name=csrf]').first().getAttribute('value');
const domain = decodeURIComponent(out.bal).split('@')[1];
const tooLong = await page.request.post(`${base}/console/${finess}/bal`, {
  form: { csrf, nom: 'x'.repeat(81), local: 'nom.trop.long', domaine: domain, type: 'ORG' },
});
assert.equal(tooLong.status(), 422);
assert.match(await tooLong.text(), /Ce nom est trop long/);

// 3. A staff account: its password and authenticator key are shown once.
await page.getByRole('link', { name: 'Retour à la structure' }).click();
await page.getByLabel('Prénom et nom').fill('Anne Martin');
await page.getByLabel('Identifiant (adresse électronique)').fill('anne.martin@chu-test.fr');
await page.getByRole('button', { name: 'Créer le compte' }).click();
await page.waitForURL(new RegExp(`/console/${finess}$`));
out.staff = await page.locator('#nouveau-personnel').innerText();
out.password = await page.locator('#mot-de-passe-personnel').innerText();
out.key = (await page.locator('#cle-personnel').innerText()).match(/secret=([A-Z2-7]+)/)[1];
await shot(page, 'console-personnel-cree');
await page.reload();
assert.equal(await page.locator('#mot-de-passe-personnel').count(), 0, 'the password is shown once');

// 4. Rights: read and send, then read only.
await page.getByRole('link', { name: /Secrétariat de cardiologie/ }).click();
const adding = page.locator('form', { has: page.getByRole('button', { name: 'Ajouter' }) });
await adding.getByLabel('RPPS du professionnel ou adresse électronique du personnel').fill(out.staff);
await adding.getByRole('button', { name: 'Ajouter' }).click();
assert.match(await flash(page), /Droits enregistrés pour anne\.martin@chu-test\.fr/);
await shot(page, 'console-membre-ajoute');
const row = page.locator('tr', { hasText: out.staff });
await row.getByLabel('envoi').uncheck();
await row.getByRole('button', { name: 'Enregistrer les droits' }).click();
assert.match(await flash(page), /Droits enregistrés/);
assert.equal(await page.locator('tr', { hasText: out.staff }).getByLabel('envoi').isChecked(), false);
assert.equal(await page.locator('tr', { hasText: out.staff }).getByLabel('lecture').isChecked(), true);

// 5. A mistyped RPPS: the page says what is wrong, and keeps the rest.
await adding.getByLabel('RPPS du professionnel ou adresse électronique du personnel').fill('10000005478');
await adding.getByRole('button', { name: 'Ajouter' }).click();
assert.match(await page.locator('#erreur').innerText(), /ni un RPPS valable/);
await shot(page, 'console-rpps-refuse');

// 6. The new staff member is no administrator: the console refuses them.
const other = await newPage();
await staffLogin(other, out.staff, out.password, out.key);
assert.match(await other.locator('main').innerText(), /Secrétariat de cardiologie/);
const refused = await other.goto(`${base}/console/${finess}`);
assert.equal(refused.status(), 403);

// 7. The staff member leaves: suspended; then the BAL is suspended.
await page.goto(`${base}/console/${finess}/bal/${out.bal}`);
await page.locator('tr', { hasText: out.staff }).getByRole('button', { name: 'Suspendre (départ)' }).click();
assert.match(await flash(page), /anne\.martin@chu-test\.fr est suspendu\(e\)/);
await shot(page, 'console-personnel-suspendu');
await other.goto(`${base}/structure`);
assert.match(other.url(), /\/structure\/connexion$/, 'the suspended member is logged out');
await page.getByRole('button', { name: 'Suspendre la BAL' }).click();
assert.match(await flash(page), /BAL suspendue/);
await shot(page, 'console-bal-suspendue');

await browser.close();
console.log(JSON.stringify(out));
