import { execFile } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/harness.js';

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, '..', '..', 'scripts', 'glance.sh');
const ADMIN = { token: 't-admin', subject: 'root', platformAdmin: true };

function glanceInstalled(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import glance'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const LIST = (region: string) => `{ images(region: "${region}", first: 5) { nodes { id } } }`;

/**
 * A Glance of its own (scripts/glance.sh), frozen with SIGSTOP: a real provider that accepts
 * connections and never answers, the worst way a provider can fail.
 */
describe.skipIf(!glanceInstalled())('a hanging provider', () => {
  let dir: string;
  let pid: number;
  let server: TestServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imagegraph-hung-glance-'));
    const { stdout } = await run('bash', [SCRIPT, 'start', dir], { encoding: 'utf8' });
    const glanceUrl = /GLANCE_URL=(\S+)/.exec(stdout)![1]!;
    pid = Number(readFileSync(join(dir, 'glance-api.pid'), 'utf8'));
    server = await startTestServer({
      regions: [{ id: 'local' }, { id: 'hung', provider: 'openstack' }],
      callers: [ADMIN],
      glanceUrl,
      limits: { providerTimeoutMs: 500, circuitBreakerFailures: 2, circuitBreakerResetMs: 2_000 },
    });
  }, 120_000);
  afterAll(async () => {
    if (pid) process.kill(pid, 'SIGCONT');
    await server?.close();
    await run('bash', [SCRIPT, 'stop', dir]).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });

  const timed = async (query: string) => {
    const started = performance.now();
    const result = await server.gql(query, {}, ADMIN.token);
    return { ms: performance.now() - started, code: result.errors?.[0]?.extensions?.code ?? null };
  };

  it('answers PROVIDER_UNAVAILABLE by the deadline, then at once once the circuit is open, and recovers by itself', async () => {
    expect((await timed(LIST('hung'))).code).toBeNull();

    process.kill(pid, 'SIGSTOP');
    const first = await timed(LIST('hung'));
    expect(first.code).toBe('PROVIDER_UNAVAILABLE');
    // A read is tried twice, each within the 500 ms deadline, with a short backoff between.
    expect(first.ms).toBeLessThan(2_500);
    expect(await server.metric('imagegraph_provider_circuit_open', { region: 'hung' })).toBe(1);

    for (let i = 0; i < 5; i++) {
      const fast = await timed(LIST('hung'));
      expect(fast.code).toBe('PROVIDER_UNAVAILABLE');
      expect(fast.ms).toBeLessThan(1_000);
    }
    // Other regions are untouched.
    const local = await timed(LIST('local'));
    expect(local).toMatchObject({ code: null });
    expect(local.ms).toBeLessThan(1_000);
    const ready = await server.app.ops(new Request('http://imagegraph.test/ready'));
    expect(await ready.json()).toEqual({ status: 'not ready', regions: { local: 'ok', hung: 'unavailable' } });

    process.kill(pid, 'SIGCONT');
    const deadline = Date.now() + 15_000;
    let recovered = await timed(LIST('hung'));
    while (recovered.code !== null && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      recovered = await timed(LIST('hung'));
    }
    expect(recovered.code).toBeNull();
    expect(await server.metric('imagegraph_provider_circuit_open', { region: 'hung' })).toBe(0);
  }, 60_000);

  it('gives a mutation the same deadline and the same answer', async () => {
    process.kill(pid, 'SIGSTOP');
    try {
      const result = await server.gql(
        `mutation { deleteImage(input: { id: "${Buffer.from('Image:hung:00000000-0000-4000-8000-000000000000').toString('base64url')}" }) { __typename } }`,
        {},
        ADMIN.token,
      );
      expect(result.data).toEqual({ deleteImage: { __typename: 'ProviderUnavailableError' } });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
  }, 30_000);
});
