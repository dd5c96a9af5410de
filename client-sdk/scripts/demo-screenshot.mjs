// Opens the demo of a running server in two headless Chromium pages (two
// users), types in both, selects text and moves the mouse, then saves a
// screenshot of each page. A manual check of the demo, not a test suite:
//
//   node scripts/demo-screenshot.mjs http://127.0.0.1:8080 [out-dir]
//
// Uses playwright-core with the system Chromium (CHROMIUM=/usr/bin/chromium);
// it never downloads a browser.
import { chromium } from 'playwright-core';

const base = process.argv[2] ?? 'http://127.0.0.1:8080';
const out = process.argv[3] ?? '.';
const docId = `shot-${Date.now().toString(36)}`;

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
const problems = [];
async function user(name, color) {
  const ctx = await browser.newContext({ viewport: { width: 1100, height: 640 }, deviceScaleFactor: Number(process.env.SCALE ?? 1) });
  await ctx.addInitScript(([n, c]) => {
    localStorage.setItem('tandem.demo.name', n);
    localStorage.setItem('tandem.demo.color', c);
  }, [name, color]);
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error' && !/409/.test(m.text())) problems.push(`${name}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`${name}: ${e.message}`));
  await page.goto(`${base}/demo/${docId}`);
  await page.waitForSelector('#doc-status.synced', { timeout: 10000 });
  return page;
}

const alice = await user('Alice', '#e91e63');
const bob = await user('Bob', '#3f51b5');
await alice.click('.cm-content');
await alice.keyboard.type('Hello from Alice 👋\nThis line is shared live.\n');
await bob.waitForFunction(() => document.querySelector('.cm-content')?.textContent?.includes('shared live'));
await bob.click('.cm-content');
await bob.keyboard.press('Control+End');
await bob.keyboard.type('Bob was here 🚀 ');
// Bob selects "shared live" on line 2; Alice puts her caret at the end of line 1.
await bob.evaluate(() => {
  const line = [...document.querySelectorAll('.cm-line')][1];
  const text = line.firstChild;
  const i = text.textContent.indexOf('shared');
  const r = document.createRange();
  r.setStart(text, i);
  r.setEnd(text, i + 'shared live'.length);
  const s = getSelection();
  s.removeAllRanges();
  s.addRange(r);
});
await alice.keyboard.press('Control+Home');
await alice.keyboard.press('End');
// Mouse pointers: each moves over the page; the other sees it (smoothed).
await alice.mouse.move(300, 420, { steps: 8 });
await bob.mouse.move(700, 380, { steps: 8 });
await alice.waitForSelector('.pointer:not(.hidden)', { timeout: 5000 });
await bob.waitForSelector('.pointer:not(.hidden)', { timeout: 5000 });
await alice.waitForTimeout(600);
// The shared text as each editor shows it, without the peers' caret labels.
const texts = await Promise.all(
  [alice, bob].map((p) =>
    p.evaluate(() => {
      const c = document.querySelector('.cm-content').cloneNode(true);
      for (const el of c.querySelectorAll('.cm-tandem-caret')) el.remove();
      return [...c.querySelectorAll('.cm-line')].map((l) => l.textContent).join('\n');
    }),
  ),
);
if (texts[0] !== texts[1]) problems.push(`texts differ:\n${texts[0]}\n---\n${texts[1]}`);
await alice.screenshot({ path: `${out}/demo-alice.png` });
await bob.screenshot({ path: `${out}/demo-bob.png` });
// A close-up of Bob's pointer as Alice sees it.
const box = await alice.locator('.pointer').first().boundingBox();
if (box !== null) await alice.screenshot({ path: `${out}/demo-pointer.png`, clip: { x: Math.max(0, box.x - 30), y: Math.max(0, box.y - 30), width: 160, height: 80 } });
const peers = await alice.evaluate(() => document.querySelector('#peers').innerText);
console.log(JSON.stringify({ docId, peersSeenByAlice: peers, text: texts[0], problems }, null, 2));
await browser.close();
process.exit(problems.length === 0 ? 0 : 1);
