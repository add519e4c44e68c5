import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type ConsoleMessage, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createImagegraph, type Imagegraph } from '../../src/server.js';

/**
 * GraphiQL in a real browser with no network but the server: every script, style sheet, font and
 * Monaco worker must come from imagegraph itself (see src/graphiql/). Uses Debian's chromium
 * (`apt-get install chromium`; .ci/run installs it) driven by playwright-core: no downloaded browsers.
 */
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = '/tmp/graphiql.png';

describe.skipIf(!existsSync(CHROMIUM))(`GraphiQL offline (needs ${CHROMIUM}: apt-get install chromium)`, () => {
  let dir: string;
  let app: Imagegraph;
  let url: URL;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  /** Requests to any host but the server's, each aborted. */
  const foreign: string[] = [];
  /** Every request the page made, for failure messages. */
  const requests: string[] = [];
  /** Same-origin responses with an error status, and requests that failed at the network level. */
  const failures: string[] = [];
  /** Console errors, and Monaco's warning that a worker could not be started. */
  const consoleErrors: string[] = [];
  /** URLs of the web workers the page started. */
  const workers: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imagegraph-graphiql-'));
    const config = parseConfig({
      server: { port: 0 },
      auth: { mode: 'dev' },
      regions: [{ id: 'local', name: 'Local', provider: { type: 'local', dataDir: join(dir, 'local') } }],
    });
    app = await createImagegraph(config, { logger: createLogger('silent') });
    url = new URL((await app.listen()).url);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      // launch() gives every browser a fresh temporary user data dir, removed on close.
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    // Offline but for the server. On the context rather than the page so that requests from the
    // page's workers (Monaco's) are routed too.
    await context.route('**/*', (route) =>
      new URL(route.request().url()).host === url.host ? route.continue() : route.abort('internetdisconnected'),
    );
    context.on('request', (request) => {
      requests.push(`${request.method()} ${request.url()}`);
      const requestUrl = new URL(request.url());
      // data: and blob: URLs never leave the browser; anything else must go to the server.
      if (/^(https?|wss?):$/.test(requestUrl.protocol) && requestUrl.host !== url.host) foreign.push(request.url());
    });
    context.on('requestfailed', (request) => {
      if (new URL(request.url()).host === url.host) failures.push(`${request.url()}: ${request.failure()?.errorText}`);
    });
    context.on('response', (response) => {
      if (response.status() >= 400) failures.push(`${response.url()}: HTTP ${response.status()}`);
    });
    page = await context.newPage();
    page.on('websocket', (socket) => {
      if (new URL(socket.url()).host !== url.host) foreign.push(socket.url());
    });
    page.on('worker', (worker) => workers.push(worker.url()));
    page.on('console', (message: ConsoleMessage) => {
      // Monaco only warns when it cannot start a worker (it then runs the worker's code on the main thread).
      if (message.type() === 'error' || /web worker/i.test(message.text())) {
        consoleErrors.push(`${message.type()}: ${message.text()} (${message.location().url})`);
      }
    });
    page.on('pageerror', (error) => consoleErrors.push(`uncaught: ${error.message}`));
  });

  afterAll(async () => {
    await browser?.close();
    await app?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('renders from local assets, runs the example query and shows the result', async () => {
    const response = await page.goto(url.href, { waitUntil: 'load' });
    expect(response?.status()).toBe(200);
    expect(response?.headers()['content-type']).toMatch(/^text\/html/);

    // The editor is rendered and holds the preloaded example query.
    const queryEditor = page.locator('.graphiql-query-editor');
    await page.locator('.graphiql-container').first().waitFor({ state: 'visible', timeout: 20_000 });
    await expect.poll(() => queryEditor.innerText(), { timeout: 20_000 }).toContain('regions');
    expect(await queryEditor.innerText()).toContain('viewer');

    // Run it and read the answer from the response pane.
    await page.locator('.graphiql-execute-button').click();
    const responsePane = page.locator('.graphiql-response');
    await expect.poll(() => responsePane.innerText(), { timeout: 20_000 }).toContain('"data"');
    const answer = normalize(await responsePane.innerText());
    expect(answer).toContain('"viewer"');
    expect(answer).toMatch(/"subject": "dev"/);
    expect(answer).not.toContain('"errors"');

    // The screenshot is a record, not a check: on a loaded machine it is taken without waiting longer.
    await page.waitForLoadState('networkidle', { timeout: 10_000 }).catch(() => undefined);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // Monaco's workers (editor, JSON for the response, GraphQL for the query) run from the server's files.
    const assets = `${url.origin}/graphiql-assets/monacoeditorwork/`;
    for (const file of ['editor.worker.bundle.js', 'json.worker.bundle.js', 'graphql.worker..bundle.js']) {
      await expect.poll(() => workers, { timeout: 10_000, message: `worker ${file}` }).toContain(assets + file);
    }
    expect(
      workers.filter((worker) => !worker.startsWith(assets)),
      'workers from elsewhere',
    ).toEqual([]);

    expect(foreign, `requests to other hosts; all requests:\n${requests.join('\n')}`).toEqual([]);
    expect(failures, 'failed requests to the server').toEqual([]);
    expect(
      consoleErrors.filter((text) => /fail|load|script|worker|refused|net::|404/i.test(text)),
      `console errors:\n${consoleErrors.join('\n')}`,
    ).toEqual([]);
    // A cold Chromium start under the full suite's load has taken over 30 s.
  }, 90_000);
});

/** Monaco renders spaces as non-breaking spaces; make the text comparable. */
function normalize(text: string): string {
  return text.replace(/\u00a0/g, ' ');
}
