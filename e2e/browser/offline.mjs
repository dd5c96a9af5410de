// Offline across a reload (client-sdk/README.md, "Offline use"): page A goes
// offline (context.setOffline), types, is closed, and is opened again while
// still offline (its page served from what the context loaded before, as a
// cached app shell would be): the text typed offline is there at once and
// takes more edits, and a reload of that tab keeps them. Meanwhile page B
// edits the document. Back online, A's edits land exactly once and both pages
// converge. Run by e2e/browser_test.go:
//
//   node offline.mjs <url of page A> <url of page B> <screenshot dir>
//
// It prints one JSON line {"text": ..., "pills": [...]} and exits 0, or
// prints the failure and exits 1.
import { docPill, launch, NO_LOCAL_NETWORK_CHECKS, openAs, recordPages, text, waitFor as waitForPages } from './pages.mjs';

const [url, urlB, outDir] = process.argv.slice(2);
if (!url || !urlB || !outDir) {
  console.error('usage: node offline.mjs URL_A URL_B OUT_DIR');
  process.exit(2);
}

const pages = [];
const waitFor = (what, fn, ms) => waitForPages(pages, what, fn, ms);
const count = (s, sub) => s.split(sub).length - 1;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

let browser;
try {
  browser = await launch(NO_LOCAL_NETWORK_CHECKS);
  const ctxA = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const shell = recordPages(ctxA);
  let a = await openAs(browser, url, 'Ada', '#e91e63', { context: ctxA });
  const b = await openAs(browser, urlB, 'Bob', '#3f51b5');
  pages.push(a, b);
  const initial = await waitFor('both pages to show the document', async () => {
    const [ta, tb] = [await text(a), await text(b)];
    return ta.length > 0 && ta === tb ? ta : null;
  });
  const pills = [];

  // A goes offline and types.
  await ctxA.setOffline(true);
  await waitFor('page A offline', async () => (await docPill(a)).startsWith('offline'));
  await a.locator('.cm-content').click();
  await a.keyboard.press('Control+End');
  const offline1 = 'typed offline 😀. ';
  await a.keyboard.type(offline1, { delay: 15 });
  pills.push(await waitFor('page A to count its unsynced edits', async () => {
    const p = await docPill(a);
    return /^offline, \d+ unsynced$/.test(p) ? p : null;
  }));
  await sleep(500); // the last keystrokes reach IndexedDB
  await a.close();
  pages.splice(pages.indexOf(a), 1);

  // B edits meanwhile.
  await b.locator('.cm-content').click();
  await b.keyboard.press('Control+Home');
  const fromB = 'Bob was here meanwhile. ';
  await b.keyboard.type(fromB, { delay: 10 });
  await waitFor("page B's edit saved", async () => (await docPill(b)) === 'saved');

  // A opens again, still offline: the stored text is there and takes edits.
  await shell.serveFromCache();
  a = await openAs(browser, url, 'Ada', '#e91e63', { context: ctxA });
  pages.push(a);
  const reopened = await text(a);
  if (!reopened.includes(offline1) || reopened.includes(fromB)) {
    throw new Error(`reopened offline, page A shows ${JSON.stringify(reopened)}: want its own offline edits and not B's`);
  }
  pills.push(await docPill(a));
  await a.locator('.cm-content').click();
  await a.keyboard.press('Control+End');
  const offline2 = 'and after the reload.';
  await a.keyboard.type(offline2, { delay: 15 });
  pills.push(await waitFor('page A still offline with its edits', async () => {
    const p = await docPill(a);
    return /^offline, \d+ unsynced$/.test(p) ? p : null;
  }));
  await a.screenshot({ path: `${outDir}/offline-reopened.png` });
  // A reload of the same tab, still offline: everything is still there.
  await sleep(500);
  await a.reload();
  await a.locator('.cm-content').waitFor({ timeout: 15000 });
  await waitFor('the reloaded page to show its offline edits', async () => {
    const t = await text(a);
    return t.includes(offline1) && t.includes(offline2);
  });

  // Online again: everything lands once, both pages converge.
  await shell.stopServing();
  await ctxA.setOffline(false);
  const current = await waitFor('both pages to converge', async () => {
    const [ta, tb] = [await text(a), await text(b)];
    return ta === tb && ta.includes(offline1) && ta.includes(offline2) && ta.includes(fromB) ? ta : null;
  }, 30000);
  await waitFor('page A saved', async () => (await docPill(a)) === 'saved');
  pills.push(await docPill(a));
  for (const phrase of [offline1, offline2, fromB]) {
    if (count(current, phrase) !== 1) throw new Error(`${JSON.stringify(phrase)} is not there exactly once in ${JSON.stringify(current)}`);
  }
  if (current.length !== initial.length + offline1.length + offline2.length + fromB.length) {
    throw new Error(`text ${JSON.stringify(current)} is not the initial text plus each edit once`);
  }
  await a.screenshot({ path: `${outDir}/offline-synced.png` });
  console.log(JSON.stringify({ text: current, pills }));
  await browser.close();
  process.exit(0);
} catch (e) {
  console.error(`browser test failed: ${e.stack || e}`);
  for (const [i, p] of pages.entries()) await p.screenshot({ path: `${outDir}/offline-failed-page-${i}.png` }).catch(() => {});
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}
