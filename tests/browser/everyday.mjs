// What professionals do every day, with the demo BALs: Jean writes to Marie with a blind copy
// to the secretariat, answers sent to the secretariat, and both receipts asked; his Sent copy
// names the blind copy, a delivery receipt comes back, and the message can be printed. Marie
// sees the start of each message in her list, no blind copy, the read-receipt request, and
// answers go to the secretariat; she ticks several messages to mark and delete them, drags one
// onto a folder, and sees how full her BAL is. On a phone she ticks and marks too. Every page
// is checked by axe-core.
import assert from 'node:assert/strict';
import { base, demoLogin, launch, phone, photographer } from './harness.mjs';

const browser = await launch();
const shot = photographer(process.env.SCREENSHOTS);
const [jean, marie, secretariat] = [process.env.JEAN, process.env.MARIE, process.env.SECRETARIAT];
const passwords = { [jean]: process.env.JEAN_PASSWORD, [marie]: process.env.MARIE_PASSWORD };

const login = (address, options = {}) => demoLogin(browser, address, passwords[address], options);

// Jean writes.
const page = await login(jean);
await page.getByRole('link', { name: 'Écrire', exact: true }).click();
await page.getByLabel('À', { exact: true }).fill(marie);
await page.getByLabel('Copie cachée à (Cci)').fill(secretariat);
await page.getByText('Faire répondre à une autre adresse').click();
await page.getByLabel('Répondre à', { exact: true }).fill(secretariat);
await page.getByLabel('Objet').fill('Bilan annuel');
await page.getByLabel('Message', { exact: true }).fill('Bonjour Marie,\nvoici le bilan annuel complet de Mme Durand.\n\nJean');
await page.getByLabel(/accusé de remise/).check();
await page.getByLabel('Demander un accusé de lecture').check();
await shot(page, 'ecrire-cci-accuses');
await page.getByRole('button', { name: 'Envoyer' }).click();
await page.waitForURL(/webmail\/dossier\/\d+/);
assert.match(await page.locator('.flash').innerText(), /Message envoyé/);

// His copy in Sent names the blind copy; it prints as the message alone.
await page.getByRole('link', { name: 'Envoyés' }).click();
await page.getByRole('link', { name: /Bilan annuel/ }).click();
assert.match(await page.locator('#cci-lu').innerText(), new RegExp(secretariat.replace('.', '\\.')));
assert.ok(await page.getByRole('button', { name: 'Imprimer' }).isVisible());
await page.emulateMedia({ media: 'print' });
assert.equal(await page.locator('header.bar').isVisible(), false, 'the header is not printed');
assert.ok(await page.locator('article h1').isVisible());
await page.emulateMedia({ media: 'screen' });
await shot(page, 'envoye-cci');

// The delivery receipt reaches his inbox.
await page.getByRole('link', { name: /Boîte de réception/ }).first().click();
await page.waitForFunction(() => /Accusé de remise/.test(document.querySelector('#liste').innerText), null, { timeout: 10000 });

// Marie reads: the start of the text in the list, no blind copy, answers to the secretariat.
const mpage = await login(marie);
const row = mpage.locator('#liste tr', { hasText: 'Bilan annuel' });
assert.match(await row.locator('.snippet').innerText(), /Bonjour Marie, voici le bilan annuel complet/);
assert.match(await mpage.locator('#quota').innerText(), /utilisés sur 2 Go/);
await shot(mpage, 'liste-apercu-quota');
await row.getByRole('link', { name: /Bilan annuel/ }).click();
assert.equal(await mpage.locator('#cci-lu').count(), 0, 'no blind copy at the recipient');
assert.ok(await mpage.getByRole('button', { name: "Envoyer l'accusé de lecture" }).isVisible());
await mpage.getByRole('link', { name: 'Répondre', exact: true }).click();
assert.equal(await mpage.getByLabel('À', { exact: true }).inputValue(), secretariat);
// She answers Jean himself this time.
await mpage.getByLabel('À', { exact: true }).fill(jean);
await mpage.getByRole('button', { name: 'Envoyer' }).click();
await mpage.waitForURL(/webmail\/dossier\/\d+/);
assert.match(await mpage.locator('.flash').innerText(), /Message envoyé/);

