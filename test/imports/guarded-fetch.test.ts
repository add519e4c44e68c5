/**
 * GuardedFetcher against real HTTP(S) servers on 127.0.0.1 (behaviour.md section 5 item 5).
 *
 * Loopback is refused like any non-public address unless the server's host:port is on allowedHosts, so
 * the servers here are either allowed explicitly or are canaries that must never see a connection.
 * A tripwire around net.connect/tls.connect records every connection attempt and throws for any host
 * off loopback: no test can send a packet off the machine, and refusals are shown to happen before
 * connect is even called.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type FetchFailureReason, ImageFetchError } from '../../src/errors.js';
import { AddressNotAllowedError } from '../../src/imports/guarded-connector.js';
import { type GuardedFetchOptions, GuardedFetcher, toFetchError } from '../../src/imports/guarded-fetch.js';
import {
  closeAllServers,
  closedPort,
  installTripwire,
  rejection,
  startServer,
  type LoopbackServer,
  type Tripwire,
} from './loopback-harness.js';

let tripwire: Tripwire;
let fetchers: GuardedFetcher[] = [];

function makeFetcher(options: Partial<GuardedFetchOptions> = {}): GuardedFetcher {
  const fetcher = new GuardedFetcher({ allowedHosts: [], allowHttp: true, ...options });
  fetchers.push(fetcher);
  return fetcher;
}

beforeEach(() => {
  tripwire = installTripwire();
});

afterEach(async () => {
  tripwire.restore();
  // Servers first: closing them ends whatever request a test left hanging, so the agents can close.
  await closeAllServers();
  await Promise.all(fetchers.map((fetcher) => fetcher.close()));
  fetchers = [];
});

function expectReason(error: unknown, reason: FetchFailureReason): ImageFetchError {
  expect(error).toBeInstanceOf(ImageFetchError);
  const fetchError = error as ImageFetchError;
  expect(fetchError.reason, `${fetchError.message} (cause: ${String(fetchError.cause)})`).toBe(reason);
  return fetchError;
}

/** The error's cause chain holds the connector's AddressNotAllowedError: refused by the guard itself. */
function expectGuardRefusal(error: unknown): void {
  expectReason(error, 'ADDRESS_NOT_ALLOWED');
  const chain: unknown[] = [];
  for (let e: unknown = error; e && chain.length < 6; e = (e as { cause?: unknown }).cause) chain.push(e);
  expect(chain.some((e) => e instanceof AddressNotAllowedError)).toBe(true);
}

async function readText(body: AsyncIterable<Uint8Array>): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}

describe('the tripwire', () => {
  it('sees the connections undici makes (so "no attempt" below means something)', async () => {
    const server = await startServer((_req, res) => res.end('hello'));
    const response = await makeFetcher({ allowedHosts: [server.hostPort] }).open(`${server.origin}/`);
    expect(await readText(response.body)).toBe('hello');
    expect(tripwire.attempts).toContainEqual({ api: 'net', host: '127.0.0.1', port: String(server.port) });
  });
});

