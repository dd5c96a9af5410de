// A browser app on another origin calls the REST API (docs/api.md, "CORS"
// and "Rate limit"). The page at APP_URL is served from an origin listed in
// TANDEM_ALLOWED_ORIGINS, the page at OTHER_URL from one that is not; the
// API is at API (a server with tokens, a low REST rate). Run by
// e2e/browser_test.go:
//
//   node cors.mjs <APP_URL> <OTHER_URL> <API> <admin token> <doc id>
//
// It prints one JSON line of what the pages saw and exits 0, or prints the
// failure and exits 1. The Go test checks the figures.
import { launch } from './pages.mjs';

const [appURL, otherURL, api, token, doc] = process.argv.slice(2);
if (!appURL || !otherURL || !api || !token || !doc) {
  console.error('usage: node cors.mjs APP_URL OTHER_URL API TOKEN DOC');
  process.exit(2);
}

// What an app does with fetch: create a document (a POST with a JSON body
// and an Authorization header: preflighted), read its Location, read the
// document back, then call the API in a burst until it answers 429 and read
// Retry-After.
const calls = async ({ api, token, doc }) => {
  const out = {};
  const auth = { Authorization: `Bearer ${token}` };
  try {
    const r = await fetch(`${api}/v1/docs`, {
      method: 'POST',
      headers: { ...auth, 'Content-Type': 'application/json' },
      body: JSON.stringify({ id: doc, content: 'from another origin' }),
    });
    out.create = { status: r.status, location: r.headers.get('Location') };
  } catch (e) {
    out.create = { error: String(e) };
    return out;
  }
  try {
    const r = await fetch(`${api}/v1/docs/${doc}`, { headers: auth });
    const body = await r.json();
    out.read = { status: r.status, content: body.content };
  } catch (e) {
    out.read = { error: String(e) };
  }
  out.burst = [];
  for (let i = 0; i < 40; i++) {
    const r = await fetch(`${api}/v1/docs/${doc}`, { headers: auth });
    if (r.status !== 200) {
      const problem = await r.json();
      out.limited = { status: r.status, retryAfter: r.headers.get('Retry-After'), code: problem.code, after: i };
      break;
    }
  }
  return out;
};

let browser;
try {
  browser = await launch();
  const page = await browser.newPage();
  await page.goto(appURL);
  const app = await page.evaluate(calls, { api, token, doc });
  const other = await browser.newPage();
  await other.goto(otherURL);
  const blocked = await other.evaluate(calls, { api, token, doc: `${doc}-other` });
  console.log(JSON.stringify({ app, other: blocked }));
  await browser.close();
} catch (e) {
  console.error(e);
  await browser?.close();
  process.exit(1);
}
