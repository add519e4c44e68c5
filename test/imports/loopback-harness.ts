/**
 * Loopback-only test servers and a connect tripwire for the guarded fetcher's tests.
 *
 * Every server listens on 127.0.0.1 and counts its TCP connections. The tripwire wraps `net.connect`
 * and `tls.connect` (which undici's connector calls through the module objects), records every
 * connection attempt, and throws instead of connecting anywhere but loopback: even a broken guard
 * cannot make a test send a packet off the machine, and a test can prove that a refused URL never
 * reached `connect` at all.
 */
import { createServer as createHttpServer, type IncomingMessage, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import net from 'node:net';
import type { Socket } from 'node:net';
import tls from 'node:tls';

export interface LoopbackServer {
  server: Server;
  port: number;
  /** `http://127.0.0.1:PORT` (or https). */
  origin: string;
  /** `127.0.0.1:PORT`, the form an `allowedHosts` entry takes. */
  hostPort: string;
  /** TCP connections accepted so far. */
  readonly connections: number;
  /** Requests received so far, in order. */
  readonly requests: IncomingMessage[];
  close(): Promise<void>;
}

const open = new Set<LoopbackServer>();

/** Starts an http server (or https with `tlsOptions`) on 127.0.0.1, on a free port. */
export async function startServer(
  handler: RequestListener = (_req, res) => res.end('ok'),
  tlsOptions?: { key: string | Buffer; cert: string | Buffer },
): Promise<LoopbackServer> {
  const requests: IncomingMessage[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const listener: RequestListener = (req, res) => {
    requests.push(req);
    handler(req, res);
  };
  const server: Server = tlsOptions ? createHttpsServer(tlsOptions, listener) : createHttpServer(listener);
  // 'connection' is the raw TCP accept, before any TLS or HTTP: the count a canary needs.
  server.on('connection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const entry: LoopbackServer = {
    server,
    port,
    origin: `${tlsOptions ? 'https' : 'http'}://127.0.0.1:${port}`,
    hostPort: `127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        open.delete(entry);
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  open.add(entry);
  return entry;
}

/** Closes every server still open (for afterEach). */
export async function closeAllServers(): Promise<void> {
  await Promise.all([...open].map((entry) => entry.close()));
}

/** A port that was just free on 127.0.0.1 and is now closed: connecting to it is refused. */
export { unusedPort as closedPort } from '../support/main-process.js';

export interface ConnectAttempt {
  api: 'net' | 'tls';
  host: string;
  port: unknown;
}

export interface Tripwire {
  /** Every call of net.connect / tls.connect since the tripwire was installed. */
  attempts: ConnectAttempt[];
  restore(): void;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

/**
 * Replaces net.connect and tls.connect: records each attempt, refuses (throws, before any socket
 * exists) any host that is not loopback, and passes `tlsExtra` (e.g. a test CA) to tls.connect.
 */
export function installTripwire(tlsExtra: tls.ConnectionOptions = {}): Tripwire {
  const attempts: ConnectAttempt[] = [];
  const originalNet = net.connect;
  const originalTls = tls.connect;
  const target = (args: unknown[]): { host: string; port: unknown } => {
    const [first, second] = args;
    if (first && typeof first === 'object') {
      const options = first as { host?: string; port?: unknown };
      return { host: options.host ?? 'localhost', port: options.port };
    }
    return { host: typeof second === 'string' ? second : 'localhost', port: first };
  };
  const check = (api: 'net' | 'tls', args: unknown[]): void => {
    const { host, port } = target(args);
    attempts.push({ api, host, port });
    if (!LOOPBACK_HOSTS.has(host)) throw new Error(`tripwire: the test tried to connect to ${host}, off loopback`);
  };
  const mutableNet = net as unknown as { connect: (...args: unknown[]) => unknown };
  const mutableTls = tls as unknown as { connect: (...args: unknown[]) => unknown };
  mutableNet.connect = (...args: unknown[]) => {
    check('net', args);
    return (originalNet as (...a: unknown[]) => unknown)(...args);
  };
  mutableTls.connect = (...args: unknown[]) => {
    check('tls', args);
    const [first, ...rest] = args;
    const withExtra = first && typeof first === 'object' ? [{ ...first, ...tlsExtra }, ...rest] : args;
    return (originalTls as (...a: unknown[]) => unknown)(...withExtra);
  };
  return {
    attempts,
    restore: () => {
      mutableNet.connect = originalNet as unknown as (...args: unknown[]) => unknown;
      mutableTls.connect = originalTls as unknown as (...args: unknown[]) => unknown;
    },
  };
}

/** Runs `action` and returns what it rejected with (fails if it resolved), and how long it took. */
export async function rejection(action: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  try {
    await action();
  } catch (error) {
    return { error, ms: performance.now() - started };
  }
  throw new Error('expected the promise to reject, but it resolved');
}
