// npm run bench:listing: what an `images` page costs through imagegraph against a floor that does only
// what the answer needs, both measured in the same run on the same data.
//
// 1. Local provider, throughput. 10,000 images (BENCH_IMAGES) in a local region (organization `acme`
//    mostly, some PUBLIC, some of `globex` with a few shared with acme, a few deprecated, uses on
//    some), a page of 20 with the fields a dashboard shows (id, name, status, sizeBytes, architecture,
//    os { distro version }, tags, createdAt) asked for by one subject, a member of acme. imagegraph is
//    the real entry point (src/main.ts) in its own process; the floor is bench/support/bare-listing-
//    server.ts in another: a bare node:http handler that checks the same bearer token, runs the local
//    provider's SQL (same WHERE, same keyset, same tags query) on the same SQLite file with prepared
//    better-sqlite3 statements and writes the same JSON. For four pages (the first, a deep one after
//    row ~6,600, a filtered one on tags + osDistro, and one that also asks for usedBy and totalCount)
//    both are fetched once and must answer the same JSON (else the run stops); then autocannon drives
//    each with 50 connections (BENCH_CONNECTIONS) for 10 s (BENCH_SECONDS), imagegraph and the floor
//    interleaved within each of 3 rounds (BENCH_ROUNDS), after a warm-up. Printed: median req/s and
//    median p99 of each, with the server process's CPU time per request (from /proc: what a request
//    costs, whatever else the machine runs), and the ratios imagegraph / floor.
//    imagegraph runs with every hardening limit at its default except the rate limit, raised so that
//    the benchmark's single subject is not throttled (the output says so). It logs at `info`, as in
//    production (and as test/support/main-process.ts needs to see where it listens), so its one request
//    log line per request is part of what is measured; the lines are read from the pipe and dropped.
// 2. Glance provider, latency (`npm run bench:glance` runs this part alone): 400 images in
//    a Glance project (GLANCE_URL, or scripts/glance.sh start), the same dashboard page through
//    imagegraph against the same listing straight from Glance's REST API, sequential requests
//    interleaved, each after a rest of 50 ms (BENCH_GLANCE_REST_MS; why: where they are sent), for the
//    first page and page 10; ratios of p10 and median. BENCH_GLANCE=0 skips it (BENCH_LOCAL=0 the
//    local part).
//
// The load generator shares the machine with both servers: on a small machine the floor's figure is
// partly the client's limit, which makes the ratio look better for imagegraph, not worse.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { isDeepStrictEqual } from 'node:util';
import autocannon from 'autocannon';
import { request } from 'undici';
import { stringify } from 'yaml';
import { parseConfig } from '../src/config.js';
import { decodeImageId } from '../src/ids.js';
import { createLogger } from '../src/logger.js';
import { createProvider } from '../src/providers/create-provider.js';
import { LocalImageProvider } from '../src/providers/local/local-provider.js';
import { P } from '../src/providers/openstack/glance-image.js';
import type { NewImage } from '../src/providers/types.js';
import { catalog, seed } from '../test/fixtures/images.js';
import { killAll, type ListeningProcess, startListening } from '../test/support/main-process.js';

