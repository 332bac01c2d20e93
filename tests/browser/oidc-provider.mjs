// An independent, certified OpenID Connect provider (npm oidc-provider) configured with Pro Santé
// Connect's claims (SubjectNameID, SubjectRefPro, scope_all, acr eidas1), over HTTPS with the
// operator's development certificate. The relying party is tested against it as against PSC.
// Environment: PORT, CERT, KEY, CLIENT_SECRET, REDIRECT_URI. Prints "ready" when listening.
import https from 'node:https';
import fs from 'node:fs';
import Provider from 'oidc-provider';

const issuer = `https://127.0.0.1:${process.env.PORT}`;
// One test identity per login typed on the provider's page (its RPPS).
const identities = {
  '899700870589': { given_name: 'Hélène', family_name: 'MÜLLER-LÜDENSCHEIDT', profession: '50' },
};

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'confiance',
    client_secret: process.env.CLIENT_SECRET,
    redirect_uris: [process.env.REDIRECT_URI],
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  scopes: ['openid', 'scope_all'],
  claims: {
    openid: ['sub'],
    scope_all: ['SubjectNameID', 'SubjectRefPro', 'preferred_username', 'given_name', 'family_name'],
  },
  acrValues: ['eidas1'],
  // Our own login page (below), which states the level PSC does for a CPS or e-CPS: eidas1.
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  features: { devInteractions: { enabled: false }, introspection: { enabled: true } },
  pkce: { required: () => true },
  async findAccount(ctx, id) {
    const who = identities[id];
    if (!who) return undefined;
    return {
      accountId: id,
      async claims() {
        return {
          sub: `psc-${id}`,
          SubjectNameID: id,
          preferred_username: id,
          given_name: who.given_name,
          family_name: who.family_name,
          SubjectRefPro: { codeCivilite: 'MME', exercices: [{ codeProfession: who.profession, activities: [] }] },
        };
      },
    };
  },
  // Introspection answers carry the national id, as PSC's tokens do.
  async extraTokenClaims(ctx, token) {
    return token.accountId ? { SubjectNameID: token.accountId } : undefined;
  },
});

// The login step: a form asking for the test identity's RPPS, then consent given at once.
async function interaction(req, res) {
  const details = await provider.interactionDetails(req, res);
  if (details.prompt.name === 'login' && req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><title>PSC (test)</title><form method="post">
      <label>Identifiant <input name="login"></label><label>Code <input name="password" type="password"></label>
      <button type="submit">Se connecter</button></form>`);
    return;
  }
  if (details.prompt.name === 'login') {
    let body = '';
    for await (const chunk of req) body += chunk;
    // `RPPS:level` logs in at another level of assurance (to see it refused).
    const [accountId, acr = 'eidas1'] = new URLSearchParams(body).get('login').split(':');
    await provider.interactionFinished(req, res, { login: { accountId, acr } }, { mergeWithLastSubmission: false });
    return;
  }
  const grant = new provider.Grant({ accountId: details.session.accountId, clientId: details.params.client_id });
  grant.addOIDCScope('openid scope_all');
  const grantId = await grant.save();
  await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
}

const callback = provider.callback();
https
  .createServer({ cert: fs.readFileSync(process.env.CERT), key: fs.readFileSync(process.env.KEY) }, (req, res) => {
    if (req.url.startsWith('/interaction/')) {
      interaction(req, res).catch((e) => {
        res.writeHead(500);
        res.end(String(e));
      });
    } else {
      callback(req, res);
    }
  })
  .listen(Number(process.env.PORT), '127.0.0.1', () => console.log('ready'));
