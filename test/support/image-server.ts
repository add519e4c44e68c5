/**
 * A real HTTP server on 127.0.0.1 that serves disk images to the importer, with the misbehaviours
 * remote servers have: ignoring Range, redirecting, holding a download open, trickling bytes, not
 * saying how long the file is, or answering a Range request with other content than a full GET.
 */
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Bytes to serve: a file on disk (its path), bytes in memory, or a generator of any size. */
export type ImageBody = string | Uint8Array | GeneratedBody;

export interface GeneratedBody {
  size: number;
  /** The bytes in [start, end). */
  read(start: number, end: number): Uint8Array;
}

export interface ImageRoute {
  body: ImageBody;
  /** Served to Range requests instead of `body`: a remote file that changed between the peek and the download. */
  rangeBody?: ImageBody;
  /** Answer `Range: bytes=a-b` with 206 and Content-Range (default); false: always 200 with the whole file. */
  honourRange?: boolean;
  /** Answer 302 with this Location (a path on this server, or a URL) instead of the file. */
  redirect?: string;
  /** Full (non-Range) GETs send their headers, then wait for `release(path)` before the first body byte. */
  holdUntilReleased?: boolean;
  /**
   * With holdUntilReleased: send this many body bytes before waiting (default 0), so that the bytes
   * past the importer's 64 KiB head check are already moving into the provider while held.
   */
  holdAfterBytes?: number;
  /** Full (non-Range) GETs trickle: `chunkBytes` at a time, `delayMs` apart. Range answers stay fast. */
  throttle?: { chunkBytes: number; delayMs: number };
  /** Full GETs go chunked without Content-Length, and 206 answers say `Content-Range: bytes a-b/*`. */
  omitLength?: boolean;
  /** Answer this status with an empty body instead (e.g. 404, 500). */
  status?: number;
}

export interface ServedRequest {
  path: string;
  /** The Range header as received, if any. */
  range: string | undefined;
  status: number;
  /** Body bytes written so far. */
  bytesSent: number;
  /** The whole answer was written. */
  finished: boolean;
  /** The client went away before the end. */
  aborted: boolean;
}

export interface ImageServer {
  port: number;
  /** `127.0.0.1:<port>`, for `imports.allowedHosts`. */
  host: string;
  url(path: string): string;
  /** Adds or replaces the route for `path` (also while running: later requests see the change). */
  route(path: string, route: ImageRoute | ImageBody): void;
  /** Removes a route: later requests for it get 404. */
  remove(path: string): void;
  /** Every request received, in order. */
  requests: ServedRequest[];
  /**
   * Lets held downloads of `path` (of every route known now when omitted) go on; later downloads of
   * those paths are not held. Routes added afterwards hold as they say.
   */
  release(path?: string): void;
  /** Resolves with the first request (already received or still to come) matching `predicate`. */
  waitForRequest(predicate: (request: ServedRequest) => boolean, timeoutMs?: number): Promise<ServedRequest>;
  close(): Promise<void>;
}

const CHUNK_BYTES = 64 * 1024;