describe('loopback canary: refused without allowedHosts', () => {
  let canary: LoopbackServer;

  beforeEach(async () => {
    canary = await startServer((_req, res) => res.end('canary reached'));
  });

  afterEach(() => {
    expect(canary.connections).toBe(0);
    expect(canary.requests).toHaveLength(0);
  });

  it.each([
    ['IPv4 literal', (port: number) => `http://127.0.0.1:${port}/`],
    ['IPv4-mapped IPv6 literal', (port: number) => `http://[::ffff:127.0.0.1]:${port}/`],
    ['decimal IPv4', (port: number) => `http://2130706433:${port}/`],
    ['hex first octet', (port: number) => `http://0x7f.0.0.1:${port}/`],
    ['short form 127.1', (port: number) => `http://127.1:${port}/`],
    ['octal 0177.0.0.1', (port: number) => `http://0177.0.0.1:${port}/`],
  ])('%s: refused before connect is called', async (_name, url) => {
    const { error } = await rejection(() => makeFetcher().open(url(canary.port)));
    expectGuardRefusal(error);
    expect(tripwire.attempts).toEqual([]);
  });

  it('a name resolving to loopback (localhost): refused by the lookup, so no socket connects', async () => {
    const { error } = await rejection(() => makeFetcher().open(`http://localhost:${canary.port}/`));
    expectGuardRefusal(error);
    // net.connect was called for the name, but its lookup refused every resolved address.
    expect(tripwire.attempts.every((attempt) => attempt.host === 'localhost')).toBe(true);
  });

  it('an allowedHosts entry for another port of the same host does not open this one', async () => {
    const { error } = await rejection(() =>
      makeFetcher({ allowedHosts: [`127.0.0.1:${canary.port === 1 ? 2 : canary.port - 1}`] }).open(`${canary.origin}/`),
    );
    expectGuardRefusal(error);
  });

  it.each([
    ['absolute', (canaryUrl: string) => canaryUrl],
    ['via localhost', (canaryUrl: string) => canaryUrl.replace('127.0.0.1', 'localhost')],
    ['via IPv4-mapped', (canaryUrl: string) => canaryUrl.replace('127.0.0.1', '[::ffff:127.0.0.1]')],
  ])('an allowed server redirecting to the canary (%s): the hop is re-checked', async (_name, target) => {
    const allowed = await startServer((_req, res) => {
      res.writeHead(302, { location: target(`${canary.origin}/secret`) }).end();
    });
    const { error } = await rejection(() => makeFetcher({ allowedHosts: [allowed.hostPort] }).open(`${allowed.origin}/start`));
    expectGuardRefusal(error);
    expect(allowed.requests).toHaveLength(1);
    // Literals never reach net.connect; a name does, but its lookup refuses before any socket opens.
    const dialled = tripwire.attempts.filter((attempt) => Number(attempt.port) === canary.port && attempt.host !== 'localhost');
    expect(dialled).toEqual([]);
  });
});

describe('non-loopback private literals: refused at once, nothing dialled', () => {
  it.each([
    'http://10.0.0.1/',
    'http://169.254.169.254/latest/meta-data',
    'http://[fd00::1]/',
    'http://[fe80::1]/',
    'http://100.64.0.1/',
    'http://172.16.0.1:8080/',
    'http://192.168.0.1/',
    'http://0.0.0.0/',
    'https://10.0.0.1/image.raw',
    'https://[fd00::1]:8443/image.raw',
    'http://[::ffff:10.0.0.1]/',
    'http://[64:ff9b::a00:1]/',
  ])('%s -> ADDRESS_NOT_ALLOWED', async (url) => {
    const { error, ms } = await rejection(() => makeFetcher().open(url));
    expectGuardRefusal(error);
    // A connect attempt off this loopback-only machine would hang until the connect timeout (5 s).
    expect(ms).toBeLessThan(1_000);
    expect(tripwire.attempts).toEqual([]);
  });

  it('a redirect from an allowed server to the metadata address is refused without dialling it', async () => {
    const allowed = await startServer((_req, res) => {
      res.writeHead(307, { location: 'http://169.254.169.254/latest/meta-data/iam' }).end();
    });
    const { error, ms } = await rejection(() => makeFetcher({ allowedHosts: [allowed.hostPort] }).open(`${allowed.origin}/`));
    expectGuardRefusal(error);
    expect(ms).toBeLessThan(1_000);
    expect(tripwire.attempts.map((attempt) => attempt.host)).toEqual(['127.0.0.1']);
  });
});

