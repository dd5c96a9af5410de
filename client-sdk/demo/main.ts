/// <reference types="vite/client" />
import { EditorState } from '@codemirror/state';
import { EditorView, drawSelection, highlightActiveLine, highlightActiveLineGutter, keymap, lineNumbers } from '@codemirror/view';
import { defaultKeymap, indentWithTab } from '@codemirror/commands';
import { Connection, TandemError, randomId, type Peer, type TextDoc } from '../src/index.js';
import { tandemCollab } from '../src/bindings/codemirror.js';
import './style.css';

const PALETTE = ['#e91e63', '#3f51b5', '#009688', '#ff5722', '#9c27b0', '#2196f3', '#4caf50', '#795548', '#f44336', '#607d8b'];
const ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} missing`);
  return el;
}

function pick<T>(xs: readonly T[]): T {
  return xs[Math.floor(Math.random() * xs.length)] as T;
}

function loadUser(): { name: string; color: string } {
  const name = localStorage.getItem('tandem.demo.name') ?? `${pick(['Quick', 'Calm', 'Brave', 'Witty', 'Sunny', 'Clever'])} ${pick(['Otter', 'Heron', 'Lynx', 'Panda', 'Fox', 'Koala'])}`;
  const color = localStorage.getItem('tandem.demo.color') ?? pick(PALETTE);
  localStorage.setItem('tandem.demo.name', name);
  localStorage.setItem('tandem.demo.color', color);
  return { name, color };
}

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

const params = new URLSearchParams(location.search);
const token = params.get('token') ?? undefined;
const user = loadUser();
const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`;
const conn = new Connection({ url: wsUrl, user, ...(token !== undefined ? { token } : {}) });

const connStatus = $('conn-status');
const docStatus = $('doc-status');
const peersEl = $('peers');
const stage = $('stage');
const pointersEl = $('pointers');
const editorEl = $('editor');
const docInput = $('doc-id') as HTMLInputElement;
const nameInput = $('me-name') as HTMLInputElement;
const swatch = $('me-swatch');

/** Shows a state as a coloured pill: `kind` picks the colour (a state name), `label` the words. */
function setPill(el: HTMLElement, kind: string, label = kind): void {
  el.textContent = label;
  el.className = `pill ${kind}`;
}

conn.on('state', ({ state }) => {
  if (state !== 'offline') setPill(connStatus, state);
});
conn.on('offline', ({ retryInMs }) => {
  setPill(connStatus, 'offline', retryInMs === null ? 'offline' : `offline · retrying in ${Math.max(1, Math.round(retryInMs / 1000))} s`);
});
setPill(connStatus, conn.state === 'offline' ? 'connecting' : conn.state);

/** The document's state in words: whether your edits are stored yet. */
function showDocStatus(d: TextDoc): void {
  const labels: Record<string, string> = {
    synced: 'saved',
    pending: 'saving…',
    joining: 'loading…',
    closed: 'closed',
    offline: d.hasPendingOps ? 'unsaved edits: sent when back online' : 'offline',
  };
  setPill(docStatus, d.status, labels[d.status] ?? d.status);
}

nameInput.value = user.name;
swatch.style.background = user.color;
swatch.title = 'Click for another colour';
swatch.addEventListener('click', () => {
  user.color = PALETTE[(PALETTE.indexOf(user.color) + 1) % PALETTE.length] as string;
  swatch.style.background = user.color;
  localStorage.setItem('tandem.demo.color', user.color);
  conn.setUser(user);
});
nameInput.addEventListener('change', () => {
  const name = nameInput.value.trim().slice(0, 32);
  if (name === '') return;
  user.name = name;
  localStorage.setItem('tandem.demo.name', name);
  conn.setUser(user);
});

let banner: HTMLElement | null = null;
function say(msg: string | null): void {
  banner?.remove();
  banner = null;
  if (msg === null) return;
  banner = document.createElement('div');
  banner.className = 'banner';
  banner.textContent = msg;
  document.body.appendChild(banner);
}

/**
 * Creates an empty text document over REST. False when that failed (REST
 * unreachable, or a token that may not create documents); true also when
 * someone else created it first.
 */
async function createDoc(id: string): Promise<boolean> {
  try {
    const res = await fetch('/v1/docs', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token !== undefined ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ id, type: 'text' }),
    });
    return res.status === 201 || res.status === 409;
  } catch {
    return false;
  }
}

