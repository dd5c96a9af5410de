/// <reference types="vite/client" />
/*
 * The multiplayer canvas demo (/demo/canvas/<board>): a whiteboard on a
 * Tandem tree document. Every shape is an object whose properties are its
 * kind, place, size, fill and text; frames are objects with children;
 * the order among siblings is the paint order (fractional keys). Everyone's
 * pointer, selection and caret in a sticky note travel as presence.
 */
import { TandemError, randomId, type Peer, type TreeChange, type TreeDoc } from '../../src/index.js';
import type { Value } from '../../src/tree/index.js';
import { diffToOp, mapPositionUtf16, opToChanges } from '../../src/ot/changes.js';
import { $, ID_RE, PALETTE, code, paintPointer, pageConnection, pointerElement, renderPeerList, setPill, showServerName, statusLabel, toast } from '../common.js';
import '../style.css';
import './canvas.css';

type Kind = 'rect' | 'ellipse' | 'note' | 'frame';

/** A shape as the demo reads it from an object's properties (with defaults for what is missing). */
interface Shape {
  kind: Kind;
  x: number;
  y: number;
  w: number;
  h: number;
  fill: string;
  text: string;
  name: string;
}

const KINDS: Kind[] = ['rect', 'ellipse', 'note', 'frame'];
const FILLS = ['#ffe082', '#ff8a80', '#80d8ff', '#b9f6ca', '#ea80fc', '#ffffff', '#b0bec5', '#5c6bc0'];
const SIZES: Record<Kind, [number, number]> = { rect: [160, 100], ellipse: [130, 130], note: [180, 150], frame: [440, 300] };
const DEFAULT_FILL: Record<Kind, string> = { rect: '#80d8ff', ellipse: '#ff8a80', note: '#ffe082', frame: '#ffffff' };
/** The board a bare /demo/canvas/ opens, so that two windows meet. */
const SHARED_BOARD = 'canvas-welcome';
const BASE = `${import.meta.env.BASE_URL.replace(/\/?$/, '/')}canvas/`;
const MIN_SIZE = 24;

/** What a new board holds: a frame with a note in it, and two shapes. */
function starter(): Record<string, { parent: string; key: string; props: Record<string, Value> }> {
  return {
    welcome: { parent: '', key: 'a0', props: { kind: 'frame', x: 40, y: 40, w: 460, h: 300, fill: '#ffffff', name: 'Welcome' } },
    hello: {
      parent: 'welcome',
      key: 'a0',
      props: { kind: 'note', x: 24, y: 44, w: 220, h: 170, fill: '#ffe082', text: 'Double-click me to write.\nOpen this page in a second window: you see each other’s pointers, selections and typing.' },
    },
    box: { parent: '', key: 'a1', props: { kind: 'rect', x: 560, y: 80, w: 160, h: 100, fill: '#80d8ff' } },
    ball: { parent: '', key: 'a2', props: { kind: 'ellipse', x: 600, y: 240, w: 120, h: 120, fill: '#ff8a80' } },
  };
}

function num(v: Value | undefined, d: number): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : d;
}

function shapeOf(d: TreeDoc, id: string): Shape | null {
  const o = d.get(id);
  if (o === undefined) return null;
  const p = o.props;
  const kind = KINDS.includes(p.kind as Kind) ? (p.kind as Kind) : 'rect';
  const [w, h] = SIZES[kind];
  return {
    kind,
    x: num(p.x, 0),
    y: num(p.y, 0),
    w: Math.max(MIN_SIZE, num(p.w, w)),
    h: Math.max(MIN_SIZE, num(p.h, h)),
    fill: typeof p.fill === 'string' ? p.fill : DEFAULT_FILL[kind],
    text: typeof p.text === 'string' ? p.text : '',
    name: typeof p.name === 'string' ? p.name : 'Frame',
  };
}

// ---- the page ----

const { token, user, conn } = pageConnection();

const viewport = $('viewport');
const world = $('world');
const pointersEl = $('pointers');
const peersEl = $('peers');
const connStatus = $('conn-status');
const docStatus = $('doc-status');
const docInput = $('doc-id') as HTMLInputElement;
const nameInput = $('me-name') as HTMLInputElement;
const swatch = $('me-swatch');
const noticeEl = $('notice');
const colorInput = $('color-input') as HTMLInputElement;