describe('URL rules', () => {
  let canary: LoopbackServer;

  beforeEach(async () => {
    canary = await startServer();
  });

  afterEach(() => {
    expect(canary.connections).toBe(0);
    expect(tripwire.attempts).toEqual([]);
  });

  it('ftp:// -> SCHEME_NOT_ALLOWED', async () => {
    const { error } = await rejection(() => makeFetcher({ allowedHosts: [canary.hostPort] }).open(`ftp://${canary.hostPort}/x`));
    expectReason(error, 'SCHEME_NOT_ALLOWED');
  });

  it.each(['file:///etc/passwd', 'data:text/plain,hello', 'gopher://127.0.0.1/'])('%s -> SCHEME_NOT_ALLOWED', async (url) => {
    const { error } = await rejection(() => makeFetcher().open(url));
    expectReason(error, 'SCHEME_NOT_ALLOWED');
  });

  it('http with allowHttp: false -> SCHEME_NOT_ALLOWED, even for an allowed host', async () => {
    const fetcher = makeFetcher({ allowHttp: false, allowedHosts: [canary.hostPort] });
    const { error } = await rejection(() => fetcher.open(`${canary.origin}/`));
    expectReason(error, 'SCHEME_NOT_ALLOWED');
  });

  it.each([
    ['user:pass@', (hostPort: string) => `http://user:pass@${hostPort}/`],
    ['user@', (hostPort: string) => `http://user@${hostPort}/`],
    [':pass@', (hostPort: string) => `http://:pass@${hostPort}/`],
  ])('user info (%s) -> INVALID_URL, even for an allowed host', async (_name, url) => {
    const { error } = await rejection(() => makeFetcher({ allowedHosts: [canary.hostPort] }).open(url(canary.hostPort)));
    expectReason(error, 'INVALID_URL');
  });

  it.each(['not a url', '', '/relative/path', 'http://'])('%j -> INVALID_URL', async (url) => {
    const { error } = await rejection(() => makeFetcher().open(url));
    expectReason(error, 'INVALID_URL');
  });
});

