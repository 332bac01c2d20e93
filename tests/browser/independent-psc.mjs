// Activation through an independent OpenID provider configured like PSC (oidc-provider.mjs):
// the relying party's discovery, PKCE, ID token and userinfo against code it did not write.
// Then an access token for a mail client, obtained by the same client (code + PKCE).
// Prints one JSON line: the address made and the access token.
import { chromium } from 'playwright-core';
import crypto from 'node:crypto';
import assert from 'node:assert/strict';

const base = `https://${process.env.CONFIANCE_HOST}:${process.env.CONFIANCE_WEB}`;
const issuer = process.env.ISSUER;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ ignoreHTTPSErrors: true });
const page = await context.newPage();

async function providerLogin(login = '899700870589') {
  await page.waitForURL((u) => u.href.startsWith(issuer)).catch((e) => { throw new Error(`${e.message} at ${page.url()}`); });
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill('any');
  await page.locator('button[type=submit]').click();
}

// A login below the level asked for (acr_values=eidas1) is refused.
await page.goto(`${base}/activation`);
await page.getByRole('button', { name: /Pro Santé Connect/ }).click();
await providerLogin('899700870589:eidas0');
await page.waitForURL((u) => u.href.startsWith(`${base}/psc/retour`));
assert.match(await page.locator('#erreur').innerText(), /n'a pas confirmé votre identité.*eidas0/);
// The provider's session remembers the weak login: log out of it first.
await context.clearCookies();

await page.goto(`${base}/activation`);
await page.getByRole('button', { name: /Pro Santé Connect/ }).click();
await providerLogin();
await page.waitForURL(/activation\/adresse/);
const proposed = await page.locator('input[name=adresse]').first().getAttribute('value');
assert.equal(proposed, `helene.muller-ludenscheidt@pro.${process.env.BASE_DOMAIN}`);
await page.getByLabel(/J'ai lu et j'accepte/).check();
await page.getByRole('button', { name: 'Continuer' }).click();
await page.getByLabel('Mot de passe', { exact: true }).fill('Maternite2026');
await page.getByLabel('Confirmation du mot de passe').fill('Maternite2026');
await page.getByLabel('E-mail personnel (hors MSSanté)').fill('helene@example.org');
await page.getByRole('button', { name: 'Activer ma BAL' }).click();
await page.waitForURL(/activation\/recapitulatif/);
const address = await page.locator('#adresse-bal').innerText();

// A practice software's token, by the authorization code flow with PKCE.
const verifier = crypto.randomBytes(32).toString('base64url');
const challenge = crypto.createHash('sha256').update(verifier).digest('base64url');
let code;
// The code comes back to our registered redirect; the operator, which did not start this
// login, refuses it (no pending state) without redeeming it, and the test takes it from the URL.
const caught = () => {
  if (page.url().startsWith(`${base}/psc/retour`)) code = new URL(page.url()).searchParams.get('code');
};
const redirect = `${base}/psc/retour`;
const authorize = new URL(`${issuer}/auth`);
for (const [k, v] of Object.entries({ client_id: 'confiance', response_type: 'code', scope: 'openid scope_all',
  redirect_uri: redirect, state: 'lps', code_challenge: challenge, code_challenge_method: 'S256' })) {
  authorize.searchParams.set(k, v);
}
await page.goto(authorize.href).catch(() => {});
caught();
// The provider may ask for the login or the consent again: answer whatever it shows.
for (let i = 0; i < 20 && !code; i++) {
  if (await page.locator('input[name=login]').count()) {
    await page.locator('input[name=login]').fill('899700870589');
    await page.locator('input[name=password]').fill('any');
  }
  if (await page.locator('button[type=submit]').count()) {
    await page.locator('button[type=submit]').first().click().catch(() => {});
  }
  await new Promise((r) => setTimeout(r, 300));
  caught();
}
assert.ok(code, `no authorization code: ${page.url()} ${(await page.locator('body').innerText().catch(() => '')).slice(0, 400)}`);
const basic = Buffer.from(`confiance:${process.env.CLIENT_SECRET}`).toString('base64');
const token = await fetch(`${issuer}/token`, {
  method: 'POST',
  headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: redirect, code_verifier: verifier }),
}).then((r) => r.json());
assert.ok(token.access_token, JSON.stringify(token));
await browser.close();
console.log(JSON.stringify({ address, access_token: token.access_token }));