const ROOT = resolve(import.meta.dirname, '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Number(process.env.BENCH_WARMUP_SECONDS ?? Math.min(3, SECONDS));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50);
const IMAGES = Number(process.env.BENCH_IMAGES ?? 10_000);
const DEEP_ROW = Number(process.env.BENCH_DEEP_ROW ?? 6_600);
const GLANCE_IMAGES = 400;
const GLANCE_ITERATIONS = Number(process.env.BENCH_GLANCE_ITERATIONS ?? 300);
const GLANCE_REST_MS = Number(process.env.BENCH_GLANCE_REST_MS ?? 50);
const PAGE = 20;
/** limits.rateLimit.requestsPerSecond: one subject sends every request of the benchmark. */
const RATE_LIMIT = 1_000_000;
const TOKEN = 'bench-listing-dashboard';
const GLANCE_TOKEN = 'bench-listing-glance';
const PROJECT = `bench-listing-${Date.now()}`;

const dir = mkdtempSync(join(tmpdir(), 'imagegraph-bench-listing-'));
const tokensFile = join(dir, 'tokens.yaml');
const children: ChildProcess[] = [];
let glanceStarted = false;

const NODE_FIELDS = 'id name status sizeBytes architecture os { distro version } tags { name value } createdAt';
const PAGE_QUERY = `query Listing($after: String, $filter: ImageFilter) {
  images(region: "local", first: ${PAGE}, after: $after, filter: $filter) {
    nodes { ${NODE_FIELDS} } pageInfo { hasNextPage endCursor } } }`;
const USES_QUERY = `query ListingWithUses($after: String, $filter: ImageFilter) {
  images(region: "local", first: ${PAGE}, after: $after, filter: $filter) {
    totalCount nodes { ${NODE_FIELDS} usedBy { kind consumerId createdAt } } pageInfo { hasNextPage endCursor } } }`;

interface Kind {
  label: string;
  body: string;
  /** What the floor is told to answer: the plain page, or the page with usedBy and totalCount. */
  floorKind: 'page' | 'uses';
}

interface Load {
  rps: number;
  p99: number;
  /** CPU time (user + system) the server process spent per answered request, in ms; NaN without /proc. */
  cpuMs: number;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const quantile = (values: number[], q: number) => [...values].sort((a, b) => a - b)[Math.floor(values.length * q)]!;
const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => (Number.isNaN(n) ? '-' : n.toFixed(2));

const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time a process has used so far, user + system, in ms (Linux /proc); NaN elsewhere. */
function cpuTimeMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(')').at(-1)!.trim().split(' ');
    return ((Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS) * 1000;
  } catch {
    return NaN;
  }
}

// ---------------------------------------------------------------------------------------------------
// Data

function writeTokens(): void {
  const entry = (token: string, subject: string, org: string) => ({
    sha256: createHash('sha256').update(token).digest('hex'),
    subject,
    platformAdmin: false,
    organizations: [{ id: org, role: 'MEMBER' }],
  });
  writeFileSync(
    tokensFile,
    stringify([entry(TOKEN, 'bench-dashboard', 'acme'), entry(GLANCE_TOKEN, 'bench-glance-dashboard', 'dev')]),
  );
}

/**
 * No import left PENDING or CREATING: imagegraph would resume them all at start and run them (and fail
 * them, changing the data, and keeping the provider busy) while it is measured. A Glance image needs its
 * bytes too (fewBytes): Glance keeps one without queued, which reads as PENDING.
 */
function settled(image: NewImage): NewImage {
  return { ...image, status: image.status === 'FAILED' ? 'FAILED' : 'READY' };
}

/** A seeded Glance image's bytes: any will do, the page never reads them. */
async function* fewBytes(): AsyncGenerator<Uint8Array> {
  yield new Uint8Array(512);
}

/**
 * The fixtures' catalog (every distro, architecture; READY and FAILED; names that repeat, so ties go to the id):
 * 9 of 11 images acme's, 1 PUBLIC, 1 globex's (every third of those shared with acme); 1 in 50
 * deprecated in the past (left out by default), 1 in 97 deprecated in the future (still listed); a use
 * on every third acme image, and on every fifth PUBLIC one by acme and by globex (which acme must not
 * see). Names get a scrambled number in front, so that name order does not group them by distro: the
 * filtered page (1 image in 6 matches) then reads about six rows per row it answers. (With the
 * catalog's own names, `ubuntu-24.04-…` sort after 6,000 others and both sides scan those first.)
 */
async function seedLocal(dataDir: string): Promise<number> {
  const owners = ['acme', 'acme', 'acme', null, 'acme', 'acme', 'globex', 'acme', 'acme', 'acme', 'acme'];
  const images = catalog(owners, IMAGES).map((image) => {
    const k = Number(image.name.split('-').at(-1));
    return {
      ...image,
      name: `${String((k * 7919) % IMAGES).padStart(5, '0')}-${image.name}`,
      status: settled(image).status,
    };
  });
  const provider = new LocalImageProvider(dataDir);
  try {
    const records = await seed(provider, images);
    for (const [i, record] of records.entries()) {
      if (record.organizationId === 'globex' && i % 3 === 0) await provider.updateImage(record.id, { shareWith: 'acme' });
      if (i % 50 === 7)
        await provider.updateImage(record.id, { deprecation: { at: new Date('2025-06-01'), replacementId: null } });
      if (i % 97 === 5)
        await provider.updateImage(record.id, { deprecation: { at: new Date('2099-01-01'), replacementId: null } });
      if (record.organizationId === 'acme' && i % 3 === 1) {
        await provider.registerImageUse(record.id, { kind: 'server', consumerId: `vm-${i}`, organizationId: 'acme' });
      }
      if (record.organizationId === null && i % 5 === 0) {
        await provider.registerImageUse(record.id, { kind: 'cluster', consumerId: `k8s-${i}`, organizationId: 'acme' });
        await provider.registerImageUse(record.id, { kind: 'server', consumerId: `other-${i}`, organizationId: 'globex' });
      }
    }
    const visible = await provider.countImages(
      { includePublic: true, organizationIds: ['acme'], sharedWith: ['acme'] },
      { deprecatedBy: new Date() },
    );
    return visible;
  } finally {
    await provider.close();
  }
}

// ---------------------------------------------------------------------------------------------------
// Processes

function configFile(name: string, regions: unknown[]): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    stringify({
      server: { port: 0, opsPort: 0 },
      auth: { mode: 'tokens', tokensFile: './tokens.yaml' },
      logLevel: 'info',
      limits: { rateLimit: { requestsPerSecond: RATE_LIMIT } },
      regions,
    }),
  );
  return file;
}

