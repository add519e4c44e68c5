/**
 * Three imagegraph replicas as separate processes (the real entry point) over one real Glance and one
 * real Redis (Debian's redis-server, started by scripts/redis.sh): imports spread over the replicas and
 * each runs on one of them at a time; a replica SIGKILLed mid-upload is taken over after its lease;
 * a subscriber on any replica sees an import running on another; a restart of every replica and a
 * restart of Redis lose no accepted import; with Redis away, imports are refused with a typed error
 * while queries keep working and /ready says why.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { glanceUrl } from '../support/glance.js';
import { type ImageRoute, type ImageServer, startImageServer } from '../support/image-server.js';
import { type ListeningProcess, killAll, startListening } from '../support/main-process.js';
import { makeMbrDisk } from '../support/mbr-disk.js';
import { redisInstalled, startRedis, type TestRedis } from '../support/redis.js';

const MiB = 1024 * 1024;
/** Full GETs trickle at about 3 MiB/s, so an import lasts long enough to watch, kill or restart. */
const SLOW = { chunkBytes: 64 * 1024, delayMs: 20 };
// Long enough that a replica's lease watch never mistakes a loaded CI machine for a lost lease (it stops
// an import at three quarters of the lease without a renewal); short enough for a quick takeover.
const LEASE_SECONDS = 10;
const glance = glanceUrl();

interface ImageView {
  id: string;
  providerId: string;
  status: 'PENDING' | 'CREATING' | 'READY' | 'FAILED';
  statusReason: string | null;
  sizeBytes: number | null;
  checksum: { value: string } | null;
}

const FIELDS = 'id providerId status statusReason sizeBytes checksum { value }';

