/**
 * peekImage against real loopback servers (behaviour.md section 5 items 5-6): the first 64 KiB with
 * Range, never more than that read even when the server ignores Range, then the format check.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ImageFetchError, UnsupportedImageFormatError } from '../../src/errors.js';
import { PEEK_BYTES } from '../../src/imports/formats/index.js';
import { GuardedFetcher } from '../../src/imports/guarded-fetch.js';
import { ConversionTools } from '../../src/imports/conversion/conversion-tools.js';
import { ImportLimits } from '../../src/imports/import-limits.js';
import { planImport } from '../../src/imports/import-plan.js';
import { peekHead } from '../../src/imports/peek-image.js';

/** The peek and the format rules of an import that does not convert: raw bootable disks only. */
async function peekImage(fetcher: GuardedFetcher, uri: string, options: { maxSizeBytes: number; deadlineMs?: number }) {
  const limits = new ImportLimits(options.maxSizeBytes, options.maxSizeBytes);
  const { head } = await peekHead(fetcher, uri, limits, options.deadlineMs);
  planImport(uri, head, null, { convert: false, regionCannotConvert: null, tools: new ConversionTools(), limits });
}
import {
  closeAllServers,
  installTripwire,
  rejection,
  startServer,
  type LoopbackServer,
  type Tripwire,
} from './loopback-harness.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

let dir: string;
/** An 8 MiB raw disk with a DOS partition table, as sfdisk writes it. */
let mbrDisk: Buffer;
/** An empty qcow2 image, as qemu-img writes it. */
let qcow2: Buffer;