let doc: TreeDoc | null = null;
let selection: string[] = [];
let editing: { id: string; ta: HTMLTextAreaElement } | null = null;
const view = { x: 0, y: 0, zoom: 1 };
const els = new Map<string, HTMLElement>();
const offs: (() => void)[] = [];

// For the browser tests: read the document through the SDK, not the DOM.
(window as unknown as { tandem: unknown }).tandem = { conn, doc: () => doc };

function notice(title: string, body: (string | HTMLElement)[]): void {
  noticeEl.className = 'notice error';
  (noticeEl.querySelector('.notice-title') as HTMLElement).textContent = title;
  const b = noticeEl.querySelector('.notice-body') as HTMLElement;
  b.textContent = '';
  b.append(...body);
  noticeEl.hidden = false;
}

/** Runs a change of the document, saying in a toast why it could not be made. */
function act(fn: (d: TreeDoc) => void): void {
  if (doc === null) return;
  try {
    fn(doc);
  } catch (e) {
    if (e instanceof TandemError && e.code === 'read_only') toast('This board is read-only for your token.');
    else toast(`That did not work: ${(e as Error).message}`);
  }
}

// ---- status ----

conn.on('state', ({ state }) => {
  if (state !== 'offline') setPill(connStatus, state);
});
conn.on('offline', ({ retryInMs }) => {
  if (retryInMs !== null) setPill(connStatus, 'offline', `offline · retrying in ${Math.max(1, Math.round(retryInMs / 1000))} s`);
});
conn.on('online', ({ user: me }) => {
  showServerName(nameInput, me.name);
});
conn.on('error', (e) => {
  if (e.code === 'unauthorized') notice('The server refused the connection', [e.message, '. Open this page with ', code('?token=<a token>'), '.']);
  else if (e.code === 'unreachable') setPill(connStatus, 'error', 'unreachable', e.message);
});
setPill(connStatus, 'connecting');

function showDocStatus(): void {
  if (doc === null) return;
  setPill(docStatus, doc.status, statusLabel(doc));
  ($('undo') as HTMLButtonElement).disabled = !doc.undoManager.canUndo;
  ($('redo') as HTMLButtonElement).disabled = !doc.undoManager.canRedo;
}

// ---- me ----

nameInput.value = user.name;
swatch.style.background = user.color;
swatch.addEventListener('click', () => {
  user.color = PALETTE[(PALETTE.indexOf(user.color) + 1) % PALETTE.length] as string;
  swatch.style.background = user.color;
  localStorage.setItem('tandem.demo.color', user.color);
  conn.setUser(user);
});
nameInput.addEventListener('change', () => {
  const name = nameInput.value.trim().slice(0, 32);
  if (name === '') {
    nameInput.value = user.name;
    return;
  }
  user.name = name;
  localStorage.setItem('tandem.demo.name', name);
  conn.setUser(user);
});

// ---- geometry ----

/** Where object `id`'s top-left corner is on the board (its own place plus its frames'). */
function absPos(d: TreeDoc, id: string): { x: number; y: number } {
  let x = 0;
  let y = 0;
  for (let cur = id; cur !== ''; cur = d.get(cur)?.parent ?? '') {
    const s = shapeOf(d, cur);
    if (s === null) break;
    x += s.x;
    y += s.y;
  }
  return { x, y };
}

/** A point of the window in board coordinates. */
function toBoard(clientX: number, clientY: number): { x: number; y: number } {
  const r = viewport.getBoundingClientRect();
  return { x: (clientX - r.left - view.x) / view.zoom, y: (clientY - r.top - view.y) / view.zoom };
}

function applyView(): void {
  world.style.transform = `translate(${view.x}px, ${view.y}px) scale(${view.zoom})`;
  $('zoom-label').textContent = `${Math.round(view.zoom * 100)}%`;
}

function zoomAt(factor: number, clientX?: number, clientY?: number): void {
  const r = viewport.getBoundingClientRect();
  const cx = clientX ?? r.left + r.width / 2;
  const cy = clientY ?? r.top + r.height / 2;
  const before = toBoard(cx, cy);
  view.zoom = Math.min(4, Math.max(0.2, view.zoom * factor));
  view.x = cx - r.left - before.x * view.zoom;
  view.y = cy - r.top - before.y * view.zoom;
  applyView();
}

