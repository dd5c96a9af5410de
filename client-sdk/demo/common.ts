/**
 * What the demo pages (/demo/<id>, /demo/rich/<id>) share: the visitor's
 * name and colour, status pills, notices and toasts, and creating a document
 * over REST.
 * @module
 */

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