describe.skipIf(!glance || !redisInstalled())('three replicas over one Glance and one Redis', () => {
  let dir: string;
  let redis: TestRedis;
  let images: ImageServer;
  let config: string;
  let small: string;
  let smallDigests: string[];
  let large: string;
  let largeDigests: string[];
  const projectId = `replicas${Date.now().toString(16)}`;
  let replicas: ListeningProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imagegraph-replicas-'));
    small = makeMbrDisk(dir, 'small.raw', 6 * 1024);
    large = makeMbrDisk(dir, 'large.raw', 32 * 1024);
    smallDigests = digestsOf(small);
    largeDigests = digestsOf(large);
    [redis, images] = await Promise.all([startRedis(), startImageServer()]);
    config = join(dir, 'imagegraph.yaml');
    writeFileSync(
      config,
      stringify({
        server: { host: '127.0.0.1', graphiql: false, shutdownTimeoutMs: 2000 },
        auth: { mode: 'dev' },
        logLevel: 'info',
        // One import at a time per replica: several imports at once must use several replicas.
        imports: { allowedHosts: [images.host], maxConcurrent: 1 },
        limits: { importsPerOrganization: 20 },
        coordination: { redis: { url: redis.url, keyPrefix: `test-${projectId}` }, leaseSeconds: LEASE_SECONDS },
        regions: [
          {
            id: 'os',
            name: 'OpenStack',
            provider: {
              type: 'openstack',
              imageUrl: glance,
              auth: { type: 'trusted-headers', projectId, userId: 'imagegraph-test', roles: ['admin'] },
            },
          },
        ],
      }),
    );
  }, 60_000);

  afterAll(async () => {
    await killAll();
    await images?.close();
    await redis?.remove();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  afterEach(async () => {
    images.release();
    await Promise.all(replicas.map((replica) => stopGracefully(replica)));
    replicas = [];
  });

  const startReplicas = async (count: number) => {
    replicas = await Promise.all(Array.from({ length: count }, () => startListening(config)));
    return replicas;
  };

  /** Which replicas logged running (or taking over) this image. */
  const runnersOf = (providerId: string) =>
    replicas.filter((replica) =>
      logLines(replica).some(
        (line) => line.imageId === providerId && (line.msg === 'running import' || String(line.msg).startsWith('taking over')),
      ),
    );

  let serial = 0;
  const route = (body: string, extra: Partial<ImageRoute> = {}) => {
    const path = `/disk-${++serial}.raw`;
    images.route(path, { body, throttle: SLOW, ...extra });
    return path;
  };

  it('spreads imports over the replicas, each import running on one of them, all ending READY', async () => {
    await startReplicas(3);
    const paths = Array.from({ length: 6 }, () => route(small));
    const started = await Promise.all(paths.map((path, i) => startImport(replicas[i % 3]!, images.url(path), `spread-${i}`)));
    const finished = await Promise.all(started.map((image) => follow(replicas[0]!, image.id, (i) => i.status === 'READY')));
    for (const seen of finished) expect(smallDigests).toContain(seen.at(-1)!.checksum?.value);
    const runners = started.map((image) => runnersOf(image.providerId));
    for (const ran of runners) expect(ran).toHaveLength(1);
    expect(new Set(runners.map(([replica]) => replica)).size).toBeGreaterThanOrEqual(2);
    // Each image downloaded once: one full GET per path.
    for (const path of paths) expect(fullGets(images, path)).toHaveLength(1);
  }, 90_000);

  it('takes over an import whose replica was SIGKILLed mid-upload: READY once, one image in Glance', async () => {
    await startReplicas(3);
    const path = route(large);
    const image = await startImport(replicas[0]!, images.url(path), 'killed-mid-upload');
    const download = await images.waitForRequest((r) => r.path === path && r.range === undefined, 15_000);
    while (download.bytesSent < 4 * MiB) await sleep(20);
    const [runner] = await waitFor(
      () => runnersOf(image.providerId),
      (found) => found.length === 1,
    );
    runner!.child.kill('SIGKILL');
    await runner!.exited;
    await images.waitForRequest((r) => r === download && r.aborted, 5_000);
    const survivors = replicas.filter((replica) => replica !== runner);
    replicas = survivors;

    const seen = await follow(survivors[0]!, image.id, (i) => i.status === 'READY' || i.status === 'FAILED', 60_000);
    expect(seen.at(-1)).toMatchObject({ status: 'READY', sizeBytes: 32 * MiB });
    expect(largeDigests).toContain(seen.at(-1)!.checksum?.value);
    // Taken over by exactly one of the others, after the lease.
    expect(runnersOf(image.providerId)).toHaveLength(1);
    const gets = fullGets(images, path);
    expect(gets).toHaveLength(2);
    expect(gets.filter((r) => r.finished)).toHaveLength(1);
    // What Glance itself shows: one image of that name, active, with the bytes' sha512.
    const inGlance = await glanceImages(projectId, 'killed-mid-upload');
    expect(inGlance).toHaveLength(1);
    expect(inGlance[0]).toMatchObject({ status: 'active', size: 32 * MiB, os_hash_value: expect.any(String) });
  }, 120_000);

  it('lets a subscriber on any replica follow an import running on another: PENDING, CREATING, progress, READY', async () => {
    await startReplicas(3);
    // Every replica busy with a held import, so the followed one waits PENDING until they are released.
    const blockers = [0, 1, 2].map(() => route(small, { holdUntilReleased: true, throttle: undefined }));
    await Promise.all(blockers.map((path, i) => startImport(replicas[i]!, images.url(path), `blocker-${i}`)));
    await waitFor(
      () => blockers.filter((path) => images.requests.some((r) => r.path === path && r.range === undefined)),
      (found) => found.length === 3,
    );
    const image = await startImport(replicas[0]!, images.url(route(small)), 'followed');
    const streams = replicas.map((replica) => subscribe(replica, image.id));
    // Released once every stream has its first event, however long subscribing takes on a loaded machine.
    await Promise.all(streams.map((stream) => stream.started));
    images.release();
    const events = await Promise.all(streams.map((stream) => stream.events));
    const [runner] = runnersOf(image.providerId);
    expect(runner).toBeDefined();
    const firstSeen: string[] = [];
    for (const [i, seen] of events.entries()) {
      const statuses = seen.map((event) => event.status).filter((status, at, all) => status !== all[at - 1]);
      // A stream starts with the image as it is when it subscribes: PENDING while every replica is busy.
      firstSeen.push(statuses[0]!);
      expect(
        statuses.slice(statuses[0] === 'PENDING' ? 1 : 0),
        `replica ${i}${replicas[i] === runner ? ' (ran it)' : ''}`,
      ).toEqual(['CREATING', 'READY']);
      // Progress is news only events carry (the provider does not hold it): it came through Redis.
      expect(seen.some((event) => event.progress?.phase === 'DOWNLOADING' && event.progress.bytesDone > 0)).toBe(true);
    }
    // Every stream started while the import waited: each saw it go PENDING -> CREATING -> READY.
    // When not, a slot came free early: the replicas' warnings help tell why.
    const warnings = replicas.flatMap((replica, i) =>
      logLines(replica)
        .filter((line) => Number(line.level) >= 40)
        .map((line) => `replica ${i}: ${String(line.msg)} ${JSON.stringify(line.err ?? line.jobId ?? '')}`),
    );
    expect(firstSeen, warnings.join('\n')).toEqual(['PENDING', 'PENDING', 'PENDING']);
  }, 90_000);

  it('resumes what was queued and running when every replica restarts', async () => {
    await startReplicas(3);
    const paths = Array.from({ length: 5 }, () => route(small));
    const started = await Promise.all(paths.map((path, i) => startImport(replicas[0]!, images.url(path), `restart-${i}`)));
    await waitFor(
      () => images.requests.filter((r) => r.range === undefined && paths.includes(r.path)),
      (found) => found.length >= 2,
    );
    await Promise.all(replicas.map((replica) => stopGracefully(replica)));
    await startReplicas(3);
    for (const image of started) {
      const seen = await follow(replicas[1]!, image.id, (i) => i.status === 'READY' || i.status === 'FAILED', 60_000);
      expect(seen.at(-1)).toMatchObject({ status: 'READY', sizeBytes: 6 * MiB });
      expect(smallDigests).toContain(seen.at(-1)!.checksum?.value);
    }
  }, 120_000);

  it('loses no accepted import when Redis restarts mid-run', async () => {
    await startReplicas(2);
    const paths = Array.from({ length: 4 }, () => route(small));
    const started = await Promise.all(
      paths.map((path, i) => startImport(replicas[i % 2]!, images.url(path), `redis-restart-${i}`)),
    );
    await waitFor(
      () => images.requests.filter((r) => r.range === undefined && paths.includes(r.path)),
      (found) => found.length >= 1,
    );
    await redis.stop();
    await sleep(1_000);
    await redis.start();
    for (const image of started) {
      const seen = await follow(replicas[0]!, image.id, (i) => i.status === 'READY' || i.status === 'FAILED', 90_000);
      expect(seen.at(-1)).toMatchObject({ status: 'READY', sizeBytes: 6 * MiB });
      expect(smallDigests).toContain(seen.at(-1)!.checksum?.value);
    }
  }, 150_000);

  it('with Redis down refuses imports with PROVIDER_UNAVAILABLE, keeps serving queries, and /ready says why', async () => {
    await startReplicas(1);
    const [replica] = replicas;
    const before = await startImport(replica!, images.url(route(small)), 'before-outage');
    await follow(replica!, before.id, (i) => i.status === 'READY');
    await redis.stop();
    try {
      await waitFor(
        async () => (await readiness(replica!)).body,
        (body) => (body.coordination as { redis: { state: string } }).redis.state === 'unavailable',
      );
      const ready = await readiness(replica!);
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({
        status: 'degraded',
        regions: { os: 'ok' },
        coordination: {
          redis: {
            state: 'unavailable',
            reason: expect.stringMatching(/Redis at redis:\/\/127\.0\.0\.1:\d+.*new imports are refused/),
          },
        },
      });
      const refused = await importImage(replica!, images.url(route(small)), 'during-outage');
      expect(refused).toMatchObject({
        __typename: 'ProviderUnavailableError',
        message: expect.stringMatching(/^Imports cannot be accepted in region "os" now: Redis at .* try again later$/),
      });
      // Nothing was created for the refused import.
      expect(await glanceImages(projectId, 'during-outage')).toEqual([]);
      // Queries do not need Redis.
      expect((await imageOf(replica!, before.id)).status).toBe('READY');
      const listed = await gql<{ images: { edges: unknown[] } }>(
        replica!,
        'query { images(region: "os", first: 5) { edges { cursor } } }',
      );
      expect(listed.images.edges.length).toBeGreaterThan(0);
    } finally {
      await redis.start();
    }
    await waitFor(
      async () => (await readiness(replica!)).body.status,
      (status) => status === 'ready',
    );
    const after = await startImport(replica!, images.url(route(small)), 'after-outage');
    await follow(replica!, after.id, (i) => i.status === 'READY');
  }, 90_000);
});

