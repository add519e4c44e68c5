import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { killAll, type MainProcess, spawnMain, unusedPort } from './support/main-process.js';

type Run = MainProcess;

const blockers: Server[] = [];
let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'imagegraph-main-'));
});

afterEach(async () => {
  await killAll();
  await Promise.all(blockers.splice(0).map((server) => new Promise((done) => server.close(done))));
  rmSync(dir, { recursive: true, force: true });
});

const startMain = spawnMain;

/** Rejects when `promise` has not settled within `ms`. */
function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  return new Promise<T>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        done(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        fail(error);
      },
    );
  });
}

/** Polls the process's stdout for a JSON log line matching `predicate`; fails early if the process exits. */
async function logLine(run: Run, predicate: (line: Record<string, unknown>) => boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // Only complete lines: the last segment may be a log line still being written.
    for (const text of run.stdout().split('\n').slice(0, -1)) {
      if (!text.trim()) continue;
      const line = JSON.parse(text) as Record<string, unknown>;
      if (predicate(line)) return line;
    }
    if (run.child.exitCode !== null) {
      throw new Error(`imagegraph exited with ${run.child.exitCode}; stderr: ${run.stderr()}`);
    }
    if (Date.now() > deadline) throw new Error(`no matching log line within ${timeoutMs} ms; stdout: ${run.stdout()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function writeConfig(config: unknown): string {
  const file = join(dir, 'imagegraph.yaml');
  writeFileSync(file, typeof config === 'string' ? config : stringify(config));
  return file;
}

const localRegion = (id = 'local') => ({ id, name: id, provider: { type: 'local', dataDir: `./data/${id}` } });

describe('the imagegraph entry point', () => {
  it('refuses dev mode on a non-loopback host before listening, saying why', async () => {
    const file = writeConfig({ server: { host: '127.0.0.1' }, regions: [localRegion()] });

    const run = startMain({ IMAGEGRAPH_CONFIG: file, HOST: '0.0.0.0', PORT: String(await unusedPort()) });
    const { code } = await within(20_000, run.exited, 'imagegraph to exit');

    expect(code).not.toBe(0);
    expect(run.stderr()).toMatch(/dev/i);
    expect(run.stderr()).toMatch(/loopback/i);
    expect(run.stderr()).not.toContain('    at ');
    expect(run.stdout()).not.toContain('listening');
    // Refused before any region was opened.
    expect(existsSync(join(dir, 'data', 'local'))).toBe(false);
  });

  it('exits non-zero with a readable message and no stack trace for an invalid config', async () => {
    const file = writeConfig({ regions: [{ id: 'Local_Region', name: 'Local' }], colour: 'blue' });

    const run = startMain({ IMAGEGRAPH_CONFIG: file });
    const { code } = await within(20_000, run.exited, 'imagegraph to exit');

    expect(code).not.toBe(0);
    const stderr = run.stderr();
    expect(stderr).toContain(file);
    expect(stderr).toContain('regions[0].id');
    expect(stderr).toContain('regions[0].provider');
    expect(stderr).toContain('colour');
    expect(stderr).not.toContain('    at ');
    expect(stderr.trim().split('\n').length).toBeLessThan(15);
    expect(run.stdout()).not.toContain('listening');
  });

  it('exits non-zero with a readable message when the config file is missing', async () => {
    const missing = join(dir, 'absent.yaml');

    const run = startMain({ IMAGEGRAPH_CONFIG: missing });
    const { code } = await within(20_000, run.exited, 'imagegraph to exit');

    expect(code).not.toBe(0);
    expect(run.stderr()).toContain(missing);
    expect(run.stderr()).not.toContain('    at ');
  });

  it('exits non-zero with a readable message when the tokens file is missing', async () => {
    const file = writeConfig({ auth: { mode: 'tokens', tokensFile: './tokens.yaml' }, regions: [localRegion()] });

    const run = startMain({ IMAGEGRAPH_CONFIG: file, PORT: String(await unusedPort()) });
    const { code } = await within(20_000, run.exited, 'imagegraph to exit');

    expect(code).not.toBe(0);
    expect(run.stderr()).toContain(join(dir, 'tokens.yaml'));
    expect(run.stderr()).not.toContain('    at ');
  });

  it('exits non-zero with a readable message when the port is taken', async () => {
    const blocker = createServer();
    blockers.push(blocker);
    await new Promise<void>((done) => blocker.listen(0, '127.0.0.1', done));
    const { port } = blocker.address() as { port: number };
    const file = writeConfig({ regions: [localRegion()] });

    const run = startMain({ IMAGEGRAPH_CONFIG: file, PORT: String(port) });
    const { code } = await within(20_000, run.exited, 'imagegraph to exit');

    expect(code).not.toBe(0);
    expect(run.stderr()).toContain('EADDRINUSE');
    expect(run.stderr()).not.toContain('    at ');
  });

  it('logs where it listens as JSON, answers /health, warns of dev mode and exits 0 on SIGTERM', async () => {
    const port = await unusedPort();
    const file = writeConfig({
      server: { host: '127.0.0.1', graphiql: false },
      regions: [localRegion('local'), localRegion('lab')],
    });

    const run = startMain({ IMAGEGRAPH_CONFIG: file, PORT: String(port) });
    const listening = await logLine(run, (line) => String(line.msg).includes('listening'));

    expect(listening).toMatchObject({ url: `http://127.0.0.1:${port}/graphql`, regions: ['local', 'lab'], auth: 'dev' });
    expect(run.stdout()).toMatch(/DEV MODE/);
    expect(existsSync(join(dir, 'data', 'lab'))).toBe(true);

    const health = await fetch(`http://127.0.0.1:${port}/health`);
    expect(health.status).toBe(200);
    expect(health.headers.get('content-type')).toContain('application/json');
    expect(await health.json()).toEqual({ status: 'ok' });

    run.child.kill('SIGTERM');
    const { code, signal } = await within(5_000, run.exited, 'imagegraph to stop after SIGTERM');

    expect({ code, signal }).toEqual({ code: 0, signal: null });
    expect(run.stderr()).toBe('');
    await logLine(run, (line) => line.msg === 'stopped', 0);
  });
});
