// Out of office and filters, as a professional sets them before leaving: Marie ticks the
// out-of-office reply and forgets its message, tries to forward to an address outside the
// trust space and to a patient, then forwards to the secretariat keeping a copy, with a rule
// that files the laboratory's mail. Jean writes twice and gets one automatic reply; the
// laboratory's message lands in its folder. On a phone Marie finds her settings again and
// turns the reply off. Every page is checked by axe-core.
import assert from 'node:assert/strict';
import { base, demoLogin, launch, phone, photographer } from './harness.mjs';

const browser = await launch();
const shot = photographer(process.env.SCREENSHOTS);
const [jean, marie, secretariat] = [process.env.JEAN, process.env.MARIE, process.env.SECRETARIAT];
const passwords = { [jean]: process.env.JEAN_PASSWORD, [marie]: process.env.MARIE_PASSWORD };

const login = (address, options = {}) => demoLogin(browser, address, passwords[address], options);

async function save(page) {
  await page.getByRole('button', { name: 'Enregistrer' }).click();
  await page.waitForLoadState();
}

// Marie opens the page from the folder list.
const page = await login(marie);
await page.getByRole('link', { name: 'Absence et filtres' }).click();
await page.waitForURL(/\/webmail\/filtres$/);
assert.equal(await page.getByLabel('Répondre automatiquement à ceux qui m\'écrivent').isChecked(), false);
await shot(page, 'filtres');

// The reply ticked without its message: said, and nothing else lost.
await page.getByLabel('Répondre automatiquement à ceux qui m\'écrivent').check();
await page.getByLabel('Objet de la réponse').fill('Absente jusqu\'au 4 janvier');
await save(page);
assert.match(await page.getByRole('alert').innerText(), /Écrivez le message de la réponse d'absence/);
assert.equal(await page.getByLabel('Objet de la réponse').inputValue(), 'Absente jusqu\'au 4 janvier');
assert.equal(await page.getByLabel('Message', { exact: true }).getAttribute('aria-invalid'), 'true');
await shot(page, 'filtres-message-manquant');

// Forwarding stays inside the trust space, and never goes to a patient.
await page.getByLabel('Message', { exact: true }).fill('Bonjour,\nje suis absente. Pour une urgence, appelez le 15.\n\nDr Marie Martin');
await page.getByLabel('Transférer mes messages à').fill('quelqu.un@gmail.com');
await save(page);
assert.match(await page.getByRole('alert').innerText(), /n'est pas dans l'espace de confiance MSSanté/);
await page.getByLabel('Transférer mes messages à').fill('279035121518989@patient.mssante.fr');
await save(page);
assert.match(await page.getByRole('alert').innerText(), /à un patient/);
await shot(page, 'filtres-transfert-refuse');

// To the secretariat, a copy kept; the laboratory's mail filed.
await page.getByLabel('Transférer mes messages à').fill(secretariat);
assert.ok(await page.getByLabel('Garder aussi une copie dans ma BAL').isChecked());
await page.getByLabel('Si 1').selectOption({ label: 'L\'objet' });
await page.getByLabel('contient 1').fill('labo');
await page.getByLabel('ranger dans 1').selectOption({ label: 'Indésirables' });
await save(page);
assert.match(await page.locator('.flash').innerText(), /Absence et filtres enregistrés/);
assert.ok(await page.getByLabel('Répondre automatiquement à ceux qui m\'écrivent').isChecked());
assert.equal(await page.getByLabel('Transférer mes messages à').inputValue(), secretariat);
assert.equal(await page.getByLabel('contient 1').inputValue(), 'labo');
// Every page says the reply is on, and leads back here.
assert.match(await page.locator('#absence-active').innerText(), /réponse d'absence est active/);
await shot(page, 'filtres-enregistres');

// Jean writes twice: one automatic reply. Then the laboratory's results.
const jpage = await login(jean);
for (const subject of ['Question sur Mme Durand', 'Question sur Mme Durand (suite)', 'Résultats labo Mme Durand']) {
  await jpage.getByRole('link', { name: 'Écrire', exact: true }).click();
  await jpage.getByLabel('À', { exact: true }).fill(marie);
  await jpage.getByLabel('Objet').fill(subject);
  await jpage.getByLabel('Message', { exact: true }).fill('Bonjour Marie,\npouvez-vous me rappeler ?\nJean');
  await jpage.getByRole('button', { name: 'Envoyer' }).click();
  await jpage.waitForURL(/webmail\/dossier\/\d+/);
}
await jpage.getByRole('link', { name: /Boîte de réception/ }).first().click();
await jpage.waitForFunction(() => /Absente jusqu'au 4 janvier/.test(document.querySelector('#liste').innerText), null, { timeout: 10000 });
const replies = await jpage.locator('#liste tr', { hasText: 'Absente jusqu\'au 4 janvier' }).count();
assert.equal(replies, 1, 'one automatic reply for two messages');
await jpage.locator('#liste tr', { hasText: 'Absente jusqu\'au 4 janvier' }).getByRole('link').first().click();
assert.match(await jpage.locator('article').innerText(), /Pour une urgence, appelez le 15/);
await shot(jpage, 'reponse-absence-recue');

// Marie's laboratory mail is in its folder, the rest in her inbox.
await page.goto(`${base}/webmail`);
assert.equal(await page.locator('#liste tr', { hasText: 'Question sur Mme Durand' }).count(), 2);
assert.equal(await page.locator('#liste tr', { hasText: 'Résultats labo' }).count(), 0);
await page.getByRole('link', { name: /Indésirables/ }).first().click();
assert.equal(await page.locator('#liste tr', { hasText: 'Résultats labo' }).count(), 1);

// Back on a phone: the settings are there, the reply turned off.
const ppage = await login(marie, phone);
await ppage.goto(`${base}/webmail/filtres`);
assert.ok(await ppage.evaluate(() => document.documentElement.scrollWidth <= 390), 'the page does not overflow sideways');
const bar = await ppage.locator('header').first().boundingBox();
assert.ok(bar.height <= 844 / 6, `the phone's header is ${bar.height}px high`);
assert.ok(await ppage.getByLabel('Répondre automatiquement à ceux qui m\'écrivent').isChecked());
await shot(ppage, 'filtres-telephone');
await ppage.getByLabel('Répondre automatiquement à ceux qui m\'écrivent').uncheck();
await save(ppage);
assert.match(await ppage.locator('.flash').innerText(), /Absence et filtres enregistrés/);
assert.equal(await ppage.getByLabel('Répondre automatiquement à ceux qui m\'écrivent').isChecked(), false);
assert.equal(await ppage.locator('#absence-active').count(), 0, 'the notice goes with the reply');
assert.equal(await ppage.getByLabel('Message', { exact: true }).inputValue(), 'Bonjour,\nje suis absente. Pour une urgence, appelez le 15.\n\nDr Marie Martin');
await shot(ppage, 'filtres-telephone-desactive');

await browser.close();
console.log('away walk ok');
