// npm run bench:load: 200 concurrent clients for 60 s against a real imagegraph process on the local
// provider, with every hardening limit on at its default (each client is its own subject, so the
// per-subject rate limit applies to each as it would in production). Each client sends LOAD_RATE
// requests per second (default 1: a dashboard polling, 200 req/s in all, under what one core
// serves); LOAD_RATE=0 lets every client send as fast as it can, which saturates the server's one
// thread and shows what overload looks like. Prints requests per second, p50/p99 latency, the
// server's RSS, and every error; exits non-zero if there was any.
// LOAD_SECONDS and LOAD_CONNECTIONS change the duration and the number of clients.
import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { stringify } from 'yaml';
import { LocalImageProvider } from '../src/providers/local/local-provider.js';
import { catalog, seed } from '../test/fixtures/images.js';

const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 200);
const RATE = Number(process.env.LOAD_RATE ?? 1);
const IMAGES = 2_000;
const ORGANIZATIONS = ['acme', 'globex', 'initech', 'umbrella'];
const dir = mkdtempSync(join(tmpdir(), 'imagegraph-load-'));

/** Queries a dashboard sends, as a mix: the first page, a filtered page, one image, the caller. */
const QUERIES = [
  `{ images(region: "local", first: 25, orderBy: { field: CREATED_AT, direction: DESC }) {
      totalCount nodes { id name status sizeGiB os { distro version } organization { id } tags { name value } }
      pageInfo { hasNextPage endCursor } } }`,
  `{ images(region: "local", first: 20, filter: { osDistro: UBUNTU, status: [READY], tags: [{ name: "team", value: "core" }] }) {
      nodes { id name architecture createdAt } } }`,
  '{ viewer { subject organizations { id role } } regions { id name } }',
  `{ images(region: "local", first: 50, filter: { scope: OWNED }) { edges { cursor node { id name usedBy { kind consumerId } } } } }`,
];

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function rssMiB(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Number(match[1]) / 1024 : 0;
}

async function main(): Promise<void> {
  const tokens = Array.from({ length: CONNECTIONS }, (_, i) => `load-token-${i}`);
  writeFileSync(
    join(dir, 'tokens.yaml'),
    stringify(
      tokens.map((token, i) => ({
        sha256: createHash('sha256').update(token).digest('hex'),
        subject: `client-${i}`,
        organizations: [{ id: ORGANIZATIONS[i % ORGANIZATIONS.length], role: 'MEMBER' }],
      })),
    ),
  );
  const provider = new LocalImageProvider(join(dir, 'local'));
  await seed(
    provider,
    catalog([null, ...ORGANIZATIONS], IMAGES).map((image) => ({ ...image, status: 'READY' as const })),
  );
  await provider.close();
  const port = await freePort();
  writeFileSync(
    join(dir, 'imagegraph.yaml'),
    stringify({
      server: { port, opsPort: 0, ...JSON.parse(process.env.LOAD_SERVER ?? '{}') },
      auth: { mode: 'tokens', tokensFile: './tokens.yaml' },
      logLevel: process.env.LOAD_LOG_LEVEL ?? 'warn',
      regions: [{ id: 'local', name: 'Local', provider: { type: 'local', dataDir: './local' } }],
    }),
  );

  const server: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, IMAGEGRAPH_CONFIG: join(dir, 'imagegraph.yaml') },
    stdio: ['ignore', process.env.LOAD_LOG_LEVEL ? 'inherit' : 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (
    let i = 0;
    !(await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    ));
    i++
  ) {
    if (i > 300) throw new Error('imagegraph did not start');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const rssBefore = rssMiB(server.pid!);
  let rssPeak = rssBefore;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB(server.pid!))), 500);

  let graphqlErrors = 0;
  let next = 0;
  const pace = RATE > 0 ? `${RATE} req/s each` : 'as fast as each can';
  console.log(
    `${CONNECTIONS} clients, ${pace}, for ${SECONDS} s against ${url}/graphql (${IMAGES} images, limits at their defaults)...`,
  );
  const result = await autocannon({
    url: `${url}/graphql`,
    connections: CONNECTIONS,
    duration: SECONDS,
    ...(RATE > 0 ? { connectionRate: RATE } : {}),
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    setupClient: (client) =>
      client.setHeaders({ 'content-type': 'application/json', authorization: `Bearer ${tokens[next++ % tokens.length]}` }),
    requests: [
      {
        setupRequest: (request) => ({
          ...request,
          body: JSON.stringify({ query: QUERIES[Math.floor(Math.random() * QUERIES.length)] }),
        }),
        onResponse: (_status, body) => {
          if (body.includes('"errors"')) graphqlErrors++;
        },
      },
    ],
  });
  clearInterval(sampler);
  server.kill('SIGTERM');

  const errors = result.errors + result.timeouts + result.non2xx + graphqlErrors;
  console.log(
    [
      `requests        ${result.requests.total} (${result.requests.average.toFixed(0)} req/s)`,
      `latency         p50 ${result.latency.p50} ms, p99 ${result.latency.p99} ms, max ${result.latency.max} ms`,
      `server RSS      ${rssBefore.toFixed(0)} MiB at start, ${rssPeak.toFixed(0)} MiB peak`,
      `errors          ${errors} (connection ${result.errors}, timeouts ${result.timeouts}, non-2xx ${result.non2xx}, GraphQL ${graphqlErrors})`,
    ].join('\n'),
  );
  rmSync(dir, { recursive: true, force: true });
  process.exitCode = errors === 0 ? 0 : 1;
}

await main();
