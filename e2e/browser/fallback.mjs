// The HTTP fallback in a browser (docs/protocol.md, section 17): page A's
// WebSocket to /v1/ws is blocked (as a proxy that kills the upgrade would),
// page B is normal. A switches to Server-Sent Events and POSTs by itself;
// both type, the texts converge both ways, and each page shows the other's
// named caret. Run by e2e/browser_test.go:
//
//   node fallback.mjs <url of page A> <url of page B> <screenshot dir>
//
// It prints one JSON line {"text": ..., "transport": ...} and exits 0, or
// prints the failure and exits 1.
import { caretLabels, connPill, launch, openAs, text, waitFor as waitForPages } from './pages.mjs';

const [urlA, urlB, outDir] = process.argv.slice(2);
if (!urlA || !urlB || !outDir) {
  console.error('usage: node fallback.mjs URL_A URL_B OUT_DIR');
  process.exit(2);
}

const pages = [];
const waitFor = (what, fn, ms) => waitForPages(pages, what, fn, ms);
const count = (s, sub) => s.split(sub).length - 1;

let browser;
try {
  browser = await launch();
  // A's WebSocket upgrades fail: page.route aborts them, and (for Chromium
  // builds whose WebSockets bypass page.route) routeWebSocket closes them
  // before the server could answer.
  const ctxA = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const blocked = { ws: 0 };
  await ctxA.route('**/v1/ws**', (route) => {
    blocked.ws++;
    return route.abort('connectionrefused');
  });
  await ctxA.routeWebSocket('**/v1/ws**', (ws) => {
    blocked.ws++;
    ws.close({ code: 1006, reason: 'blocked by the test' });
  });
  const a = await openAs(browser, urlA, 'Ada', '#e91e63', { context: ctxA });
  const b = await openAs(browser, urlB, 'Bob', '#3f51b5');
  pages.push(a, b);
  await waitFor('page A on the HTTP fallback', async () => (await connPill(a)).includes('HTTP fallback'));
  let current = await waitFor('both pages to show the document', async () => {
    const [ta, tb] = [await text(a), await text(b)];
    return ta.length > 0 && ta === tb ? ta : null;
  });
  // Each types at its own line, one key at a time, at the same time.
  for (const p of pages) {
    await p.locator('.cm-content').click();
    await p.keyboard.press('Control+End');
  }
  await a.keyboard.press('Control+Home');
  const phraseA = 'over SSE 😀 from Ada. ';
  const phraseB = ' and over a WebSocket from Bob 👍';
  await Promise.all([a.keyboard.type(phraseA, { delay: 20 }), b.keyboard.type(phraseB, { delay: 20 })]);
  current = await waitFor('identical text on both pages', async () => {
    const [ta, tb] = [await text(a), await text(b)];
    return ta === tb && ta.includes(phraseA) && ta.includes(phraseB) ? ta : null;
  });
  for (const phrase of [phraseA, phraseB]) {
    if (count(current, phrase) !== 1) throw new Error(`${JSON.stringify(phrase)} is not there exactly once in ${JSON.stringify(current)}`);
  }
  // Each page shows the other's named caret.
  await waitFor("Bob's caret on page A", async () => (await caretLabels(a)).includes('Bob'));
  await waitFor("Ada's caret on page B", async () => (await caretLabels(b)).includes('Ada'));
  // The caret follows typing over the fallback: Ada types more, Bob sees her caret move with it.
  await a.keyboard.type('more', { delay: 20 });
  current = await waitFor('the second edit on both pages', async () => {
    const [ta, tb] = [await text(a), await text(b)];
    return ta === tb && ta.includes(phraseA + 'more') ? ta : null;
  });
  await waitFor("Ada's caret still on page B", async () => (await caretLabels(b)).includes('Ada'));
  if (blocked.ws === 0) throw new Error('the test never blocked a WebSocket of page A');
  await a.screenshot({ path: `${outDir}/fallback-page-a.png` });
  await b.screenshot({ path: `${outDir}/fallback-page-b.png` });
  console.log(JSON.stringify({ text: current, transport: await connPill(a), blocked: blocked.ws }));
  await browser.close();
  process.exit(0);
} catch (e) {
  console.error(`browser test failed: ${e.stack || e}`);
  for (const [i, p] of pages.entries()) await p.screenshot({ path: `${outDir}/fallback-failed-page-${i}.png` }).catch(() => {});
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}
