// Helpers shared by the browser tests: open the /demo/ page as a named user,
// read the editor's text, wait for a condition. They drive Debian's chromium
// (CHROMIUM, default /usr/bin/chromium) through playwright-core, which
// downloads no browser.
import { chromium } from 'playwright-core';

export const launch = () =>
  chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });

/**
 * Opens url in a context of its own, as the demo user name with color;
 * options: the window's width and height, dark for a dark colour scheme, and
 * ready, the selector of what shows the page is ready (the text editor).
 */
export async function openAs(browser, url, name, color, { width = 1000, height = 700, dark = false, ready = '.cm-content' } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme: dark ? 'dark' : 'light' });
  await context.addInitScript(([n, c]) => {
    localStorage.setItem('tandem.demo.name', n);
    localStorage.setItem('tandem.demo.color', c);
  }, [name, color]);
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${name}] page error: ${e.message}`));
  await page.goto(url);
  await page.locator(ready).waitFor({ timeout: 15000 });
  return page;
}

// The editor's text: CodeMirror renders one .cm-line per line; the named
// caret widgets inside a line are decoration, not text.
export const text = (page) =>
  page.locator('.cm-content').evaluate((el) =>
    Array.from(el.querySelectorAll('.cm-line'), (l) => {
      const c = l.cloneNode(true);
      c.querySelectorAll('.cm-tandem-caret, .cm-widgetBuffer').forEach((w) => w.remove());
      return c.textContent;
    }).join('\n'),
  );

/** Polls fn until it returns something truthy; on timeout the error shows what pages display. */
export async function waitFor(pages, what, fn, ms = 15000) {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) {
      const seen = await Promise.all(pages.map(async (p) => JSON.stringify(await text(p).catch((e) => String(e)))));
      throw new Error(`timed out waiting for ${what}; the pages show ${seen.join(' and ')}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const caretLabels = (page) => page.locator('.cm-tandem-caret-label').allInnerTexts();