export async function startImageServer(routes: Record<string, ImageRoute | ImageBody> = {}): Promise<ImageServer> {
  const table = new Map<string, ImageRoute>();
  const released = new Set<string>();
  const holds = new Map<string, (() => void)[]>();
  const requests: ServedRequest[] = [];

  const setRoute = (path: string, route: ImageRoute | ImageBody) => table.set(path, isRoute(route) ? route : { body: route });
  for (const [path, route] of Object.entries(routes)) setRoute(path, route);

  const held = (path: string) => !released.has(path);
  const waitForRelease = (path: string) =>
    new Promise<void>((resolve) => {
      if (!held(path)) return resolve();
      holds.set(path, [...(holds.get(path) ?? []), resolve]);
    });

  async function handle(req: IncomingMessage, res: ServerResponse, log: ServedRequest): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const route = table.get(path);
    const answer = (status: number, headers: Record<string, string | number> = {}) => {
      log.status = status;
      res.writeHead(status, headers);
    };
    if (!route || req.method !== 'GET') {
      answer(route ? 405 : 404, { 'content-length': 0 });
      return void res.end(() => (log.finished = true));
    }
    if (route.status !== undefined) {
      answer(route.status, { 'content-length': 0 });
      return void res.end(() => (log.finished = true));
    }
    if (route.redirect !== undefined) {
      answer(302, { location: route.redirect, 'content-length': 0 });
      return void res.end(() => (log.finished = true));
    }
    const range = route.honourRange === false ? null : parseRange(req.headers.range);
    const body = range && route.rangeBody !== undefined ? route.rangeBody : route.body;
    const size = sizeOf(body);
    let start = 0;
    let end = size;
    if (range) {
      if (range.start >= size) {
        answer(416, { 'content-range': `bytes */${size}`, 'content-length': 0 });
        return void res.end(() => (log.finished = true));
      }
      start = range.start;
      end = Math.min(size, range.end === null ? size : range.end + 1);
      const total = route.omitLength ? '*' : String(size);
      answer(206, {
        'content-range': `bytes ${start}-${end - 1}/${total}`,
        'content-length': end - start,
        'accept-ranges': 'bytes',
      });
    } else {
      answer(200, route.omitLength ? {} : { 'content-length': size });
    }
    const full = !range;
    let holding = full && route.holdUntilReleased === true;
    const holdAt = route.holdAfterBytes ?? 0;
    const holdHere = async () => {
      holding = false;
      if (!held(path)) return;
      res.flushHeaders();
      await waitForRelease(path);
    };
    if (holding && holdAt === 0) await holdHere();
    const throttle = full ? route.throttle : undefined;
    for await (const chunk of chunksOf(body, start, end, throttle?.chunkBytes ?? CHUNK_BYTES)) {
      if (holding && log.bytesSent >= holdAt) await holdHere();
      await write(res, chunk);
      log.bytesSent += chunk.length;
      if (throttle) await new Promise((resolve) => setTimeout(resolve, throttle.delayMs));
    }
    await new Promise<void>((resolve) => res.end(resolve));
    log.finished = true;
  }

  const server = createServer((req, res) => {
    const log: ServedRequest = {
      path: new URL(req.url ?? '/', 'http://x').pathname,
      range: req.headers.range,
      status: 0,
      bytesSent: 0,
      finished: false,
      aborted: false,
    };
    requests.push(log);
    res.on('close', () => {
      if (!log.finished) log.aborted = true;
    });
    handle(req, res, log).catch(() => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const imageServer: ImageServer = {
    port,
    host: `127.0.0.1:${port}`,
    url: (path) => `http://127.0.0.1:${port}${path}`,
    route: setRoute,
    remove: (path) => void table.delete(path),
    requests,
    release(path) {
      // Every route known now, not a flag for good: a route added later (the next test's, on a server
      // a file shares) holds as it says.
      const paths = path === undefined ? new Set([...table.keys(), ...holds.keys()]) : [path];
      for (const releasedPath of paths) {
        released.add(releasedPath);
        const waiters = holds.get(releasedPath) ?? [];
        holds.delete(releasedPath);
        waiters.forEach((resolve) => resolve());
      }
    },
    async waitForRequest(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = requests.find(predicate);
        if (found) return found;
        if (Date.now() > deadline) {
          throw new Error(`no matching request within ${timeoutMs} ms; saw ${JSON.stringify(requests)}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async close() {
      imageServer.release();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return imageServer;
}

function isRoute(value: ImageRoute | ImageBody): value is ImageRoute {
  return typeof value === 'object' && !(value instanceof Uint8Array) && 'body' in value;
}

/** `bytes=a-b` or `bytes=a-`; anything else (suffix ranges, several ranges) is ignored, as servers may. */
function parseRange(header: string | undefined): { start: number; end: number | null } | null {
  const match = /^bytes=(\d+)-(\d*)$/.exec(header ?? '');
  if (!match) return null;
  return { start: Number(match[1]), end: match[2] ? Number(match[2]) : null };
}

export function sizeOf(body: ImageBody): number {
  if (typeof body === 'string') return statSync(body).size;
  if (body instanceof Uint8Array) return body.length;
  return body.size;
}

/** The bytes of [start, end) of `body`, `chunkBytes` at a time; memory stays flat for any size. */
export async function* chunksOf(
  body: ImageBody,
  start = 0,
  end = sizeOf(body),
  chunkBytes = CHUNK_BYTES,
): AsyncGenerator<Uint8Array> {
  if (typeof body === 'string') {
    const file = await open(body, 'r');
    try {
      for (let position = start; position < end;) {
        const buffer = Buffer.allocUnsafe(Math.min(chunkBytes, end - position));
        const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
        if (bytesRead === 0) return;
        position += bytesRead;
        yield buffer.subarray(0, bytesRead);
      }
    } finally {
      await file.close();
    }
    return;
  }
  for (let position = start; position < end; position += chunkBytes) {
    const stop = Math.min(end, position + chunkBytes);
    yield body instanceof Uint8Array ? body.subarray(position, stop) : body.read(position, stop);
  }
}

/** The hex sha256 of a whole body. */
export async function sha256Of(body: ImageBody): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of chunksOf(body, 0, sizeOf(body), 1024 * 1024)) hash.update(chunk);
  return hash.digest('hex');
}

/** A disk of `size` bytes that starts with `head` (e.g. a real disk's boot record) and is zeros after it. */
export function diskWithHead(head: Uint8Array, size: number): GeneratedBody {
  return {
    size,
    read(start, end) {
      const bytes = new Uint8Array(end - start);
      if (start < head.length) bytes.set(head.subarray(start, Math.min(end, head.length)), 0);
      return bytes;
    },
  };
}

/** Writes with backpressure; rejects when the client has gone away. */
function write(res: ServerResponse, chunk: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    if (res.destroyed) return reject(new Error('client went away'));
    if (res.write(chunk)) return resolve();
    const cleanup = () => {
      res.off('drain', onDrain);
      res.off('close', onClose);
    };
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onClose = () => {
      cleanup();
      reject(new Error('client went away'));
    };
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}
