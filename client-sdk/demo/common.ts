/**
 * What the demo pages share: the user's name and colour, the connection, the
 * token's claims (for wording only: the server checks the token), state
 * pills, the list of who is here, pointers, toasts.
 * @module
 */
import { Connection, type DocMode, type DocStatus, type Peer } from '../src/index.js';

export const PALETTE = ['#e91e63', '#3f51b5', '#009688', '#ff5722', '#9c27b0', '#2196f3', '#4caf50', '#795548', '#f44336', '#607d8b'];
export const ID_RE = /^[A-Za-z0-9_-]{1,128}$/;

export function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`#${id} missing`);
  return el;
}

export function pick<T>(xs: readonly T[]): T {
  return xs[Math.floor(Math.random() * xs.length)] as T;
}

export function loadUser(): { name: string; color: string } {
  const name = localStorage.getItem('tandem.demo.name') ?? `${pick(['Quick', 'Calm', 'Brave', 'Witty', 'Sunny', 'Clever'])} ${pick(['Otter', 'Heron', 'Lynx', 'Panda', 'Fox', 'Koala'])}`;
  const color = localStorage.getItem('tandem.demo.color') ?? pick(PALETTE);
  localStorage.setItem('tandem.demo.name', name);
  localStorage.setItem('tandem.demo.color', color);
  return { name, color };
}

// ---- the token's claims, for wording only: the server checks the token ----

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


/** Shows a state as a coloured pill: `kind` picks the colour (a state name), `label` the words. */
export function setPill(el: HTMLElement, kind: string, label = kind, title = ''): void {
  el.textContent = label;
  el.className = `pill ${kind}`;
  el.title = title;
}

export function code(text: string): HTMLElement {
  const el = document.createElement('code');
  el.textContent = text;
  return el;
}

let toastEl: HTMLElement | null = null;
let toastTimer: ReturnType<typeof setTimeout> | null = null;
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

// ---- locking the editor when writes cannot succeed ----

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