describe('redirects through allowed loopback servers', () => {
  /** /abs/N and /rel/N redirect N times (absolute or relative Location), then answer the body. */
  async function chainServer(status = 302): Promise<LoopbackServer> {
    const server: LoopbackServer = await startServer((req, res) => {
      const match = /^\/(abs|rel)\/(\d+)$/.exec(req.url ?? '');
      if (!match) return void res.writeHead(404).end();
      const left = Number(match[2]);
      if (left === 0) return void res.end(`final body via ${match[1]}`);
      const location = match[1] === 'abs' ? `${server.origin}/abs/${left - 1}` : `${left - 1}`;
      res.writeHead(status, { location }).end();
    });
    return server;
  }

  it.each([1, 2, 3])('%i hop(s): followed, the final body is read', async (hops) => {
    const server = await chainServer();
    const response = await makeFetcher({ allowedHosts: [server.hostPort] }).open(`${server.origin}/abs/${hops}`);
    expect(response.status).toBe(200);
    expect(response.url).toBe(`${server.origin}/abs/0`);
    expect(await readText(response.body)).toBe('final body via abs');
    expect(server.requests).toHaveLength(hops + 1);
  });

  it('4 hops -> REDIRECT_NOT_ALLOWED, and the 5th URL is never requested', async () => {
    const server = await chainServer();
    const { error } = await rejection(() => makeFetcher({ allowedHosts: [server.hostPort] }).open(`${server.origin}/abs/4`));
    expectReason(error, 'REDIRECT_NOT_ALLOWED');
    expect(server.requests.map((req) => req.url)).toEqual(['/abs/4', '/abs/3', '/abs/2', '/abs/1']);
  });

  it('maxRedirects: 0 refuses the first redirect', async () => {
    const server = await chainServer();
    const fetcher = makeFetcher({ allowedHosts: [server.hostPort], maxRedirects: 0 });
    const { error } = await rejection(() => fetcher.open(`${server.origin}/abs/1`));
    expectReason(error, 'REDIRECT_NOT_ALLOWED');
  });

  it.each([301, 302, 303, 307, 308])('HTTP %i is followed', async (status) => {
    const server = await chainServer(status);
    const response = await makeFetcher({ allowedHosts: [server.hostPort] }).open(`${server.origin}/abs/1`);
    expect(await readText(response.body)).toBe('final body via abs');
  });

  it('a relative Location is resolved against the current URL', async () => {
    const server = await chainServer();
    const response = await makeFetcher({ allowedHosts: [server.hostPort] }).open(`${server.origin}/rel/3`);
    expect(response.url).toBe(`${server.origin}/rel/0`);
    expect(await readText(response.body)).toBe('final body via rel');
  });

  it('a redirect from one allowed server to another is followed', async () => {
    const second = await startServer((_req, res) => res.end('from the second server'));
    const first = await startServer((_req, res) => res.writeHead(302, { location: `${second.origin}/image` }).end());
    const response = await makeFetcher({ allowedHosts: [first.hostPort, second.hostPort] }).open(`${first.origin}/`);
    expect(response.url).toBe(`${second.origin}/image`);
    expect(await readText(response.body)).toBe('from the second server');
  });

  it('a redirect without Location -> REDIRECT_NOT_ALLOWED', async () => {
    const server = await startServer((_req, res) => res.writeHead(302).end());
    const { error } = await rejection(() => makeFetcher({ allowedHosts: [server.hostPort] }).open(`${server.origin}/`));
    expectReason(error, 'REDIRECT_NOT_ALLOWED');
  });

  it('a redirect to ftp:// -> REDIRECT_NOT_ALLOWED', async () => {
    const server = await startServer((_req, res) => res.writeHead(302, { location: 'ftp://127.0.0.1/image.raw' }).end());
    const { error } = await rejection(() => makeFetcher({ allowedHosts: [server.hostPort] }).open(`${server.origin}/`));
    expectReason(error, 'REDIRECT_NOT_ALLOWED');
    expect(tripwire.attempts).toHaveLength(1);
  });

  it('a redirect to a URL with user info -> INVALID_URL, not followed', async () => {
    const target = await startServer();
    const server = await startServer((_req, res) =>
      res.writeHead(302, { location: `http://user:pass@${target.hostPort}/` }).end(),
    );
    const fetcher = makeFetcher({ allowedHosts: [server.hostPort, target.hostPort] });
    const { error } = await rejection(() => fetcher.open(`${server.origin}/`));
    expectReason(error, 'INVALID_URL');
    expect(target.connections).toBe(0);
  });
});