// ---- rendering: one element per object, nested like the tree ----

let frame = 0;
function scheduleRender(): void {
  if (frame === 0) frame = requestAnimationFrame(render);
}

function elementFor(id: string, kind: Kind): HTMLElement {
  let el = els.get(id);
  if (el !== undefined && el.dataset.kind !== kind) {
    el.remove();
    el = undefined;
  }
  if (el === undefined) {
    el = document.createElement('div');
    el.className = `shape ${kind}`;
    el.dataset.id = id;
    el.dataset.kind = kind;
    if (kind === 'frame') el.innerHTML = '<div class="frame-label"></div><div class="kids"></div>';
    if (kind === 'note') el.innerHTML = '<div class="note-text"></div>';
    els.set(id, el);
  }
  return el;
}

/** The peers whose caret is in note `id`, with their UTF-16 offsets. */
function caretsIn(d: TreeDoc, id: string): { at: number; peer: Peer<string[]> }[] {
  const out: { at: number; peer: Peer<string[]> }[] = [];
  for (const p of d.presence.getPeers()) {
    const c = (p.data?.caret ?? null) as { id?: unknown; at?: unknown } | null;
    if (c !== null && c.id === id && typeof c.at === 'number') out.push({ at: c.at, peer: p });
  }
  return out.sort((a, b) => a.at - b.at);
}

/** A note's text with the other people's carets in it. */
function renderNoteText(d: TreeDoc, el: HTMLElement, id: string, text: string): void {
  const box = el.querySelector('.note-text') as HTMLElement;
  box.textContent = '';
  let pos = 0;
  for (const { at, peer } of caretsIn(d, id)) {
    const a = Math.max(pos, Math.min(at, text.length));
    box.append(text.slice(pos, a));
    const caret = document.createElement('span');
    caret.className = 'caret';
    caret.style.borderColor = peer.user.color;
    caret.dataset.name = peer.user.name;
    caret.style.setProperty('--c', peer.user.color);
    box.append(caret);
    pos = a;
  }
  box.append(text.slice(pos) + '\u200b');
  box.classList.toggle('ghost', editing?.id === id);
}

function render(): void {
  frame = 0;
  const d = doc;
  if (d === null) return;
  const seen = new Set<string>();
  const place = (parent: string, container: HTMLElement): void => {
    let i = 0;
    for (const n of d.children(parent)) {
      const s = shapeOf(d, n.id);
      if (s === null) continue;
      seen.add(n.id);
      const el = elementFor(n.id, s.kind);
      el.style.left = `${s.x}px`;
      el.style.top = `${s.y}px`;
      el.style.width = `${s.w}px`;
      el.style.height = `${s.h}px`;
      el.style.background = s.fill;
      if (s.kind === 'note') renderNoteText(d, el, n.id, s.text);
      if (s.kind === 'frame') (el.querySelector('.frame-label') as HTMLElement).textContent = s.name;
      if (container.children[i] !== el) container.insertBefore(el, container.children[i] ?? null);
      i++;
      if (s.kind === 'frame') place(n.id, el.querySelector('.kids') as HTMLElement);
    }
  };
  place('', world);
  for (const [id, el] of els) {
    if (!seen.has(id)) {
      el.remove();
      els.delete(id);
    }
  }
  if (editing !== null && !seen.has(editing.id)) stopEditing();
  renderSelections(d);
  renderPeers(d);
  showDocStatus();
}

