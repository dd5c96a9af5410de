/// <reference types="vite/client" />
/**
 * The rich-text demo at /demo/rich/<id>: a Tiptap editor on a `rich`
 * document, with a toolbar, everyone's named carets and selections, and who
 * is here. A document that does not exist yet is created over REST (type
 * `rich`); a bare /demo/rich/ opens the shared document "rich-welcome".
 */
import { Editor } from '@tiptap/core';
import Image from '@tiptap/extension-image';
import StarterKit from '@tiptap/starter-kit';
import type { QuillBinding } from '../../src/bindings/quill.js';
import { TandemCollaboration } from '../../src/bindings/tiptap.js';
import { Connection, TandemError, randomId, type Delta, type RichDoc } from '../../src/index.js';
import { $, clearNotice, code, createDocument, ID_RE, loadUser, notice, PALETTE, setPill, showServerName, toast } from '../common.js';
import '../style.css';
import './rich.css';

/** The document a bare /demo/rich/ opens, so that two windows meet. */
const SHARED_DOC = 'rich-welcome';
const WELCOME: Delta = [
  'Welcome to Tandem',
  { i: '\n', a: { heading: 1 } },
  'Everyone who opens this page edits this document live. Try ',
  { i: 'bold', a: { bold: true } },
  ', ',
  { i: 'italic', a: { italic: true } },
  ', a heading or a list while someone else types in the same paragraph: both edits stay.\n',
  'Open it in a second window',
  { i: '\n', a: { list: 'bullet' } },
  'Type and format in both',
  { i: '\n', a: { list: 'bullet' } },
];
/** Where this page is mounted: `/demo/rich/`. */
const BASE = `${import.meta.env.BASE_URL.replace(/\/?$/, '/')}rich/`;

const params = new URLSearchParams(location.search);
const token = params.get('token') ?? undefined;
/** `?editor=quill` edits the document in Quill 2 instead of Tiptap (loaded on demand): both edit one document together. */
const useQuill = params.get('editor') === 'quill';
const user = loadUser();
const conn = new Connection({ url: `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/v1/ws`, user, ...(token !== undefined ? { token } : {}) });

const connStatus = $('conn-status');
const docStatus = $('doc-status');
const modeBadge = $('mode-badge');
const peersEl = $('peers');
const editorEl = $('editor');
const toolbarEl = $('toolbar');
const docInput = $('doc-id') as HTMLInputElement;
const nameInput = $('me-name') as HTMLInputElement;
const swatch = $('me-swatch');
const switchLink = $('switch-editor') as HTMLAnchorElement;
switchLink.textContent = useQuill ? 'open in Tiptap' : 'open in Quill';

// ---- connection and me ----

conn.on('state', ({ state }) => setPill(connStatus, state));
conn.on('offline', ({ retryInMs, error }) => {
  if (retryInMs !== null) setPill(connStatus, 'offline', `offline · retrying in ${Math.max(1, Math.round(retryInMs / 1000))} s`, error?.message ?? '');
});
conn.on('online', ({ user: me }) => {
  clearNotice('unreachable');
  showServerName(nameInput, me.name);
});
conn.on('error', (e) => {
  if (e.code === 'unauthorized') {
    setPill(connStatus, 'error', 'token refused', e.message);
    notice('token', 'error', 'The server refused the connection', [`${e.message}. Open this page with a valid token in `, code('?token='), '.']);
  } else if (e.code === 'unreachable') {
    setPill(connStatus, 'error', 'unreachable', e.message);
    notice('unreachable', 'error', 'Cannot reach the server', [e.message], [{ label: 'Try again', run: () => conn.connect() }]);
  }
});
setPill(connStatus, conn.state === 'offline' ? 'connecting' : conn.state);

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
  if (name === '') {
    nameInput.value = user.name;
    return;
  }
  user.name = name;
  localStorage.setItem('tandem.demo.name', name);
  conn.setUser(user);
});

// ---- the toolbar ----

interface Tool {
  label: string;
  title: string;
  run: (e: Editor) => boolean;
  active?: (e: Editor) => boolean;
}

