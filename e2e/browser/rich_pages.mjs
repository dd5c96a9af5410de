// Two people edit one rich-text document at once in the /demo/rich/ page:
// page A types a phrase at the end of the paragraph and bolds its last word,
// while page B turns the same paragraph into a heading and types into it.
// Both pages must end with one identical Delta, read through the SDK
// (window.tandemDemo.doc.delta()), with the bold and the heading both
// applied, and each page must show the other's named caret. Page A is Tiptap;
// page B is Tiptap too, or Quill with "quill" or a URL with ?editor=quill
// (the page's Quill mode). Run by e2e/browser_rich_test.go:
//
//   node rich_pages.mjs <url of page A> <url of page B> <screenshot dir> [quill]
//
// It prints one JSON line {"delta": [...]} and exits 0, or prints the failure
// and exits 1. Screenshots of both pages go to the screenshot dir.
import { launch, openAs } from './pages.mjs';

const [urlA, urlB0, outDir, mode] = process.argv.slice(2);
if (!urlA || !urlB0 || !outDir) {
  console.error('usage: node rich_pages.mjs URL_A URL_B OUT_DIR [quill]');
  process.exit(2);
}
const quill = mode === 'quill' || urlB0.includes('editor=quill');
const urlB = quill && !urlB0.includes('editor=quill') ? `${urlB0}${urlB0.includes('?') ? '&' : '?'}editor=quill` : urlB0;
const tag = quill ? 'rich-quill' : 'rich-tiptap';

/** Opens the rich demo as `name`; waits for its editor and the first sync. */
async function open(browser, url, name, color) {
  const page = await openAs(browser, url, name, color, { ready: quill && url === urlB ? '.ql-editor' : '.ProseMirror' });
  await page.waitForFunction(() => window.tandemDemo?.doc?.status === 'synced', null, { timeout: 15000 });
  return page;
}

const delta = (p) => p.evaluate(() => JSON.stringify(window.tandemDemo.doc.delta()));
const settled = (p) => p.evaluate(() => window.tandemDemo.doc.status === 'synced');

async function waitFor(pages, what, fn, ms = 15000) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) {
      const seen = await Promise.all(pages.map((p) => delta(p).catch((e) => String(e))));
      throw new Error(`timed out waiting for ${what}; the pages hold ${seen.join(' and ')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Puts the caret at the start or the end of a one-line paragraph by clicking beside its text, as a user does. */
async function clickLine(line, where) {
  const box = await line.boundingBox();
  if (!box) throw new Error('the paragraph is not visible');
  await line.page().mouse.click(where === 'start' ? box.x + 1 : box.x + box.width - 2, box.y + box.height / 2);
}

let browser;
try {
  browser = await launch();
  const a = await open(browser, urlA, 'Ada', '#e91e63');
  const b = await open(browser, urlB, 'Bob', '#3f51b5');
  const pages = [a, b];
  const start = await waitFor(pages, 'both pages to hold the document', async () => {
    const [da, db] = [await delta(a), await delta(b)];
    return da === db ? JSON.parse(da) : null;
  });
  const startText = start.map((d) => (typeof d === 'string' ? d : d.i ?? '\uFFFC')).join('');

  // A: the end of the paragraph, type, then select the last word and bold it (Ctrl+B).
  const editA = async () => {
    await clickLine(a.locator('.ProseMirror > *').first(), 'end');
    await a.keyboard.type(' and a bold word', { delay: 30 });
    for (let i = 0; i < 4; i++) await a.keyboard.press('Shift+ArrowLeft');
    await a.keyboard.press('Control+b');
  };
  // B: the start of the same paragraph, make it a heading 1, type into it.
  const editB = async () => {
    if (quill) {
      await clickLine(b.locator('.ql-editor > *').first(), 'start');
      await b.locator('.ql-header .ql-picker-label').click();
      await b.locator('.ql-header .ql-picker-item[data-value="1"]').click();
      await clickLine(b.locator('.ql-editor > *').first(), 'start');
    } else {
      await clickLine(b.locator('.ProseMirror > *').first(), 'start');
      await b.locator('button[title="Heading 1"]').click();
    }
    await b.keyboard.type('Title: ', { delay: 30 });
  };
  await Promise.all([editA(), editB()]);

  const final = await waitFor(pages, 'one identical Delta on both pages with both edits', async () => {
    if (!(await settled(a)) || !(await settled(b))) return null;
    const [da, db] = [await delta(a), await delta(b)];
    if (da !== db) return null;
    const d = JSON.parse(da);
    const text = d.map((x) => (typeof x === 'string' ? x : x.i ?? '\uFFFC')).join('');
    return text.includes('Title: ') && text.includes(' and a bold word') ? d : null;
  });
  const text = final.map((x) => (typeof x === 'string' ? x : x.i ?? '\uFFFC')).join('');
  const firstLine = text.slice(0, text.indexOf('\n'));
  if (firstLine !== `Title: ${startText.slice(0, startText.indexOf('\n'))} and a bold word`) {
    throw new Error(`the first line is ${JSON.stringify(firstLine)}: ${JSON.stringify(final)}`);
  }
  // Both formats: "word" is bold, and the first line's "\n" is a heading 1.
  const bold = final.find((x) => typeof x === 'object' && x.a?.bold === true);
  if (!bold || bold.i !== 'word') throw new Error(`"word" is not the bold text: ${JSON.stringify(final)}`);
  const nl = final.find((x) => (typeof x === 'string' ? x.includes('\n') : x.i?.includes('\n')));
  if (typeof nl !== 'object' || nl.a?.heading !== 1) throw new Error(`the first line is not a heading 1: ${JSON.stringify(final)}`);

  // Each page shows the other's named caret.
  const labelsA = await waitFor(pages, "Bob's caret on page A", async () => {
    const l = await a.locator('.pm-tandem-caret-label').allInnerTexts();
    return l.includes('Bob') ? l : null;
  });
  const labelSel = quill ? '.ql-tandem-caret-label' : '.pm-tandem-caret-label';
  const labelsB = await waitFor(pages, "Ada's caret on page B", async () => {
    const l = await b.locator(labelSel).allInnerTexts();
    return l.includes('Ada') ? l : null;
  });
  // What each editor shows: a heading with the bold word in it.
  if (quill) {
    await b.locator('.ql-editor h1 strong').waitFor({ timeout: 5000 });
  } else {
    await b.locator('.ProseMirror h1 strong').waitFor({ timeout: 5000 });
  }
  await a.locator('.ProseMirror h1 strong').waitFor({ timeout: 5000 });
  await a.screenshot({ path: `${outDir}/${tag}-page-a.png` });
  await b.screenshot({ path: `${outDir}/${tag}-page-b.png` });
  console.log(JSON.stringify({ delta: final, carets: [labelsA, labelsB] }));
  await browser.close();
} catch (e) {
  console.error(e?.stack ?? String(e));
  await browser?.close();
  process.exit(1);
}