/** Outlines: mine with resize handles, and the others' in their colours with their names. */
function renderSelections(d: TreeDoc): void {
  for (const deco of world.querySelectorAll('.deco')) deco.remove();
  selection = selection.filter((id) => d.has(id));
  for (const id of selection) {
    const el = els.get(id);
    if (el === undefined) continue;
    const box = document.createElement('div');
    box.className = 'deco sel';
    el.appendChild(box);
    if (selection.length === 1) {
      for (const corner of ['nw', 'ne', 'sw', 'se']) {
        const h = document.createElement('div');
        h.className = `deco handle ${corner}`;
        h.dataset.corner = corner;
        el.appendChild(h);
      }
    }
  }
  for (const p of d.presence.getPeers()) {
    for (const id of p.selection ?? []) {
      const el = els.get(id);
      if (el === undefined) continue;
      const box = document.createElement('div');
      box.className = 'deco peer-sel';
      box.style.borderColor = p.user.color;
      const tag = document.createElement('span');
      tag.textContent = p.user.name;
      tag.style.background = p.user.color;
      box.appendChild(tag);
      el.appendChild(box);
    }
  }
}

function renderPeers(d: TreeDoc): void {
  renderPeerList(peersEl, d.presence.getPeers());
}

// ---- remote pointers: presence data {x, y} in board coordinates, smoothed ----

interface RemotePointer {
  el: HTMLElement;
  x: number;
  y: number;
  tx: number;
  ty: number;
  seen: boolean;
}
const pointers = new Map<string, RemotePointer>();

function updatePointer(d: TreeDoc, p: Peer<string[]>): void {
  let ptr = pointers.get(p.sid);
  if (ptr === undefined) {
    const el = pointerElement(p.sid);
    pointersEl.appendChild(el);
    ptr = { el, x: 0, y: 0, tx: 0, ty: 0, seen: false };
    pointers.set(p.sid, ptr);
  }
  paintPointer(ptr.el, p);
  const at = d.presence.pointerOf(p);
  ptr.el.classList.toggle('hidden', at === null);
  if (at !== null) {
    ptr.tx = at.x;
    ptr.ty = at.y;
    if (!ptr.seen) {
      ptr.x = at.x;
      ptr.y = at.y;
      ptr.seen = true;
    }
  }
}

function removePointer(sid: string): void {
  pointers.get(sid)?.el.remove();
  pointers.delete(sid);
}

let last = performance.now();
function animate(now: number): void {
  const k = 1 - Math.exp(-Math.min(100, now - last) / 60);
  last = now;
  for (const ptr of pointers.values()) {
    ptr.x += (ptr.tx - ptr.x) * k;
    ptr.y += (ptr.ty - ptr.y) * k;
    ptr.el.style.transform = `translate(${(ptr.x * view.zoom + view.x).toFixed(1)}px, ${(ptr.y * view.zoom + view.y).toFixed(1)}px)`;
  }
  requestAnimationFrame(animate);
}
requestAnimationFrame(animate);

// ---- selection, presence ----

function select(ids: string[]): void {
  selection = ids;
  doc?.presence.setSelection(ids);
  scheduleRender();
}

function shareCaret(): void {
  if (doc === null) return;
  const data = { ...(doc.presence.localData ?? {}) };
  data.caret = editing === null ? null : { id: editing.id, at: editing.ta.selectionStart };
  doc.presence.setData(data);
}

// ---- sticky notes: writing together ----

function startEditing(id: string): void {
  const d = doc;
  const el = els.get(id);
  if (d === null || el === undefined || shapeOf(d, id)?.kind !== 'note') return;
  if (editing?.id === id) return;
  stopEditing();
  const ta = document.createElement('textarea');
  ta.className = 'note-input';
  ta.spellcheck = false;
  ta.value = shapeOf(d, id)?.text ?? '';
  ta.setAttribute('aria-label', 'Sticky note text');
  el.appendChild(ta);
  editing = { id, ta };
  ta.addEventListener('input', () => {
    act((dd) => dd.setText(id, 'text', ta.value));
    shareCaret();
  });
  for (const ev of ['keyup', 'click', 'select']) ta.addEventListener(ev, shareCaret);
  ta.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape') {
      ev.preventDefault();
      stopEditing();
      viewport.focus();
      return;
    }
    if (undoKey(ev)) return;
    ev.stopPropagation();
  });
  ta.addEventListener('pointerdown', (ev) => ev.stopPropagation());
  ta.focus();
  ta.setSelectionRange(ta.value.length, ta.value.length);
  shareCaret();
  scheduleRender();
}

function stopEditing(): void {
  if (editing === null) return;
  editing.ta.remove();
  editing = null;
  shareCaret();
  scheduleRender();
}

