// Opens a masim HTML report in headless Chromium (Debian's /usr/bin/chromium,
// driven by playwright-core from tools/web/node_modules) and checks that every
// chart rendered with data and that the page logged no console error, threw no
// exception and made no network request (the page must work offline).
//
//   node tests/report/browser_check.js --html report.html --modules tools/web/node_modules \
//        [--chromium /usr/bin/chromium] [--min-charts 6] [--screenshot out.png]
//
// Exit codes: 0 pass, 1 fail, 77 skipped (chromium or node_modules missing;
// ctest's SKIP_RETURN_CODE).
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');

function arg(name, def) {
  const i = process.argv.indexOf('--' + name);
  return i >= 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

const html = arg('html');
const modules = arg('modules', path.join(__dirname, '..', '..', 'tools', 'web', 'node_modules'));
const chromiumPath = arg('chromium', '/usr/bin/chromium');
const minCharts = parseInt(arg('min-charts', '1'), 10);
const screenshot = arg('screenshot');

if (!html || !fs.existsSync(html)) {
  console.error('browser_check: no report at ' + html);
  process.exit(1);
}
if (!fs.existsSync(chromiumPath)) {
  console.log('browser_check: SKIP: ' + chromiumPath + ' not found (scripts/setup.sh installs chromium)');
  process.exit(77);
}
const pwPath = path.join(modules, 'playwright-core');
if (!fs.existsSync(pwPath)) {
  console.log('browser_check: SKIP: ' + pwPath + ' not found (run: npm ci --prefix tools/web)');
  process.exit(77);
}
const { chromium } = require(pwPath);

(async () => {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'masim-browser-'));
  const problems = [];
  let context;
  try {
    context = await chromium.launchPersistentContext(userDir, {
      executablePath: chromiumPath,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
             '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await context.newPage();
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push('console error: ' + msg.text());
    });
    page.on('pageerror', (err) => problems.push('page exception: ' + err.message));
    const url = 'file://' + path.resolve(html);
    page.on('request', (req) => {
      if (req.url() !== url && !req.url().startsWith('data:')) {
        problems.push('network request (the page must be self-contained): ' + req.url());
      }
    });
    await page.goto(url, { waitUntil: 'load', timeout: 60000 });
    await page.waitForFunction(() => window.masimChartsDone === true, null, { timeout: 120000 });
    const charts = await page.evaluate(() => {
      return Array.from(document.querySelectorAll('div.vega-chart')).map((div) => {
        const id = div.dataset.chart;
        const status = (window.masimCharts || {})[id] || {};
        const svg = div.querySelector('svg');
        const marks = svg ? svg.querySelectorAll('g.role-mark > *').length : 0;
        return { id, title: div.dataset.title, rendered: !!status.rendered, rows: status.rows || 0,
                 error: status.error || '', marks, svg: !!svg };
      });
    });
    if (charts.length < minCharts) {
      problems.push('expected at least ' + minCharts + ' charts, found ' + charts.length);
    }
    for (const c of charts) {
      const what = 'chart "' + c.id + '" (' + c.title + ')';
      if (!c.rendered) problems.push(what + ' did not render: ' + c.error);
      else if (!c.svg) problems.push(what + ' has no SVG');
      else if (c.rows === 0) problems.push(what + ' has no data rows');
      else if (c.marks === 0) problems.push(what + ' drew no marks');
      console.log('browser_check: ' + what + ': ' + c.rows + ' rows, ' + c.marks + ' mark items');
    }
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  } catch (e) {
    problems.push('browser failure: ' + (e && e.stack ? e.stack : e));
  } finally {
    if (context) await context.close();
    fs.rmSync(userDir, { recursive: true, force: true });
  }
  if (problems.length > 0) {
    for (const p of problems) console.error('browser_check: FAIL: ' + p);
    process.exit(1);
  }
  console.log('browser_check: OK: every chart rendered with data, no console errors');
  process.exit(0);
})();
