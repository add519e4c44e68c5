import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { startTestServer, type TestServer } from '../support/harness.js';
import { killAll, spawnMain, unusedPort } from '../support/main-process.js';

const ALICE = { token: 't-alice', subject: 'alice', organizations: [{ id: 'acme', role: 'MEMBER' as const }] };
const BOB = { token: 't-bob', subject: 'bob', organizations: [{ id: 'acme', role: 'MEMBER' as const }] };

type Answer = { status: number; retryAfter: string | null; code: unknown };

describe('authentication before anything else', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({
      regions: [{ id: 'alpha' }],
      callers: [ALICE, BOB],
      limits: { rateLimit: { requestsPerSecond: 5, burst: 5 } },
    });
  });
  afterAll(() => server.close());

  const ask = async (query: string, token?: string): Promise<Answer> => {
    const response = await server.app.yoga.fetch('http://imagegraph.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query }),
    });
    const body = (await response.json()) as { errors?: { extensions: { code: unknown } }[] };
    return { status: response.status, retryAfter: response.headers.get('retry-after'), code: body.errors?.[0]?.extensions.code };
  };

  it('answers a document that does not even parse with 401 when the caller is unknown: nothing was parsed', async () => {
    expect(await ask('{ viewer { ', 'wrong')).toMatchObject({ status: 401, code: 'UNAUTHENTICATED' });
  });

  it('gives no field suggestions to an unauthenticated caller', async () => {
    const response = await server.app.yoga.fetch('http://imagegraph.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ imagez }' }),
    });
    const text = await response.text();
    expect(response.status).toBe(401);
    expect(text).not.toMatch(/Did you mean|images/);
  });

  it('limits each subject to its rate, with 429, Retry-After and RATE_LIMITED, leaving other subjects alone', async () => {
    const answers = await Promise.all(Array.from({ length: 30 }, () => ask('{ viewer { subject } }', ALICE.token)));
    const refused = answers.filter((answer) => answer.status === 429);

    expect(answers.filter((answer) => answer.status === 200).length).toBeGreaterThanOrEqual(5);
    expect(refused.length).toBeGreaterThanOrEqual(15);
    expect(refused[0]).toMatchObject({ code: 'RATE_LIMITED' });
    expect(Number(refused[0]!.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(await ask('{ viewer { subject } }', BOB.token)).toMatchObject({ status: 200 });
    expect(await server.metric('imagegraph_requests_refused_total', { reason: 'rateLimit' })).toBeGreaterThanOrEqual(15);
  });

  it('limits unauthenticated requests per client address', async () => {
    const answers = await Promise.all(Array.from({ length: 30 }, (_, i) => ask('{ viewer { subject } }', `bad-${i}`)));
    expect(answers.filter((answer) => answer.status === 401).length).toBeGreaterThanOrEqual(5);
    expect(answers.filter((answer) => answer.status === 429).length).toBeGreaterThanOrEqual(15);
  });
});

describe('unauthenticated large documents against the real server process', () => {
  let dir: string;
  afterEach(async () => {
    await killAll();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers hundreds of distinct large documents without a token with 401 and stays up in a small heap', async () => {
    dir = mkdtempSync(join(tmpdir(), 'imagegraph-unauth-'));
    const tokensFile = join(dir, 'tokens.yaml');
    writeFileSync(tokensFile, stringify([{ sha256: createHash('sha256').update('t-ok').digest('hex'), subject: 'ok' }]));
    const config = join(dir, 'imagegraph.yaml');
    const port = await unusedPort();
    writeFileSync(
      config,
      stringify({
        server: { port, opsPort: 0 },
        auth: { mode: 'tokens', tokensFile },
        logLevel: 'warn',
        limits: { rateLimit: { requestsPerSecond: 100_000, burst: 100_000 } },
        regions: [{ id: 'local', name: 'Local', provider: { type: 'local', dataDir: './data' } }],
      }),
    );
    // 96 MiB of heap: 300 documents of 900 KiB held by a parse cache would be 270 MiB of text alone.
    const run = spawnMain({ IMAGEGRAPH_CONFIG: config }, { nodeArgs: ['--max-old-space-size=96'] });
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; ; i++) {
      if ((await fetch(`${url}/health`).catch(() => null))?.ok) break;
      if (i > 200) throw new Error(`imagegraph did not start: ${run.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    const filler = 'x'.repeat(900 * 1024);
    let unauthorized = 0;
    for (let batch = 0; batch < 30; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          fetch(`${url}/graphql`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ query: `# ${batch}-${i} ${filler}\n{ viewer { subject } }` }),
          }).then((response) => response.status),
        ),
      );
      unauthorized += answers.filter((status) => status === 401).length;
    }

    expect(unauthorized).toBe(300);
    expect(run.child.exitCode).toBeNull();
    const ok = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer t-ok' },
      body: JSON.stringify({ query: '{ viewer { subject } }' }),
    });
    expect(await ok.json()).toEqual({ data: { viewer: { subject: 'ok' } } });
  }, 120_000);
});
