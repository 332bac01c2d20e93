// Confiance webmail: what a page gains with JavaScript. Every page works without it.
// No framework: live updates, several messages at once, directory autocomplete, recipient
// checks, drag and drop with progress, autosaved drafts, keyboard shortcuts.

const $ = (s, root = document) => root.querySelector(s);
const $$ = (s, root = document) => [...root.querySelectorAll(s)];
const en = document.documentElement.lang === 'en';
const say = (fr, eng) => (en ? eng : fr);
const announce = (text) => { const a = $('#annonce'); if (a) a.textContent = text; };
// A permanent deletion is confirmed first (data-confirm on its button).
document.addEventListener('submit', (e) => {
  const question = e.submitter && e.submitter.dataset.confirm;
  if (question && !window.confirm(question)) e.preventDefault();
});
const typing = (el) => el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName));

// Keyboard shortcuts: data-key on links, buttons and fields; j/k walk the list.
document.addEventListener('keydown', (e) => {
  if (e.ctrlKey || e.metaKey || e.altKey || typing(e.target)) return;
  if (e.key === '?') { location.href = '/webmail/raccourcis'; return; }
  if (e.key === 'j' || e.key === 'k') {
    const links = $$('#liste a.subject');
    if (!links.length) return;
    const i = links.indexOf(document.activeElement);
    const next = e.key === 'j' ? Math.min(i + 1, links.length - 1) : Math.max(i - 1, 0);
    links[i < 0 ? 0 : next].focus();
    e.preventDefault();
    return;
  }
  const target = $(`[data-key="${CSS.escape(e.key)}"]`);
  if (!target) return;
  e.preventDefault();
  if (typing(target)) target.focus(); else target.click();
});

// Live updates on a message list: a folder changed, the list and the counts are fetched
// again. These fetches are marked as the page's own, so they do not hold off the idle lock.
if ($('#liste') && window.EventSource) {
  const events = new EventSource('/webmail/evenements');
  let pending = null;
  events.addEventListener('changement', () => {
    clearTimeout(pending);
    pending = setTimeout(async () => {
      const r = await fetch(location.href, { credentials: 'same-origin', headers: { 'X-Confiance-Fond': '1' } });
      // Locked or logged out meanwhile: the mail leaves the screen.
      if (r.redirected) { location.href = '/connexion'; return; }
      if (!r.ok) return;
      const doc = new DOMParser().parseFromString(await r.text(), 'text/html');
      // What was ticked stays ticked.
      const ticked = $$('#liste input[form="selection"]:checked').map((b) => b.name);
      for (const sel of ['#dossiers', '#liste', 'h1 .count', '.pager']) {
        const now = $(sel), fresh = $(sel, doc);
        if (now && fresh && now.innerHTML !== fresh.innerHTML) now.innerHTML = fresh.innerHTML;
      }
      for (const name of ticked) { const b = $(`#liste input[name="${CSS.escape(name)}"]`); if (b) b.checked = true; }
      showSelectAll();
      if ($('#liste')) announce(say('Liste des messages mise à jour.', 'Message list updated.'));
    }, 300);
  });
}

