// npm run bench:replicas: what a second and third replica buy. One replica, then three (separate
// processes of the real entry point, coordinated through one Redis), over the same Glance, measured
// in the same run: import throughput (IMPORTS raw disks served at full speed from loopback, from the
// first mutation until the last image is READY) and listing req/s (an images page, autocannon spread
// over the replicas). Uses GLANCE_URL, or starts Glance with scripts/glance.sh; starts Redis with
// scripts/redis.sh (both installed by .ci/run). On this 2-core machine Glance, Redis, the replicas and
// the load generator share the cores, so three replicas measure coordination's cost more than its gain.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { stringify } from 'yaml';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { createImagegraph } from '../src/server.js';
import { catalog, seed } from '../test/fixtures/images.js';
import { killAll, type ListeningProcess, startListening } from '../test/support/main-process.js';
import { makeMbrDisk } from '../test/support/mbr-disk.js';

const MiB = 1024 * 1024;
const IMPORTS = 12;
const IMAGE_BYTES = 64 * MiB;
const LISTED = 200;
const LISTING_SECONDS = 10;
const CONNECTIONS = 30;
const PROJECT = `bench-replicas-${Date.now()}`;
const dir = mkdtempSync(join(tmpdir(), 'imagegraph-bench-replicas-'));
const scripts = join(import.meta.dirname, '..', 'scripts');

const started = (script: string, variable: string, data: string) =>
  new RegExp(`${variable}=(\\S+)`).exec(execFileSync('bash', [join(scripts, script), 'start', data], { encoding: 'utf8' }))![1]!;
const glanceUrl = process.env.GLANCE_URL ?? started('glance.sh', 'GLANCE_URL', join(dir, 'glance'));
const redisUrl = started('redis.sh', 'REDIS_URL', join(dir, 'redis'));