async function startImagegraph(config: string): Promise<ListeningProcess> {
  const server = await startListening(config);
  children.push(server.child);
  // startListening collects stdout to find the listening line; from here on the request log is read
  // from the pipe and dropped (as a log shipper would read it), not kept in this process's memory.
  server.child.stdout!.removeAllListeners('data');
  server.child.stdout!.resume();
  return server;
}

async function startFloor(dbFile: string): Promise<{ url: string; pid: number }> {
  // node itself (not npx) so that killing the child stops the server.
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'bench/support/bare-listing-server.ts', dbFile, tokensFile, 'local'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  const port = await new Promise<number>((done, fail) => {
    lines.once('line', (line) => done((JSON.parse(line) as { port: number }).port));
    child.once('exit', (code) => fail(new Error(`the floor exited with ${code} before listening`)));
  });
  return { url: `http://127.0.0.1:${port}/`, pid: child.pid! };
}

// ---------------------------------------------------------------------------------------------------
// Part 1: local provider, throughput

async function post(url: string, token: string, body: string, floorKind = 'page'): Promise<unknown> {
  const response = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-bench-kind': floorKind },
    body,
  });
  const text = await response.body.text();
  if (response.statusCode !== 200) throw new Error(`${url} answered ${response.statusCode}: ${text.slice(0, 500)}`);
  const parsed = JSON.parse(text) as { errors?: unknown };
  if (parsed.errors) throw new Error(`${url} answered errors: ${JSON.stringify(parsed.errors).slice(0, 500)}`);
  return parsed;
}

type Answer = { data: { images: { nodes: { id: string; name: string }[]; pageInfo: { endCursor: string | null } } } };