// Several messages at once: the header's box ticks them all (it needs this script, so it is
// hidden without it); a row dragged onto a folder moves there, with the other ticked rows
// when it is ticked itself.
const boxes = () => $$('#liste input[form="selection"]');
function showSelectAll() { const all = $('#tout'); if (all) all.hidden = false; }
showSelectAll();
document.addEventListener('change', (e) => {
  if (e.target.id === 'tout') for (const b of boxes()) b.checked = e.target.checked;
});
const DRAGGED = 'application/x-confiance-messages';
const folderLink = (el) => el.closest && el.closest('#dossiers a[href^="/webmail/dossier/"]');
document.addEventListener('dragstart', (e) => {
  const row = e.target.closest && e.target.closest('tr[data-uid]');
  if (!row) return;
  const own = $('input[type=checkbox]', row);
  const uids = own && own.checked ? boxes().filter((b) => b.checked).map((b) => b.name.slice(1)) : [row.dataset.uid];
  e.dataTransfer.setData(DRAGGED, uids.join(','));
  e.dataTransfer.effectAllowed = 'move';
});
document.addEventListener('dragover', (e) => {
  const link = folderLink(e.target);
  if (!link || !e.dataTransfer.types.includes(DRAGGED)) return;
  e.preventDefault();
  link.classList.add('cible');
});
document.addEventListener('dragleave', (e) => { const link = folderLink(e.target); if (link) link.classList.remove('cible'); });
document.addEventListener('drop', async (e) => {
  const link = folderLink(e.target);
  const list = $('#liste');
  if (!link || !list || !e.dataTransfer.types.includes(DRAGGED)) return;
  e.preventDefault();
  const body = new URLSearchParams({
    csrf: document.body.dataset.csrf,
    action: 'deplacer',
    dossier: link.getAttribute('href').split('/').pop(),
    retour: location.pathname + location.search,
  });
  for (const uid of e.dataTransfer.getData(DRAGGED).split(',')) body.set(`m${uid}`, '1');
  // The answer is a redirection to this page with its notice: not followed here, so that the
  // notice is shown by the reload rather than spent on an unseen page.
  await fetch(`/webmail/dossier/${list.dataset.folder}/selection`, { method: 'POST', body, credentials: 'same-origin', redirect: 'manual' });
  location.reload();
});

// Printing a message: the button needs this script; the print style keeps the message alone.
for (const b of $$('[data-print]')) { b.hidden = false; b.addEventListener('click', () => window.print()); }

// Directory autocomplete (ARIA 1.2 combobox) on the recipient fields.
function place(entry) {
  const p = (entry.places || [])[0] || {};
  return [p.organisation, p.commune].filter(Boolean).join(', ');
}

function autocomplete(input) {
  const list = document.createElement('ul');
  list.className = 'suggestions';
  list.id = `${input.id}-propositions`;
  list.setAttribute('role', 'listbox');
  list.setAttribute('aria-label', say('Correspondants proposés par l’annuaire', 'Correspondents from the directory'));
  list.hidden = true;
  input.after(list);
  input.setAttribute('role', 'combobox');
  input.setAttribute('aria-autocomplete', 'list');
  input.setAttribute('aria-expanded', 'false');
  input.setAttribute('aria-controls', list.id);
  let options = [], active = -1, timer = null, asked = 0;

  const close = () => { list.hidden = true; input.setAttribute('aria-expanded', 'false'); input.removeAttribute('aria-activedescendant'); active = -1; };
  const mark = (i) => {
    active = i;
    $$('li', list).forEach((li, n) => li.setAttribute('aria-selected', String(n === i)));
    if (i >= 0) input.setAttribute('aria-activedescendant', `${list.id}-${i}`);
  };
  const choose = (i) => {
    const parts = input.value.split(',');
    parts[parts.length - 1] = ` ${options[i].address}`;
    input.value = parts.join(',').replace(/^\s+/, '') + ', ';
    close();
    input.focus();
    input.dispatchEvent(new Event('change'));
  };
  input.addEventListener('input', () => {
    clearTimeout(timer);
    const term = input.value.split(',').pop().trim();
    if (term.length < 2 || term.includes('@')) { close(); return; }
    timer = setTimeout(async () => {
      const n = ++asked;
      const r = await fetch(`/api/annuaire?bal=1&limit=8&q=${encodeURIComponent(term)}`);
      if (!r.ok || n !== asked) return;
      const found = await r.json();
      options = [];
      for (const e of found.entries) {
        for (const m of e.mailboxes) options.push({ entry: e, address: m.address, type: m.type, demat: m.dematerialisation });
      }
      list.replaceChildren(...options.map((o, i) => {
        const li = document.createElement('li');
        li.id = `${list.id}-${i}`;
        li.setAttribute('role', 'option');
        const name = document.createElement('strong');
        name.textContent = o.entry.display_name;
        const details = document.createElement('span');
        details.className = 'hint';
        const kind = { PER: say('BAL personnelle', 'personal'), ORG: say('BAL organisationnelle', 'organisational'), APP: say('BAL applicative', 'application'), CAB: say('BAL de cabinet', 'practice') }[o.type] || o.type;
        const demat = o.demat ? say(' · accepte la dématérialisation', ' · accepts dématérialisation') : '';
        details.textContent = ` ${o.entry.profession ? o.entry.profession.label + ' · ' : ''}${place(o.entry)} · ${o.address} · ${kind}${demat}`;
        li.append(name, details);
        li.addEventListener('mousedown', (ev) => { ev.preventDefault(); choose(i); });
        return li;
      }));
      list.hidden = options.length === 0;
      input.setAttribute('aria-expanded', String(!list.hidden));
      announce(options.length ? say(`${options.length} correspondants proposés.`, `${options.length} correspondents suggested.`) : say('Aucun correspondant trouvé.', 'No correspondent found.'));
      mark(-1);
    }, 150);
  });
  input.addEventListener('keydown', (e) => {
    if (list.hidden) return;
    if (e.key === 'ArrowDown') { mark(Math.min(active + 1, options.length - 1)); e.preventDefault(); }
    else if (e.key === 'ArrowUp') { mark(Math.max(active - 1, 0)); e.preventDefault(); }
    else if (e.key === 'Enter' && active >= 0) { choose(active); e.preventDefault(); }
    else if (e.key === 'Escape') { close(); e.preventDefault(); }
  });
  input.addEventListener('blur', () => setTimeout(close, 150));
}