/** The sha256 (imagegraph's own checksum) and sha512 (Glance's os_hash_value) of a file. */
const digestsOf = (file: string) =>
  ['sha256', 'sha512'].map((algorithm) => createHash(algorithm).update(readFileSync(file)).digest('hex'));

function logLines(replica: ListeningProcess): Record<string, unknown>[] {
  return replica
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

const fullGets = (images: ImageServer, path: string) => images.requests.filter((r) => r.path === path && r.range === undefined);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor<T>(probe: () => T | Promise<T>, done: (value: T) => boolean, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** SIGTERM, and SIGKILL when the replica has not stopped within 10 s. */
async function stopGracefully(replica: ListeningProcess): Promise<void> {
  if (replica.child.exitCode !== null || replica.child.signalCode !== null) return;
  replica.child.kill('SIGTERM');
  const timer = setTimeout(() => replica.child.kill('SIGKILL'), 10_000);
  await replica.exited;
  clearTimeout(timer);
}

async function gql<T>(replica: ListeningProcess, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(replica.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown[] };
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data!;
}

async function importImage(replica: ListeningProcess, uri: string, name: string) {
  const data = await gql<{ importImage: { __typename: string; message?: string; image?: ImageView } }>(
    replica,
    `mutation($input: ImportImageInput!) {
      importImage(input: $input) { __typename ... on Error { message } ... on ImportImagePayload { image { ${FIELDS} } } }
    }`,
    { input: { region: 'os', organization: 'acme', name, uri, os: { family: 'DEBIAN', distro: 'DEBIAN', version: '12' } } },
  );
  return data.importImage;
}

async function startImport(replica: ListeningProcess, uri: string, name: string): Promise<ImageView> {
  const result = await importImage(replica, uri, name);
  expect(result.__typename, JSON.stringify(result)).toBe('ImportImagePayload');
  return result.image!;
}

async function imageOf(replica: ListeningProcess, id: string): Promise<ImageView> {
  const data = await gql<{ node: ImageView | null }>(
    replica,
    `query($id: ID!) { node(id: $id) { ... on Image { ${FIELDS} } } }`,
    {
      id,
    },
  );
  expect(data.node).not.toBeNull();
  return data.node!;
}

/** Polls the image until `done` holds, returning every state seen on the way. */
async function follow(replica: ListeningProcess, id: string, done: (image: ImageView) => boolean, timeoutMs = 30_000) {
  const seen: ImageView[] = [];
  await waitFor(
    async () => {
      const image = await imageOf(replica, id);
      seen.push(image);
      return image;
    },
    done,
    timeoutMs,
  );
  return seen;
}

interface StreamEvent {
  status: string;
  progress: { phase: string; bytesDone: number } | null;
}

/**
 * imageChanged over server-sent events: `started` once the first event is in (or the stream is over),
 * `events` all of them when the stream completes.
 */
function subscribe(replica: ListeningProcess, id: string): { started: Promise<void>; events: Promise<StreamEvent[]> } {
  let markStarted!: () => void;
  const started = new Promise<void>((resolve) => (markStarted = resolve));
  const reading = (async () => {
    const response = await fetch(replica.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({
        query: 'subscription ($id: ID!) { imageChanged(id: $id) { status progress { phase bytesDone } } }',
        variables: { id },
      }),
    });
    let text = '';
    const decoder = new TextDecoder();
    const reader = response.body!.getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) {
      text += decoder.decode(read.value, { stream: true });
      if (text.includes('event: next\n')) markStarted();
    }
    return [...text.matchAll(/event: next\ndata: ?(.*)\n/g)].map(
      ([, data]) => (JSON.parse(data!) as { data: { imageChanged: StreamEvent } }).data.imageChanged,
    );
  })();
  const events = reading.finally(markStarted);
  return { started, events };
}

async function readiness(replica: ListeningProcess): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${replica.opsUrl}/ready`);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** Images of that name as Glance's own REST API lists them to the project (trusted headers), bypassing imagegraph. */
async function glanceImages(projectId: string, name: string): Promise<Record<string, unknown>[]> {
  const response = await fetch(`${glance}/v2/images?name=${encodeURIComponent(name)}`, {
    headers: { 'x-identity-status': 'Confirmed', 'x-project-id': projectId, 'x-roles': 'admin', accept: 'application/json' },
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { images: Record<string, unknown>[] }).images;
}