/** The cursor after row `row` of the subject's default listing, walked through imagegraph 100 at a time. */
async function cursorAfterRow(url: string, row: number): Promise<string> {
  const walk = `query ($after: String) { images(region: "local", first: 100, after: $after) { pageInfo { endCursor } } }`;
  let after: string | null = null;
  for (let seen = 0; seen < row; seen += 100) {
    const answer = (await post(url, TOKEN, JSON.stringify({ query: walk, variables: { after } }))) as Answer;
    after = answer.data.images.pageInfo.endCursor;
    if (!after) throw new Error(`the listing ends before row ${row}`);
  }
  return after!;
}

/** Both answer the same JSON for this page, or the run stops here. */
async function checkSame(kind: Kind, imagegraphUrl: string, floorUrl: string): Promise<number> {
  const ours = (await post(imagegraphUrl, TOKEN, kind.body)) as Answer;
  const floor = (await post(floorUrl, TOKEN, kind.body, kind.floorKind)) as Answer;
  const rows = (answer: Answer) => answer.data.images.nodes.map((node) => `${node.name} ${node.id}`);
  if (!isDeepStrictEqual(rows(ours), rows(floor))) {
    throw new Error(
      `${kind.label}: imagegraph and the floor return different rows, so comparing them would mean nothing.\n` +
        `  imagegraph: ${rows(ours).join(', ')}\n  floor:      ${rows(floor).join(', ')}`,
    );
  }
  if (!isDeepStrictEqual(ours, floor)) {
    throw new Error(
      `${kind.label}: the same rows but different answers:\n  imagegraph: ${JSON.stringify(ours).slice(0, 1500)}\n` +
        `  floor:      ${JSON.stringify(floor).slice(0, 1500)}`,
    );
  }
  return ours.data.images.nodes.length;
}

