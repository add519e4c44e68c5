import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

const script = resolve(import.meta.dirname, '..', '..', 'scripts', 'redis.sh');
const run = promisify(execFile);

/** Whether Debian's redis-server is here (scripts/redis.sh install, run by .ci/run and the pretest step). */
export function redisInstalled(): boolean {
  try {
    execFileSync('bash', ['-c', 'PATH="$PATH:/usr/sbin:/sbin" command -v redis-server'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A real Redis of this test file's own, started by scripts/redis.sh in a temp dir; stop() and start() keep its port and data. */
export interface TestRedis {
  url: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops it and removes its data. */
  remove(): Promise<void>;
}

export async function startRedis(): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), 'imagegraph-redis-'));
  const start = async (port?: string) => {
    const { stdout } = await run('bash', [script, 'start', dir], {
      encoding: 'utf8',
      env: { ...process.env, ...(port ? { REDIS_PORT: port } : {}) },
    });
    return /REDIS_URL=(\S+)/.exec(stdout)![1]!;
  };
  const url = await start();
  const port = new URL(url).port;
  const stop = async () => {
    await run('bash', [script, 'stop', dir]);
  };
  return {
    url,
    start: async () => {
      await start(port);
    },
    stop,
    remove: async () => {
      await stop().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
