// A forgotten password. A professional whose BAL was activated with PSC proves who they are
// again with PSC and chooses a new password without the old one, then logs in with it. A
// staff member gets a code at their e-mail, gives it with their authenticator's code and a
// new password; an unknown address gets the same answer, a wrong code opens nothing. On a
// desktop and a phone; every page is checked by axe-core.
import assert from 'node:assert/strict';
import { activate, base, launch, loginWithCode, newPage, outboxCode as fromOutbox, photographer, totp } from './harness.mjs';

const browser = await launch();
const shot = photographer(process.env.SCREENSHOTS);
const staff = process.env.STAFF_EMAIL;

const outboxCode = (to) => fromOutbox(browser, to);

// The professional: activated with PSC (password Clinique2026), then forgotten.
const activated = await activate(browser, 'Carole', 'carole@example.org');
const address = activated.address;
await activated.page.context().close();
const page = await newPage(browser);
await page.goto(`${base}/connexion`);
await page.getByRole('link', { name: 'Mot de passe oublié ?' }).click();
await shot(page, 'mot-de-passe-oublie');
await page.getByRole('button', { name: /Pro Santé Connect/ }).click();
await page.getByLabel(/Carole/).check();
await page.getByRole('button', { name: 'Se connecter' }).click();
await page.waitForURL(/\/compte/);
assert.match(await page.locator('.flash').innerText(), /choisissez votre nouveau mot de passe/);
assert.equal(await page.getByLabel('Mot de passe actuel').count(), 0, 'the old password is not asked');
await page.getByLabel('Nouveau mot de passe').fill('Retrouve2027');
await page.getByLabel('Confirmation').fill('Retrouve2027');
await shot(page, 'nouveau-mot-de-passe');
await page.getByRole('button', { name: 'Changer le mot de passe' }).click();
assert.match(await page.locator('.flash').innerText(), /Votre mot de passe est changé/);
await page.context().close();
const again = await newPage(browser);
await again.goto(`${base}/connexion`);
await loginWithCode(again, browser, address, 'Retrouve2027', 'carole@example.org');
await again.context().close();

// The staff member, on a phone: an unknown address first, the same answer.
const phone = await newPage(browser, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
await phone.goto(`${base}/mot-de-passe-oublie`);
await phone.getByLabel('Identifiant (adresse électronique)').fill('personne@chu-test.fr');
await phone.getByRole('button', { name: 'Recevoir un code' }).click();
await phone.waitForURL(/personnel$/);
const unknown = await phone.locator('.flash').innerText();
await phone.goto(`${base}/mot-de-passe-oublie`);
await phone.getByLabel('Identifiant (adresse électronique)').fill(staff);
await phone.getByRole('button', { name: 'Recevoir un code' }).click();
await phone.waitForURL(/personnel$/);
assert.equal(await phone.locator('.flash').innerText(), unknown, 'the same answer for anyone');
await shot(phone, 'personnel-code');
const code = await outboxCode(staff);
// A wrong code opens nothing.
await phone.getByLabel('Code reçu par e-mail').fill(code === '000000' ? '111111' : '000000');
await phone.getByLabel("Code de l'application d'authentification").fill(totp(process.env.STAFF_SECRET));
await phone.getByLabel('Nouveau mot de passe').fill('Personnel2027');
await phone.getByLabel('Confirmation').fill('Personnel2027');
await phone.getByRole('button', { name: 'Changer le mot de passe' }).click();
assert.match(await phone.locator('#erreur, [role=alert]').first().innerText(), /Un des codes est faux/);
await phone.getByLabel('Code reçu par e-mail').fill(code);
await phone.getByLabel("Code de l'application d'authentification").fill(totp(process.env.STAFF_SECRET));
await phone.getByLabel('Nouveau mot de passe').fill('Personnel2027');
await phone.getByLabel('Confirmation').fill('Personnel2027');
await phone.getByRole('button', { name: 'Changer le mot de passe' }).click();
await phone.waitForURL(/structure\/connexion/);
assert.match(await phone.locator('.flash').innerText(), /nouveau mot de passe est enregistré/);
await shot(phone, 'personnel-fait');
await browser.close();
console.log('recovery walked');
