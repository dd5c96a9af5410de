// Two people type different words, with emoji, at one spot at the same time:
// two browser pages open the /demo/ page of one document on two tandem nodes,
// put their carets at the same place (the end of the first line, then the
// start of the second), and type at once. The texts must converge with every
// phrase whole, as the protocol's ties by sid and caret rule promise
// (docs/protocol.md, "Concurrent edits"). Run by e2e/browser_test.go:
//
//   node same_spot.mjs <url of page A> <url of page B> <screenshot dir>
//
// It prints one JSON line {"text": ..., "rounds": [[phraseA, phraseB], ...]}
// and exits 0, or prints the failure and exits 1. Screenshots of both pages
// showing the whole words go to the screenshot dir.
import { launch, openAs, text, waitFor as waitForPages } from './pages.mjs';

const [urlA, urlB, outDir] = process.argv.slice(2);
if (!urlA || !urlB || !outDir) {
  console.error('usage: node same_spot.mjs URL_A URL_B OUT_DIR');
  process.exit(2);
}

const pages = [];
const waitFor = (what, fn, ms) => waitForPages(pages, what, fn, ms);
const count = (s, sub) => s.split(sub).length - 1;

// Each round: where both carets go (keys pressed after a click in the
// editor), and what each page types there, one key press at a time.
const rounds = [
  { keys: ['Control+Home', 'End'], a: 'alpha 😀 one ', b: 'beta 👍 two ' },
  { keys: ['Control+Home', 'ArrowDown', 'Home'], a: 'gamma 🎉 three ', b: 'delta 🍀 four ' },
];

let browser;
try {
  browser = await launch();
  const a = await openAs(browser, urlA, 'Ada', '#e91e63');
  const b = await openAs(browser, urlB, 'Bob', '#3f51b5');
  pages.push(a, b);
  let current = await waitFor('both pages to show the document', async () => {
    const [ta, tb] = [await text(a), await text(b)];
    return ta.length > 0 && ta === tb ? ta : null;
  });
  const typed = [];
  for (const [i, r] of rounds.entries()) {
    for (const p of pages) {
      await p.locator('.cm-content').click();
      for (const k of r.keys) await p.keyboard.press(k);
    }
    // Both carets are at the same place before anyone types.
    await Promise.all([
      a.keyboard.type(r.a, { delay: 25 }),
      b.keyboard.type(r.b, { delay: 25 }),
    ]);
    typed.push(r.a, r.b);
    const before = current;
    current = await waitFor(`round ${i + 1}: identical text on both pages`, async () => {
      const [ta, tb] = [await text(a), await text(b)];
      return ta === tb && [...ta].length === [...before].length + [...r.a].length + [...r.b].length ? ta : null;
    });
    for (const phrase of typed) {
      if (count(current, phrase) !== 1) {
        throw new Error(`round ${i + 1}: ${JSON.stringify(phrase)} is not whole in ${JSON.stringify(current)}`);
      }
    }
    // One phrase follows the other at the spot, in one order or the other.
    if (!current.includes(r.a + r.b) && !current.includes(r.b + r.a)) {
      throw new Error(`round ${i + 1}: the two phrases are not side by side in ${JSON.stringify(current)}`);
    }
  }
  // Screenshots of the demo showing the whole words: carets at the end of the
  // longer second line, so that the name labels above them cover no text.
  for (const p of pages) {
    await p.locator('.cm-content').click();
    for (const k of ['Control+Home', 'ArrowDown', 'End']) await p.keyboard.press(k);
  }
  await new Promise((r) => setTimeout(r, 300));
  await a.screenshot({ path: `${outDir}/same-spot-page-a.png` });
  await b.screenshot({ path: `${outDir}/same-spot-page-b.png` });
  console.log(JSON.stringify({ text: current, rounds: rounds.map((r) => [r.a, r.b]) }));
  await browser.close();
  process.exit(0);
} catch (e) {
  console.error(`browser test failed: ${e.stack || e}`);
  for (const [i, p] of pages.entries()) await p.screenshot({ path: `${outDir}/same-spot-failed-page-${i}.png` }).catch(() => {});
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}
