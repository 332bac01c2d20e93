// The webmail walk in Chromium: two professionals activate their BAL with the PSC sandbox; one
// reads a message (sanitised HTML, attachments, PDF preview, read receipt, structured
// document), replies with attachments to the other found in the directory by a misspelt name,
// searches, moves, flags, deletes; the other sees it arrive live. Every page is photographed
// and checked by axe-core (WCAG 2.1 A and AA). Prints one JSON line for the Rust harness.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import assert from 'node:assert/strict';
import { activate as activateIn, base, launch, newPage as pageOf, photographer } from './harness.mjs';

const shots = process.env.SCREENSHOTS;
const browser = await launch();
const newPage = (options = {}) => pageOf(browser, options);
const shot = photographer(shots);

const activate = (who, email) => activateIn(browser, who, email);

const out = {};
const elise = await activate('Élise-Marie', 'elise@example.org');
const zoe = await activate('Zoë', 'zoe@example.org');
out.elise = elise.address;
out.zoe = zoe.address;

// Élise's mailbox gets mail from outside the browser (IMAP APPEND with an app password).
let page = elise.page;
await page.goto(`${base}/compte`);
await page.getByLabel('Logiciel', { exact: true }).fill('Logiciel de test');
await page.getByRole('button', { name: 'Créer un mot de passe' }).click();
const appPassword = await page.locator('#nouveau-mot-de-passe').innerText();
execFileSync('python3', [path.join(process.env.REPO, 'tests/clients/seed_webmail.py')], {
  env: { ...process.env, SEED_ADDRESS: out.elise, SEED_PASSWORD: appPassword, SEED_RECEIPT_TO: out.zoe },
  stdio: 'inherit',
});

// The inbox: 25 to a page, unread in bold, the structured-document label, attachments.
await page.goto(`${base}/webmail`);
await page.waitForURL(/webmail\/dossier\/\d+/);
const inboxUrl = page.url();
assert.equal(await page.locator('#liste tbody tr').count(), 25);
assert.match(await page.locator('.pager').innerText(), /Page 1 sur 2/);
assert.match(await page.locator('#dossiers').innerText(), /Boîte de réception\s*32\s*non lus/);
await shot(page, 'boite-de-reception');
await page.getByRole('link', { name: /Page suivante/ }).click();
assert.equal(await page.locator('#liste tbody tr').count(), 7);
await page.getByRole('link', { name: 'Avec pièces jointes' }).click();
assert.equal(await page.locator('#liste tbody tr').count(), 2);
await page.getByRole('link', { name: /Expéditeur/ }).click();
assert.equal(await page.locator('th[aria-sort=ascending]').count(), 1);
await shot(page, 'filtre-pieces-jointes-tri-expediteur');

// A structured document: the XDM/1.0/DDM+ prefix is a label, the archive is recognised.
await page.goto(inboxUrl);
const xdm = page.locator('#liste a.subject', { hasText: 'Compte rendu de biologie' });
assert.match(await xdm.innerText(), /^Document structuré Compte rendu de biologie DUPONT Marie/);
await xdm.click();
assert.doesNotMatch(await page.locator('h1').innerText(), /XDM\/1\.0/);
assert.match(await page.locator('.attachments').innerText(), /IHE_XDM\.ZIP.*Document structuré CDA/s);
await shot(page, 'document-structure');