// Outside the trust space, a message is refused: say so before sending.
const outside = new Map();
const recipientsOf = (form) => ['a', 'cc'].flatMap((n) => form.elements[n].value.split(/[,;\n]/))
  .map((s) => s.trim()).filter(Boolean).map((s) => (s.match(/<([^>]+)>/) || [null, s])[1].trim());
async function checkRecipients(form) {
  const alertBox = $('#a-alerte');
  const bad = [];
  for (const address of recipientsOf(form)) {
    if (!outside.has(address)) {
      const r = await fetch(`/webmail/destinataire?adresse=${encodeURIComponent(address)}`);
      outside.set(address, r.ok ? !(await r.json()).mssante : false);
    }
    if (outside.get(address)) bad.push(address);
  }
  alertBox.hidden = bad.length === 0;
  alertBox.textContent = bad.length ? say(
    `Attention : ${bad.join(', ')} n’appartient pas à l’espace de confiance MSSanté. Le message sera refusé pour cette adresse.`,
    `Warning: ${bad.join(', ')} is not in the MSSanté trust space. The message will be refused for this address.`) : '';
  return bad;
}

// The patient's INS, checked as it is typed; for 13 digits the key is proposed.
function checkIns(form) {
  const ins = form.elements.ins;
  const state = $('#ins-etat');
  if (!ins || !state) return;
  let timer = null;
  const check = async () => {
    const value = ins.value.trim();
    if (!value) { state.replaceChildren(); return; }
    const r = await fetch(`/webmail/ins?valeur=${encodeURIComponent(value)}`);
    if (!r.ok) return;
    const answer = await r.json();
    const text = document.createElement('span');
    text.textContent = answer.message;
    text.className = answer.adresse ? '' : 'error';
    const parts = [text];
    if (answer.proposee) {
      const use = Object.assign(document.createElement('button'), { type: 'button', className: 'secondary', textContent: answer.action });
      use.addEventListener('click', () => { ins.value = answer.proposee; check(); });
      parts.push(' ', use);
    }
    state.replaceChildren(...parts);
  };
  // What was said of the previous value goes at once: a stale verdict would mislead.
  ins.addEventListener('input', () => { clearTimeout(timer); state.replaceChildren(); timer = setTimeout(check, 250); });
}