const TOOLS: (Tool | '|')[] = [
  { label: 'B', title: 'Bold (Ctrl/⌘+B)', run: (e) => e.chain().focus().toggleBold().run(), active: (e) => e.isActive('bold') },
  { label: 'I', title: 'Italic (Ctrl/⌘+I)', run: (e) => e.chain().focus().toggleItalic().run(), active: (e) => e.isActive('italic') },
  { label: 'U', title: 'Underline (Ctrl/⌘+U)', run: (e) => e.chain().focus().toggleUnderline().run(), active: (e) => e.isActive('underline') },
  { label: 'S', title: 'Strikethrough', run: (e) => e.chain().focus().toggleStrike().run(), active: (e) => e.isActive('strike') },
  { label: '</>', title: 'Inline code', run: (e) => e.chain().focus().toggleCode().run(), active: (e) => e.isActive('code') },
  {
    label: 'Link',
    title: 'Link',
    run: (e) => {
      if (e.isActive('link')) return e.chain().focus().unsetLink().run();
      const href = prompt('Link address', 'https://');
      return href !== null && href !== '' && e.chain().focus().setLink({ href }).run();
    },
    active: (e) => e.isActive('link'),
  },
  '|',
  { label: 'H1', title: 'Heading 1', run: (e) => e.chain().focus().toggleHeading({ level: 1 }).run(), active: (e) => e.isActive('heading', { level: 1 }) },
  { label: 'H2', title: 'Heading 2', run: (e) => e.chain().focus().toggleHeading({ level: 2 }).run(), active: (e) => e.isActive('heading', { level: 2 }) },
  { label: 'H3', title: 'Heading 3', run: (e) => e.chain().focus().toggleHeading({ level: 3 }).run(), active: (e) => e.isActive('heading', { level: 3 }) },
  '|',
  { label: '• List', title: 'Bullet list', run: (e) => e.chain().focus().toggleBulletList().run(), active: (e) => e.isActive('bulletList') },
  { label: '1. List', title: 'Numbered list', run: (e) => e.chain().focus().toggleOrderedList().run(), active: (e) => e.isActive('orderedList') },
  { label: '❝', title: 'Quote', run: (e) => e.chain().focus().toggleBlockquote().run(), active: (e) => e.isActive('blockquote') },
  { label: '{ }', title: 'Code block', run: (e) => e.chain().focus().toggleCodeBlock().run(), active: (e) => e.isActive('codeBlock') },
  '|',
  { label: '↶', title: 'Undo your last edit (Ctrl/⌘+Z)', run: (e) => e.commands.undo() },
  { label: '↷', title: 'Redo (Ctrl/⌘+Shift+Z)', run: (e) => e.commands.redo() },
];

const buttons: { tool: Tool; el: HTMLButtonElement }[] = [];
for (const t of TOOLS) {
  if (t === '|') {
    const sep = document.createElement('span');
    sep.className = 'sep';
    toolbarEl.appendChild(sep);
    continue;
  }
  const el = document.createElement('button');
  el.type = 'button';
  el.textContent = t.label;
  el.title = t.title;
  el.setAttribute('aria-label', t.title);
  el.dataset.tool = t.title.split(' ')[0]?.toLowerCase() ?? '';
  if (t.active) el.setAttribute('aria-pressed', 'false');
  el.addEventListener('mousedown', (ev) => ev.preventDefault()); // keep the editor's selection
  el.addEventListener('click', () => {
    if (editor !== null) t.run(editor);
  });
  toolbarEl.appendChild(el);
  buttons.push({ tool: t, el });
}

function refreshToolbar(): void {
  const writable = editor !== null && doc !== null && doc.mode === 'rw' && doc.version >= 0;
  for (const { tool, el } of buttons) {
    el.disabled = !writable;
    if (tool.active && editor !== null) el.setAttribute('aria-pressed', String(tool.active(editor)));
  }
}

// ---- the document ----

let doc: RichDoc | null = null;
let editor: Editor | null = null;
let quillBinding: QuillBinding | null = null;
const offs: (() => void)[] = [];

function renderPeers(): void {
  peersEl.textContent = '';
  const peers = doc?.presence.getPeers() ?? [];
  for (const p of peers) {
    const li = document.createElement('li');
    const av = document.createElement('span');
    av.className = 'avatar';
    av.style.background = p.user.color;
    av.textContent = (p.user.name.trim()[0] ?? '?').toUpperCase();
    li.append(av, document.createTextNode(p.user.name));
    li.dataset.sid = p.sid;
    peersEl.appendChild(li);
  }
  if (peers.length === 0) {
    const li = document.createElement('li');
    li.className = 'nobody';
    li.textContent = 'nobody else here yet: Copy link and send it, or open it in another window';
    peersEl.appendChild(li);
  }
}

function showDocStatus(d: RichDoc): void {
  const labels: Record<string, string> = {
    synced: d.mode === 'r' ? 'up to date' : 'saved',
    pending: 'saving…',
    joining: 'loading…',
    closed: 'closed',
    offline: d.hasPendingOps ? 'unsaved edits: sent when back online' : 'offline',
  };
  setPill(docStatus, d.status, labels[d.status] ?? d.status);
  modeBadge.hidden = d.mode !== 'r' || d.version < 0;
  editor?.setEditable(d.mode === 'rw' && d.version >= 0);
  switchLink.href = `${BASE}${encodeURIComponent(d.id)}${useQuill ? '' : '?editor=quill'}`;
  refreshToolbar();
}