// Another conversation of the same subject: Jean writes anew to the secretariat.
await page.getByRole('link', { name: 'Écrire', exact: true }).click();
await page.getByLabel('À', { exact: true }).fill(secretariat);
await page.getByLabel('Objet').fill('Bilan annuel');
await page.getByLabel('Message', { exact: true }).fill('Un autre bilan, pour un autre patient.');
await page.getByRole('button', { name: 'Envoyer' }).click();
await page.waitForURL(/webmail\/dossier\/\d+/);

// Jean opens the answer: the conversation shows what he sent on it, in his Sent folder, and
// not the other message of the same subject (threads follow References).
await page.goto(`${base}/webmail`);
await page.getByRole('link', { name: /RE: Bilan annuel/ }).click();
const thread = await page.locator('#conversation').innerText();
assert.match(thread, /Dans la même conversation : 1 autre message/);
assert.match(thread, /Bilan annuel[\s\S]*Envoyés/);
await shot(page, 'conversation');
await mpage.goto(`${base}/webmail`);

// Several messages at once: two ticked and marked read, then deleted to the trash.
const boxes = mpage.locator('#liste tbody input[type=checkbox]');
assert.ok(await boxes.count() >= 4, 'the seeded messages are listed');
await mpage.getByRole('button', { name: 'Marquer comme lu' }).click();
assert.match(await mpage.locator('[role=alert]').innerText(), /Cochez d'abord/);
await boxes.nth(0).check();
await boxes.nth(1).check();
await mpage.getByRole('button', { name: 'Marquer comme lu' }).click();
assert.match(await mpage.locator('.flash').innerText(), /2 messages marqués comme lus/);
await mpage.getByLabel('Tout sélectionner').check();
assert.equal(await boxes.evaluateAll((b) => b.filter((x) => x.checked).length), await boxes.count());
await mpage.getByLabel('Tout sélectionner').uncheck();
const before = await boxes.count();
await boxes.nth(0).check();
await boxes.nth(1).check();
await shot(mpage, 'liste-cochee');
await mpage.getByRole('button', { name: 'Supprimer' }).click();
assert.match(await mpage.locator('.flash').innerText(), /2 messages mis à la corbeille/);
assert.equal(await boxes.count(), before - 2);

// A message dragged onto a folder moves there.
const dragged = await mpage.locator('#liste tbody tr').first().locator('a.subject').innerText();
await mpage.locator('#liste tbody tr').first().dragTo(mpage.locator('#dossiers a', { hasText: 'Indésirables' }));
await mpage.waitForFunction(() => /déplacé/.test(document.querySelector('.flash')?.innerText || ''), null, { timeout: 10000 });
assert.match(await mpage.locator('.flash').innerText(), /1 message déplacé/);
await mpage.locator('#dossiers a', { hasText: 'Indésirables' }).click();
assert.match(await mpage.locator('#liste').innerText(), new RegExp(dragged.trim().slice(0, 12)));

// On a phone: tick, mark unread, and the header stays small.
const ppage = await login(marie, phone);
const bar = await ppage.locator('header').first().boundingBox();
assert.ok(bar.height <= 844 / 6, `the phone's header is ${bar.height}px high`);
await ppage.locator('#liste tbody input[type=checkbox]').first().check();
await ppage.getByRole('button', { name: 'Marquer comme non lu' }).click();
assert.match(await ppage.locator('.flash').innerText(), /1 message marqué comme non lu/);
await shot(ppage, 'telephone-liste');
await browser.close();
console.log('everyday walked');
