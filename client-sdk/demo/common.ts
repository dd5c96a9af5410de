/**
 * What the demo pages (/demo/<id>, /demo/rich/<id>, /demo/canvas/<board>)
 * share: the visitor's name and colour, the connection, the token's claims
 * (for wording only: the server checks the token), status pills, notices and
 * toasts, the list of who is here, pointers, and creating a document over REST.
 * @module
 */
import { Connection, type DocMode, type DocStatus, type Peer } from '../src/index.js';

/** The colours a visitor can pick. */
export const PALETTE = ['#e91e63', '#3f51b5', '#009688', '#ff5722', '#9c27b0', '#2196f3', '#4caf50', '#795548', '#f44336', '#607d8b'];
/** A document id (docs/api.md). */
export const ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

/** The element with this id (the page's markup has it). */
export function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} missing`);
  return el;
}

function pick<T>(xs: readonly T[]): T {
  return xs[Math.floor(Math.random() * xs.length)] as T;
}

/** The visitor's name and colour, kept in localStorage (one per browser, for every demo). */
export function loadUser(): { name: string; color: string } {
  const name = localStorage.getItem('tandem.demo.name') ?? `${pick(['Quick', 'Calm', 'Brave', 'Witty', 'Sunny', 'Clever'])} ${pick(['Otter', 'Heron', 'Lynx', 'Panda', 'Fox', 'Koala'])}`;
  const color = localStorage.getItem('tandem.demo.color') ?? pick(PALETTE);
  localStorage.setItem('tandem.demo.name', name);
  localStorage.setItem('tandem.demo.color', color);
  return { name, color };
}

/** Shows a state as a coloured pill: `kind` picks the colour (a state name), `label` the words. */
export function setPill(el: HTMLElement, kind: string, label = kind, title = ''): void {
  el.textContent = label;
  el.className = `pill ${kind}`;
  el.title = title;
}

// ---- notices: what went wrong, in words, and what to do about it ----

/** A button under a notice. */
export interface Action {
  label: string;
  run: () => void;
}

/** The topic of the notice on screen, so that a later event clears only its own. */
let noticeTopic: string | null = null;

/** Shows the page's notice (#notice) about `topic`. */
export function notice(topic: string, tone: 'error' | 'warn' | 'info', title: string, body: (string | HTMLElement)[], actions: Action[] = []): void {
  const noticeEl = $('notice');
  noticeTopic = topic;
  noticeEl.className = `notice ${tone}`;
  noticeEl.dataset.topic = topic;
  (noticeEl.querySelector('.notice-title') as HTMLElement).textContent = title;
  const b = noticeEl.querySelector('.notice-body') as HTMLElement;
  b.textContent = '';
  b.append(...body);
  const a = noticeEl.querySelector('.notice-actions') as HTMLElement;
  a.textContent = '';
  for (const act of actions) {
    const btn = document.createElement('button');
    btn.type = 'button';
    btn.textContent = act.label;
    btn.addEventListener('click', act.run);
    a.appendChild(btn);
  }
  noticeEl.hidden = false;
}

/** Hides the notice if it is about one of `topics` (any topic when none is given). */
export function clearNotice(...topics: string[]): void {
  if (noticeTopic === null || (topics.length > 0 && !topics.includes(noticeTopic))) return;
  const noticeEl = $('notice');
  noticeTopic = null;
  noticeEl.hidden = true;
  delete noticeEl.dataset.topic;
}

/** A `<code>` element. */
export function code(text: string): HTMLElement {
  const el = document.createElement('code');
  el.textContent = text;
  return el;
}

let toastEl: HTMLElement | null = null;
let toastTimer: ReturnType<typeof setTimeout> | null = null;

/** A short message at the bottom of the page for `ms`. */
export function toast(msg: string, ms = 4000): void {
  toastEl?.remove();
  if (toastTimer !== null) clearTimeout(toastTimer);
  toastEl = document.createElement('div');
  toastEl.className = 'toast';
  toastEl.setAttribute('role', 'status');
  toastEl.textContent = msg;
  document.body.appendChild(toastEl);
  toastTimer = setTimeout(() => {
    toastEl?.remove();
    toastEl = null;
  }, ms);
}

// ---- REST ----

/** What creating a document did. */
export type CreateResult = { ok: true; existed: boolean } | { ok: false; status: number; detail: string };

/**
 * Creates a document of `type` over REST (`POST /v1/docs`, docs/api.md),
 * with `content` when given; a 409 (someone else created it first) counts
 * as success, with `existed`.
 */
export async function createDocument(id: string, type: 'text' | 'rich', content: unknown, token: string | undefined): Promise<CreateResult> {
  try {
    const res = await fetch('/v1/docs', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token !== undefined ? { Authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ id, type, ...(content !== undefined ? { content } : {}) }),
    });
    if (res.status === 201 || res.status === 409) return { ok: true, existed: res.status === 409 };
    let detail = res.statusText;
    try {
      detail = ((await res.json()) as { detail?: string }).detail ?? detail;
    } catch {
      // not a problem document
    }
    return { ok: false, status: res.status, detail };
  } catch (e) {
    return { ok: false, status: 0, detail: (e as Error).message };
  }
}


export interface Claims {
  sub?: string;
  name?: string;
  exp?: number;
  docs?: Record<string, string>;
  admin?: boolean;
}

export function decodeClaims(tok: string | undefined): Claims | null {
  const part = tok?.split('.')[1];
  if (part === undefined) return null;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/').padEnd(Math.ceil(part.length / 4) * 4, '='));
    const c = JSON.parse(new TextDecoder().decode(Uint8Array.from(json, (ch) => ch.charCodeAt(0)))) as unknown;
    return typeof c === 'object' && c !== null ? (c as Claims) : null;
  } catch {
    return null;
  }
}

/** What the token's grants say in words: "notes (read-only), team-* (read-write)". */
export function describeGrants(c: Claims | null): string {
  const entries = Object.entries(c?.docs ?? {});
  if (entries.length === 0) return 'no documents at all';
  return entries.map(([pat, m]) => `${pat === '*' ? 'every document' : pat} (${m === 'r' ? 'read-only' : 'read-write'})`).join(', ');
}

export function ago(ms: number): string {
  const min = Math.round(ms / 60000);
  if (min < 1) return 'just now';
  if (min < 120) return `${min} min ago`;
  return `${Math.round(min / 60)} h ago`;
}

/** The page's connection to the server it was served by, as the user of this browser, with `?token=` if the address has one. */
export function pageConnection(): { token: string | undefined; user: { name: string; color: string }; conn: Connection } {
  const token = new URLSearchParams(location.search).get('token') ?? undefined;
  const user = loadUser();
  const wsUrl = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`;
  const conn = new Connection({ url: wsUrl, user, ...(token !== undefined ? { token } : {}) });
  return { token, user, conn };
}