/** Brings the note being edited up to date with the document, keeping the caret where it was in the text. */
function syncEditor(): void {
  if (doc === null || editing === null) return;
  const ta = editing.ta;
  const next = shapeOf(doc, editing.id)?.text ?? '';
  if (ta.value === next) return;
  const changes = opToChanges(ta.value, diffToOp(ta.value, next));
  const a = mapPositionUtf16(ta.selectionStart, changes);
  const b = mapPositionUtf16(ta.selectionEnd, changes);
  ta.value = next;
  ta.setSelectionRange(Math.min(a, b), Math.max(a, b));
}

// ---- adding, colouring, ordering, deleting ----

function add(kind: Kind): void {
  act((d) => {
    const [w, h] = SIZES[kind];
    const r = viewport.getBoundingClientRect();
    const c = toBoard(r.left + r.width / 2, r.top + r.height / 2);
    let parent = '';
    let origin = { x: 0, y: 0 };
    const only = selection.length === 1 ? (selection[0] as string) : null;
    if (kind !== 'frame' && only !== null && shapeOf(d, only)?.kind === 'frame') {
      parent = only;
      origin = absPos(d, only);
    }
    const jitter = (): number => Math.round((Math.random() - 0.5) * 60);
    const props: Record<string, Value> = {
      kind,
      x: Math.round(c.x - origin.x - w / 2) + jitter(),
      y: Math.round(c.y - origin.y - h / 2) + jitter(),
      w,
      h,
      fill: DEFAULT_FILL[kind],
    };
    if (kind === 'note') props.text = '';
    if (kind === 'frame') props.name = `Frame ${d.root().filter((n) => n.props.kind === 'frame').length + 1}`;
    d.undoManager.stopCapturing();
    // Frames go behind the shapes; shapes on top.
    const id = d.create(props, { inside: parent, at: kind === 'frame' ? 'start' : 'end' });
    select([id]);
    if (kind === 'note') requestAnimationFrame(() => startEditing(id));
  });
}

function setFill(color: string): void {
  if (selection.length === 0) {
    toast('Select a shape first.', 2000);
    return;
  }
  act((d) => {
    d.undoManager.stopCapturing();
    d.transact(() => {
      for (const id of selection) d.set(id, 'fill', color);
    });
  });
}

function reorder(where: 'front' | 'back'): void {
  act((d) => {
    d.undoManager.stopCapturing();
    d.transact(() => {
      for (const id of selection) {
        if (where === 'front') d.bringToFront(id);
        else d.sendToBack(id);
      }
    });
  });
}

function deleteSelection(): void {
  if (selection.length === 0) return;
  act((d) => {
    d.undoManager.stopCapturing();
    d.transact(() => {
      for (const id of selection) d.delete(id);
    });
  });
  select([]);
}

function undoKey(ev: KeyboardEvent): boolean {
  if (!(ev.ctrlKey || ev.metaKey)) return false;
  const k = ev.key.toLowerCase();
  if (k === 'z' || k === 'y') {
    ev.preventDefault();
    act((d) => {
      if ((k === 'z' && ev.shiftKey) || k === 'y') d.redo();
      else d.undo();
    });
    syncEditor();
    return true;
  }
  return false;
}

for (const c of FILLS) {
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'fill';
  b.style.background = c;
  b.title = `Fill ${c}`;
  b.setAttribute('aria-label', `fill ${c}`);
  b.addEventListener('click', () => setFill(c));
  $('colors').appendChild(b);
}
colorInput.addEventListener('input', () => setFill(colorInput.value));
for (const b of document.querySelectorAll<HTMLButtonElement>('[data-add]')) b.addEventListener('click', () => add(b.dataset.add as Kind));
$('front').addEventListener('click', () => reorder('front'));
$('back').addEventListener('click', () => reorder('back'));
$('delete').addEventListener('click', deleteSelection);
$('undo').addEventListener('click', () => act((d) => d.undo()));
$('redo').addEventListener('click', () => act((d) => d.redo()));
$('zoom-in').addEventListener('click', () => zoomAt(1.25));
$('zoom-out').addEventListener('click', () => zoomAt(0.8));
$('zoom-reset').addEventListener('click', () => {
  view.x = 0;
  view.y = 0;
  view.zoom = 1;
  applyView();
});