// ---- pointers: presence data {cursor: {x, y}} in stage coordinates, smoothed on arrival ----
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
    const el = document.createElement('div');
    el.className = 'pointer hidden';
    el.innerHTML =
      '<svg width="18" height="22" viewBox="0 0 18 22"><path d="M1 1 L1 17 L5.5 13 L8.5 20.5 L11.5 19.2 L8.6 12 L15 12 Z" stroke="white" stroke-width="1.5" stroke-linejoin="round"/></svg><span class="name"></span>';
    pointersEl.appendChild(el);
    ptr = { el, x: 0, y: 0, tx: 0, ty: 0, visible: false, seen: false };
    pointers.set(p.sid, ptr);
  }
  const path = ptr.el.querySelector('path');
  path?.setAttribute('fill', p.user.color);
  const name = ptr.el.querySelector<HTMLElement>('.name');
  if (name !== null) {
    name.textContent = p.user.name;
    name.style.background = p.user.color;
  }
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
  for (const ptr of pointers.values()) {
    ptr.x += (ptr.tx - ptr.x) * k;
    ptr.y += (ptr.ty - ptr.y) * k;
    ptr.el.style.transform = `translate(${ptr.x.toFixed(1)}px, ${ptr.y.toFixed(1)}px)`;
  }
  requestAnimationFrame(animate);
}
requestAnimationFrame(animate);

// ---- the document ----
let doc: TextDoc | null = null;
let view: EditorView | null = null;
const offs: (() => void)[] = [];

function renderPeers(): void {
  peersEl.textContent = '';
  if (doc === null) return;
  const peers = doc.presence.getPeers();
  for (const p of peers) {
    const li = document.createElement('li');
    const av = document.createElement('span');
    av.className = 'avatar';
    av.style.background = p.user.color;
    av.textContent = (p.user.name.trim()[0] ?? '?').toUpperCase();
    li.append(av, document.createTextNode(p.user.name));
    li.title = p.selection === null ? `${p.user.name} (not in the text)` : p.user.name;
    peersEl.appendChild(li);
  }
  if (peers.length === 0) {
    const li = document.createElement('li');
    li.textContent = 'nobody else here yet';
    li.style.color = 'var(--muted)';
    peersEl.appendChild(li);
  }
}

/** Opens document `id`; one that does not exist yet is created (once) and opened again. */
async function openDoc(id: string, created = false): Promise<void> {
  for (const off of offs.splice(0)) off();
  view?.destroy();
  doc?.close();
  for (const sid of [...pointers.keys()]) removePointer(sid);
  say(null);
  docInput.value = id;
  document.title = `${id} · Tandem demo`;
  const d = conn.openDoc(id);
  doc = d;
  d.ready.catch(async (e: unknown) => {
    if (created || doc !== d || !(e instanceof TandemError) || e.code !== 'not_found') return;
    if (await createDoc(id)) {
      if (doc === d) void openDoc(id, true);
    } else if (doc === d) say(`Document “${id}” does not exist and could not be created (is the REST API reachable, may your token create documents?).`);
  });
  showDocStatus(d);
  offs.push(d.on('status', () => showDocStatus(d)));
  offs.push(
    d.on('change', ({ remote }) => {
      if (!remote) showDocStatus(d);
    }),
  );
  offs.push(
    d.on('error', (e) => {
      if (e.code === 'not_found' && created) say(`Document “${id}” does not exist and could not be created.`);
      else if (e.code === 'forbidden' || e.code === 'unauthorized') say(`Not allowed: ${e.msg}`);
    }),
  );
  offs.push(d.on('deleted', () => say('This document was deleted.')));
  offs.push(d.on('invalid_op', () => say('An edit was rejected by the server; the document was reloaded.')));
  offs.push(
    d.presence.on('change', ({ peers }) => {
      for (const p of peers) updatePointer(p);
      renderPeers();
    }),
  );
  offs.push(
    d.presence.on('leave', ({ peer }) => {
      removePointer(peer.sid);
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
      ],
    }),
  });
  view.focus();
}

function currentOrNewId(): string {
  const id = docIdFromUrl() ?? `doc-${randomId().slice(0, 8)}`;
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
    say('A document id is 1-128 letters, digits, “_” or “-”.');
    return;
  }
  go(id);
});
$('new-doc').addEventListener('click', () => go(`doc-${randomId().slice(0, 8)}`));
window.addEventListener('popstate', () => {
  const id = docIdFromUrl();
  if (id !== null && id !== doc?.id) void openDoc(id);
});

// Share the mouse pointer in stage coordinates (independent of scrolling and window width).
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

void openDoc(currentOrNewId());
