import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** A port that was free on 127.0.0.1 a moment ago and is closed now: nothing answers there. */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as { port: number };
  await new Promise((done) => server.close(done));
  return port;
}

export interface MainProcess {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code and signal once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const running = new Set<ChildProcess>();

/**
 * Starts the real entry point (`node --import tsx src/main.ts`) with only the given imagegraph
 * variables set, collecting its output. `killAll` (in afterEach) ends whatever is still running.
 */
export function spawnMain(
  env: { IMAGEGRAPH_CONFIG?: string; HOST?: string; PORT?: string },
  options: { nodeArgs?: string[] } = {},
): MainProcess {
  const { IMAGEGRAPH_CONFIG: _config, HOST: _host, PORT: _port, ...inherited } = process.env;
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    env: { ...inherited, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
    child.once('exit', (code, signal) => {
      running.delete(child);
      done({ code, signal });
    }),
  );
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

/** SIGKILLs every process spawnMain started that is still running, and waits for them to exit. */
export async function killAll(): Promise<void> {
  await Promise.all(
    [...running].map(
      (child) =>
        new Promise<void>((done) => {
          if (child.exitCode !== null || child.signalCode !== null) return done();
          child.once('exit', () => done());
          child.kill('SIGKILL');
        }),
    ),
  );
  running.clear();
}

export interface ListeningProcess extends MainProcess {
  /** The GraphQL endpoint. */
  url: string;
  /** The operations listener (/health, /ready, /metrics). */
  opsUrl: string;
}

/** Starts the real entry point on ports the system picks, and resolves once it logs where it listens. */
export async function startListening(config: string, timeoutMs = 60_000): Promise<ListeningProcess> {
  const main = spawnMain({ IMAGEGRAPH_CONFIG: config, PORT: '0' });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const listening = main
      .stdout()
      .split('\n')
      .filter((line) => line.includes('"msg":"imagegraph listening'))
      .map((line) => JSON.parse(line) as { url: string; opsUrl: string })[0];
    if (listening) return { ...main, url: listening.url, opsUrl: listening.opsUrl };
    if (main.child.exitCode !== null) throw new Error(`imagegraph exited with ${main.child.exitCode}: ${main.stderr()}`);
    if (Date.now() > deadline) throw new Error(`imagegraph did not start; stdout: ${main.stdout()}; stderr: ${main.stderr()}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
