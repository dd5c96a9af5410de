// The /demo/ page as a newcomer meets it (issue 20), in Debian's chromium
// through playwright-core. Run by e2e/browser_test.go (TestBrowserDemoFirstHour):
//
//   node demo_states.mjs '<config JSON>'
//
// config: {open: base URL of an open server on the memory store, auth: base URL
// of a server with tokens, tokens: {admin, expired, none, reader, writer},
// out: screenshot directory}. Midway it prints {"restart": true} and waits for a
// line on stdin: the Go test restarts the open server on the same address in
// between (its memory store then forgets every document). At the end it prints
// one JSON line {"ok": true, ...} and exits 0, or prints the failure and exits 1.
import { createInterface } from 'node:readline';
import { launch, openAs, text as editorText } from './pages.mjs';

const cfg = JSON.parse(process.argv[2] ?? '{}');
if (!cfg.open || !cfg.auth || !cfg.tokens || !cfg.out) {
  console.error('usage: node demo_states.mjs \'{"open": URL, "auth": URL, "tokens": {...}, "out": DIR}\'');
  process.exit(2);
}
const stdin = createInterface({ input: process.stdin });
const lines = stdin[Symbol.asyncIterator]();

const checks = [];
function check(what, ok, detail = '') {
  checks.push(what);
  if (!ok) throw new Error(`${what}${detail === '' ? '' : `: ${detail}`}`);
}

async function waitFor(what, fn, ms = 15000) {
  const until = Date.now() + ms;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let browser;
const pages = [];
async function openPage(url, { name = 'Ada', color = '#e91e63', width = 1000, height = 700, dark = false } = {}) {
  const page = await openAs(browser, url, name, color, { width, height, dark });
  pages.push(page);
  return page;
}

/** What the page shows: the notice, the pills, the editor's text and whether it takes input. */
const ui = async (page) => ({
  ...(await page.evaluate(() => {
    const n = document.querySelector('#notice');
    const content = document.querySelector('.cm-content');
    return {
      notice: n.hidden ? null : n.innerText,
      noticeTone: n.hidden ? null : n.className,
      doc: document.querySelector('#doc-status').innerText,
      conn: document.querySelector('#conn-status').innerText,
      readOnlyBadge: !document.querySelector('#mode-badge').hidden,
      me: document.querySelector('#me-name').value,
      meLocked: document.querySelector('#me-name').readOnly,
      editable: content?.getAttribute('contenteditable') === 'true',
      locked: document.querySelector('#editor').classList.contains('locked'),
      body: document.body.innerText,
    };
  })),
  text: await editorText(page),
});

/** Types into the editor and reports whether the text changed. */
async function typingChanges(page) {
  const before = (await ui(page)).text;
  await page.locator('.cm-content').click({ force: true });
  await page.keyboard.type('zzz');
  await page.waitForTimeout(300);
  return (await ui(page)).text !== before;
}

const shot = (page, name) => page.screenshot({ path: `${cfg.out}/${name}.png` });

/** The remote caret of `name` on `page`, with its label's opacity and classes. */
const caretOf = (page, name) =>
  page.evaluate((n) => {
    for (const c of document.querySelectorAll('.cm-tandem-caret')) {
      const label = c.querySelector('.cm-tandem-caret-label');
      if (label?.textContent === n) {
        const r = c.getBoundingClientRect();
        return { opacity: Number(getComputedStyle(label).opacity), active: c.classList.contains('active'), hover: c.classList.contains('hover'), x: r.left + r.width / 2, y: r.top + r.height / 2 };
      }
    }
    return null;
  }, name);

const luminance = (page, sel) =>
  page.evaluate((s) => {
    const m = getComputedStyle(document.querySelector(s)).backgroundColor.match(/\d+(\.\d+)?/g).map(Number);
    return (0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]) / 255;
  }, sel);