async function load({ url, pid }: { url: string; pid: number }, kind: Kind, seconds: number): Promise<Load> {
  let failed = 0;
  const cpuBefore = cpuTimeMs(pid);
  let firstFailure = '';
  const result = await autocannon({
    url,
    connections: CONNECTIONS,
    duration: seconds,
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}`, 'x-bench-kind': kind.floorKind },
    body: kind.body,
    requests: [
      {
        onResponse: (status, body) => {
          if (status === 200 && !body.includes('"errors"')) return;
          failed++;
          firstFailure ||= `${status} ${body.slice(0, 300)}`;
        },
      },
    ],
  });
  const errors = result.errors + result.timeouts + result.non2xx + failed;
  if (errors) {
    throw new Error(
      `${kind.label} against ${url}: ${errors} failed requests (connection ${result.errors}, timeouts ${result.timeouts}, ` +
        `non-2xx ${result.non2xx}, GraphQL errors ${failed}); first: ${firstFailure}`,
    );
  }
  return {
    rps: result.requests.average,
    p99: result.latency.p99,
    cpuMs: (cpuTimeMs(pid) - cpuBefore) / result.requests.total,
  };
}

async function localPart(): Promise<void> {
  const dataDir = join(dir, 'local');
  let started = performance.now();
  const visible = await seedLocal(dataDir);
  console.log(
    `Seeded ${int(IMAGES)} images into a local region in ${((performance.now() - started) / 1000).toFixed(1)} s; ` +
      `${int(visible)} are visible to the subject (acme member).`,
  );
  const imagegraph = await startImagegraph(
    configFile('imagegraph.yaml', [{ id: 'local', name: 'Local', provider: { type: 'local', dataDir: './local' } }]),
  );
  // After imagegraph has opened the database (WAL files in place), the floor opens it read-only.
  const floor = await startFloor(join(dataDir, 'images.sqlite'));

  const deepRow = Math.min(DEEP_ROW, Math.max(0, visible - 2 * PAGE));
  const deepCursor = await cursorAfterRow(imagegraph.url, deepRow);
  const filter = { osDistro: 'UBUNTU', tags: [{ name: 'team', value: 'core' }] };
  const kinds: Kind[] = [
    { label: 'first page', body: JSON.stringify({ query: PAGE_QUERY, variables: {} }), floorKind: 'page' },
    {
      label: `deep page (after row ${int(deepRow)})`,
      body: JSON.stringify({ query: PAGE_QUERY, variables: { after: deepCursor } }),
      floorKind: 'page',
    },
    {
      label: 'filtered (tags + osDistro)',
      body: JSON.stringify({ query: PAGE_QUERY, variables: { filter } }),
      floorKind: 'page',
    },
    { label: '+ usedBy + totalCount', body: JSON.stringify({ query: USES_QUERY, variables: {} }), floorKind: 'uses' },
  ];
  for (const kind of kinds) {
    const rows = await checkSame(kind, imagegraph.url, floor.url);
    if (rows !== PAGE) throw new Error(`${kind.label}: a page of ${rows} rows, expected ${PAGE}`);
  }
  console.log('imagegraph and the floor answer the same JSON for every page below.');
  console.log(
    `imagegraph: real entry point, every hardening limit at its default except limits.rateLimit.requestsPerSecond, ` +
      `raised to ${int(RATE_LIMIT)} so that the benchmark's single subject is not throttled; logLevel info ` +
      `(one request log line per request, measured).`,
  );
  console.log(
    `${CONNECTIONS} connections, ${ROUNDS} rounds of ${SECONDS} s per side and page (after a ${WARMUP_SECONDS} s warm-up), ` +
      `imagegraph and the floor interleaved; medians.\n`,
  );

  const sides = { imagegraph: { url: imagegraph.url, pid: imagegraph.child.pid! }, floor };
  const results = new Map<Kind, { imagegraph: Load[]; floor: Load[] }>(kinds.map((k) => [k, { imagegraph: [], floor: [] }]));
  if (WARMUP_SECONDS > 0) {
    for (const kind of kinds) for (const side of Object.values(sides)) await load(side, kind, WARMUP_SECONDS);
  }
  started = performance.now();
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of kinds) {
      // Alternate which side goes first, so neither always runs on the machine the other just warmed.
      const order = round % 2 === 0 ? (['imagegraph', 'floor'] as const) : (['floor', 'imagegraph'] as const);
      for (const side of order) results.get(kind)![side].push(await load(sides[side], kind, SECONDS));
      const r = results.get(kind)!;
      const line = (l: Load) => `${int(l.rps).padStart(6)} req/s p99 ${String(l.p99).padStart(4)} ms cpu ${ms(l.cpuMs)} ms/req`;
      console.log(
        `  round ${round + 1}/${ROUNDS} ${kind.label.padEnd(28)} imagegraph ${line(r.imagegraph.at(-1)!)} | floor ${line(r.floor.at(-1)!)}`,
      );
    }
  }

  const columns: [string, number][] = [
    ['page', -28],
    ['imagegraph req/s', 17],
    ['p99 ms', 7],
    ['cpu ms/req', 11],
    ['floor req/s', 12],
    ['p99 ms', 7],
    ['cpu ms/req', 11],
    ['req/s ratio', 12],
    ['p99 ratio', 10],
    ['cpu ratio', 10],
  ];
  const row = (cells: string[]) =>
    cells.map((cell, i) => (columns[i]![1] < 0 ? cell.padEnd(-columns[i]![1]) : cell.padStart(columns[i]![1]))).join(' ');
  console.log(`\nLocal provider, ${int(IMAGES)} images, page of ${PAGE}, medians of ${ROUNDS} rounds:`);
  console.log(row(columns.map(([title]) => title)));
  for (const kind of kinds) {
    const r = results.get(kind)!;
    const summary = (loads: Load[]) => ({
      rps: median(loads.map((l) => l.rps)),
      p99: median(loads.map((l) => l.p99)),
      cpuMs: median(loads.map((l) => l.cpuMs)),
    });
    const ours = summary(r.imagegraph);
    const bare = summary(r.floor);
    console.log(
      row([
        kind.label,
        int(ours.rps),
        String(ours.p99),
        ms(ours.cpuMs),
        int(bare.rps),
        String(bare.p99),
        ms(bare.cpuMs),
        (ours.rps / bare.rps).toFixed(3),
        (ours.p99 / bare.p99).toFixed(2),
        (ours.cpuMs / bare.cpuMs).toFixed(2),
      ]),
    );
  }
  console.log(
    `(ratios: imagegraph / floor; a req/s ratio of 1 would mean imagegraph costs nothing over the floor. cpu: the ` +
      `server process's user + system CPU per answered request, less sensitive than req/s to what else runs on the machine. ` +
      `${((performance.now() - started) / 1000).toFixed(0)} s measured.)\n`,
  );
}