/** Partitioning tools live in sbin, often off a user's PATH. */
const TOOL_ENV = { ...process.env, PATH: [process.env.PATH ?? '', '/usr/sbin', '/sbin'].join(delimiter) };

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'imagegraph-peek-'));
  const run = (tool: string, args: string[], input = '') =>
    execFileSync(tool, args, { cwd: dir, input, stdio: 'pipe', env: TOOL_ENV });
  run('qemu-img', ['create', '-q', '-f', 'raw', 'mbr.raw', '8M']);
  run('sfdisk', ['-q', 'mbr.raw'], 'label: dos\nstart=2048, type=83, bootable\n');
  run('qemu-img', ['create', '-q', '-f', 'qcow2', 'disk.qcow2', '8M']);
  mbrDisk = readFileSync(join(dir, 'mbr.raw'));
  qcow2 = readFileSync(join(dir, 'disk.qcow2'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

let tripwire: Tripwire;
let fetcher: GuardedFetcher | undefined;

beforeEach(() => {
  tripwire = installTripwire();
});

afterEach(async () => {
  tripwire.restore();
  await closeAllServers();
  await fetcher?.close();
  fetcher = undefined;
});

function fetcherFor(...servers: LoopbackServer[]): GuardedFetcher {
  fetcher = new GuardedFetcher({ allowedHosts: servers.map((server) => server.hostPort), allowHttp: true });
  return fetcher;
}

/** Serves `file`, honouring `Range: bytes=a-b` with a 206 (and the total size in Content-Range). */
function rangeHandler(file: Buffer, totalSize = file.length) {
  return (req: IncomingMessage, res: ServerResponse) => {
    const match = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!match) return void res.writeHead(200, { 'content-length': String(file.length) }).end(file);
    const start = Number(match[1]);
    const end = Math.min(match[2] ? Number(match[2]) : file.length - 1, file.length - 1);
    res.writeHead(206, {
      'content-range': `bytes ${start}-${end}/${totalSize}`,
      'content-length': String(end - start + 1),
    });
    res.end(file.subarray(start, end + 1));
  };
}

describe('peekImage', () => {
  it('a server honouring Range: 206 with the first 64 KiB of an MBR disk -> resolves', async () => {
    const server = await startServer(rangeHandler(mbrDisk));
    await expect(peekImage(fetcherFor(server), `${server.origin}/mbr.raw`, { maxSizeBytes: GiB })).resolves.toBeUndefined();
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]!.headers.range).toBe(`bytes=0-${PEEK_BYTES - 1}`);
    expect(server.requests[0]!.headers['accept-encoding']).toBe('identity');
  });

  it('a server ignoring Range and streaming 64 MiB: resolves, and the client stops the transfer early', async () => {
    const TOTAL = 64 * MiB;
    const CHUNK = 64 * 1024;
    let handedOver = 0;
    let finished = false;
    let socketBytesWritten = 0;
    let closed!: Promise<void>;
    const server = await startServer((req, res) => {
      const socket = req.socket;
      closed = new Promise<void>((resolve) =>
        res.on('close', () => {
          finished = res.writableFinished;
          socketBytesWritten = socket.bytesWritten;
          resolve();
        }),
      );
      res.writeHead(200, { 'content-length': String(TOTAL), 'content-type': 'application/octet-stream' });
      // The MBR disk over and over, 64 KiB at a time, waiting for 'drain' as a well-behaved server does.
      const pump = (): void => {
        while (handedOver < TOTAL && !res.destroyed) {
          const offset = handedOver % mbrDisk.length;
          const chunk = mbrDisk.subarray(offset, offset + CHUNK);
          handedOver += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (handedOver >= TOTAL) res.end();
      };
      pump();
    });
    const started = performance.now();
    await expect(peekImage(fetcherFor(server), `${server.origin}/big.raw`, { maxSizeBytes: GiB })).resolves.toBeUndefined();
    expect(performance.now() - started).toBeLessThan(2_000);
    await Promise.race([
      closed,
      new Promise((_, reject) => setTimeout(() => reject(new Error('the server never saw the close')), 2_000)),
    ]);
    expect(finished).toBe(false);
    // Kernel socket buffers on both ends let a few MiB through before the close lands; never the 64 MiB.
    expect(handedOver).toBeLessThan(8 * MiB);
    expect(socketBytesWritten).toBeLessThanOrEqual(handedOver + 1024);
  });

  it('a qcow2 image -> UnsupportedImageFormatError naming QCOW2', async () => {
    const server = await startServer(rangeHandler(qcow2));
    const { error } = await rejection(() => peekImage(fetcherFor(server), `${server.origin}/disk.qcow2`, { maxSizeBytes: GiB }));
    expect(error).toBeInstanceOf(UnsupportedImageFormatError);
    expect((error as UnsupportedImageFormatError).detectedFormat).toBe('QCOW2');
    expect((error as UnsupportedImageFormatError).hint).toContain('qemu-img convert');
  });

  it('a 100-byte file -> ImageFetchError TOO_SMALL', async () => {
    const server = await startServer(rangeHandler(mbrDisk.subarray(0, 100)));
    const { error } = await rejection(() => peekImage(fetcherFor(server), `${server.origin}/tiny`, { maxSizeBytes: GiB }));
    expect(error).toBeInstanceOf(ImageFetchError);
    expect((error as ImageFetchError).reason).toBe('TOO_SMALL');
  });

  it('a Content-Range total over maxSizeBytes -> TOO_LARGE, before the body is judged', async () => {
    const server = await startServer(rangeHandler(mbrDisk, 2 * GiB));
    const { error } = await rejection(() => peekImage(fetcherFor(server), `${server.origin}/huge.raw`, { maxSizeBytes: GiB }));
    expect(error).toBeInstanceOf(ImageFetchError);
    expect((error as ImageFetchError).reason).toBe('TOO_LARGE');
  });

  it('a 200 whose Content-Length is over maxSizeBytes -> TOO_LARGE', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(2 * GiB) });
      res.write(mbrDisk.subarray(0, PEEK_BYTES));
    });
    const { error } = await rejection(() => peekImage(fetcherFor(server), `${server.origin}/huge.raw`, { maxSizeBytes: GiB }));
    expect((error as ImageFetchError).reason).toBe('TOO_LARGE');
  });

  it('a server dripping 1 byte per 200 ms -> TIMEOUT at the deadline', async () => {
    const timers = new Set<NodeJS.Timeout>();
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': String(mbrDisk.length) });
      let offset = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return void clearInterval(timer);
        res.write(mbrDisk.subarray(offset, offset + 1));
        offset++;
      }, 200);
      timers.add(timer);
      res.on('close', () => clearInterval(timer));
    });
    try {
      const { error, ms } = await rejection(() =>
        peekImage(fetcherFor(server), `${server.origin}/slow.raw`, { maxSizeBytes: GiB, deadlineMs: 1_000 }),
      );
      expect(error).toBeInstanceOf(ImageFetchError);
      expect((error as ImageFetchError).reason).toBe('TIMEOUT');
      expect(ms).toBeGreaterThanOrEqual(900);
      expect(ms).toBeLessThan(2_000);
    } finally {
      for (const timer of timers) clearInterval(timer);
    }
  });

  it('a loopback URL not on allowedHosts -> ADDRESS_NOT_ALLOWED, the server never reached', async () => {
    const server = await startServer(rangeHandler(mbrDisk));
    fetcher = new GuardedFetcher({ allowedHosts: [], allowHttp: true });
    const { error } = await rejection(() => peekImage(fetcher!, `${server.origin}/mbr.raw`, { maxSizeBytes: GiB }));
    expect((error as ImageFetchError).reason).toBe('ADDRESS_NOT_ALLOWED');
    expect(server.connections).toBe(0);
    expect(tripwire.attempts).toEqual([]);
  });
});