/** A document's status in words: whether your edits are stored yet. */
export function statusLabel(d: { status: DocStatus; mode: DocMode; hasPendingOps: boolean }): string {
  const labels: Record<string, string> = {
    synced: d.mode === 'r' ? 'up to date' : 'saved',
    pending: 'saving…',
    joining: 'loading…',
    closed: 'closed',
    offline: d.hasPendingOps ? 'unsaved edits: sent when back online' : 'offline',
  };
  return labels[d.status] ?? d.status;
}

/**
 * Shows in the "me" field the name the server knows us by (a token's name
 * wins over the one we proposed), except while the field is being edited: a
 * reconnect, as a recolour makes, lands its welcome at any moment, and must
 * not put the old name back under a rename being typed (which then would
 * never be sent). The edit is sent when the field loses focus.
 */
export function showServerName(input: HTMLInputElement, name: string): void {
  if (document.activeElement === input && !input.readOnly) return;
  input.value = name;
}

/** Fills the list of who is here: an avatar and a name per peer (`title` words each one's tooltip). */
export function renderPeerList<S>(list: HTMLElement, peers: Peer<S>[], title: (p: Peer<S>) => string = (p) => p.user.name): void {
  list.textContent = '';
  for (const p of peers) {
    const li = document.createElement('li');
    const av = document.createElement('span');
    av.className = 'avatar';
    av.style.background = p.user.color;
    av.textContent = (p.user.name.trim()[0] ?? '?').toUpperCase();
    li.append(av, document.createTextNode(p.user.name));
    li.title = title(p);
    list.appendChild(li);
  }
  if (peers.length === 0) {
    const li = document.createElement('li');
    li.className = 'nobody';
    li.textContent = 'nobody else here yet: Copy link and send it, or open it in another window';
    list.appendChild(li);
  }
}

/** A remote mouse pointer: an arrow in the peer's colour with their name (class `pointer`, hidden until placed). */
export function pointerElement(sid: string): HTMLElement {
  const el = document.createElement('div');
  el.className = 'pointer hidden';
  el.dataset.sid = sid;
  el.innerHTML =
    '<svg width="18" height="22" viewBox="0 0 18 22"><path d="M1 1 L1 17 L5.5 13 L8.5 20.5 L11.5 19.2 L8.6 12 L15 12 Z" stroke="white" stroke-width="1.5" stroke-linejoin="round"/></svg><span class="name"></span>';
  return el;
}

/** Colours a pointer and names it for `p`. */
export function paintPointer<S>(el: HTMLElement, p: Peer<S>): void {
  el.querySelector('path')?.setAttribute('fill', p.user.color);
  const name = el.querySelector<HTMLElement>('.name');
  if (name !== null) {
    name.textContent = p.user.name;
    name.style.background = p.user.color;
  }
}