async function openDoc(id: string, created = false): Promise<void> {
  for (const off of offs.splice(0)) off();
  editor?.destroy();
  editor = null;
  quillBinding?.destroy();
  quillBinding = null;
  editorEl.textContent = '';
  doc?.close();
  clearNotice();
  docInput.value = id;
  document.title = `${id} · Tandem rich-text demo`;
  const d = conn.openRich(id);
  doc = d;
  d.ready.catch(async (e: unknown) => {
    if (doc !== d || !(e instanceof TandemError)) return;
    if (e.code === 'not_found' && !created) {
      const r = await createDocument(id, 'rich', id === SHARED_DOC ? WELCOME : undefined, token);
      if (doc !== d) return;
      if (r.ok) void openDoc(id, true);
      else notice('missing', 'error', `Document “${id}” does not exist`, [`Creating it (`, code('POST /v1/docs'), `) failed: HTTP ${r.status}: ${r.detail}`]);
    } else if (e.code === 'wrong_type') {
      notice('type', 'error', `“${id}” is not a rich-text document`, ['It is a plain-text document: open it in the ', Object.assign(document.createElement('a'), { href: `/demo/${encodeURIComponent(id)}`, textContent: 'plain-text demo' }), '.']);
    } else {
      notice('access', 'error', `Cannot open “${id}”`, [e.message]);
    }
  });
  offs.push(d.on('status', () => showDocStatus(d)));
  offs.push(d.on('synced', () => showDocStatus(d)));
  offs.push(d.on('invalid_op', ({ msg }) => toast(`The server refused an edit (${msg}); the document was reloaded.`, 6000)));
  offs.push(d.on('deleted', () => notice('deleted', 'warn', `Document “${id}” was deleted`, ['Nothing you type now can be saved.'])));
  offs.push(d.presence.on('change', renderPeers));
  offs.push(d.presence.on('leave', renderPeers));
  renderPeers();
  if (useQuill) {
    await openQuill(d);
    showDocStatus(d);
    return;
  }
  editor = new Editor({
    element: editorEl,
    extensions: [StarterKit.configure({ undoRedo: false }), Image.configure({ inline: true }), TandemCollaboration.configure({ doc: d })],
    editorProps: { attributes: { 'aria-label': `Document ${id}`, spellcheck: 'true' } },
    onTransaction: refreshToolbar,
    onSelectionUpdate: refreshToolbar,
  });
  showDocStatus(d);
  // For scripts and the browser tests: the document and the editor of this page.
  (window as unknown as { tandemDemo: unknown }).tandemDemo = { conn, doc: d, editor };
}

/** The document in Quill, with its own toolbar (the same formats as the Tiptap one). */
async function openQuill(d: RichDoc): Promise<void> {
  const [{ default: Quill }, { bindQuill }] = await Promise.all([import('quill'), import('../../src/bindings/quill.js'), import('quill/dist/quill.snow.css')]);
  if (doc !== d) return;
  toolbarEl.hidden = true;
  const host = document.createElement('div');
  editorEl.appendChild(host);
  editorEl.classList.add('quill');
  const quill = new Quill(host, {
    theme: 'snow',
    modules: {
      toolbar: [[{ header: [1, 2, 3, false] }], ['bold', 'italic', 'underline', 'strike', 'code', 'link'], [{ list: 'ordered' }, { list: 'bullet' }], ['blockquote', 'code-block']],
      history: { userOnly: true },
    },
  });
  quillBinding = bindQuill(d, quill);
  offs.push(d.on('synced', () => quill.enable(d.mode === 'rw')));
  quill.enable(d.mode === 'rw' && d.version >= 0);
  (window as unknown as { tandemDemo: unknown }).tandemDemo = { conn, doc: d, quill };
}

function docIdFromUrl(): string | null {
  if (!location.pathname.startsWith(BASE)) return null;
  const rest = decodeURIComponent(location.pathname.slice(BASE.length).replace(/\/+$/, ''));
  return ID_RE.test(rest) ? rest : null;
}

function go(id: string): void {
  if (id === doc?.id) return;
  const q = new URLSearchParams();
  if (token !== undefined) q.set('token', token);
  if (useQuill) q.set('editor', 'quill');
  const qs = q.size > 0 ? `?${q.toString()}` : '';
  history.pushState(null, '', `${BASE}${encodeURIComponent(id)}${qs}`);
  void openDoc(id);
}

$('doc-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const id = docInput.value.trim();
  if (ID_RE.test(id)) go(id);
  else toast('A document id is 1-128 letters, digits, “_” or “-”.');
});
$('new-doc').addEventListener('click', () => go(`rich-${randomId().slice(0, 8)}`));
$('copy-link').addEventListener('click', () => {
  if (doc === null) return;
  const link = `${location.origin}${BASE}${encodeURIComponent(doc.id)}${useQuill ? '?editor=quill' : ''}`;
  const manual = (): void => notice('link', 'info', 'Copy this link to invite someone', [code(link)], [{ label: 'Done', run: () => clearNotice('link') }]);
  if (navigator.clipboard === undefined) manual();
  else navigator.clipboard.writeText(link).then(() => toast(`Link copied: ${link}`), manual);
});
window.addEventListener('popstate', () => {
  const id = docIdFromUrl();
  if (id !== null && id !== doc?.id) void openDoc(id);
});

const first = docIdFromUrl() ?? SHARED_DOC;
history.replaceState(null, '', `${BASE}${encodeURIComponent(first)}${location.search}`);
void openDoc(first);