describe('HTTP and transport failures', () => {
  it.each([404, 500, 403, 204])('HTTP %i -> HTTP_STATUS with httpStatus', async (status) => {
    const server = await startServer((_req, res) => res.writeHead(status).end(status === 204 ? undefined : 'nope'));
    const { error } = await rejection(() => makeFetcher({ allowedHosts: [server.hostPort] }).open(`${server.origin}/`));
    expect(expectReason(error, 'HTTP_STATUS').httpStatus).toBe(status);
  });

  it('connection refused (a closed port) -> CONNECTION_FAILED', async () => {
    const port = await closedPort();
    const { error, ms } = await rejection(() =>
      makeFetcher({ allowedHosts: [`127.0.0.1:${port}`] }).open(`http://127.0.0.1:${port}/`),
    );
    expectReason(error, 'CONNECTION_FAILED');
    expect(ms).toBeLessThan(2_000);
  });

  it('a server that closes the connection without answering -> CONNECTION_FAILED', async () => {
    const server = await startServer((req) => req.socket.destroy());
    const { error } = await rejection(() => makeFetcher({ allowedHosts: [server.hostPort] }).open(`${server.origin}/`));
    expectReason(error, 'CONNECTION_FAILED');
  });

  it('sends a GET again on a fresh connection when the kept-alive one is closed as the request goes out', async () => {
    // The server answers the first request of each connection and drops the connection at the second,
    // unanswered: what a client sees when a server closes an idle keep-alive connection just then.
    const served = new WeakMap<object, number>();
    let dropped = 0;
    const server = await startServer((req, res) => {
      const count = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, count);
      if (count > 1) {
        dropped++;
        req.socket.destroy();
      } else res.end('ok');
    });
    const fetcher = makeFetcher({ allowedHosts: [server.hostPort] });
    for (let i = 0; i < 3; i++) {
      const response = await fetcher.open(`${server.origin}/`);
      expect(response.status).toBe(200);
      for await (const chunk of response.body) void chunk;
    }
    // At least one open went out on a kept-alive connection, was dropped, and was sent again.
    expect(dropped).toBeGreaterThan(0);
  });

  it('a server that never answers -> TIMEOUT after headersTimeoutMs', async () => {
    const server = await startServer(() => undefined);
    const fetcher = makeFetcher({ allowedHosts: [server.hostPort], headersTimeoutMs: 300 });
    const { error, ms } = await rejection(() => fetcher.open(`${server.origin}/`));
    expectReason(error, 'TIMEOUT');
    expect(ms).toBeGreaterThanOrEqual(250);
    expect(ms).toBeLessThan(2_000);
  });

  it('a body that stalls -> the read throws, and toFetchError maps it to TIMEOUT', async () => {
    const server = await startServer((_req, res) => {
      res.writeHead(200, { 'content-length': '1000000' });
      res.write('a few bytes');
      // ...and nothing more.
    });
    const fetcher = makeFetcher({ allowedHosts: [server.hostPort], bodyTimeoutMs: 300 });
    const uri = `${server.origin}/stall`;
    const response = await fetcher.open(uri);
    expect(response.status).toBe(200);
    const received: number[] = [];
    const { error, ms } = await rejection(async () => {
      for await (const chunk of response.body) received.push(chunk.length);
    });
    expect(received.reduce((a, b) => a + b, 0)).toBe('a few bytes'.length);
    expect(ms).toBeLessThan(2_000);
    const mapped = toFetchError(uri, error);
    expect(mapped.reason).toBe('TIMEOUT');
    expect(mapped.uri).toBe(uri);
  });

  it("a timeout or abort from the caller's signal -> TIMEOUT", async () => {
    const server = await startServer(() => undefined);
    const fetcher = makeFetcher({ allowedHosts: [server.hostPort] });
    const { error, ms } = await rejection(() => fetcher.open(`${server.origin}/`, { signal: AbortSignal.timeout(300) }));
    expectReason(error, 'TIMEOUT');
    expect(ms).toBeLessThan(2_000);
  });
});

