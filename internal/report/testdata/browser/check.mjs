// Opens a faultline HTML report in headless Chromium (Debian's
// /usr/bin/chromium, driven by playwright-core) and prints one JSON verdict
// on stdout for report_browser_test.go to assert:
//   node check.mjs REPORT.html SCREENSHOT.png
// Environment:
//   FAULTLINE_NODE_DIR  where hack/install-browser.sh put playwright-core
//   FAULTLINE_CHROMIUM  the browser (default /usr/bin/chromium)
// Every request that is not file: or data: is blocked and listed, so the
// test proves the report needs no network.
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [, , htmlArg, shotArg] = process.argv;
if (!htmlArg || !shotArg) {
  console.error('usage: node check.mjs REPORT.html SCREENSHOT.png');
  process.exit(2);
}
const nodeDir = process.env.FAULTLINE_NODE_DIR || join(homedir(), '.cache', 'faultline', 'node');
const executablePath = process.env.FAULTLINE_CHROMIUM || '/usr/bin/chromium';
// playwright-core lives in the install cache, not beside this script, so
// resolve it from there (ESM imports ignore NODE_PATH).
const { chromium } = createRequire(join(nodeDir, 'package.json'))('playwright-core');

const result = {
  ok: false,
  title: '',
  consoleErrors: [],
  pageErrors: [],
  external: [],
  charts: [],
  state: null,
  verdicts: [],
  resized: [],
  zoomed: [],
  reset: [],
  screenshot: resolve(shotArg),
};

// A fresh profile per run: no state leaks between runs, nothing is synced.
const userDataDir = mkdtempSync(join(tmpdir(), 'faultline-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
  });
  await context.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file:') || url.startsWith('data:')) return route.continue();
    result.external.push(url);
    return route.abort();
  });
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (msg) => {
    if (msg.type() === 'error' || msg.type() === 'assert') result.consoleErrors.push(msg.text());
  });
  page.on('pageerror', (err) => result.pageErrors.push(String(err && err.stack ? err.stack : err)));

  await page.goto(pathToFileURL(resolve(htmlArg)).href, { waitUntil: 'load' });
  await page.waitForFunction(() => window.__faultline && window.__faultline.ready === true, null, { timeout: 20000 });
  result.title = await page.title();

  // Hover the first chart: runs the cursor, the synced cursors of the other
  // charts and every legend formatter, where a bug would throw.
  const first = await page.$('.chart canvas');
  if (first) {
    const box = await first.boundingBox();
    if (box) {
      await page.mouse.move(box.x + box.width * 0.45, box.y + box.height / 2);
      await page.mouse.move(box.x + box.width * 0.55, box.y + box.height / 2);
    }
  }

  const inspect = () => page.evaluate(() => {
    return Array.from(document.querySelectorAll('.chart')).map((el) => {
      const canvas = el.querySelector('canvas');
      const r = canvas ? canvas.getBoundingClientRect() : null;
      let inked = 0;
      if (canvas && canvas.width > 0 && canvas.height > 0) {
        // Pixels that are neither transparent nor near-white: ink of axes,
        // bands and data. A chart that drew nothing has almost none.
        const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 0; i < px.length; i += 4) {
          if (px[i + 3] > 0 && (px[i] < 235 || px[i + 1] < 235 || px[i + 2] < 235)) inked++;
        }
      }
      return {
        id: el.id,
        kind: el.dataset.kind || '',
        points: Number(el.getAttribute('data-points') || 0),
        canvas: !!canvas,
        width: r ? Math.round(r.width) : 0,
        height: r ? Math.round(r.height) : 0,
        inked,
      };
    });
  });
  result.charts = await inspect();

  // Drag across the middle of the first chart: it zooms, and the charts
  // synced with it (same experiment) follow; a double-click resets.
  if (first) {
    const box = await first.boundingBox();
    const y = box.y + box.height / 2;
    await page.mouse.move(box.x + box.width * 0.4, y);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, y, { steps: 5 });
    await page.mouse.move(box.x + box.width * 0.6, y, { steps: 5 });
    await page.mouse.up();
    result.zoomed = await page.evaluate(() => window.__faultline.xRanges());
    await page.mouse.dblclick(box.x + box.width * 0.5, y);
    result.reset = await page.evaluate(() => window.__faultline.xRanges());
  }
  result.state = await page.evaluate(() => window.__faultline);
  result.verdicts = await page.$$eval('[data-verdict]', (els) =>
    els.map((e) => ({ verdict: e.getAttribute('data-verdict'), text: e.textContent.trim() })));

  // Move the cursor off the charts so the screenshot shows them at rest.
  await page.mouse.move(0, 0);
  await page.screenshot({ path: result.screenshot, fullPage: true });

  // Charts follow the page width.
  await page.setViewportSize({ width: 820, height: 900 });
  await page.waitForTimeout(300);
  result.resized = (await inspect()).map((c) => ({ id: c.id, width: c.width }));

  result.ok = true;
} catch (err) {
  result.error = String(err && err.stack ? err.stack : err);
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(userDataDir, { recursive: true, force: true });
}
process.stdout.write(JSON.stringify(result) + '\n');
