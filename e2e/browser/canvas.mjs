// Two browser pages on one board of the /demo/canvas/ page: page A creates
// three shapes and drags one, while page B drags another and types into a
// sticky note. Both must end with the same content, read through the SDK
// (window.tandem.doc().toJSON()), not the DOM; each must show the other's
// named cursor. Screenshots go to the output directory.
//
//   node canvas.mjs <url of page A> <url of page B> <screenshot dir>
//
// Drives Debian's chromium (CHROMIUM, default /usr/bin/chromium) through
// playwright-core. Prints one JSON line {"content": ...} and exits 0, or
// prints the failure and exits 1.
import { launch, openAs } from './pages.mjs';

const [urlA, urlB, outDir] = process.argv.slice(2);
if (!urlA || !urlB || !outDir) {
  console.error('usage: node canvas.mjs URL_A URL_B OUT_DIR');
  process.exit(2);
}

// The content as JSON with every map's keys sorted: property order is not content.
const content = (page) =>
  page.evaluate(() => {
    const sorted = (v) =>
      v === null || typeof v !== 'object' || Array.isArray(v) ? v : Object.fromEntries(Object.keys(v).sort().map((k) => [k, sorted(v[k])]));
    return JSON.stringify(sorted(window.tandem.doc()?.toJSON() ?? null));
  });
const ids = async (page) => Object.keys(JSON.parse(await content(page)) ?? {});

async function waitFor(what, fn, ms = 20000) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) {
      const seen = await Promise.all(pages.map((p) => content(p).catch((e) => String(e))));
      throw new Error(`timed out waiting for ${what}; the pages hold ${seen.join(' and ')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function openBoard(browser, url, name, color) {
  const page = await openAs(browser, url, name, color, { width: 1200, height: 760, ready: '#doc-status.synced' });
  await page.locator('.shape[data-id="box"]').waitFor({ timeout: 20000 });
  return page;
}

/**
 * Drags the middle of shape `id` by (dx, dy) in small steps, as a hand
 * would; returns the id of the shape actually grabbed (the topmost one at
 * that point: a newer shape may cover part of `id`).
 */
async function drag(page, id, dx, dy) {
  const box = await page.locator(`.shape[data-id="${id}"]`).boundingBox();
  if (box === null) throw new Error(`shape ${id} is not on the page`);
  const x = box.x + box.width / 2;
  const y = box.y + box.height / 2;
  const grabbed = await page.evaluate(([px, py]) => document.elementFromPoint(px, py)?.closest('.shape')?.dataset.id, [x, y]);
  await page.mouse.move(x, y);
  await page.mouse.down();
  await page.mouse.move(x + dx, y + dy, { steps: 20 });
  await page.mouse.up();
  return grabbed;
}

/** Clicks a toolbar button that adds a shape; returns the new object's id. */
async function add(page, kind) {
  const before = new Set(await ids(page));
  await page.locator(`[data-add="${kind}"]`).click();
  const id = await waitFor(`the new ${kind}`, async () => (await ids(page)).find((x) => !before.has(x)));
  // A new note opens for writing on the next animation frame, after it is
  // in the document: Escape before that would leave it open, and its text box
  // would then take the mouse that is meant to drag it.
  const input = page.locator(`.shape[data-id="${id}"] .note-input`);
  if (kind === 'note') await input.waitFor({ timeout: 20000 });
  await page.keyboard.press('Escape');
  if (kind === 'note') await input.waitFor({ state: 'detached', timeout: 20000 });
  return id;
}

let browser;
const pages = [];
try {
  browser = await launch();
  const a = await openBoard(browser, urlA, 'Ada', '#e91e63');
  const b = await openBoard(browser, urlB, 'Bob', '#3f51b5');
  pages.push(a, b);
  const start = JSON.parse(await content(a));
  const noteBefore = start.hello.props.text;

  const made = [];
  const dragged = {};
  await Promise.all([
    (async () => {
      made.push(await add(a, 'rect'), await add(a, 'ellipse'), await add(a, 'note'));
      const id = made[2];
      const before = JSON.parse(await content(a))[id].props;
      dragged.a = { id: await drag(a, id, 180, 120), before };
    })(),
    (async () => {
      const before = JSON.parse(await content(b)).box.props;
      dragged.b = { id: await drag(b, 'box', -120, 140), before };
      await b.locator('.shape[data-id="hello"]').dblclick();
      await b.keyboard.press('Control+End');
      await b.keyboard.type(' Bob was here.', { delay: 20 });
      await b.keyboard.press('Escape');
    })(),
  ]);

  const final = await waitFor('the same content on both pages', async () => {
    const [ca, cb] = [await content(a), await content(b)];
    if (ca !== cb) return null;
    const c = JSON.parse(ca);
    return made.every((id) => c[id] !== undefined) && c.hello.props.text.endsWith(' Bob was here.') ? c : null;
  });
  // What each did is in it: A's three shapes, both drags (by exactly the mouse's way at zoom 100%) and B's words.
  for (const [who, { id, before }, dx, dy] of [['A', dragged.a, 180, 120], ['B', dragged.b, -120, 140]]) {
    const after = final[id]?.props;
    if (id !== made[2] && id !== 'box') throw new Error(`${who} grabbed ${id}, not the shape it aimed at`);
    if (after?.x !== before.x + dx || after?.y !== before.y + dy) throw new Error(`${who}'s drag of ${id}: ${JSON.stringify(before)} became ${JSON.stringify(after)}`);
  }
  if (final.hello.props.text !== `${noteBefore} Bob was here.`) throw new Error(`note text ${JSON.stringify(final.hello.props.text)}`);

  // Everyone's cursor: each moves the mouse over the board and sees the other's named pointer.
  await a.mouse.move(420, 420, { steps: 5 });
  await b.mouse.move(620, 360, { steps: 5 });
  const pointerNames = (page) => page.locator('.pointer:not(.hidden) .name').allInnerTexts();
  await waitFor("Bob's cursor on page A", async () => (await pointerNames(a)).includes('Bob'));
  await waitFor("Ada's cursor on page B", async () => (await pointerNames(b)).includes('Ada'));
  // And the other's selection outline (each selected the shape it dragged last).
  await waitFor("Bob's selection on page A", async () => (await a.locator('.peer-sel span').allInnerTexts()).includes('Bob'));
  await a.screenshot({ path: `${outDir}/canvas-page-a.png` });
  await b.screenshot({ path: `${outDir}/canvas-page-b.png` });
  console.log(JSON.stringify({ content: final }));
  await browser.close();
  process.exit(0);
} catch (e) {
  console.error(`browser test failed: ${e.stack || e}`);
  for (const [i, p] of pages.entries()) await p.screenshot({ path: `${outDir}/canvas-failed-page-${i}.png` }).catch(() => {});
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}
