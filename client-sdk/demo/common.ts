/**
 * What the demo pages share: the user's name and colour, the token's claims
 * (for wording only: the server checks the token), state pills, toasts.
 * @module
 */

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