// HTML mail: no script, no remote image, said; the PDF previews in the page; receipt asked.
await page.goto(inboxUrl);
await page.locator('#liste a.subject', { hasText: 'Résultats de Mme Dupont' }).click();
const body = page.locator('.body');
assert.match(await body.innerText(), /Voici les résultats/);
assert.equal(await body.locator('script, img[src^="http"], [onclick]').count(), 0);
assert.match(await page.locator('main').innerText(), /images distantes de ce message n'ont pas été chargées/);
const preview = page.locator('iframe.preview');
assert.equal(await preview.count(), 1);
const pdf = await page.request.get(base + (await preview.getAttribute('src')));
assert.equal(pdf.headers()['content-type'], 'application/pdf');
assert.match(pdf.headers()['content-security-policy'], /frame-ancestors 'self'/);
const download = await page.request.get(base + (await page.locator('.attachments a').first().getAttribute('href')));
assert.match(download.headers()['content-disposition'], /^attachment; filename="resultats_dupont.pdf"|^attachment; filename=/);
await shot(page, 'lecture-html-pdf');
await page.getByRole('button', { name: "Envoyer l'accusé de lecture" }).click();
await page.waitForURL(/message/);
assert.match(await page.locator('.flash').innerText(), /Accusé de lecture envoyé/);
assert.equal(await page.locator('.receipt').count(), 0, 'asked once');
await page.getByText('Aperçu', { exact: true }).click();
await preview.waitFor();
await shot(page, 'apercu-pdf');
const readingUrl = page.url();

// Zoë got the receipt, and keeps her inbox open: what arrives appears without reloading.
// She may open the practice's BAL too: the chooser comes first.
const zoePage = zoe.page;
await zoePage.goto(`${base}/webmail`);
await zoePage.waitForURL(/webmail\/bal/);
assert.match(await zoePage.locator('main').innerText(), new RegExp(process.env.SHARED_BAL.replace(/\./g, '\\.')));
await shot(zoePage, 'choix-bal');
await zoePage.getByRole('button', { name: out.zoe }).click();
await zoePage.waitForURL(/webmail\/dossier\/\d+/);
assert.equal(await zoePage.locator('#liste tbody tr').count(), 1);
assert.match(await zoePage.locator('#liste').innerText(), /Accusé de lecture : Résultats de Mme Dupont/);

// Reply with attachments, to Zoë found by a misspelt name; a non-MSSanté address is flagged.
await page.goto(readingUrl);
await page.getByRole('link', { name: 'Répondre', exact: true }).click();
await page.waitForURL(/webmail\/ecrire/);
assert.match(await page.locator('#a').inputValue(), /paul\.durand@medecin/);
assert.match(await page.locator('#objet').inputValue(), /^RE: Résultats de Mme Dupont/);
assert.match(await page.locator('#corps').inputValue(), /a écrit :\n> Voici les résultats/);
await page.locator('#a').fill('');
await page.locator('#a').pressSequentially('Zoe Le Beuf', { delay: 20 });
const option = page.getByRole('option').filter({ hasText: out.zoe });
await option.waitFor();
assert.match(await option.innerText(), /Infirmier/);
await page.locator('#a').press('ArrowDown');
await page.locator('#a').press('Enter');
assert.match(await page.locator('#a').inputValue(), new RegExp(out.zoe.replace(/\./g, '\\.')));
await page.locator('#cc').fill('quelquun@gmail.com');
await page.locator('#objet').click();
await page.locator('#a-alerte').waitFor({ state: 'visible' });
assert.match(await page.locator('#a-alerte').innerText(), /quelquun@gmail\.com n’appartient pas à l’espace de confiance MSSanté/);
await shot(page, 'ecrire-annuaire-alerte');
await page.locator('#cc').fill('');
// One file by the picker, one dropped, one too big.
await page.locator('#fichiers').setInputFiles({ name: 'ordonnance.pdf', mimeType: 'application/pdf', buffer: Buffer.from('%PDF-1.4 ordonnance') });
await page.evaluate(() => {
  const dt = new DataTransfer();
  dt.items.add(new File(['Compte rendu, texte.'], 'compte-rendu.txt', { type: 'text/plain' }));
  dt.items.add(new File([new Uint8Array(11 * 1024 * 1024)], 'scanner.tiff', { type: 'image/tiff' }));
  document.querySelector('#depot').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true }));
});
assert.match(await page.locator('#choisis').innerText(), /ordonnance\.pdf.*compte-rendu\.txt.*scanner\.tiff.*dépasse 10 Mo/s);
await shot(page, 'ecrire-pieces-jointes');
await page.getByRole('button', { name: 'Envoyer', exact: true }).click();
await page.waitForURL(/webmail\/dossier/);
assert.match(await page.locator('.flash').innerText(), /Message envoyé/);

// Zoë's list updated by itself; she opens it with both attachments, not the oversized one.
const arrived = zoePage.locator('#liste a.subject', { hasText: 'RE: Résultats de Mme Dupont' });
await arrived.waitFor({ timeout: 15000 });
assert.match(await zoePage.locator('#dossiers').innerText(), /Boîte de réception\s*2\s*non lus/);
await shot(zoePage, 'arrivee-en-direct');
await arrived.click();
assert.match(await zoePage.locator('.headers').innerText(), new RegExp(out.elise.replace(/\./g, '\\.')));
assert.match(await zoePage.locator('.attachments').innerText(), /ordonnance\.pdf.*compte-rendu\.txt/s);
assert.doesNotMatch(await zoePage.locator('.attachments').innerText(), /scanner/);
await shot(zoePage, 'lecture-reponse');

// Élise's Sent folder has it; search finds by words across folders, and by sender.
await page.getByRole('link', { name: 'Envoyés' }).click();
assert.match(await page.locator('#liste').innerText(), /RE: Résultats de Mme Dupont/);
await page.goto(`${base}/webmail/recherche?texte=resultats+dupont`);
const found = await page.locator('table.messages tbody tr').allInnerTexts();
assert.ok(found.some((r) => /Envoyés/.test(r)) && found.some((r) => /Boîte de réception/.test(r)), found.join('\n'));
await page.goto(`${base}/webmail/recherche`);
await page.getByLabel('De', { exact: true }).fill('Durand');
await page.getByRole('button', { name: 'Rechercher' }).last().click();
assert.match(await page.locator('main').innerText(), /2 messages trouvés/);
await shot(page, 'recherche');

