// Two browser pages open the /demo/ page of one document on two different
// tandem nodes, type at once, and must end with identical text, each showing
// the other's named caret. Run by e2e/browser_test.go:
//
//   node two_pages.mjs <url of page A> <url of page B> <screenshot dir>
//
// It drives Debian's chromium (CHROMIUM, default /usr/bin/chromium) through
// playwright-core, which downloads no browser. It prints one JSON line
// {"text": ...} and exits 0, or prints the failure and exits 1.
import { caretLabels, launch, openAs, text, waitFor as waitForPages } from './pages.mjs';

const [urlA, urlB, outDir] = process.argv.slice(2);
if (!urlA || !urlB || !outDir) {
  console.error('usage: node two_pages.mjs URL_A URL_B OUT_DIR');
  process.exit(2);
}

const waitFor = (what, fn, ms) => waitForPages(pages, what, fn, ms);

let browser;
const pages = [];
try {
  browser = await launch();
  const a = await openAs(browser, urlA, 'Ada', '#e91e63');
  const b = await openAs(browser, urlB, 'Bob', '#3f51b5');
  pages.push(a, b);
  const initial = await waitFor('both pages to show the document', async () => {
    const [ta, tb] = [await text(a), await text(b)];
    return ta.length > 0 && ta === tb ? ta : null;
  });

  // Each puts its caret somewhere: A at the end, B at the start.
  await a.locator('.cm-content').click();
  await a.keyboard.press('Control+End');
  await b.locator('.cm-content').click();
  await b.keyboard.press('Control+Home');
  await Promise.all([
    a.keyboard.type(' Ada types on node A.', { delay: 15 }),
    b.keyboard.type('Bob types on node B. ', { delay: 15 }),
  ]);

  const final = await waitFor('identical text on both pages', async () => {
    const [ta, tb] = [await text(a), await text(b)];
    return ta === tb && ta.includes('Ada types on node A.') && ta.includes('Bob types on node B.') ? ta : null;
  });
  if (final.length !== initial.length + ' Ada types on node A.'.length + 'Bob types on node B. '.length) {
    throw new Error(`unexpected final text ${JSON.stringify(final)}`);
  }
  await waitFor("Bob's named caret on page A", async () => (await caretLabels(a)).some((l) => l.includes('Bob')));
  await waitFor("Ada's named caret on page B", async () => (await caretLabels(b)).some((l) => l.includes('Ada')));
  await a.screenshot({ path: `${outDir}/page-a-node-a.png` });
  await b.screenshot({ path: `${outDir}/page-b-node-b.png` });
  console.log(JSON.stringify({ text: final }));
  await browser.close();
  process.exit(0);
} catch (e) {
  console.error(`browser test failed: ${e.stack || e}`);
  for (const [i, p] of pages.entries()) await p.screenshot({ path: `${outDir}/failed-page-${i}.png` }).catch(() => {});
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}
