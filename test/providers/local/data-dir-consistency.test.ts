/**
 * The local provider's data dir stays consistent with its metadata whatever happens to it: a seeded
 * random sequence of imports (real raw MBR disks from a loopback server, some slow, some that turn out
 * not to be disks at download time), deletes through the API and behind the server's back, uses
 * registered and released, deletes racing registrations, and restarts on the same data dir. Afterwards
 * every listed image is READY with exactly its one file of the right size, or holds no file at all;
 * no file is left without an image; no temp file remains.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestCaller, type TestRegion, type TestServer } from '../../support/harness.js';
import { type ImageServer, startImageServer } from '../../support/image-server.js';
import { makeMbrDisk } from '../../support/mbr-disk.js';

/** The random sequence starts many imports at once; the per-organization quota is not what this tests. */
const MANY_IMPORTS = { importsPerOrganization: 1_000 };

const ACME = { token: 't-acme-member', subject: 'alice', organizations: [{ id: 'acme', role: 'MEMBER' }] } satisfies TestCaller;
const ADMIN = { token: 't-platform', subject: 'root', platformAdmin: true } satisfies TestCaller;
const CALLERS = [ACME, ADMIN];
const REGIONS: TestRegion[] = [{ id: 'alpha' }, { id: 'beta', organizations: ['acme'] }];

/** Replay or explore another sequence with CONSISTENCY_SEED=<n>. */
const SEED = Number(process.env.CONSISTENCY_SEED ?? 0x5eed_2026);
const OPERATIONS = 60;

/** Disk sizes in KiB, one per route: a stored file is matched to its source by its size. */
const DISK_KIB = [2048, 2560, 3072, 4096, 6144];
/** Routes whose full download trickles, so deletes and restarts land while bytes are moving. */
const SLOW = new Set([3, 4]);

/** mulberry32: a tiny deterministic PRNG, so a failing sequence can be replayed from SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Tracked {
  id: string;
  region: string;
  providerId: string;
  owner: 'acme' | null;
  /** Expected byte size once READY; null for a route that is not a disk at download time. */
  size: number | null;
  deleted: boolean;
  /** Registered uses, as `kind/consumerId` (all held by acme). */
  uses: Set<string>;
}

interface UnionResult {
  __typename: string;
  message?: string;
  image?: { id: string; providerId: string };
}

const IMPORT = /* GraphQL */ `
  mutation ($input: ImportImageInput!) {
    importImage(input: $input) {
      __typename
      ... on Error {
        message
      }
      ... on ImportImagePayload {
        image {
          id
          providerId
        }
      }
    }
  }
`;
const DELETE = 'mutation ($id: ID!) { r: deleteImage(input: { id: $id }) { __typename ... on Error { message } } }';
const REGISTER =
  'mutation ($input: RegisterImageUseInput!) { r: registerImageUse(input: $input) { __typename ... on Error { message } } }';
const RELEASE =
  'mutation ($input: ReleaseImageUseInput!) { r: releaseImageUse(input: $input) { __typename ... on Error { message } } }';
