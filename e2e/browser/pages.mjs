// What the browser tests share: opening the demo as a named user, and reading
// the editor's text.

/**
 * Opens url in a new browser context as a demo user (name and colour preset
 * in localStorage) and waits for the editor. Options: width, height, dark.
 */
export async function openAs(browser, url, { name, color, width = 1000, height = 700, dark = false }) {
  const context = await browser.newContext({ viewport: { width, height }, colorScheme: dark ? 'dark' : 'light' });
  await context.addInitScript(([n, c]) => {
    localStorage.setItem('tandem.demo.name', n);
    localStorage.setItem('tandem.demo.color', c);
  }, [name, color]);
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${name}] page error: ${e.message}`));
  await page.goto(url);
  await page.locator('.cm-content').waitFor({ timeout: 15000 });
  return page;
}

/**
 * The editor's text: CodeMirror renders one .cm-line per line; the named
 * caret widgets inside a line are decoration, not text.
 */
export const editorText = (page) =>
  page.locator('.cm-content').evaluate((el) =>
    Array.from(el.querySelectorAll('.cm-line'), (l) => {
      const c = l.cloneNode(true);
      c.querySelectorAll('.cm-tandem-caret, .cm-widgetBuffer').forEach((w) => w.remove());
      return c.textContent;
    }).join('\n'),
  );