// ---- dragging: move, resize, pan ----

type Gesture =
  | { kind: 'move'; start: { x: number; y: number }; items: { id: string; x: number; y: number }[]; moved: boolean }
  | { kind: 'resize'; start: { x: number; y: number }; id: string; corner: string; s: Shape }
  | { kind: 'pan'; sx: number; sy: number; vx: number; vy: number };
let gesture: Gesture | null = null;
let pendingMove: PointerEvent | null = null;

/** The ids to drag: the selection without what a selected frame carries along anyway. */
function dragRoots(d: TreeDoc, ids: string[]): string[] {
  const set = new Set(ids);
  return ids.filter((id) => !d.ancestors(id).some((a) => set.has(a)));
}

viewport.addEventListener('pointerdown', (ev) => {
  const d = doc;
  if (d === null || ev.button !== 0) return;
  const target = ev.target as HTMLElement;
  viewport.focus({ preventScroll: true });
  const handle = target.closest<HTMLElement>('.handle');
  const shapeEl = target.closest<HTMLElement>('.shape');
  const at = toBoard(ev.clientX, ev.clientY);
  if (handle !== null && shapeEl !== null) {
    const id = shapeEl.dataset.id as string;
    const s = shapeOf(d, id);
    if (s === null) return;
    d.undoManager.stopCapturing();
    gesture = { kind: 'resize', start: at, id, corner: handle.dataset.corner as string, s };
  } else if (shapeEl !== null) {
    const id = shapeEl.dataset.id as string;
    if (editing !== null && editing.id !== id) stopEditing();
    if (ev.shiftKey) select(selection.includes(id) ? selection.filter((x) => x !== id) : [...selection, id]);
    else if (!selection.includes(id)) select([id]);
    d.undoManager.stopCapturing();
    const items = dragRoots(d, selection).map((x) => {
      const s = shapeOf(d, x) as Shape;
      return { id: x, x: s.x, y: s.y };
    });
    gesture = { kind: 'move', start: at, items, moved: false };
  } else {
    stopEditing();
    if (!ev.shiftKey) select([]);
    gesture = { kind: 'pan', sx: ev.clientX, sy: ev.clientY, vx: view.x, vy: view.y };
    viewport.classList.add('panning');
  }
  viewport.setPointerCapture(ev.pointerId);
});

viewport.addEventListener('pointermove', (ev) => {
  if (doc !== null) {
    const p = toBoard(ev.clientX, ev.clientY);
    doc.presence.setPointer({ x: Math.round(p.x), y: Math.round(p.y) });
  }
  if (gesture === null) return;
  if (gesture.kind === 'pan') {
    view.x = gesture.vx + ev.clientX - gesture.sx;
    view.y = gesture.vy + ev.clientY - gesture.sy;
    applyView();
    return;
  }
  // One change per frame at most, however fast the mouse reports.
  if (pendingMove === null) requestAnimationFrame(() => applyDrag());
  pendingMove = ev;
});

function applyDrag(): void {
  const ev = pendingMove;
  pendingMove = null;
  const g = gesture;
  if (ev === null || g === null || g.kind === 'pan') return;
  const p = toBoard(ev.clientX, ev.clientY);
  const dx = Math.round(p.x - g.start.x);
  const dy = Math.round(p.y - g.start.y);
  act((d) => {
    if (g.kind === 'move') {
      if (!g.moved && Math.abs(dx) + Math.abs(dy) < 3) return;
      g.moved = true;
      d.transact(() => {
        for (const it of g.items) if (d.has(it.id)) d.set(it.id, { x: it.x + dx, y: it.y + dy });
      });
    } else if (d.has(g.id)) {
      let { x, y, w, h } = g.s;
      if (g.corner.includes('e')) w = Math.max(MIN_SIZE, g.s.w + dx);
      if (g.corner.includes('s')) h = Math.max(MIN_SIZE, g.s.h + dy);
      if (g.corner.includes('w')) {
        w = Math.max(MIN_SIZE, g.s.w - dx);
        x = g.s.x + g.s.w - w;
      }
      if (g.corner.includes('n')) {
        h = Math.max(MIN_SIZE, g.s.h - dy);
        y = g.s.y + g.s.h - h;
      }
      d.set(g.id, { x, y, w, h });
    }
  });
}