// A CDA picked as the structured document names its patient: shown, and its INS proposed
// when the field is empty (the server checks both again).
const INS_OIDS = ['1.2.250.1.213.1.4.8', '1.2.250.1.213.1.4.9', '1.2.250.1.213.1.4.10', '1.2.250.1.213.1.4.11'];
function readDocumentPatient(form) {
  const input = form.elements.document;
  const said = $('#document-patient');
  if (!input || !said) return;
  input.addEventListener('change', async () => {
    said.replaceChildren();
    const file = input.files[0];
    if (!file || !/\.xml$/i.test(file.name) || file.size > 10 * 1024 * 1024) return;
    const xml = new DOMParser().parseFromString(await file.text(), 'application/xml');
    const role = xml.getElementsByTagNameNS('*', 'patientRole')[0];
    if (!role) return;
    const name = role.getElementsByTagNameNS('*', 'name')[0];
    const part = (tag) => [...(name ? name.getElementsByTagNameNS('*', tag) : [])];
    const family = (part('family').find((f) => f.getAttribute('qualifier') !== 'BR') || part('family')[0]);
    const given = (part('given').find((g) => g.getAttribute('qualifier') === 'BR') || part('given')[0]);
    const id = [...role.getElementsByTagNameNS('*', 'id')].find((i) => INS_OIDS.includes(i.getAttribute('root')));
    const who = [family && family.textContent.trim().toUpperCase(), given && given.textContent.trim()].filter(Boolean).join(' ');
    if (who) said.textContent = `${said.dataset.label} ${who}${id ? ` (INS ${id.getAttribute('extension')})` : ''}`;
    if (id && form.elements.ins && !form.elements.ins.value.trim()) {
      form.elements.ins.value = id.getAttribute('extension');
      form.elements.ins.dispatchEvent(new Event('input'));
    }
  });
}