// A raw disk partitioned by sfdisk, served from memory at loopback speed.
const disk = readFileSync(makeMbrDisk(dir, 'disk.raw', IMAGE_BYTES / 1024));
const images = createServer((request, response) => {
  const range = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? '');
  if (range) {
    const [start, end] = [Number(range[1]), Math.min(Number(range[2]), IMAGE_BYTES - 1)];
    response.writeHead(206, { 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${IMAGE_BYTES}` });
    response.end(disk.subarray(start, end + 1));
    return;
  }
  response.writeHead(200, { 'content-length': IMAGE_BYTES }).end(disk);
});
await new Promise<void>((resolve) => images.listen(0, '127.0.0.1', resolve));
const imagesHost = `127.0.0.1:${(images.address() as AddressInfo).port}`;

const region = {
  id: 'os',
  name: 'OpenStack',
  provider: {
    type: 'openstack',
    imageUrl: glanceUrl,
    auth: { type: 'trusted-headers', projectId: PROJECT, userId: 'bench', roles: ['admin'] },
  },
};
const configFile = join(dir, 'imagegraph.yaml');
writeFileSync(
  configFile,
  stringify({
    server: { host: '127.0.0.1', graphiql: false },
    auth: { mode: 'dev' },
    logLevel: 'info', // as in production; the replicas' start is read from its 'listening' line
    imports: { allowedHosts: [imagesHost], maxConcurrent: 2 },
    // The benchmark is its own only tenant: the limits must not be what is measured.
    limits: { importsPerOrganization: IMPORTS, rateLimit: { requestsPerSecond: 100_000, burst: 100_000 } },
    coordination: { redis: { url: redisUrl, keyPrefix: PROJECT } },
    regions: [region],
  }),
);

console.log(`Seeding ${LISTED} images into Glance project ${PROJECT}...`);
const seeder = await createImagegraph(parseConfig({ regions: [region], server: { port: 0 } }), {
  logger: createLogger('silent'),
});
await seed(seeder.provider('os'), catalog(['dev'], LISTED));
await seeder.close();

async function gql<T>(url: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown[] };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data!;
}

const IMPORT = `mutation ($input: ImportImageInput!) {
  importImage(input: $input) { __typename ... on Error { message } ... on ImportImagePayload { image { id } } } }`;
const STATUS = 'query ($id: ID!) { node(id: $id) { ... on Image { status statusReason } } }';
const LISTING = JSON.stringify({
  query: 'query { images(region: "os", first: 20, filter: { organizations: ["dev"] }) { nodes { id name status sizeBytes } } }',
});

/** IMPORTS imports spread round-robin over the replicas; seconds until every one is READY. */
async function importRound(replicas: ListeningProcess[], label: string): Promise<number> {
  const start = performance.now();
  const ids = await Promise.all(
    Array.from({ length: IMPORTS }, async (_, i) => {
      const input = {
        region: 'os',
        organization: 'bench',
        name: `${label}-${i}`,
        uri: `http://${imagesHost}/disk-${label}-${i}.raw`,
        os: { family: 'DEBIAN', distro: 'DEBIAN', version: '12' },
      };
      const { importImage } = await gql<{ importImage: { __typename: string; message?: string; image?: { id: string } } }>(
        replicas[i % replicas.length]!.url,
        IMPORT,
        { input },
      );
      if (!importImage.image) throw new Error(`import refused: ${importImage.message}`);
      return importImage.image.id;
    }),
  );
  for (const id of ids) {
    for (;;) {
      const { node } = await gql<{ node: { status: string; statusReason: string | null } }>(replicas[0]!.url, STATUS, { id });
      if (node.status === 'READY') break;
      if (node.status === 'FAILED') throw new Error(`import failed: ${node.statusReason}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return (performance.now() - start) / 1000;
}

/** Listing req/s and p99 with CONNECTIONS connections spread evenly over the replicas. */
async function listingRound(replicas: ListeningProcess[]): Promise<{ rps: number; p99: number; errors: number }> {
  const results = await Promise.all(
    replicas.map((replica) =>
      autocannon({
        url: replica.url,
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: LISTING,
        connections: Math.ceil(CONNECTIONS / replicas.length),
        duration: LISTING_SECONDS,
      }),
    ),
  );
  return {
    rps: results.reduce((sum, result) => sum + result.requests.average, 0),
    p99: Math.max(...results.map((result) => result.latency.p99)),
    errors: results.reduce((sum, result) => sum + result.errors + result.non2xx, 0),
  };
}

/** The floor under both: the same page straight from Glance's REST API, with as many connections. */
async function glanceListingRound(): Promise<{ rps: number; p99: number }> {
  const params = new URLSearchParams({ visibility: 'private', owner: PROJECT, 'imagegraph.organization': 'dev', limit: '20' });
  const result = await autocannon({
    url: `${glanceUrl}/v2/images?${params}`,
    headers: { 'x-identity-status': 'Confirmed', 'x-project-id': PROJECT, 'x-roles': 'admin', accept: 'application/json' },
    connections: CONNECTIONS,
    duration: LISTING_SECONDS,
  });
  return { rps: result.requests.average, p99: result.latency.p99 };
}

const report: Record<string, { importSeconds: number; rps: number; p99: number; errors: number }> = {};
try {
  const floor = await glanceListingRound();
  console.log(
    `Glance's own listing of the same page: ${floor.rps.toFixed(0)} req/s, p99 ${floor.p99} ms (what any number of replicas share)`,
  );
  for (const count of [1, 3]) {
    const replicas = await Promise.all(Array.from({ length: count }, () => startListening(configFile)));
    const importSeconds = await importRound(replicas, `r${count}`);
    const listing = await listingRound(replicas);
    report[count] = { importSeconds, ...listing };
    console.log(
      `${count} replica${count > 1 ? 's' : ''}: ${IMPORTS} imports of ${IMAGE_BYTES / MiB} MiB in ${importSeconds.toFixed(1)} s ` +
        `(${((IMPORTS * IMAGE_BYTES) / MiB / importSeconds).toFixed(0)} MiB/s, ${(IMPORTS / importSeconds).toFixed(2)} imports/s); ` +
        `listing ${listing.rps.toFixed(0)} req/s, p99 ${listing.p99} ms, ${listing.errors} errors`,
    );
    await killAll();
  }
  console.log(
    `3 vs 1 replica: import throughput x${(report[1]!.importSeconds / report[3]!.importSeconds).toFixed(2)}, ` +
      `listing req/s x${(report[3]!.rps / report[1]!.rps).toFixed(2)}`,
  );
} finally {
  await killAll();
  images.close();
  execFileSync('bash', [join(scripts, 'redis.sh'), 'stop', join(dir, 'redis')]);
  if (!process.env.GLANCE_URL) execFileSync('bash', [join(scripts, 'glance.sh'), 'stop', join(dir, 'glance')]);
  rmSync(dir, { recursive: true, force: true });
}
