// Two tabs of one browser (one context: one IndexedDB) on one document go
// offline, both type, come back online: each tab has its own sid and its own
// stored pending edits, and everything lands exactly once, converging with a
// third page in another browser context. Run by e2e/browser_test.go:
//
//   node two_tabs.mjs <url of the tabs> <url of the third page> <screenshot dir>
//
// It prints one JSON line {"text": ..., "sids": [...]} and exits 0, or prints
// the failure and exits 1.
import { docPill, launch, openAs, text, waitFor as waitForPages } from './pages.mjs';

const [url, urlB, outDir] = process.argv.slice(2);
if (!url || !urlB || !outDir) {
  console.error('usage: node two_tabs.mjs URL_TABS URL_OTHER OUT_DIR');
  process.exit(2);
}

const pages = [];
const waitFor = (what, fn, ms) => waitForPages(pages, what, fn, ms);
const count = (s, sub) => s.split(sub).length - 1;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// The tab's sid, as the SDK keeps it in sessionStorage.
const sidOf = (page) => page.evaluate(() => sessionStorage.getItem('tandem.sid'));

let browser;
try {
  browser = await launch();
  const ctx = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const t1 = await openAs(browser, url, 'Ada', '#e91e63', { context: ctx });
  const t2 = await ctx.newPage();
  t2.on('pageerror', (e) => console.error(`[tab 2] page error: ${e.message}`));
  await t2.goto(url);
  await t2.locator('.cm-content').waitFor({ timeout: 15000 });
  const other = await openAs(browser, urlB, 'Bob', '#3f51b5');
  pages.push(t1, t2, other);
  const initial = await waitFor('all pages to show the document', async () => {
    const [a, b, c] = [await text(t1), await text(t2), await text(other)];
    return a.length > 0 && a === b && b === c ? a : null;
  });
  const sids = [await sidOf(t1), await sidOf(t2)];
  if (sids[0] === null || sids[0] === sids[1]) throw new Error(`the two tabs share sid ${sids[0]}`);

  await ctx.setOffline(true);
  await waitFor('both tabs offline', async () => (await docPill(t1)).startsWith('offline') && (await docPill(t2)).startsWith('offline'));
  const p1 = 'first tab, offline. ';
  const p2 = ' second tab, offline 👍';
  await t1.locator('.cm-content').click();
  await t1.keyboard.press('Control+Home');
  await t1.keyboard.type(p1, { delay: 10 });
  await t2.locator('.cm-content').click();
  await t2.keyboard.press('Control+End');
  await t2.keyboard.type(p2, { delay: 10 });
  const p3 = 'Bob online. ';
  await other.locator('.cm-content').click();
  await other.keyboard.press('Control+Home');
  await other.keyboard.type(p3, { delay: 10 });
  for (const t of [t1, t2]) {
    await waitFor('a tab counting its unsynced edits', async () => /^offline, \d+ unsynced$/.test(await docPill(t)));
  }
  // Each tab shows only its own offline edits: nothing of the other's leaked or was overwritten.
  if ((await text(t1)).includes(p2) || (await text(t2)).includes(p1)) throw new Error('an offline tab shows the other tab\'s offline edits');
  await sleep(300);

  await ctx.setOffline(false);
  const current = await waitFor('all pages to converge', async () => {
    const [a, b, c] = [await text(t1), await text(t2), await text(other)];
    return a === b && b === c && a.includes(p1) && a.includes(p2) && a.includes(p3) ? a : null;
  }, 30000);
  for (const t of [t1, t2]) await waitFor('a tab saved', async () => (await docPill(t)) === 'saved');
  for (const phrase of [p1, p2, p3]) {
    if (count(current, phrase) !== 1) throw new Error(`${JSON.stringify(phrase)} is not there exactly once in ${JSON.stringify(current)}`);
  }
  if (current.length !== initial.length + p1.length + p2.length + p3.length) {
    throw new Error(`text ${JSON.stringify(current)} is not the initial text plus each edit once`);
  }
  await t1.screenshot({ path: `${outDir}/two-tabs.png` });
  console.log(JSON.stringify({ text: current, sids }));
  await browser.close();
  process.exit(0);
} catch (e) {
  console.error(`browser test failed: ${e.stack || e}`);
  for (const [i, p] of pages.entries()) await p.screenshot({ path: `${outDir}/two-tabs-failed-page-${i}.png` }).catch(() => {});
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}