// A folder of her own, a message moved there, one flagged, one deleted to the trash.
await page.goto(`${base}/webmail/dossiers`);
await page.getByLabel('Nom', { exact: true }).fill('Patients');
await page.getByRole('button', { name: 'Créer', exact: true }).click();
assert.match(await page.locator('.flash').innerText(), /Dossier créé/);
await shot(page, 'dossiers');
await page.goto(inboxUrl);
await page.getByRole('link', { name: 'Message 1 — suivi du patient', exact: true }).click();
await page.getByLabel('Dossier de destination').selectOption({ label: 'Patients' });
await page.getByRole('button', { name: 'Déplacer' }).click();
assert.match(await page.locator('.flash').innerText(), /1 message déplacé/);
await page.getByRole('link', { name: 'Patients' }).click();
assert.match(await page.locator('#liste').innerText(), /Message 1 —/);
await page.goto(inboxUrl);
await page.getByRole('link', { name: 'Message 2 — suivi du patient', exact: true }).click();
await page.getByRole('button', { name: 'Suivre', exact: true }).click();
assert.match(await page.locator('.flash').innerText(), /1 message suivi/);
await page.goto(inboxUrl);
await page.getByRole('link', { name: 'Suivis' }).click();
assert.equal(await page.locator('#liste tbody tr').count(), 1);
await page.goto(inboxUrl);
await page.getByRole('link', { name: 'Message 3 — suivi du patient', exact: true }).click();
await page.getByRole('button', { name: 'Supprimer', exact: true }).click();
assert.match(await page.locator('.flash').innerText(), /corbeille/);
await page.getByRole('link', { name: 'Corbeille' }).click();
assert.match(await page.locator('#liste').innerText(), /Message 3 —/);
// From the trash it goes for good, after a confirmation.
let asked = '';
page.once('dialog', (d) => { asked = d.message(); d.accept(); });
await page.getByRole('link', { name: 'Message 3 — suivi du patient', exact: true }).click();
await page.getByRole('button', { name: 'Supprimer définitivement' }).click();
await page.waitForURL(/webmail\/dossier/);
assert.match(asked, /ne pourra pas être récupéré/);
assert.match(await page.locator('.flash').innerText(), /supprimé définitivement/);
assert.doesNotMatch(await page.locator('main').innerText(), /Message 3 —/);

// Settings: a signature, then new messages carry it; the keyboard opens the compose page.
await page.goto(`${base}/webmail/reglages`);
await page.getByLabel('Signature ajoutée à vos messages').fill('Dr Élise-Marie D’Orléans\nMédecin généraliste');
await page.getByRole('button', { name: 'Enregistrer' }).click();
assert.match(await page.locator('.flash').innerText(), /Signature enregistrée/);
await shot(page, 'reglages');
await page.goto(inboxUrl);
await page.keyboard.press('c');
await page.waitForURL(/webmail\/ecrire/);
assert.match(await page.locator('#corps').inputValue(), /-- \nDr Élise-Marie D’Orléans/);
// A draft saved by the button keeps its text and comes back as a draft.
await page.locator('#objet').fill('Brouillon de test');
await page.getByRole('button', { name: 'Enregistrer le brouillon' }).click();
await page.waitForURL(/brouillon=/);
assert.equal(await page.locator('#objet').inputValue(), 'Brouillon de test');
await page.getByRole('link', { name: 'Brouillons' }).click();
assert.match(await page.locator('#liste').innerText(), /Brouillon de test/);
await page.goto(`${base}/webmail/raccourcis`);
await shot(page, 'raccourcis');

// English, and a phone-sized screen.
await page.goto(`${inboxUrl}?lang=en`);
assert.match(await page.locator('#dossiers').innerText(), /Inbox/);
await shot(page, 'inbox-english');
const phone = await newPage({ viewport: { width: 390, height: 800 }, storageState: await page.context().storageState() });
await phone.goto(`${inboxUrl}?lang=fr`);
await shot(phone, 'telephone');

// Zoë switches to the shared BAL; Élise, who has no access to it, cannot.
await zoePage.goto(`${base}/webmail/bal`);
await zoePage.getByRole('button', { name: process.env.SHARED_BAL }).click();
await zoePage.waitForURL(/webmail\/dossier\/\d+/);
assert.equal(await zoePage.locator('header .who').innerText(), process.env.SHARED_BAL);
// The frame says for whom Zoë acts, in French, on every page of the shared BAL.
assert.equal(await zoePage.locator('#vous-agissez-pour').innerText(), `Vous agissez pour : ${process.env.SHARED_BAL}`);
await shot(zoePage, 'bal-partagee');
const csrf = await page.evaluate(() => document.body.dataset.csrf);
const refusedSwitch = await page.request.post(`${base}/webmail/bal`, { form: { csrf, bal: '1' } });
assert.equal(refusedSwitch.status(), 403);

// Another professional's message and attachment are not reachable, even by their URL.
assert.equal((await zoePage.request.get(readingUrl)).status(), 404);
assert.equal((await zoePage.request.get(`${readingUrl}/piece/0`)).status(), 404);

await browser.close();
console.log(JSON.stringify(out));