const LIST = /* GraphQL */ `
  query ($region: ID!, $after: String) {
    images(region: $region, first: 100, after: $after) {
      nodes {
        id
        providerId
        status
        statusReason
        sizeBytes
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

interface Listed {
  id: string;
  providerId: string;
  status: 'PENDING' | 'CREATING' | 'READY' | 'FAILED';
  statusReason: string | null;
  sizeBytes: number | null;
}

let diskDir: string;
let images: ImageServer;
let server: TestServer;
let dir: string;
const sizes: number[] = [];

beforeAll(async () => {
  diskDir = mkdtempSync(join(tmpdir(), 'imagegraph-consistency-disks-'));
  images = await startImageServer();
  DISK_KIB.forEach((kib, i) => {
    const file = makeMbrDisk(diskDir, `disk-${i}.raw`, kib);
    sizes.push(statSync(file).size);
    images.route(`/disk-${i}`, SLOW.has(i) ? { body: file, throttle: { chunkBytes: 256 * 1024, delayMs: 4 } } : file);
  });
  // The peek sees a bootable disk; the download then gets zeros (the remote file changed): FAILED.
  images.route('/changed', { body: new Uint8Array(sizes[0]!), rangeBody: makeMbrDisk(diskDir, 'changed.raw', DISK_KIB[0]!) });
  server = await startTestServer({
    regions: REGIONS,
    callers: CALLERS,
    imports: { allowedHosts: [images.host] },
    limits: MANY_IMPORTS,
  });
  dir = server.dir;
});

afterAll(async () => {
  await server?.close();
  await images?.close();
  if (diskDir) rmSync(diskDir, { recursive: true, force: true });
});

async function call(query: string, variables: Record<string, unknown>, caller: TestCaller): Promise<UnionResult> {
  const result = await server.gql<Record<string, UnionResult>>(query, variables, caller.token);
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return Object.values(result.data!)[0]!;
}

async function listAll(region: string): Promise<Listed[]> {
  const all: Listed[] = [];
  let after: string | null = null;
  for (;;) {
    const result: Awaited<
      ReturnType<typeof server.gql<{ images: { nodes: Listed[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } }>>
    > = await server.gql(LIST, { region, after }, ADMIN.token);
    expect(result.errors).toBeUndefined();
    all.push(...result.data!.images.nodes);
    if (!result.data!.images.pageInfo.hasNextPage) return all;
    after = result.data!.images.pageInfo.endCursor;
  }
}

/** Checks the data dir of every region against what the API lists and what the sequence did. */
async function checkConsistency(tracked: Tracked[], trace: string[]) {
  await server.app.importsIdle();
  const context = `seed ${SEED}; trace:\n${trace.join('\n')}`;
  for (const { id: region } of REGIONS) {
    const listed = await listAll(region);
    const files = readdirSync(join(dir, region, 'images'));
    expect(
      files.filter((name) => name.startsWith('.partial-')),
      context,
    ).toEqual([]);

    const byProviderId = new Map(listed.map((image) => [image.providerId, image]));
    // No file without an image.
    for (const name of files) {
      expect(
        name.endsWith('.raw') && byProviderId.has(name.slice(0, -'.raw'.length)),
        `${region}/${name} has no image\n${context}`,
      ).toBe(true);
    }
    for (const image of listed) {
      const own = files.filter((name) => name.includes(image.providerId));
      if (image.status === 'READY') {
        expect(own, `${region} ${image.providerId}\n${context}`).toEqual([`${image.providerId}.raw`]);
        expect(statSync(join(dir, region, 'images', own[0]!)).size).toBe(image.sizeBytes);
      } else {
        expect(['PENDING', 'CREATING', 'FAILED']).toContain(image.status);
        expect(own, `${region} ${image.providerId} is ${image.status} but has files\n${context}`).toEqual([]);
      }
    }

    // What is listed is exactly what the sequence left, each in the state its source leads to.
    const expected = tracked.filter((t) => t.region === region && !t.deleted);
    expect(listed.map((image) => image.id).sort(), context).toEqual(expected.map((t) => t.id).sort());
    for (const t of expected) {
      const image = byProviderId.get(t.providerId)!;
      if (t.size === null) {
        expect(image.status, context).toBe('FAILED');
      } else {
        expect(
          { status: image.status, sizeBytes: image.sizeBytes },
          `${t.providerId}: ${image.statusReason}\n${context}`,
        ).toEqual({
          status: 'READY',
          sizeBytes: t.size,
        });
      }
    }
  }
}

describe('local data dir consistency under a random sequence of operations', () => {
  it('keeps files and metadata in step through imports, deletes, uses, races and restarts', async () => {
    const random = prng(SEED);
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const tracked: Tracked[] = [];
    const trace: string[] = [];
    const pairs: { image: string; deleted: string; registered: string }[] = [];
    let restarts = 0;
    let consumer = 0;

    const alive = () => tracked.filter((t) => !t.deleted);
    const callerFor = (t: Tracked) => (t.owner === 'acme' ? ACME : ADMIN);
    const useInput = (t: Tracked, use: string) => {
      const [kind, consumerId] = use.split('/') as [string, string];
      return { image: t.id, kind, consumerId, organization: 'acme' };
    };

    const weights: [string, number][] = [
      ['import', 24],
      ['delete', 10],
      ['register', 10],
      ['release', 8],
      ['pair', 18],
      ['provider-delete', 4],
      ['restart', 8],
      ['settle', 6],
      ['pause', 8],
    ];
    const total = weights.reduce((sum, [, w]) => sum + w, 0);
    const choose = () => {
      let r = random() * total;
      for (const [name, w] of weights) if ((r -= w) < 0) return name;
      return 'pause';
    };

    for (let step = 0; step < OPERATIONS; step++) {
      let op = choose();
      if (op !== 'import' && op !== 'restart' && op !== 'settle' && op !== 'pause' && alive().length === 0) op = 'import';
      if (op === 'release' && !alive().some((t) => t.uses.size > 0)) op = 'register';
      if (op === 'restart' && restarts >= 5) op = 'settle';

      switch (op) {
        case 'import': {
          const region = pick(REGIONS).id;
          const owner = random() < 0.75 ? 'acme' : null;
          const bad = random() < 0.15;
          const disk = Math.floor(random() * DISK_KIB.length);
          const result = await call(
            IMPORT,
            {
              input: {
                region,
                ...(owner ? { organization: owner } : { visibility: 'PUBLIC' }),
                name: `img-${step}`,
                uri: images.url(bad ? '/changed' : `/disk-${disk}`),
                os: { family: 'DEBIAN', distro: 'DEBIAN', version: '12' },
              },
            },
            owner ? ACME : ADMIN,
          );
          expect(result.__typename, result.message).toBe('ImportImagePayload');
          tracked.push({
            id: result.image!.id,
            region,
            providerId: result.image!.providerId,
            owner,
            size: bad ? null : sizes[disk]!,
            deleted: false,
            uses: new Set(),
          });
          trace.push(
            `${step} import ${region} ${owner ?? 'PUBLIC'} ${bad ? '/changed' : `/disk-${disk}`} -> ${result.image!.providerId}`,
          );
          break;
        }
        case 'delete': {
          const t = pick(alive());
          const result = await call(DELETE, { id: t.id }, callerFor(t));
          trace.push(`${step} delete ${t.providerId} (${t.uses.size} uses) -> ${result.__typename}`);
          expect(result.__typename, trace.join('\n')).toBe(t.uses.size ? 'ImageInUseError' : 'DeleteImagePayload');
          if (result.__typename === 'DeleteImagePayload') t.deleted = true;
          break;
        }
        case 'register': {
          const t = pick(alive());
          const use = `${pick(['server', 'cluster'])}/c-${Math.floor(random() * 3)}`;
          const result = await call(REGISTER, { input: useInput(t, use) }, ACME);
          trace.push(`${step} register ${t.providerId} ${use} -> ${result.__typename}`);
          expect(result.__typename, trace.join('\n')).toBe('RegisterImageUsePayload');
          t.uses.add(use);
          break;
        }
        case 'release': {
          const t = pick(alive().filter((x) => x.uses.size > 0));
          const use = pick([...t.uses]);
          const result = await call(RELEASE, { input: useInput(t, use) }, ACME);
          trace.push(`${step} release ${t.providerId} ${use} -> ${result.__typename}`);
          expect(result.__typename, trace.join('\n')).toBe('ReleaseImageUsePayload');
          t.uses.delete(use);
          break;
        }
        case 'pair': {
          const t = pick(alive());
          const use = `server/pair-${++consumer}`;
          // Either request may start first.
          const registerFirst = random() < 0.5;
          const remove = () => call(DELETE, { id: t.id }, callerFor(t));
          const add = () => call(REGISTER, { input: useInput(t, use) }, ACME);
          const [deleted, registered] = registerFirst
            ? await Promise.all([add(), remove()]).then(([r, d]) => [d, r] as const)
            : await Promise.all([remove(), add()]);
          trace.push(
            `${step} pair ${t.providerId} (${t.uses.size} uses, ${registerFirst ? 'register' : 'delete'} first) -> delete ${deleted.__typename}, register ${registered.__typename}`,
          );
          pairs.push({ image: t.providerId, deleted: deleted.__typename, registered: registered.__typename });
          if (deleted.__typename === 'DeleteImagePayload') t.deleted = true;
          if (registered.__typename === 'RegisterImageUsePayload') t.uses.add(use);
          break;
        }
        case 'provider-delete': {
          // Deleted behind this server's back (another replica, an operator tool): the runner is not told.
          const t = pick(alive());
          const outcome = await server.provider(t.region).deleteImage(t.providerId);
          trace.push(`${step} provider-delete ${t.providerId} (${t.uses.size} uses) -> ${outcome.result}`);
          expect(outcome.result).toBe(t.uses.size ? 'in-use' : 'deleted');
          if (outcome.result === 'deleted') t.deleted = true;
          break;
        }
        case 'restart': {
          restarts++;
          trace.push(`${step} restart`);
          await server.close({ keepData: true });
          server = await startTestServer({
            regions: REGIONS,
            callers: CALLERS,
            imports: { allowedHosts: [images.host] },
            limits: MANY_IMPORTS,
            dir,
          });
          break;
        }
        case 'settle':
          trace.push(`${step} settle`);
          await server.app.importsIdle();
          break;
        case 'pause': {
          const ms = Math.floor(random() * 40);
          trace.push(`${step} pause ${ms}`);
          await new Promise((resolve) => setTimeout(resolve, ms));
          break;
        }
      }
    }

    // Every race had exactly one winner: a registration that won blocks the delete; a delete that won leaves nothing to register on.
    for (const pair of pairs) {
      const wins = Number(pair.deleted === 'DeleteImagePayload') + Number(pair.registered === 'RegisterImageUsePayload');
      expect(wins, `${JSON.stringify(pair)}\n${trace.join('\n')}`).toBe(1);
      expect([
        ['DeleteImagePayload', 'ImageNotFoundError'],
        ['ImageInUseError', 'RegisterImageUsePayload'],
      ]).toContainEqual([pair.deleted, pair.registered]);
    }
    expect(pairs.length).toBeGreaterThan(0);
    expect(tracked.some((t) => t.deleted)).toBe(true);

    await checkConsistency(tracked, trace);
    // A restart finds the same state (start-up clean-up must not touch a consistent dir).
    await server.close({ keepData: true });
    server = await startTestServer({
      regions: REGIONS,
      callers: CALLERS,
      imports: { allowedHosts: [images.host] },
      limits: MANY_IMPORTS,
      dir,
    });
    await checkConsistency(tracked, trace);
  });
});