describe('request shape', () => {
  let server: LoopbackServer;

  beforeEach(async () => {
    server = await startServer((_req, res) => res.end('ok'));
  });

  it('sends Accept-Encoding: identity and the asked Range', async () => {
    const response = await makeFetcher({ allowedHosts: [server.hostPort] }).open(`${server.origin}/img`, { range: [0, 65_535] });
    await readText(response.body);
    const headers = server.requests[0]!.headers;
    expect(headers['accept-encoding']).toBe('identity');
    expect(headers.range).toBe('bytes=0-65535');
    expect(server.requests[0]!.method).toBe('GET');
  });

  it('sends no Range header unless asked', async () => {
    const response = await makeFetcher({ allowedHosts: [server.hostPort] }).open(`${server.origin}/img`);
    await readText(response.body);
    expect(server.requests[0]!.headers.range).toBeUndefined();
    expect(server.requests[0]!.headers['accept-encoding']).toBe('identity');
  });

  it('sends the Range again on every redirect hop', async () => {
    const target = await startServer((_req, res) => res.end('ok'));
    const first = await startServer((_req, res) => res.writeHead(302, { location: `${target.origin}/img` }).end());
    const response = await makeFetcher({ allowedHosts: [first.hostPort, target.hostPort] }).open(`${first.origin}/`, {
      range: [0, 511],
    });
    await readText(response.body);
    expect(target.requests[0]!.headers.range).toBe('bytes=0-511');
  });

  describe('with proxy variables in the environment', () => {
    const KEYS = ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy'];
    let saved: Record<string, string | undefined>;

    beforeEach(() => {
      saved = Object.fromEntries(KEYS.map((key) => [key, process.env[key]]));
    });

    afterEach(() => {
      for (const key of KEYS) {
        if (saved[key] === undefined) delete process.env[key];
        else process.env[key] = saved[key];
      }
    });

    it('ignores HTTP_PROXY / HTTPS_PROXY: the request goes direct', async () => {
      const proxy = await startServer((_req, res) => res.end('proxied'));
      for (const key of ['HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy', 'ALL_PROXY', 'all_proxy']) {
        process.env[key] = proxy.origin;
      }
      delete process.env.NO_PROXY;
      delete process.env.no_proxy;
      const fetcher = makeFetcher({ allowedHosts: [server.hostPort] });
      const response = await fetcher.open(`${server.origin}/direct`);
      expect(await readText(response.body)).toBe('ok');
      expect(proxy.connections).toBe(0);
      // A proxied request would carry the absolute URL in its request line.
      expect(server.requests.map((req) => req.url)).toEqual(['/direct']);
      expect(tripwire.attempts.map((attempt) => Number(attempt.port))).toEqual([server.port]);
    });
  });
});

describe('https', () => {
  let dir: string;
  let key: Buffer;
  let cert: Buffer;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'imagegraph-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-subj',
        '/CN=localhost',
        '-days',
        '1',
        '-addext',
        'subjectAltName=IP:127.0.0.1,DNS:localhost',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
      ],
      { stdio: 'pipe' },
    );
    key = readFileSync(join(dir, 'key.pem'));
    cert = readFileSync(join(dir, 'cert.pem'));
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const https = (handler: Parameters<typeof startServer>[0]) => startServer(handler, { key, cert });

  it('a self-signed certificate on an allowed host -> TLS_FAILURE', async () => {
    const server = await https((_req, res) => res.end('secret'));
    const { error } = await rejection(() => makeFetcher({ allowedHosts: [server.hostPort] }).open(`${server.origin}/`));
    expectReason(error, 'TLS_FAILURE');
    expect(server.connections).toBe(1);
    expect(server.requests).toHaveLength(0);
  });

  it('a self-signed server not on allowedHosts is refused before the handshake', async () => {
    const server = await https((_req, res) => res.end('secret'));
    const { error } = await rejection(() => makeFetcher().open(`${server.origin}/`));
    expectGuardRefusal(error);
    expect(server.connections).toBe(0);
  });

  describe('with the test CA trusted', () => {
    beforeEach(() => {
      tripwire.restore();
      tripwire = installTripwire({ ca: cert });
    });

    it('fetches over https (control for the redirect case)', async () => {
      const server = await https((_req, res) => res.end('over tls'));
      const response = await makeFetcher({ allowedHosts: [server.hostPort] }).open(`${server.origin}/`);
      expect(await readText(response.body)).toBe('over tls');
    });

    it('a redirect from https to plain http -> REDIRECT_NOT_ALLOWED, the http server never reached', async () => {
      const plain = await startServer((_req, res: ServerResponse) => res.end('downgraded'));
      const secure = await https((_req, res) => res.writeHead(302, { location: `${plain.origin}/image` }).end());
      const fetcher = makeFetcher({ allowedHosts: [secure.hostPort, plain.hostPort] });
      const { error } = await rejection(() => fetcher.open(`${secure.origin}/`));
      expectReason(error, 'REDIRECT_NOT_ALLOWED');
      expect(plain.connections).toBe(0);
    });
  });
});
