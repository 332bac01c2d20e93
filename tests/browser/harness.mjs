// What the browser walks share: Chromium started as DESIGN.md says, pages that accept the
// development authority, a photographer that also checks each page with axe-core (WCAG 2.1 A
// and AA: no violation), and an authenticator app (RFC 6238).
import { chromium } from 'playwright-core';
import crypto from 'node:crypto';
import fs from 'node:fs';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const axeSource = fs.readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export const base = `https://${process.env.CONFIANCE_HOST}:${process.env.CONFIANCE_WEB}`;

export async function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// ignoreHTTPSErrors: the development authority is not in Chromium's store. bypassCSP: the
// pages forbid inline scripts, and axe-core is injected as one.
export async function newPage(browser, options = {}) {
  return (await browser.newContext({ ignoreHTTPSErrors: true, bypassCSP: true, locale: 'fr-FR', ...options })).newPage();
}

// A screenshot of each step under `dir`, numbered, then the accessibility check.
export function photographer(dir) {
  fs.mkdirSync(dir, { recursive: true });
  let step = 0;
  return async (page, name) => {
    step += 1;
    await page.screenshot({ path: `${dir}/${String(step).padStart(2, '0')}-${name}.png`, fullPage: true });
    await page.addScriptTag({ content: axeSource });
    const result = await page.evaluate(() => axe.run({ runOnly: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] }));
    const found = result.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
    assert.deepEqual(found, [], `accessibility of ${name}`);
  };
}

// The RFC 6238 code of a base32 secret now, as an authenticator app shows it.
export function totp(secret) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const c of secret) bits += alphabet.indexOf(c).toString(2).padStart(5, '0');
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const mac = crypto.createHmac('sha1', key).update(counter).digest();
  const o = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, '0');
}

// Activation of a BAL through the PSC sandbox by the test identity `who`, with a password and
// codes by e-mail to `email`; the page stays logged in. Returns it with the BAL's address.
export async function activate(browser, who, email) {
  const page = await newPage(browser);
  await page.goto(`${base}/activation`);
  await page.getByRole('button', { name: /Pro Santé Connect/ }).click();
  await page.getByLabel(new RegExp(who)).check();
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL(/activation\/adresse/);
  await page.getByLabel(/J'ai lu et j'accepte/).check();
  await page.getByRole('button', { name: 'Continuer' }).click();
  await page.getByLabel('Mot de passe', { exact: true }).fill('Clinique2026');
  await page.getByLabel('Confirmation du mot de passe').fill('Clinique2026');
  await page.getByLabel('par e-mail personnel').check();
  await page.getByLabel('E-mail personnel (hors MSSanté)').fill(email);
  await page.getByRole('button', { name: 'Activer ma BAL' }).click();
  await page.waitForURL(/activation\/recapitulatif/);
  const address = await page.locator('#adresse-bal').innerText();
  await confirmContact(page, browser, email);
  return { page, address };
}

// The code sent to a new personal e-mail or mobile `to`, typed where the page asks for it
// (the activation's summary, the account page); ends on the account page.
export async function confirmContact(page, browser, to) {
  await page.getByLabel(`Code reçu à ${to}`).fill(await outboxCode(browser, to));
  await page.getByRole('button', { name: 'Confirmer', exact: true }).click();
  await page.waitForURL(/\/compte$/);
  assert.match(await page.locator('.flash').innerText(), /coordonnées sont confirmées/);
}

// The last one-time code the development outbox shows for `to` (an e-mail or a phone).
export async function outboxCode(browser, to) {
  const outbox = await newPage(browser);
  await outbox.goto(`${base}/dev/messages`);
  const text = await outbox.locator('tr', { hasText: to }).first().locator('td.text').innerText();
  await outbox.context().close();
  return text.match(/\b(\d{6})\b/)[1];
}

// A login with a password, then the code sent to `personal` (read from the outbox), on `page`
// already at /connexion; ends in the webmail.
export async function loginWithCode(page, browser, address, password, personal) {
  await page.getByLabel('Adresse MSSanté').fill(address);
  await page.getByLabel('Mot de passe', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Continuer' }).click();
  await page.waitForURL(/connexion\/code/);
  await page.getByLabel('Code de vérification').fill(await outboxCode(browser, personal));
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await page.waitForURL(/webmail\/dossier\/\d+/);
}

// A phone's screen, for the walks that check the layout there.
export const phone = { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true };

// A demo BAL's login in a page of its own: its password, then the code `init`'s demo holder
// receives at `<local>@demo.invalid` (the development outbox); ends in the webmail.
export async function demoLogin(browser, address, password, options = {}) {
  const page = await newPage(browser, options);
  await page.goto(`${base}/connexion`);
  await loginWithCode(page, browser, address, password, `${address.split('@')[0]}@demo.invalid`);
  return page;
}
