// npm run bench:import: (1) how many bytes the peek reads, and how long it takes, to reject a large
// image from a server that ignores Range, at 1 GiB and 8 GiB (the goal: <= 1 MiB, independent of
// size); (2) local import throughput of a 1 GiB raw disk as a ratio to `curl -o` of the same URL in the
// same run, with the server's peak RSS. Ratios, not absolute times, are the result.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseConfig } from '../src/config.js';
import { GuardedFetcher } from '../src/imports/guarded-fetch.js';
import { peekImage } from '../src/imports/peek-image.js';
import { createLogger } from '../src/logger.js';
import { createImagegraph } from '../src/server.js';

const GIB = 2 ** 30;
const dir = mkdtempSync(join(tmpdir(), 'imagegraph-bench-'));

interface FileServer {
  port: number;
  process: ChildProcess;
  /** Bytes written for each finished response, in order. */
  written: number[];
}

async function startFileServer(ignoreRange: boolean): Promise<FileServer> {
  const child = spawn('npx', ['tsx', 'bench/support/file-server.ts', dir, ...(ignoreRange ? ['--ignore-range'] : [])], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const written: number[] = [];
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((resolve) =>
    lines.on('line', (line) => {
      const message = JSON.parse(line) as { port?: number; bytesWritten?: number };
      if (message.port) resolve(message.port);
      if (message.bytesWritten !== undefined) written.push(message.bytesWritten);
    }),
  );
  return { port, process: child, written };
}

const until = async (check: () => boolean) => {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 20));
};

async function rejectionFigures(): Promise<void> {
  const server = await startFileServer(true);
  const fetcher = new GuardedFetcher({ allowedHosts: [`127.0.0.1:${server.port}`], allowHttp: true });
  console.log('1. Rejecting a sparse image without a boot record from a server that ignores Range');
  for (const gib of [1, 8]) {
    const name = `sparse-${gib}g.raw`;
    writeFileSync(join(dir, name), '');
    truncateSync(join(dir, name), gib * GIB);
    const count = server.written.length;
    const started = performance.now();
    const error = await peekImage(fetcher, `http://127.0.0.1:${server.port}/${name}`, { maxSizeBytes: 64 * GIB }).catch(
      (e: Error) => e,
    );
    const ms = performance.now() - started;
    await until(() => server.written.length > count);
    const sent = server.written.at(-1)!;
    console.log(
      `   ${gib} GiB: rejected as ${(error as { detectedFormat?: string }).detectedFormat ?? error} in ${ms.toFixed(1)} ms; ` +
        `server wrote ${(sent / 2 ** 20).toFixed(2)} MiB before the client closed (${((sent / (gib * GIB)) * 100).toFixed(4)}% of the file)`,
    );
  }
  await fetcher.close();
  server.process.kill();
}

function makeBootableDisk(file: string, bytes: number): void {
  writeFileSync(file, '');
  truncateSync(file, bytes);
  execFileSync('sfdisk', ['-q', file], { input: 'label: dos\nstart=2048, type=83, bootable\n' });
  // Fill the partition with incompressible-ish data so the disk is not one big hole.
  execFileSync('dd', [
    `if=/dev/urandom`,
    `of=${file}`,
    'bs=1M',
    'seek=1',
    `count=${bytes / 2 ** 20 - 1}`,
    'conv=notrunc',
    'status=none',
  ]);
}

async function throughputFigures(): Promise<void> {
  const file = join(dir, 'disk-1g.raw');
  makeBootableDisk(file, GIB);
  const server = await startFileServer(false);
  const url = `http://127.0.0.1:${server.port}/disk-1g.raw`;
  const runs = 3;
  console.log(`2. Importing a 1 GiB raw disk (best of ${runs}), against curl -o of the same URL`);

  // Two baselines: curl -o alone, and curl -o followed by what the import also does (sha256, fsync).
  const curlTimes: number[] = [];
  const curlSameWorkTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    const out = join(dir, 'curl.out');
    let started = performance.now();
    execFileSync('curl', ['-s', '-o', out, url]);
    curlTimes.push(performance.now() - started);
    rmSync(out);
    started = performance.now();
    execFileSync('sh', ['-c', `curl -s -o '${out}' '${url}' && sha256sum '${out}' >/dev/null && sync '${out}'`]);
    curlSameWorkTimes.push(performance.now() - started);
    rmSync(out);
  }

  const config = parseConfig({
    imports: { allowedHosts: [`127.0.0.1:${server.port}`] },
    regions: [{ id: 'bench', name: 'Bench', provider: { type: 'local', dataDir: join(dir, 'region') } }],
  });
  const app = await createImagegraph(config, { logger: createLogger('silent') });
  const baselineRss = process.memoryUsage().rss;
  let peakRss = baselineRss;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 10);
  const importTimes: number[] = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    const response = await app.yoga.fetch('http://bench/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: `mutation ($uri: String!) { importImage(input: { region: "bench", organization: "dev", name: "disk-${i}",
          uri: $uri, os: { family: DEBIAN, distro: DEBIAN, version: "12" } }) { __typename } }`,
        variables: { uri: url },
      }),
    });
    const { data } = (await response.json()) as { data: { importImage: { __typename: string } } };
    if (data.importImage.__typename !== 'ImportImagePayload') throw new Error(`import refused: ${JSON.stringify(data)}`);
    await app.importsIdle();
    importTimes.push(performance.now() - started);
  }
  clearInterval(sampler);
  await app.close();
  server.process.kill();

  const curl = Math.min(...curlTimes);
  const curlSameWork = Math.min(...curlSameWorkTimes);
  const imported = Math.min(...importTimes);
  console.log(`   curl -o:     ${curl.toFixed(0)} ms (${(1024 / (curl / 1000)).toFixed(0)} MiB/s)`);
  console.log(`   curl -o && sha256sum && sync: ${curlSameWork.toFixed(0)} ms`);
  console.log(
    `   importImage: ${imported.toFixed(0)} ms (${(1024 / (imported / 1000)).toFixed(0)} MiB/s), peek + download + sha256 + fsync`,
  );
  console.log(
    `   ratio import/curl: ${(imported / curl).toFixed(2)}; import/(curl + sha256sum + sync): ${(imported / curlSameWork).toFixed(2)}`,
  );
  console.log(
    `   peak RSS of the importing process: ${(peakRss / 2 ** 20).toFixed(0)} MiB (${((peakRss - baselineRss) / 2 ** 20).toFixed(0)} MiB above its idle ${(baselineRss / 2 ** 20).toFixed(0)} MiB)`,
  );
}

try {
  await rejectionFigures();
  await throughputFigures();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