// ---------------------------------------------------------------------------------------------------
// Part 2: Glance provider, latency

async function glancePart(): Promise<void> {
  const script = join(ROOT, 'scripts', 'glance.sh');
  let glanceUrl = process.env.GLANCE_URL;
  if (!glanceUrl) {
    glanceStarted = true;
    glanceUrl = /GLANCE_URL=(\S+)/.exec(execFileSync('bash', [script, 'start', join(dir, 'glance')], { encoding: 'utf8' }))![1]!;
  }
  const region = {
    id: 'glance',
    name: 'Glance',
    provider: {
      type: 'openstack',
      imageUrl: glanceUrl,
      auth: { type: 'trusted-headers', projectId: PROJECT, userId: 'bench', roles: ['admin'] },
    },
  };
  const seeding = createProvider(parseConfig({ regions: [region] }).regions[0]!, createLogger('silent'));
  try {
    console.log(`Seeding ${GLANCE_IMAGES} images into Glance project ${PROJECT} (${glanceUrl})...`);
    const records = await seed(seeding, catalog(['dev'], GLANCE_IMAGES).map(settled));
    // Glance makes an image active only once it has bytes: one without stays queued, which imagegraph
    // reads as an import still PENDING. Each gets a few bytes, so that none is resumed (and failed).
    for (const record of records) {
      if (record.status !== 'FAILED') await seeding.writeImageData(record.id, fewBytes());
    }
  } finally {
    await seeding.close();
  }
  const imagegraph = await startImagegraph(configFile('imagegraph-glance.yaml', [region]));

  const query = `query ($after: String) { images(region: "glance", first: ${PAGE}, after: $after,
    filter: { scope: OWNED, organizations: ["dev"] }) { nodes { ${NODE_FIELDS} } pageInfo { hasNextPage endCursor } } }`;
  const viaImagegraph = async (after: string | null) => {
    const answer = (await post(imagegraph.url, GLANCE_TOKEN, JSON.stringify({ query, variables: { after } }))) as Answer;
    return {
      ids: answer.data.images.nodes.map((node) => decodeImageId(node.id)!.providerId),
      endCursor: answer.data.images.pageInfo.endCursor,
    };
  };
  // The same page straight from Glance: the listing imagegraph's provider asks for (one stream: the
  // organization's images in the project), one call of a page's size.
  const glanceHeaders = {
    'x-identity-status': 'Confirmed',
    'x-project-id': PROJECT,
    'x-user-id': 'bench',
    'x-roles': 'admin',
    accept: 'application/json',
  };
  const viaGlance = async (marker: string | null) => {
    const params = new URLSearchParams({
      owner: PROJECT,
      visibility: 'all',
      [P.organization]: 'dev',
      sort: 'name:asc,id:asc',
      limit: String(PAGE),
      ...(marker ? { marker } : {}),
    });
    const response = await request(`${glanceUrl}/v2/images?${params}`, { headers: glanceHeaders });
    const body = (await response.body.json()) as { images: { id: string }[] };
    return body.images.map((image) => image.id);
  };
  const timed = async (run: () => Promise<unknown>) => {
    const begun = performance.now();
    await run();
    return performance.now() - begun;
  };

  const compare = async (label: string, after: string | null, marker: string | null) => {
    const ours = await viaImagegraph(after);
    const theirs = await viaGlance(marker);
    if (!isDeepStrictEqual(ours.ids, theirs)) throw new Error(`Glance ${label}: imagegraph and Glance list different images`);
    for (let i = 0; i < 20; i++) await Promise.all([viaImagegraph(after), viaGlance(marker)]);
    const ig: number[] = [];
    const glance: number[] = [];
    // Interleaved, so that both see the same machine at the same moments, and each request after a rest
    // (GLANCE_REST_MS) longer than Linux's delayed-ACK timer (40 ms). Glance (eventlet) writes an answer's
    // headers and a body over 16 KiB in two sends; on loopback (64 KiB segments) Nagle holds the body
    // until the headers are ACKed, and a connection that received data less than ~40 ms before it sent
    // its request delays that ACK by 40 ms. Back to back, each side's connection rests only while the
    // other side's request runs, so whichever side stalls gives the other the rest it needs: the
    // comparison would measure that lottery (BENCH_GLANCE_REST_MS=0 shows it), not either path's cost.
    for (let i = 0; i < GLANCE_ITERATIONS; i++) {
      await sleep(GLANCE_REST_MS);
      ig.push(await timed(() => viaImagegraph(after)));
      await sleep(GLANCE_REST_MS);
      glance.push(await timed(() => viaGlance(marker)));
    }
    // The fast mode (p10) is reported beside the median: it is the cost each path adds by itself.
    const spread = (values: number[]) =>
      `${quantile(values, 0.1).toFixed(2)} / ${median(values).toFixed(2)} / ${quantile(values, 0.9).toFixed(2)}`;
    console.log(
      `${label.padEnd(28)} ${spread(ig).padStart(24)} ${spread(glance).padStart(24)} ` +
        `${(quantile(ig, 0.1) / quantile(glance, 0.1)).toFixed(3).padStart(10)} ${(median(ig) / median(glance)).toFixed(3).padStart(12)}`,
    );
  };

  console.log(
    `\nGlance provider, ${GLANCE_IMAGES} images, page of ${PAGE}, ${GLANCE_ITERATIONS} sequential requests each, interleaved, ` +
      `each after a rest of ${GLANCE_REST_MS} ms; ms:`,
  );
  console.log(
    `${'page'.padEnd(28)} ${'imagegraph p10/med/p90'.padStart(24)} ${'Glance p10/med/p90'.padStart(24)} ` +
      `${'p10 ratio'.padStart(10)} ${'median ratio'.padStart(12)}`,
  );
  await compare('first page', null, null);
  // Walk to page 10 to get both cursors for the same position.
  let after: string | null = null;
  let marker: string | null = null;
  for (let page = 1; page < 10; page++) {
    after = (await viaImagegraph(after)).endCursor;
    marker = (await viaGlance(marker)).at(-1)!;
  }
  await compare('page 10 (deep, via marker)', after, marker);
  console.log('(ratio: imagegraph / Glance direct.)');
}

// ---------------------------------------------------------------------------------------------------

function stopEverything(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  if (glanceStarted) {
    glanceStarted = false;
    try {
      execFileSync('bash', [join(ROOT, 'scripts', 'glance.sh'), 'stop', join(dir, 'glance')], { stdio: 'ignore' });
    } catch {
      // Already stopped.
    }
  }
  rmSync(dir, { recursive: true, force: true });
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopEverything();
    process.exit(130);
  });
}

try {
  writeTokens();
  if (process.env.BENCH_LOCAL === '0') console.log('Local part skipped (BENCH_LOCAL=0).');
  else await localPart();
  if (process.env.BENCH_GLANCE === '0') console.log('Glance part skipped (BENCH_GLANCE=0).');
  else await glancePart();
} finally {
  await killAll();
  stopEverything();
}
