/// <reference types="vite/client" />
import { Compartment, EditorState, type Extension } from '@codemirror/state';
import { EditorView, ViewPlugin, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from '@codemirror/view';
import { defaultKeymap, indentWithTab } from '@codemirror/commands';
import { Connection, TandemError, randomId, type ConnectionError, type Peer, type TextDoc } from '../src/index.js';
import { tandemCollab } from '../src/bindings/codemirror.js';
import { $, ago, clearNotice, code, createDocument, decodeClaims, describeGrants, ID_RE, loadUser, notice, paintPointer, pageConnection, PALETTE, pointerElement, renderPeerList, setPill, showServerName, toast, type CreateResult } from './common.js';
import './style.css';

/** The document a bare /demo/ opens, so that two windows opened at /demo/ meet. */
const SHARED_DOC = 'welcome';
const WELCOME_TEXT =
  'Welcome to Tandem!\n\n' +
  'Everyone who opens this page edits this document live. Open it in a second window (or press “Copy link” and send the address) and type in both: you see each other’s named carets, selections and mouse pointers.\n\n';
/** How long a remote caret keeps its name after that person typed or moved it. */
const LABEL_SHOW_MS = 2500;
/** How often a demo that gave up connecting tries again. */
const RETRY_MS = 10_000;

/** Where the demo is mounted (`/demo/`); a document lives at `/demo/<id>`. */
const BASE = import.meta.env.BASE_URL.endsWith('/') ? import.meta.env.BASE_URL : `${import.meta.env.BASE_URL}/`;

/** The document named by the address: `/demo/<id>`, else `?doc=<id>`, else `#<id>`. */
function docIdFromUrl(): string | null {
  if (location.pathname.startsWith(BASE)) {
    const rest = decodeURIComponent(location.pathname.slice(BASE.length).replace(/\/+$/, ''));
    if (ID_RE.test(rest)) return rest;
  }
  const q = new URLSearchParams(location.search).get('doc');
  if (q !== null && ID_RE.test(q)) return q;
  const hash = decodeURIComponent(location.hash.replace(/^#/, ''));
  if (ID_RE.test(hash)) return hash;
  return null;
}

/** The address of document `id`, keeping `?token=` (the rest of the query named the old document). */
function urlFor(id: string): string {
  const q = new URLSearchParams(location.search);
  q.delete('doc');
  const qs = q.toString();
  return `${BASE}${encodeURIComponent(id)}${qs === '' ? '' : `?${qs}`}`;
}

const { token, user, conn } = pageConnection();
const claims = decodeClaims(token);

const connStatus = $('conn-status');
const docStatus = $('doc-status');
const modeBadge = $('mode-badge');
const peersEl = $('peers');
const stage = $('stage');
const pointersEl = $('pointers');
const editorEl = $('editor');
const docInput = $('doc-id') as HTMLInputElement;
const nameInput = $('me-name') as HTMLInputElement;
const swatch = $('me-swatch');
const palette = $('palette');

// ---- locking the editor when writes cannot succeed ----

/** Why the editor takes no input now (null: it does); shown in the document pill. */
let lockReason: string | null = null;
const lockCompartment = new Compartment();

function lockExtension(): Extension {
  if (lockReason !== null) return [EditorState.readOnly.of(true), EditorView.editable.of(false)];
  if (doc?.mode === 'r') return EditorState.readOnly.of(true); // selecting still works (and is shared)
  return [];
}

function applyLock(): void {
  editorEl.classList.toggle('locked', lockReason !== null);
  view?.dispatch({ effects: lockCompartment.reconfigure(lockExtension()) });
  modeBadge.hidden = !(doc !== null && doc.mode === 'r' && lockReason === null && doc.version >= 0);
  if (doc !== null) showDocStatus(doc);
}

function lock(reason: string): void {
  lockReason = reason;
  applyLock();
}

function unlock(): void {
  if (lockReason === null) return;
  lockReason = null;
  applyLock();
}

// ---- connection state ----

/** Set once the connection is refused for good (token): its pill keeps saying why. */
let connBlocked: string | null = null;
let retryTimer: ReturnType<typeof setTimeout> | null = null;

/** The connection pill: online says over what when it is the HTTP fallback. */
function showConnState(state: string): void {
  if (state === 'online' && conn.transport === 'http') {
    setPill(connStatus, 'online', 'online · HTTP fallback', 'WebSockets cannot open here: edits and carets travel over Server-Sent Events and POSTs. WebSockets are tried again now and then.');
  } else setPill(connStatus, state);
}

conn.on('state', ({ state }) => {
  if (state === 'offline') return; // the offline event says more
  // Once a token problem is known (an expired token is known before the
  // server refuses it), the pill keeps saying so until the connection is
  // online: "connecting" beside "Your token has expired" would contradict it.
  if (connBlocked !== null && state !== 'online') return;
  showConnState(state);
});
conn.on('transport', () => {
  if (conn.state === 'online') showConnState('online');
});
conn.on('offline', ({ retryInMs, error }) => {
  if (retryInMs === null) return;
  setPill(connStatus, 'offline', `offline · retrying in ${Math.max(1, Math.round(retryInMs / 1000))} s`, error?.message ?? '');
});
conn.on('online', ({ user: me }) => {
  connBlocked = null;
  clearNotice('unreachable');
  if (claims?.name !== undefined && claims.name !== '') {
    nameInput.readOnly = true;
    nameInput.title = 'Your name comes from your token';
    nameInput.setAttribute('aria-label', `Your name (${me.name}, from your token)`);
    $('rename-hint').textContent = 'Your name comes from your token; click the dot beside it for another colour.';
  }
  showServerName(nameInput, me.name);
});
conn.on('error', (e) => {
  if (e.code === 'unauthorized') showTokenProblem(e.message);
  else if (e.code === 'unreachable') showUnreachable(e);
});
setPill(connStatus, conn.state === 'offline' ? 'connecting' : conn.state);

function showTokenProblem(msg: string): void {
  const expired = /expired/i.test(msg) || (claims?.exp !== undefined && claims.exp * 1000 < Date.now());
  connBlocked = token === undefined ? 'needs a token' : expired ? 'token expired' : 'token refused';
  lock(connBlocked);
  if (token === undefined) {
    setPill(connStatus, 'error', 'needs a token', msg);
    notice('token', 'error', 'This server needs a token', [
      'It runs with TANDEM_AUTH_SECRET set, so every visitor needs a token. Mint one where the server runs (with the same secret): ',
      code(`tandem token -sub ${user.name.replace(/\W+/g, '-').toLowerCase() || 'me'} -name '${user.name}' -docs '*=rw' -admin -ttl 8h`),
      ' and open this page with ',
      code(`?token=<the token>`),
      ' at the end of its address.',
    ]);
  } else if (expired) {
    setPill(connStatus, 'error', 'token expired', msg);
    const when = claims?.exp !== undefined ? ` It expired ${ago(Date.now() - claims.exp * 1000)} (${new Date(claims.exp * 1000).toLocaleString()}).` : '';
    notice('token', 'error', 'Your token has expired', [
      `The server no longer accepts it, so nothing you type here could be saved.${when} Get a new token and reload the page with it in `,
      code('?token='),
      '.',
    ]);
  } else {
    setPill(connStatus, 'error', 'token refused', msg);
    notice('token', 'error', 'The server refused your token', [
      `It says: “${msg.replace(/^unauthenticated: /, '')}”. A token works only on a server started with the TANDEM_AUTH_SECRET it was signed with. Get a new token and reload the page with it in `,
      code('?token='),
      '.',
    ]);
  }
}

function showUnreachable(e: ConnectionError): void {
  setPill(connStatus, 'error', 'unreachable', e.message);
  notice(
    'unreachable',
    'error',
    'Cannot reach the server',
    [`${e.message.replace(/^gave up after \d+ failed attempts? to connect: /, '')}. Trying again every ${RETRY_MS / 1000} s.`],
    [{ label: 'Try now', run: () => conn.connect() }],
  );
  if (retryTimer !== null) clearTimeout(retryTimer);
  retryTimer = setTimeout(() => {
    retryTimer = null;
    if (conn.state === 'closed' && connBlocked === null) conn.connect();
  }, RETRY_MS);
}

/** The document's state in words: whether your edits are stored yet. */
function showDocStatus(d: TextDoc): void {
  if (lockReason !== null) {
    // A refused connection already says why in its own pill.
    setPill(docStatus, 'locked', lockReason === connBlocked ? 'editing off' : lockReason, 'Editing is off: see the notice above the document');
    return;
  }
  const labels: Record<string, string> = {
    synced: d.mode === 'r' ? 'up to date' : 'saved',
    pending: 'saving…',
    joining: 'loading…',
    closed: 'closed',
    offline: d.hasUnsyncedChanges ? `offline, ${d.unsyncedCount} unsynced` : 'offline',
  };
  const stored = d.offlineStorage ? 'kept in this browser until the server has them, also across reloads' : 'only in this page: closing it loses them';
  const tip = d.hasUnsyncedChanges ? `${d.unsyncedCount} edit${d.unsyncedCount === 1 ? '' : 's'} not on the server yet, ${stored}` : '';
  setPill(docStatus, d.status, labels[d.status] ?? d.status, tip);
}

// Edits only in this page (no offline storage) would be lost with it: ask first.
window.addEventListener('beforeunload', (ev) => {
  if (doc !== null && doc.hasUnsyncedChanges && !doc.offlineStorage) ev.preventDefault();
});

// ---- me: name and colour ----

nameInput.value = user.name;
swatch.style.background = user.color;

function renderPalette(): void {
  palette.textContent = '';
  for (const c of PALETTE) {
    const b = document.createElement('button');
    b.type = 'button';
    b.style.background = c;
    b.title = c;
    b.setAttribute('role', 'menuitemradio');
    b.setAttribute('aria-checked', String(c === user.color));
    b.setAttribute('aria-label', `colour ${c}`);
    b.addEventListener('click', () => {
      setColor(c);
      closePalette();
    });
    palette.appendChild(b);
  }
}

function setColor(c: string): void {
  user.color = c;
  swatch.style.background = c;
  localStorage.setItem('tandem.demo.color', c);
  conn.setUser(user);
}

function closePalette(): void {
  palette.hidden = true;
  swatch.setAttribute('aria-expanded', 'false');
}

swatch.addEventListener('click', (ev) => {
  ev.stopPropagation();
  if (!palette.hidden) {
    closePalette();
    return;
  }
  renderPalette();
  palette.hidden = false;
  swatch.setAttribute('aria-expanded', 'true');
  (palette.querySelector('[aria-checked="true"]') as HTMLElement | null)?.focus();
});
document.addEventListener('click', (ev) => {
  if (!palette.hidden && !palette.contains(ev.target as Node)) closePalette();
});
document.addEventListener('keydown', (ev) => {
  if (ev.key === 'Escape' && !palette.hidden) {
    closePalette();
    swatch.focus();
  }
});

function rename(): void {
  if (nameInput.readOnly) return;
  const name = nameInput.value.trim().slice(0, 32);
  if (name === '' || name === user.name) {
    nameInput.value = user.name;
    return;
  }
  user.name = name;
  localStorage.setItem('tandem.demo.name', name);
  conn.setUser(user);
  toast(`You are “${name}” for everyone now.`, 2500);
}
nameInput.addEventListener('change', rename);
nameInput.addEventListener('keydown', (ev) => {
  if (ev.key === 'Enter') {
    ev.preventDefault();
    nameInput.blur();
  } else if (ev.key === 'Escape') {
    nameInput.value = user.name;
    nameInput.blur();
  }
});

// ---- REST: creating a document that does not exist yet ----

/** Creates a text document over REST; a 409 (someone else created it first) counts as success, with `existed`. */
const createDoc = (id: string, content: string): Promise<CreateResult> => createDocument(id, 'text', content !== '' ? content : undefined, token);

function createFailed(id: string, r: { status: number; detail: string }, what: string): void {
  lock('not created');
  if (r.status === 403) {
    notice('missing', 'error', `Document “${id}” does not exist`, [
      `${what} needs an admin token, and yours is not one (it grants ${describeGrants(claims)}). Ask for the document to be created, or open one your token grants.`,
    ]);
  } else if (r.status === 0) {
    notice('missing', 'error', `Document “${id}” does not exist`, [`${what} failed: the REST API (`, code('POST /v1/docs'), `) could not be reached: ${r.detail}.`]);
  } else {
    notice('missing', 'error', `Document “${id}” does not exist`, [`${what} failed: HTTP ${r.status}: ${r.detail}`]);
  }
}

// ---- remote mouse pointers: presence data {cursor: {x, y}} in stage coordinates, smoothed ----

interface Pointer {
  el: HTMLElement;
  x: number;
  y: number;
  tx: number;
  ty: number;
  visible: boolean;
  seen: boolean;
}
const pointers = new Map<string, Pointer>();

function pointerFor(p: Peer): Pointer {
  let ptr = pointers.get(p.sid);
  if (ptr === undefined) {
    const el = pointerElement(p.sid);
    pointersEl.appendChild(el);
    ptr = { el, x: 0, y: 0, tx: 0, ty: 0, visible: false, seen: false };
    pointers.set(p.sid, ptr);
  }
  paintPointer(ptr.el, p);
  return ptr;
}

function updatePointer(p: Peer): void {
  const ptr = pointerFor(p);
  const c = (p.data?.cursor ?? null) as { x?: unknown; y?: unknown } | null;
  if (c !== null && typeof c.x === 'number' && typeof c.y === 'number') {
    ptr.tx = c.x;
    ptr.ty = c.y;
    if (!ptr.seen) {
      ptr.x = c.x;
      ptr.y = c.y;
      ptr.seen = true;
    }
    ptr.visible = true;
  } else {
    ptr.visible = false;
  }
  ptr.el.classList.toggle('hidden', !ptr.visible);
}

function removePointer(sid: string): void {
  pointers.get(sid)?.el.remove();
  pointers.delete(sid);
}

let lastFrame = performance.now();
function animate(now: number): void {
  const dt = Math.min(100, now - lastFrame);
  lastFrame = now;
  // Exponential smoothing: move ~1-e^(-dt/70ms) of the way each frame, independent of frame rate.
  const k = 1 - Math.exp(-dt / 70);
  // A pointer from a wider (or taller) window is kept at this window's edge,
  // dimmed, rather than drawn where nobody here can see it.
  const maxX = Math.max(0, stage.clientWidth - 18);
  const maxY = Math.max(0, stage.clientHeight - 22);
  for (const ptr of pointers.values()) {
    ptr.x += (ptr.tx - ptr.x) * k;
    ptr.y += (ptr.ty - ptr.y) * k;
    const x = Math.min(Math.max(0, ptr.x), maxX);
    const y = Math.min(Math.max(0, ptr.y), maxY);
    ptr.el.classList.toggle('edge', x !== ptr.x || y !== ptr.y);
    ptr.el.classList.toggle('flip', x > maxX - 120);
    ptr.el.style.transform = `translate(${x.toFixed(1)}px, ${y.toFixed(1)}px)`;
  }
  requestAnimationFrame(animate);
}
requestAnimationFrame(animate);

// ---- remote caret names: shown while that person types or moves, or the mouse is near ----

/** When each peer last typed or moved their caret (by sid). */
const activeUntil = new Map<string, number>();
const lastSel = new Map<string, string>();
let mouse: { x: number; y: number } | null = null;
let labelTimer: ReturnType<typeof setTimeout> | null = null;
let labelFrame = 0;

/** A CSS colour in the form the DOM reports it (`rgb(...)`), to match carets to peers. */
const probe = document.createElement('span');
function cssColor(c: string): string {
  probe.style.color = '';
  probe.style.color = c;
  return probe.style.color;
}

function markActive(sid: string): void {
  activeUntil.set(sid, performance.now() + LABEL_SHOW_MS);
  scheduleLabels();
}

function scheduleLabels(): void {
  if (labelFrame !== 0) return;
  labelFrame = requestAnimationFrame(() => {
    labelFrame = 0;
    refreshLabels();
  });
}

/**
 * Marks the carets whose person is active (`active`) or near the mouse
 * (`hover`); CSS shows their names and fades the rest. The binding draws a
 * caret per peer with the name and colour on it, which is how a caret is
 * matched to its peer here.
 */
function refreshLabels(): void {
  const now = performance.now();
  const active = new Set<string>();
  let next = Infinity;
  if (doc !== null) {
    for (const p of doc.presence.getPeers()) {
      const until = activeUntil.get(p.sid) ?? 0;
      if (until > now) {
        active.add(`${p.user.name}\u0000${cssColor(p.user.color)}`);
        next = Math.min(next, until);
      }
    }
  }
  for (const caret of editorEl.querySelectorAll<HTMLElement>('.cm-tandem-caret')) {
    const label = caret.querySelector<HTMLElement>('.cm-tandem-caret-label');
    const key = `${label?.textContent ?? ''}\u0000${caret.style.borderLeftColor}`;
    caret.classList.toggle('active', active.has(key));
    let near = false;
    if (mouse !== null) {
      const r = caret.getBoundingClientRect();
      near = mouse.x >= r.left - 8 && mouse.x <= r.right + 8 && mouse.y >= r.top - 18 && mouse.y <= r.bottom + 2;
    }
    caret.classList.toggle('hover', near);
  }
  if (labelTimer !== null) clearTimeout(labelTimer);
  labelTimer = next === Infinity ? null : setTimeout(scheduleLabels, next - now + 20);
}

/** Re-marks carets whenever CodeMirror redraws them. */
const labelPlugin = ViewPlugin.define(() => ({ update: () => scheduleLabels() }));

editorEl.addEventListener('mousemove', (ev) => {
  mouse = { x: ev.clientX, y: ev.clientY };
  scheduleLabels();
});
editorEl.addEventListener('mouseleave', () => {
  mouse = null;
  scheduleLabels();
});

// ---- light and dark ----

const dark = window.matchMedia('(prefers-color-scheme: dark)');
const themeCompartment = new Compartment();
function editorTheme(): Extension {
  return EditorView.theme(
    {
      '&': { color: 'var(--fg)', backgroundColor: 'var(--card)' },
      '.cm-content': { caretColor: 'var(--fg)' },
      '.cm-cursor, .cm-dropCursor': { borderLeftColor: 'var(--fg)' },
      '&.cm-focused > .cm-scroller > .cm-selectionLayer .cm-selectionBackground, .cm-selectionBackground': { backgroundColor: 'var(--selection)' },
      '.cm-activeLine': { backgroundColor: 'var(--active-line)' },
      '.cm-gutters': { backgroundColor: 'var(--gutter)', color: 'var(--gutter-fg)', borderRight: '1px solid var(--border)' },
      '.cm-activeLineGutter': { backgroundColor: 'var(--active-line)' },
    },
    { dark: dark.matches },
  );
}
dark.addEventListener('change', () => view?.dispatch({ effects: themeCompartment.reconfigure(editorTheme()) }));

// ---- the document ----

let doc: TextDoc | null = null;
let view: EditorView | null = null;
const offs: (() => void)[] = [];

function renderPeers(): void {
  if (doc === null) {
    peersEl.textContent = '';
    return;
  }
  renderPeerList(peersEl, doc.presence.getPeers(), (p) => (p.selection === null ? `${p.user.name} (not in the text)` : p.user.name));
}

/** The document is gone from the server after we had it: offer to store our copy again. */
function showGone(d: TextDoc, id: string, why: string): void {
  lock('not on the server');
  notice('gone', 'warn', `Document “${id}” is not on the server any more`, [`${why} Your copy is still here, and nothing you type now can be saved.`], [
    {
      label: 'Create it again with this text',
      run: () => {
        void (async () => {
          const r = await createDoc(id, view?.state.doc.toString() ?? d.text);
          if (!r.ok) {
            createFailed(id, r, 'Creating it again');
            return;
          }
          if (r.existed) toast('Someone created it again first: what is stored now is their copy.', 6000);
          if (doc === d) void openDoc(id, true);
        })();
      },
    },
  ]);
}

/**
 * Opens document `id`; one that does not exist yet is created (once) and
 * opened again. `created` is true when this page just created it.
 */
async function openDoc(id: string, created = false): Promise<void> {
  for (const off of offs.splice(0)) off();
  view?.destroy();
  view = null;
  doc?.close();
  for (const sid of [...pointers.keys()]) removePointer(sid);
  activeUntil.clear();
  lastSel.clear();
  clearNotice('missing', 'gone', 'access', 'deleted', 'invalid');
  lockReason = connBlocked;
  docInput.value = id;
  document.title = `${id} · Tandem demo`;
  const d = conn.openDoc(id);
  doc = d;
  let synced = false;
  d.ready.catch(async (e: unknown) => {
    if (doc !== d || !(e instanceof TandemError)) return;
    if (e.code === 'not_found') {
      if (created) {
        lock('not found');
        notice('missing', 'error', `Document “${id}” cannot be opened`, ['It was created, but joining it still finds nothing: was it deleted at once?']);
        return;
      }
      const r = await createDoc(id, id === SHARED_DOC ? WELCOME_TEXT : '');
      if (doc !== d) return;
      if (r.ok) void openDoc(id, true);
      else createFailed(id, r, 'Creating it');
    } else if (e.code === 'forbidden') {
      lock('no access');
      notice('access', 'error', `Your token has no access to “${id}”`, [
        `It grants ${describeGrants(claims)}. Open one of those (type its id above), or get a token that grants this one.`,
      ]);
    } else if (e.code === 'unauthorized') {
      showTokenProblem(e.message);
    }
    // unreachable: the connection's error event shows it, and a later connect syncs the document.
  });
  showDocStatus(d);
  offs.push(
    d.on('synced', () => {
      synced = true;
      clearNotice('unreachable', 'access', 'missing');
      applyLock();
    }),
  );
  offs.push(d.on('status', () => showDocStatus(d)));
  offs.push(d.on('unsynced', () => showDocStatus(d)));
  offs.push(
    d.on('change', ({ remote, sid }) => {
      if (!remote) showDocStatus(d);
      else if (sid !== undefined) markActive(sid);
    }),
  );
  offs.push(
    d.on('error', (e) => {
      // Joined before and now not found: deleted elsewhere, or the server restarted on its memory store.
      if (e.code === 'not_found' && synced) showGone(d, id, 'It was deleted, or the server restarted without a database (the in-memory store forgets every document).');
    }),
  );
  offs.push(d.on('deleted', () => showGone(d, id, 'Someone deleted it.')));
  offs.push(d.on('invalid_op', ({ msg }) => toast(`The server refused an edit (${msg}); the document was reloaded.`, 6000)));
  offs.push(
    d.presence.on('change', ({ peers }) => {
      for (const p of peers) {
        updatePointer(p);
        const sel = JSON.stringify(p.selection);
        if (lastSel.has(p.sid) && lastSel.get(p.sid) !== sel) markActive(p.sid);
        else if (!lastSel.has(p.sid)) markActive(p.sid); // just arrived: say who it is
        lastSel.set(p.sid, sel);
      }
      renderPeers();
    }),
  );
  offs.push(
    d.presence.on('leave', ({ peer }) => {
      removePointer(peer.sid);
      lastSel.delete(peer.sid);
      activeUntil.delete(peer.sid);
      renderPeers();
    }),
  );
  renderPeers();
  view = new EditorView({
    parent: editorEl,
    state: EditorState.create({
      doc: d.text,
      extensions: [
        lineNumbers(),
        highlightActiveLine(),
        highlightActiveLineGutter(),
        drawSelection(),
        EditorView.lineWrapping,
        tandemCollab(d),
        keymap.of([...defaultKeymap, indentWithTab]),
        EditorView.contentAttributes.of({ 'aria-label': `Document ${id}` }),
        themeCompartment.of(editorTheme()),
        lockCompartment.of(lockExtension()),
        labelPlugin,
        EditorView.domEventHandlers({
          keydown: (ev) => {
            if (doc?.mode === 'r' && lockReason === null && ev.key.length === 1 && !ev.ctrlKey && !ev.metaKey) {
              toast('This document is read-only for your token: you can read and select, not edit.', 3000);
            }
            return false;
          },
        }),
      ],
    }),
  });
  applyLock();
  if (lockReason === null) view.focus();
}

function currentOrSharedId(): string {
  const id = docIdFromUrl() ?? SHARED_DOC;
  history.replaceState(null, '', urlFor(id));
  return id;
}

function go(id: string): void {
  if (id === doc?.id) return;
  history.pushState(null, '', urlFor(id));
  void openDoc(id);
}

$('doc-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const id = docInput.value.trim();
  if (!ID_RE.test(id)) {
    toast('A document id is 1-128 letters, digits, “_” or “-”.');
    return;
  }
  go(id);
});
$('new-doc').addEventListener('click', () => go(`doc-${randomId().slice(0, 8)}`));
$('copy-link').addEventListener('click', () => {
  if (doc === null) return;
  // Without ?token=: a token is personal; whoever opens the link brings their own.
  const link = `${location.origin}${BASE}${encodeURIComponent(doc.id)}`;
  const done = (): void => toast(token !== undefined ? `Link copied: ${link} (without your token: whoever opens it needs their own)` : `Link copied: ${link}`);
  const manual = (): void => notice('link', 'info', 'Copy this link to invite someone', [code(link)], [{ label: 'Done', run: () => clearNotice('link') }]);
  if (navigator.clipboard === undefined) manual();
  else navigator.clipboard.writeText(link).then(done, manual);
});
window.addEventListener('popstate', () => {
  const id = docIdFromUrl();
  if (id !== null && id !== doc?.id) void openDoc(id);
});

// Share the mouse pointer in stage coordinates (independent of scrolling).
let pointerInside = false;
document.addEventListener('pointermove', (ev) => {
  if (doc === null) return;
  const r = stage.getBoundingClientRect();
  pointerInside = true;
  doc.presence.setData({ cursor: { x: Math.round(ev.clientX - r.left), y: Math.round(ev.clientY - r.top) } });
});
document.documentElement.addEventListener('pointerleave', () => {
  if (doc === null || !pointerInside) return;
  pointerInside = false;
  doc.presence.setData({ cursor: null });
});

// A token that has expired already is refused by the server; say so at once.
if (claims?.exp !== undefined && claims.exp * 1000 < Date.now()) showTokenProblem('token is expired');
void openDoc(currentOrSharedId());