try {
  browser = await launch();

  // ---- 1. Two windows at a bare /demo/ meet in one document ----
  const ada = await openPage(`${cfg.open}/demo/`, { name: 'Ada', color: '#e91e63', width: 1000 });
  const bob = await openPage(`${cfg.open}/demo/`, { name: 'Bob', color: '#3f51b5', width: 420, height: 760, dark: true });
  for (const p of [ada, bob]) await p.waitForSelector('#doc-status.synced', { timeout: 15000 });
  check('a bare /demo/ opens the shared document "welcome" in both windows', ada.url().endsWith('/demo/welcome') && bob.url().endsWith('/demo/welcome'), `${ada.url()} and ${bob.url()}`);
  await waitFor('each window to list the other', async () => (await ui(ada)).body.includes('Bob') && (await ui(bob)).body.includes('Ada'));
  check('the shared document starts with the welcome text', (await ui(ada)).text.startsWith('Welcome to Tandem!'));

  // ---- 2. Caret names: shown while that person types, faded when idle, shown on hover ----
  await ada.locator('.cm-content').click();
  await ada.keyboard.press('Control+End');
  await ada.keyboard.type('Ada types here.', { delay: 20 });
  await bob.locator('.cm-content').click();
  await bob.keyboard.press('Control+End');
  await bob.keyboard.press('Enter');
  await bob.keyboard.type('Bob answers.', { delay: 20 });
  await ada.keyboard.type(' More from Ada.', { delay: 20 });
  const typing = await waitFor("Ada's caret name shown on Bob's page while she types", async () => {
    const c = await caretOf(bob, 'Ada');
    return c !== null && c.active && c.opacity > 0.95 ? c : null;
  });
  await shot(bob, 'demo-caret-name-while-typing');
  const idle = await waitFor("Ada's caret name faded once she stops", async () => {
    const c = await caretOf(bob, 'Ada');
    return c !== null && !c.active && c.opacity < 0.05 ? c : null;
  }, 8000);
  await shot(bob, 'demo-caret-name-idle');
  await bob.mouse.move(idle.x, idle.y);
  await waitFor("Ada's caret name shown while the mouse is on her caret", async () => {
    const c = await caretOf(bob, 'Ada');
    return c !== null && c.hover && c.opacity > 0.95;
  });
  check('caret names: active while typing, faded when idle, shown on hover', typing.active && !idle.active);

  // ---- 3. 420 px wide, dark: the header fits, a wide window's pointer stays on screen ----
  const widths = await bob.evaluate(() => {
    const bar = document.querySelector('.bar');
    return { page: document.documentElement.scrollWidth, bar: bar.scrollWidth, barClient: bar.clientWidth, buttons: Array.from(bar.querySelectorAll('button, input, .pill'), (e) => e.getBoundingClientRect().right) };
  });
  check('at 420 px nothing is wider than the window', widths.page <= 420 && widths.bar <= widths.barClient && widths.buttons.every((r) => r <= 420.5), JSON.stringify(widths));
  await ada.mouse.move(985, 600, { steps: 6 });
  const ptr = await waitFor("Ada's pointer (from a 1000 px window) on Bob's 420 px page", () =>
    bob.evaluate(() => {
      const p = [...document.querySelectorAll('.pointer')].find((el) => el.querySelector('.name')?.textContent === 'Ada' && !el.classList.contains('hidden'));
      if (!p) return null;
      const r = p.getBoundingClientRect();
      const label = p.querySelector('.name').getBoundingClientRect();
      return r.right <= 420 && label.right <= 420 && label.left >= 0 ? { right: r.right, label: label.right, edge: p.classList.contains('edge') } : null;
    }),
  );
  check('a pointer from a wider window is kept on screen, at the edge', ptr.edge, JSON.stringify(ptr));
  check('dark colour scheme: a dark page and editor', (await luminance(bob, 'html')) < 0.2 && (await luminance(bob, '.cm-editor')) < 0.2);
  check('light colour scheme: a light page and editor', (await luminance(ada, 'html')) > 0.8 && (await luminance(ada, '.cm-editor')) > 0.8);
  await shot(bob, 'demo-420px-dark');
  await shot(ada, 'demo-1000px-light');

  // ---- 4. Renaming and recolouring yourself ----
  // A recolour reconnects, and its welcome may land while a new name is being
  // typed (on a loaded machine it did, now and then): it must not put the old
  // name back under the typing. Here it lands there every time: the name is
  // typed first, and the colour is picked without moving the focus.
  const bobAs = (name, rgb) =>
    ada.evaluate(([n, c]) => [...document.querySelectorAll('#peers li')].some((li) => li.textContent === n[0] + n && li.querySelector('.avatar')?.style.background === c), [name, rgb]);
  await bob.locator('#me-swatch').click();
  await bob.waitForSelector('#palette:not([hidden])');
  await shot(bob, 'demo-colour-palette');
  await bob.locator('#me-name').fill('Bobby');
  await bob.locator('#palette button[title="#009688"]').dispatchEvent('click');
  await waitFor('Ada to see Bob recoloured (his page then has its welcome)', () => bobAs('Bob', 'rgb(0, 150, 136)'));
  const typed = await bob.evaluate(() => ({ value: document.querySelector('#me-name').value, focused: document.activeElement?.id === 'me-name' }));
  check('a reconnect keeps a name being typed', typed.value === 'Bobby' && typed.focused, JSON.stringify(typed));
  await bob.locator('#me-name').press('Enter');
  await waitFor('Ada to see Bob renamed and recoloured', () => bobAs('Bobby', 'rgb(0, 150, 136)'));
  check('renaming and recolouring from the "me" chip reach the others', true);

  // ---- 5. Copy link ----
  await ada.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(cfg.open).origin });
  await ada.locator('#copy-link').click();
  const copied = await waitFor('the copied link', () => ada.evaluate(() => navigator.clipboard.readText().catch(() => '')));
  check('Copy link copies the document address', copied === `${cfg.open}/demo/welcome`, copied);

  // ---- 6. The server restarts on its memory store: the document is gone, nothing claims it "could not be created" ----
  await ada.locator('.cm-content').click();
  await ada.keyboard.press('Control+End');
  await ada.keyboard.type('\nKept across the restart.', { delay: 10 });
  await ada.waitForSelector('#doc-status.synced');
  console.log(JSON.stringify({ restart: true }));
  await lines.next(); // the Go test restarted the server
  const gone = await waitFor('the page to notice the document is gone', async () => {
    const u = await ui(ada);
    return u.notice !== null && u.notice.includes('not on the server any more') ? u : null;
  }, 30000);
  await shot(ada, 'demo-server-restarted');
  check('after a restart the page does not claim the document "could not be created"', !gone.body.includes('could not be created'), gone.notice);
  check('after a restart the editor is locked while the document is gone', gone.locked && !gone.editable);
  await ada.locator('#notice button', { hasText: 'Create it again with this text' }).click();
  const back = await waitFor('the document created again, editable', async () => {
    const u = await ui(ada);
    return u.notice === null && u.editable && !u.locked && u.doc === 'saved' ? u : null;
  });
  check('"Create it again" keeps the text', back.text.includes('Kept across the restart.'), back.text);

  // ---- 7. A server with tokens: every connection-level problem is said, and the editor locked ----
  const noToken = await openPage(`${cfg.auth}/demo/notes`, { name: 'Nina' });
  const nt = await waitFor('the needs-a-token notice', async () => ((await ui(noToken)).notice?.includes('This server needs a token') ? ui(noToken) : null));
  check('no token: the reason, a locked editor, the fix', nt.conn === 'needs a token' && nt.doc === 'editing off' && !nt.editable && nt.notice.includes('tandem token') && nt.notice.includes('?token='), JSON.stringify(nt));
  check('no token: typing changes nothing', !(await typingChanges(noToken)));
  await shot(noToken, 'demo-needs-token');

  const expired = await openPage(`${cfg.auth}/demo/notes?token=${cfg.tokens.expired}`, { name: 'Lena' });
  const ex = await waitFor('the expired-token notice', async () => ((await ui(expired)).notice?.includes('Your token has expired') ? ui(expired) : null));
  check('expired token: said so, editor locked', ex.conn === 'token expired' && !ex.editable && !ex.body.includes('sent when back online'), JSON.stringify(ex));
  await shot(expired, 'demo-token-expired');

  const none = await openPage(`${cfg.auth}/demo/notes?token=${cfg.tokens.none}`, { name: 'Olaf' });
  const na = await waitFor('the no-access notice', async () => ((await ui(none)).notice?.includes('no access to “notes”') ? ui(none) : null));
  check('no access: said so with what the token grants, editor locked', na.doc === 'no access' && na.notice.includes('team-*') && !na.editable, JSON.stringify(na));
  await shot(none, 'demo-no-access');

  const reader = await openPage(`${cfg.auth}/demo/notes?token=${cfg.tokens.reader}`, { name: 'Proposed Name' });
  const ro = await waitFor('the read-only badge', async () => ((await ui(reader)).readOnlyBadge ? ui(reader) : null));
  check("read-only: badge, the token's name as me", ro.me === 'Vera Viewer' && ro.meLocked && ro.notice === null, JSON.stringify(ro));
  check('read-only: typing changes nothing', !(await typingChanges(reader)));
  await reader.waitForSelector('.toast');
  await shot(reader, 'demo-read-only');

  const writer = await openPage(`${cfg.auth}/demo/brand-new-doc?token=${cfg.tokens.writer}`, { name: 'Proposed Name' });
  const cc = await waitFor('the cannot-create notice', async () => ((await ui(writer)).notice?.includes('does not exist') ? ui(writer) : null));
  check('a missing document a non-admin cannot create: why, not "could not be created"', cc.notice.includes('needs an admin token') && !cc.body.includes('could not be created') && !cc.editable, JSON.stringify(cc));
  check("a token's name is shown as me", cc.me === 'Walt Writer' && cc.meLocked, cc.me);
  await shot(writer, 'demo-cannot-create');

  const admin = await openPage(`${cfg.auth}/demo/notes?token=${cfg.tokens.admin}`, { name: 'Root' });
  await admin.waitForSelector('#doc-status.synced');
  check('a token that may edit: no notice, editable', (await ui(admin)).notice === null && (await typingChanges(admin)));

  console.log(JSON.stringify({ ok: true, checks }));
  await browser.close();
  process.exit(0);
} catch (e) {
  console.error(`demo states test failed: ${e.stack || e}\npassed before it: ${checks.join('; ')}`);
  for (const [i, p] of pages.entries()) await p.screenshot({ path: `${cfg.out}/failed-demo-states-${i}.png` }).catch(() => {});
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}