function compose(form) {
  const max = Number(form.dataset.max);
  const files = form.elements.fichiers;
  const chosen = $('#choisis');
  const progress = $('#progression');
  const draftState = $('#etat-brouillon');
  $$('[data-annuaire]', form).forEach(autocomplete);
  ['a', 'cc'].forEach((n) => form.elements[n].addEventListener('change', () => checkRecipients(form)));
  checkIns(form);
  readDocumentPatient(form);

  const hidden = (name) => {
    let el = form.elements[name];
    if (!el) { el = Object.assign(document.createElement('input'), { type: 'hidden', name }); form.append(el); }
    return el;
  };
  // Files: picked or dropped; over 10 MB they are taken out and the page says why.
  const showFiles = () => {
    const kept = new DataTransfer();
    const items = [];
    for (const f of files.files) {
      const li = document.createElement('li');
      if (f.size > max) {
        const why = document.createElement('span');
        why.className = 'error';
        why.setAttribute('role', 'alert');
        li.append(why);
        why.textContent = say(`« ${f.name} » dépasse 10 Mo : il n’est pas joint.`, `"${f.name}" is over 10 MB: it is not attached.`);
      } else {
        kept.items.add(f);
        li.textContent = `${f.name} (${Math.ceil(f.size / 1024)} ${say('ko', 'KB')})`;
      }
      items.push(li);
    }
    files.files = kept.files;
    chosen.replaceChildren(...items);
  };
  files.addEventListener('change', showFiles);
  const drop = $('#depot');
  drop.addEventListener('dragover', (e) => { e.preventDefault(); drop.classList.add('over'); });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const all = new DataTransfer();
    for (const f of files.files) all.items.add(f);
    for (const f of e.dataTransfer.files) all.items.add(f);
    files.files = all.files;
    showFiles();
  });

  // Autosave: the text every 15 s after a change, into one draft replaced each time. It stops
  // once the message is being sent, and a send waits for a save in flight.
  let dirty = false, saving = null, sending = false;
  form.addEventListener('input', () => { dirty = true; });
  const autosave = async () => {
    const data = new FormData(form);
    data.delete('fichiers');
    data.delete('document');
    data.set('action', 'brouillon');
    // The boxes as they were sent: the new draft holds exactly these attachments, in order.
    const ticked = $$('input[name=garder]', form).filter((box) => box.checked);
    try {
      const r = await fetch(form.getAttribute('action'), { method: 'POST', body: data, headers: { 'X-Confiance': '1' } });
      const json = (r.headers.get('Content-Type') || '').includes('json');
      const answer = r.ok && json ? await r.json() : null;
      if (answer && answer.brouillon) {
        hidden('brouillon').value = answer.brouillon;
        hidden('source').value = answer.brouillon;
        $$('input[name=garder]', form).forEach((box) => {
          const n = ticked.indexOf(box);
          if (n < 0) box.closest('li').remove(); else { box.value = String(n); box.checked = true; }
        });
        draftState.textContent = say(`Brouillon enregistré à ${new Date().toLocaleTimeString('fr-FR')}.`, `Draft saved at ${new Date().toLocaleTimeString('en-GB')}.`);
      } else { dirty = true; }
    } catch { dirty = true; }
  };
  setInterval(() => {
    if (!dirty || saving || sending) return;
    dirty = false;
    saving = autosave().finally(() => { saving = null; });
  }, 15000);

  // Sending: a warning first when a recipient is outside the trust space (checked as they
  // are typed), then the upload with its progress.
  form.addEventListener('submit', async (e) => {
    const submitter = e.submitter;
    if (!submitter || submitter.value !== 'envoyer') return;
    const bad = recipientsOf(form).filter((a) => outside.get(a));
    if (bad.length && !window.confirm(say(
      `${bad.join(', ')} n’appartient pas à l’espace de confiance MSSanté : le message sera refusé pour cette adresse. Envoyer quand même aux autres destinataires ?`,
      `${bad.join(', ')} is not in the MSSanté trust space: the message will be refused for it. Send to the other recipients anyway?`))) {
      e.preventDefault();
      return;
    }
    e.preventDefault();
    sending = true;
    if (saving) await saving;
    const data = new FormData(form, submitter);
    const xhr = new XMLHttpRequest();
    xhr.open('POST', form.getAttribute('action'));
    xhr.setRequestHeader('X-Confiance', '1');
    progress.hidden = false;
    progress.value = 0;
    submitter.disabled = true;
    xhr.upload.onprogress = (p) => { if (p.lengthComputable) progress.value = Math.round((100 * p.loaded) / p.total); };
    // On a refusal the form stays as it is, files and text included, with the reason.
    const refused = (why) => {
      progress.hidden = true;
      submitter.disabled = false;
      sending = false;
      draftState.textContent = why;
      draftState.setAttribute('role', 'alert');
    };
    xhr.onload = () => {
      if ((xhr.getResponseHeader('Content-Type') || '').includes('json')) {
        location.href = JSON.parse(xhr.responseText).location;
        return;
      }
      if (/\/connexion/.test(xhr.responseURL)) {
        refused(say('Votre session a expiré : rien n’a été envoyé. Reconnectez-vous dans un autre onglet, puis renvoyez.', 'Your session has ended: nothing was sent. Log in again in another tab, then send again.'));
        return;
      }
      const page = new DOMParser().parseFromString(xhr.responseText, 'text/html');
      const reason = page.querySelector('.error, #erreur');
      refused(reason ? reason.textContent : say(`Le serveur a refusé l’envoi (${xhr.status}) : rien n’a été envoyé.`, `The server refused the message (${xhr.status}): nothing was sent.`));
    };
    xhr.onerror = () => refused(say('Le serveur ne répond pas : rien n’a été envoyé. Réessayez.', 'The server is not answering: nothing was sent. Try again.'));
    xhr.send(data);
  });
}

const form = $('#composer');
if (form) compose(form);