/** After a drag: a shape whose centre is now in a frame goes into it; one dragged out of its frame goes to the board. */
function reparent(d: TreeDoc, ids: string[]): void {
  const order = d.tree.ids();
  for (const id of ids) {
    const s = shapeOf(d, id);
    if (s === null) continue;
    const pos = absPos(d, id);
    const cx = pos.x + s.w / 2;
    const cy = pos.y + s.h / 2;
    let target = '';
    for (const f of order) {
      if (f === id || d.ancestors(f).includes(id)) continue;
      const fs = shapeOf(d, f);
      if (fs === null || fs.kind !== 'frame') continue;
      const fp = absPos(d, f);
      if (cx >= fp.x && cx <= fp.x + fs.w && cy >= fp.y && cy <= fp.y + fs.h) target = f; // the last one drawn wins
    }
    if (target === (d.get(id)?.parent ?? '')) continue;
    const origin = target === '' ? { x: 0, y: 0 } : absPos(d, target);
    d.transact(() => {
      d.move(id, { inside: target, at: 'end' });
      d.set(id, { x: Math.round(pos.x - origin.x), y: Math.round(pos.y - origin.y) });
    });
  }
}

function endGesture(ev: PointerEvent): void {
  if (pendingMove !== null) applyDrag();
  const g = gesture;
  gesture = null;
  viewport.classList.remove('panning');
  if (viewport.hasPointerCapture(ev.pointerId)) viewport.releasePointerCapture(ev.pointerId);
  if (g?.kind === 'move' && g.moved) act((d) => reparent(d, g.items.map((i) => i.id)));
}
viewport.addEventListener('pointerup', endGesture);
viewport.addEventListener('pointercancel', endGesture);
viewport.addEventListener('pointerleave', () => {
  if (gesture === null) doc?.presence.setPointer(null);
});

viewport.addEventListener('dblclick', (ev) => {
  // The pointer capture of the drag makes the viewport the event's target: look at what is under the pointer.
  const el = document.elementFromPoint(ev.clientX, ev.clientY)?.closest<HTMLElement>('.shape.note') ?? null;
  if (el !== null) startEditing(el.dataset.id as string);
});

viewport.addEventListener(
  'wheel',
  (ev) => {
    ev.preventDefault();
    if (ev.ctrlKey || ev.metaKey) zoomAt(Math.exp(-ev.deltaY / 300), ev.clientX, ev.clientY);
    else {
      view.x -= ev.deltaX;
      view.y -= ev.deltaY;
      applyView();
    }
  },
  { passive: false },
);

document.addEventListener('keydown', (ev) => {
  const t = ev.target as HTMLElement;
  if (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA') return;
  if (undoKey(ev)) return;
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  const keys: Record<string, () => void> = {
    Delete: deleteSelection,
    Backspace: deleteSelection,
    Escape: () => select([]),
    r: () => add('rect'),
    e: () => add('ellipse'),
    n: () => add('note'),
    f: () => add('frame'),
    ']': () => reorder('front'),
    '[': () => reorder('back'),
  };
  const fn = keys[ev.key];
  if (fn !== undefined) {
    ev.preventDefault();
    fn();
  }
});

// ---- opening a board ----

/** Creates the board over REST (a tree document); 409 means someone else just did. */
async function createBoard(id: string): Promise<string | null> {
  try {
    const res = await fetch('/v1/docs', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token !== undefined ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ id, type: 'tree', content: starter() }),
    });
    if (res.status === 201 || res.status === 409) return null;
    let detail = res.statusText;
    try {
      detail = ((await res.json()) as { detail?: string }).detail ?? detail;
    } catch {
      // not a problem document
    }
    return `HTTP ${res.status}: ${detail}`;
  } catch (e) {
    return (e as Error).message;
  }
}

function onChange(c: TreeChange): void {
  if (editing !== null && c.remote && (c.props[editing.id]?.includes('text') ?? false)) syncEditor();
  if (editing !== null && !c.remote && (c.origin === 'undo' || c.origin === 'redo')) syncEditor();
  scheduleRender();
}

