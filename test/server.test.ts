import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config.js';
import { createImagegraph, type Imagegraph } from '../src/server.js';
import { createLogger } from '../src/logger.js';

let dir: string;
let app: Imagegraph | undefined;
const sockets: Socket[] = [];

afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.destroy();
  await app?.close();
  app = undefined;
  rmSync(dir, { recursive: true, force: true });
});

/** A dev-mode server listening on loopback ports, with the given `server` settings. */
async function listening(server: Record<string, unknown> = {}) {
  dir = mkdtempSync(join(tmpdir(), 'imagegraph-server-'));
  const config = parseConfig({
    server: { port: 0, ...server },
    regions: [
      { id: 'local', name: 'Local', provider: { type: 'local', dataDir: join(dir, 'local') } },
      { id: 'secret-lab', name: 'Lab', organizations: ['acme'], provider: { type: 'local', dataDir: join(dir, 'lab') } },
    ],
  });
  app = await createImagegraph(config, { logger: createLogger('silent') });
  const { url, opsUrl } = await app.listen();
  return { url, base: url.replace(/\/graphql$/, ''), opsUrl };
}

/** A raw TCP connection to the server, collecting what it answers. */
async function rawConnection(url: string): Promise<{ socket: Socket; received: () => string; closed: Promise<void> }> {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  sockets.push(socket);
  let text = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
  // The server cutting an abusive client resets the connection; what a test checks is what arrived before.
  socket.on('error', () => undefined);
  const closed = new Promise<void>((done) => socket.once('close', () => done()));
  await new Promise<void>((done) => socket.once('connect', () => done()));
  return { socket, received: () => text, closed };
}

const gqlPost = (url: string, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ query: '{ viewer { subject } }' }),
  });

describe('CORS', () => {
  it('sends no CORS headers at all by default, whatever the origin', async () => {
    const { url } = await listening();
    const response = await gqlPost(url, { origin: 'https://evil.example' });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
    expect(response.headers.get('access-control-allow-credentials')).toBeNull();
  });

  it('answers a configured origin with its own name, credentials and x-request-id exposed, and a foreign one with nothing', async () => {
    const { url } = await listening({ cors: { origins: ['https://dash.example.com', 'http://localhost:3000'] } });

    const allowed = await gqlPost(url, { origin: 'https://dash.example.com' });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://dash.example.com');
    expect(allowed.headers.get('access-control-allow-credentials')).toBe('true');
    expect(allowed.headers.get('access-control-expose-headers')).toContain('x-request-id');

    const preflight = await fetch(url, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://localhost:3000',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type, authorization',
      },
    });
    expect(preflight.headers.get('access-control-allow-origin')).toBe('http://localhost:3000');

    for (const origin of ['https://evil.example', 'https://dash.example.com.evil.example', 'null']) {
      const foreign = await gqlPost(url, { origin });
      expect(foreign.headers.get('access-control-allow-origin'), origin).toBeNull();
    }
  });

  it('refuses an origin that is not exactly an origin in the config', () => {
    expect(() => parseConfig({ server: { cors: { origins: ['https://dash.example.com/app'] } }, regions: [] })).toThrow(
      /cors\.origins/,
    );
  });
});

describe('slow and greedy clients', () => {
  it('cuts a client that sends its headers too slowly', async () => {
    const { url } = await listening({ headersTimeoutMs: 500, requestTimeoutMs: 1_000 });
    const started = Date.now();
    const { socket, received, closed } = await rawConnection(url);
    socket.write('POST /graphql HTTP/1.1\r\nHost: x\r\n');
    const drip = setInterval(() => socket.write('X-Slow: 1\r\n'), 200);
    await closed;
    clearInterval(drip);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it('cuts a client that sends its body too slowly', async () => {
    const { url } = await listening({ headersTimeoutMs: 500, requestTimeoutMs: 1_000 });
    const started = Date.now();
    const { socket, received, closed } = await rawConnection(url);
    socket.write('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{');
    const drip = setInterval(() => socket.write(' '), 200);
    await closed;
    clearInterval(drip);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(received()).toMatch(/^HTTP\/1\.1 408/);
  });

  it('closes idle keep-alive connections', async () => {
    const { url } = await listening({ keepAliveTimeoutMs: 300 });
    const { socket, received, closed } = await rawConnection(url);
    socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed;
    expect(received()).toMatch(/^HTTP\/1\.1 200/);
  });

  it('accepts no more than maxConnections connections at once', async () => {
    const { url } = await listening({ maxConnections: 3 });
    const open = await Promise.all([1, 2, 3].map(() => rawConnection(url)));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const extra = await rawConnection(url);
    await extra.closed;
    expect(extra.received()).toBe('');
    // Those within the cap are served.
    open[0]!.socket.write('GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await open[0]!.closed;
    expect(open[0]!.received()).toMatch(/^HTTP\/1\.1 200/);
  });
});

describe('operational endpoints', () => {
  it('keeps /ready and /metrics off the public port, where only /health answers', async () => {
    const { base } = await listening();
    expect((await fetch(`${base}/health`)).status).toBe(200);
    for (const path of ['/ready', '/metrics']) {
      const response = await fetch(`${base}${path}`);
      expect(response.status, path).toBe(404);
      expect(await response.text()).not.toContain('secret-lab');
    }
  });

  it('serves /health, /ready and /metrics on the operations listener, on loopback', async () => {
    const { opsUrl } = await listening();
    expect(new URL(opsUrl).hostname).toBe('127.0.0.1');
    expect((await fetch(`${opsUrl}/health`)).status).toBe(200);
    const ready = await fetch(`${opsUrl}/ready`);
    expect(await ready.json()).toEqual({ status: 'ready', regions: { local: 'ok', 'secret-lab': 'ok' } });
    const metrics = await (await fetch(`${opsUrl}/metrics`)).text();
    expect(metrics).toContain('imagegraph_provider_circuit_open{region="secret-lab"} 0');
    expect((await fetch(`${opsUrl}/graphql`)).status).toBe(404);
  });

  it('with opsToken, serves /ready and /metrics on the public port to that bearer only', async () => {
    const token = 'ops-token-0123456789abcdef';
    const { base } = await listening({ opsToken: token });
    expect((await fetch(`${base}/metrics`)).status).toBe(404);
    expect((await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(404);
    const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    expect(metrics.status).toBe(200);
    const ready = await fetch(`${base}/ready`, { headers: { authorization: `Bearer ${token}` } });
    expect(ready.status).toBe(200);
  });
});
