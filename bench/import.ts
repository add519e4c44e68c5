// npm run bench:import: (1) how many bytes the peek reads, and how long it takes, to reject a large
// image from a server that ignores Range, at 1 GiB and 8 GiB (the goal: <= 1 MiB, independent of
// size); (2) a 1 GiB raw import against the stages it cannot avoid (`curl -o`, `sha256sum`, the
// final fsync) measured in the same run, with the event loop's delay meanwhile and peak RSS; (3) the same
// disk as qcow2, converted on the way, against `qemu-img convert` alone. Ratios are the result.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { parseConfig } from '../src/config.js';
import { GuardedFetcher } from '../src/imports/guarded-fetch.js';
import { detectFormat } from '../src/imports/formats/index.js';
import { ImportLimits } from '../src/imports/import-limits.js';
import { peekHead } from '../src/imports/peek-image.js';
import { createLogger } from '../src/logger.js';
import { createImagegraph } from '../src/server.js';

const GIB = 2 ** 30;
const execFileAsync = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'imagegraph-bench-'));

const servers: ChildProcess[] = [];

interface FileServer {
  port: number;
  process: ChildProcess;
  /** Bytes written for each finished response, in order. */
  written: number[];
}

async function startFileServer(ignoreRange: boolean): Promise<FileServer> {
  // node itself (not npx) so that killing the child stops the server.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/support/file-server.ts', dir, ...(ignoreRange ? ['--ignore-range'] : [])],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  servers.push(child);
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
    const { head } = await peekHead(fetcher, `http://127.0.0.1:${server.port}/${name}`, new ImportLimits(64 * GIB, 64 * GIB));
    const format = detectFormat(head).format;
    const ms = performance.now() - started;
    await until(() => server.written.length > count);
    const sent = server.written.at(-1)!;
    console.log(
      `   ${gib} GiB: rejected as ${format} in ${ms.toFixed(1)} ms; ` +
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

const mibPerSecond = (ms: number) => `${(1024 / (ms / 1000)).toFixed(0)} MiB/s`;

/** A local region importing from the file server, with the event loop's delay and RSS recorded while it imports. */
async function startImporter(port: number) {
  const config = parseConfig({
    imports: { allowedHosts: [`127.0.0.1:${port}`], scratchDir: dir },
    regions: [{ id: 'bench', name: 'Bench', provider: { type: 'local', dataDir: join(dir, 'region') } }],
  });
  const app = await createImagegraph(config, { logger: createLogger(process.env.LOG_LEVEL ?? 'silent') });
  const graphql = async <T>(query: string, variables: Record<string, unknown> = {}) => {
    const response = await app.yoga.fetch('http://bench/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return ((await response.json()) as { data: T }).data;
  };
  const idleRss = process.memoryUsage().rss;
  let peakRss = idleRss;
  const delay = monitorEventLoopDelay({ resolution: 1 });
  let runs = 0;

  /** One import to READY, timed from the request to the end of the job; the image is deleted afterwards. */
  async function importOnce(url: string): Promise<number> {
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 10);
    const started = performance.now();
    delay.enable();
    const { importImage } = await graphql<{ importImage: { __typename: string; image: { id: string } } }>(
      `
        mutation ($uri: String!, $name: String!) {
          importImage(
            input: {
              region: "bench"
              organization: "dev"
              name: $name
              uri: $uri
              os: { family: DEBIAN, distro: DEBIAN, version: "12" }
            }
          ) {
            __typename
            ... on ImportImagePayload {
              image {
                id
              }
            }
            ... on Error {
              message
            }
          }
        }
      `,
      { uri: url, name: `disk-${runs++}` },
    );
    if (importImage.__typename !== 'ImportImagePayload') throw new Error(`import refused: ${JSON.stringify(importImage)}`);
    await app.importsIdle();
    const ms = performance.now() - started;
    delay.disable();
    clearInterval(sampler);
    const { node } = await graphql<{ node: { status: string; statusReason: string | null } }>(
      `
        query ($id: ID!) {
          node(id: $id) {
            ... on Image {
              status
              statusReason
            }
          }
        }
      `,
      { id: importImage.image.id },
    );
    if (node.status !== 'READY') throw new Error(`the import ended ${node.status}: ${node.statusReason}`);
    // Each run starts from the same disk state: the image written by the last one is gone.
    await graphql(
      `
        mutation ($id: ID!) {
          deleteImage(input: { id: $id }) {
            __typename
          }
        }
      `,
      { id: importImage.image.id },
    );
    return ms;
  }

  return {
    importOnce,
    eventLoopP99Ms: () => delay.percentile(99) / 1e6,
    rss: () => ({ idle: idleRss, peak: peakRss }),
    close: () => app.close(),
  };
}

/**
 * Times a command once, then `cleanup` (untimed). Run asynchronously: a blocked event loop would leave
 * the importer's idle keep-alive connection unread while the file server closes it.
 */
const timed = async (command: string, args: string[], cleanup: () => void = () => undefined): Promise<number> => {
  const started = performance.now();
  await execFileAsync(command, args, { maxBuffer: 1 << 20 });
  const ms = performance.now() - started;
  cleanup();
  return ms;
};

const best = (times: number[]) => Math.min(...times);
const median = (times: number[]) => [...times].sort((a, b) => a - b)[Math.floor(times.length / 2)]!;
const show = (times: number[]) => `${best(times).toFixed(0)} ms best, ${median(times).toFixed(0)} ms median`;

async function throughputFigures(): Promise<void> {
  const file = join(dir, 'disk-1g.raw');
  makeBootableDisk(file, GIB);
  const qcow2File = join(dir, 'disk-1g.qcow2');
  execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', file, qcow2File]);
  const server = await startFileServer(false);
  const url = `http://127.0.0.1:${server.port}/disk-1g.raw`;
  const qcow2Url = `http://127.0.0.1:${server.port}/disk-1g.qcow2`;
  const importer = await startImporter(server.port);
  const out = join(dir, 'baseline.out');
  const remove =
    (...files: string[]) =>
    () =>
      files.forEach((name) => rmSync(name, { force: true }));
  const rounds = 4;
  // Each round measures every baseline and the import one after another, so that whatever the
  // machine is doing meanwhile (page cache, writeback) weighs on all of them alike.
  const times = { curl: [] as number[], sha256sum: [] as number[], fsync: [] as number[], raw: [] as number[] };
  const qcow2Times = { convert: [] as number[], byHand: [] as number[], import: [] as number[] };
  for (let round = 0; round < rounds; round++) {
    times.curl.push(await timed('curl', ['-s', '-o', out, url]));
    // The fsync of the freshly written 1 GiB: what the import pays after its last byte, by design.
    times.fsync.push(await timed('sync', [out], remove(out)));
    times.sha256sum.push(await timed('sha256sum', [file]));
    times.raw.push(await importer.importOnce(url));

    qcow2Times.convert.push(await timed('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', qcow2File, out], remove(out)));
    // What a user would run by hand for the same result: download, convert, hash, sync.
    const steps = `curl -s -o '${out}.qcow2' '${qcow2Url}' && qemu-img convert -f qcow2 -O raw '${out}.qcow2' '${out}' && sha256sum '${out}' >/dev/null && sync '${out}'`;
    qcow2Times.byHand.push(await timed('sh', ['-c', steps], remove(out, `${out}.qcow2`)));
    qcow2Times.import.push(await importer.importOnce(qcow2Url));
  }
  const rawDelay = importer.eventLoopP99Ms();
  const rss = importer.rss();
  await importer.close();
  server.process.kill();

  const slowest = Math.max(best(times.curl), best(times.sha256sum));
  console.log(`2. Importing a 1 GiB raw disk, against the stages it cannot avoid (${rounds} rounds, each measuring all)`);
  console.log(`   curl -o:      ${show(times.curl)} (${mibPerSecond(best(times.curl))})`);
  console.log(`   sha256sum:    ${show(times.sha256sum)} (${mibPerSecond(best(times.sha256sum))})`);
  console.log(`   sync (fsync): ${show(times.fsync)}`);
  console.log(`   importImage:  ${show(times.raw)} (${mibPerSecond(best(times.raw))}): peek, download, sha256, write, fsync`);
  console.log(
    `   ratio (import - fsync) / max(curl, sha256sum), best of each: ${((best(times.raw) - best(times.fsync)) / slowest).toFixed(2)} (goal <= 1.25)`,
  );
  console.log(`   event-loop delay p99 while importing (raw and qcow2): ${rawDelay.toFixed(1)} ms (goal < 20 ms)`);
  console.log(
    `   peak RSS of the importing process: ${(rss.peak / 2 ** 20).toFixed(0)} MiB (${((rss.peak - rss.idle) / 2 ** 20).toFixed(0)} MiB above its idle ${(rss.idle / 2 ** 20).toFixed(0)} MiB)`,
  );
  console.log(`3. Importing the same disk as qcow2 (converted to raw on the way)`);
  console.log(`   qemu-img convert -f qcow2 -O raw alone: ${show(qcow2Times.convert)}`);
  console.log(`   curl -o && qemu-img convert && sha256sum && sync: ${show(qcow2Times.byHand)}`);
  console.log(
    `   importImage (qcow2): ${show(qcow2Times.import)}: download, inspect, qemu-img info, convert, sha256, write, fsync`,
  );
  console.log(
    `   ratio import / qemu-img convert alone: ${(best(qcow2Times.import) / best(qcow2Times.convert)).toFixed(2)}; ` +
      `import / the same steps by hand: ${(best(qcow2Times.import) / best(qcow2Times.byHand)).toFixed(2)}`,
  );
}

try {
  await rejectionFigures();
  await throughputFigures();
} finally {
  for (const server of servers) server.kill();
  rmSync(dir, { recursive: true, force: true });
}