function openBoard(id: string, created = false): void {
  for (const off of offs.splice(0)) off();
  stopEditing();
  doc?.close();
  for (const sid of [...pointers.keys()]) removePointer(sid);
  for (const el of els.values()) el.remove();
  els.clear();
  selection = [];
  noticeEl.hidden = true;
  docInput.value = id;
  document.title = `${id} · Tandem canvas`;
  const d = conn.openTree(id);
  doc = d;
  d.ready.catch(async (e: unknown) => {
    if (doc !== d || !(e instanceof TandemError)) return;
    if (e.code === 'not_found' && !created) {
      const err = await createBoard(id);
      if (doc !== d) return;
      if (err === null) openBoard(id, true);
      else notice(`Board “${id}” does not exist and could not be created`, [`${err}. Creating a board takes `, code(`POST /v1/docs {"type": "tree"}`), ', which needs a server that serves tree documents and, with tokens on, an admin token.']);
    } else if (e.code === 'wrong_type') {
      notice(`“${id}” is not a board`, [`It is a document of another type: open it in the text demo at `, code(`/demo/${id}`), ', or pick another name.']);
    } else {
      notice(`Board “${id}” cannot be opened`, [e.message]);
    }
  });
  offs.push(d.on('change', onChange));
  offs.push(d.on('status', showDocStatus));
  offs.push(d.on('synced', scheduleRender));
  offs.push(d.on('deleted', () => notice(`Board “${id}” was deleted`, ['Someone deleted it; nothing you do here is saved.'])));
  offs.push(d.on('invalid_op', ({ msg }) => toast(`The server refused a change (${msg}); the board was reloaded.`, 6000)));
  offs.push(
    d.on('dropped', ({ actions }) => {
      const why: Record<string, string> = {
        deleted: 'someone deleted that shape first',
        cycle: 'that would have put a frame inside itself',
        replaced: 'someone replaced that text meanwhile',
        exists: 'someone created the same thing first',
        limit: 'the board reached a limit',
      };
      const reasons = [...new Set(actions.map((a) => why[a.reason] ?? a.reason))];
      toast(`${actions.length === 1 ? 'A change of yours was' : `${actions.length} changes of yours were`} undone: ${reasons.join('; ')}.`, 5000);
      scheduleRender();
    }),
  );
  offs.push(
    d.presence.on('change', ({ peers }) => {
      for (const p of peers) updatePointer(d, p);
      scheduleRender();
    }),
  );
  offs.push(
    d.presence.on('leave', ({ peer }) => {
      removePointer(peer.sid);
      scheduleRender();
    }),
  );
  showDocStatus();
  scheduleRender();
}

function boardFromUrl(): string {
  if (location.pathname.startsWith(BASE)) {
    const rest = decodeURIComponent(location.pathname.slice(BASE.length).replace(/\/+$/, ''));
    if (ID_RE.test(rest)) return rest;
  }
  return SHARED_BOARD;
}

function urlFor(id: string): string {
  const q = new URLSearchParams(location.search);
  const qs = q.toString();
  return `${BASE}${encodeURIComponent(id)}${qs === '' ? '' : `?${qs}`}`;
}

function go(id: string): void {
  if (id === doc?.id) return;
  history.pushState(null, '', urlFor(id));
  openBoard(id);
}

$('doc-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const id = docInput.value.trim();
  if (!ID_RE.test(id)) {
    toast('A board id is 1-128 letters, digits, “_” or “-”.');
    return;
  }
  go(id);
});
$('new-doc').addEventListener('click', () => go(`board-${randomId().slice(0, 8)}`));
$('copy-link').addEventListener('click', () => {
  if (doc === null) return;
  const link = `${location.origin}${BASE}${encodeURIComponent(doc.id)}`;
  if (navigator.clipboard === undefined) toast(link, 8000);
  else navigator.clipboard.writeText(link).then(() => toast(`Link copied: ${link}`), () => toast(link, 8000));
});
window.addEventListener('popstate', () => {
  const id = boardFromUrl();
  if (id !== doc?.id) openBoard(id);
});

applyView();
const first = boardFromUrl();
history.replaceState(null, '', urlFor(first));
openBoard(first);
