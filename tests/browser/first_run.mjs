// A newcomer's first login, on a desktop and on a phone: a demo BAL from `demo-accounts.txt`
// opens the webmail with its password and the one-time code the development page shows; the
// webmail's header leaves the phone's screen to the mail; /compte names this instance's host
// and ports for mail software. Every page is checked by axe-core.
import assert from 'node:assert/strict';
import { base, launch, loginWithCode, newPage, outboxCode, photographer } from './harness.mjs';

const browser = await launch();
const shot = photographer(process.env.SCREENSHOTS);
const address = process.env.DEMO_ADDRESS;
const personal = `${address.split('@')[0]}@demo.invalid`;

const screens = {
  bureau: { viewport: { width: 1280, height: 800 } },
  telephone: { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 },
};

for (const [name, options] of Object.entries(screens)) {
  const page = await newPage(browser, options);
  await page.goto(`${base}/`);
  await page.waitForURL(/\/connexion$/);
  await shot(page, `${name}-connexion`);
  // A wrong password first: the same answer as for any address, and nothing opens.
  await page.getByLabel('Adresse MSSanté').fill(address);
  await page.getByLabel('Mot de passe', { exact: true }).fill('Pas-le-bon-1');
  await page.getByRole('button', { name: 'Continuer' }).click();
  assert.match(await page.locator('[role=alert]').innerText(), /Adresse ou mot de passe incorrect/);

  await loginWithCode(page, browser, address, process.env.DEMO_PASSWORD, personal);
  await shot(page, `${name}-boite`);

  if (name === 'telephone') {
    // The header (brand, search, actions) takes at most a sixth of the screen.
    const bar = await page.locator('header').first().boundingBox();
    assert.ok(bar.height <= 844 / 6, `the phone's header is ${bar.height}px high`);
  }

  await page.goto(`${base}/compte`);
  const table = page.locator('#reglages-logiciels');
  const rows = await table.locator('tbody tr').allInnerTexts();
  const cells = rows.map((r) => r.split('\t').map((c) => c.trim()));
  assert.deepEqual(cells, [
    ['IMAP', 'localhost', process.env.CONFIANCE_IMAPS, 'TLS'],
    ['IMAP', 'localhost', process.env.CONFIANCE_IMAP, 'STARTTLS'],
    ['SMTP', 'localhost', process.env.CONFIANCE_SUBMISSIONS, 'TLS'],
    ['SMTP', 'localhost', process.env.CONFIANCE_SUBMISSION, 'STARTTLS'],
    ['ManageSieve', 'localhost', process.env.CONFIANCE_MANAGESIEVE, 'STARTTLS'],
  ]);
  // A demo BAL's password also opens mail software, and the page says so.
  assert.match(await page.locator('main').innerText(), /votre mot de passe de connexion, ou un mot de passe d'application/);
  await shot(page, `${name}-compte`);
  await page.context().close();
}
// A new personal e-mail is used only once the code sent there comes back: a wrong code keeps
// the former one; the right code makes the new one the account's.
{
  const page = await newPage(browser);
  await page.goto(`${base}/connexion`);
  await loginWithCode(page, browser, address, process.env.DEMO_PASSWORD, personal);
  await page.goto(`${base}/compte`);
  const fresh = 'jean.nouveau@demo.invalid';
  await page.getByLabel('E-mail personnel (hors MSSanté)').fill(fresh);
  await page.getByRole('button', { name: 'Enregistrer' }).click();
  assert.match(await page.locator('.flash').innerText(), /Un code vient d'être envoyé à jean\.nouveau@demo\.invalid/);
  assert.equal(await page.getByLabel('E-mail personnel (hors MSSanté)').inputValue(), personal, 'the former address until the code comes back');
  await shot(page, 'bureau-confirmer-email');
  await page.getByLabel(`Code reçu à ${fresh}`).fill('000000');
  await page.getByRole('button', { name: 'Confirmer' }).click();
  assert.match(await page.locator('#erreur, [role=alert]').first().innerText(), /Code incorrect/);
  await page.getByLabel(`Code reçu à ${fresh}`).fill(await outboxCode(browser, fresh));
  await page.getByRole('button', { name: 'Confirmer' }).click();
  assert.match(await page.locator('.flash').innerText(), /nouvelles coordonnées sont confirmées/);
  assert.equal(await page.getByLabel('E-mail personnel (hors MSSanté)').inputValue(), fresh);
}
await browser.close();
console.log('first run walked');
