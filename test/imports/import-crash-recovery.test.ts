/**
 * kill -9 in the middle of an import, then a restart on the same data dir: the real entry point
 * (`node --import tsx src/main.ts`), a real image server, nothing mocked. The interrupted import must
 * end READY with the right bytes or FAILED with a reason, never stuck, never READY from a partial file.
 */
import { mkdtempSync, openSync, readdirSync, readSync, closeSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sqlite as Database } from '../../src/providers/local/sqlite.js';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { killAll, type ListeningProcess, startListening } from '../support/main-process.js';
import { stringify } from 'yaml';
import { makeImages } from './formats/make-images.js';
import { diskWithHead, type ImageServer, sha256Of, startImageServer } from '../support/image-server.js';

const MiB = 1024 * 1024;
const BIG = 64 * MiB;
/** Full GETs trickle at about 3 MiB/s: the 64 MiB download takes ~20 s, ample time to kill it. */
const SLOW = { chunkBytes: 64 * 1024, delayMs: 20 };

interface ImageView {
  id: string;
  providerId: string;
  status: 'PENDING' | 'CREATING' | 'READY' | 'FAILED';
  statusReason: string | null;
  sizeBytes: number | null;
  checksum: { algorithm: string; value: string } | null;
}

type Run = ListeningProcess;

let corpusDir: string;
let disk: ReturnType<typeof diskWithHead>;
let diskSha256: string;
let images: ImageServer;
let dir: string;

beforeAll(async () => {
  corpusDir = mkdtempSync(join(tmpdir(), 'imagegraph-crash-corpus-'));
  const made = makeImages(corpusDir).get('mbr-disk');
  if (!made || 'error' in made) throw made?.error ?? new Error('no mbr-disk corpus entry');
  // The real MBR of an sfdisk-made disk, then zeros to 64 MiB.
  const head = new Uint8Array(64 * 1024);
  const fd = openSync(made.file, 'r');
  readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  disk = diskWithHead(head, BIG);
  diskSha256 = await sha256Of(disk);
  images = await startImageServer();
});

afterAll(async () => {
  await images?.close();
  if (corpusDir) rmSync(corpusDir, { recursive: true, force: true });
});

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'imagegraph-crash-'));
});

afterEach(async () => {
  await killAll();
  rmSync(dir, { recursive: true, force: true });
});

/** Dev mode (every request a platform admin) on loopback, one local region in the temp dir. */
function writeConfig(): string {
  const file = join(dir, 'imagegraph.yaml');
  writeFileSync(
    file,
    stringify({
      server: { host: '127.0.0.1', graphiql: false, shutdownTimeoutMs: 1000 },
      auth: { mode: 'dev' },
      logLevel: 'info',
      imports: { allowedHosts: [images.host] },
      regions: [{ id: 'local', name: 'Local', provider: { type: 'local', dataDir: './data/local' } }],
    }),
  );
  return file;
}

const imagesDir = () => join(dir, 'data', 'local', 'images');
const filesOf = (providerId: string) => readdirSync(imagesDir()).filter((name) => name.includes(providerId));
const partials = () => readdirSync(imagesDir()).filter((name) => name.startsWith('.partial-'));

const startMain = startListening;

async function gql<T>(run: Run, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(run.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json()) as { data?: T; errors?: unknown[] };
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data!;
}

const FIELDS = 'id providerId status statusReason sizeBytes checksum { algorithm value }';

async function startImport(run: Run, uri: string): Promise<ImageView> {
  const data = await gql<{ importImage: { __typename: string; image?: ImageView } }>(
    run,
    `mutation($input: ImportImageInput!) {
      importImage(input: $input) { __typename ... on Error { message } ... on ImportImagePayload { image { ${FIELDS} } } }
    }`,
    {
      input: {
        region: 'local',
        organization: 'acme',
        name: 'big-disk',
        uri,
        os: { family: 'DEBIAN', distro: 'DEBIAN', version: '12' },
      },
    },
  );
  expect(data.importImage.__typename, JSON.stringify(data)).toBe('ImportImagePayload');
  expect(data.importImage.image!.status).toBe('PENDING');
  return data.importImage.image!;
}

async function imageOf(run: Run, id: string): Promise<ImageView> {
  const data = await gql<{ node: ImageView | null }>(run, `query($id: ID!) { node(id: $id) { ... on Image { ${FIELDS} } } }`, {
    id,
  });
  expect(data.node).not.toBeNull();
  return data.node!;
}

/** Polls the image until `done` holds, returning every state seen on the way. */
async function follow(run: Run, id: string, done: (image: ImageView) => boolean, timeoutMs = 20_000): Promise<ImageView[]> {
  const seen: ImageView[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const image = await imageOf(run, id);
    seen.push(image);
    if (done(image)) return seen;
    if (Date.now() > deadline) throw new Error(`image still ${JSON.stringify(image)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Starts an import of a slowly served 64 MiB disk, waits until bytes are moving, and SIGKILLs the server. */
async function killMidImport(config: string, path: string): Promise<{ image: ImageView; partialsAfterKill: string[] }> {
  images.route(path, { body: disk, throttle: SLOW });
  const run = await startMain(config);
  const image = await startImport(run, images.url(path));
  await follow(run, image.id, (i) => i.status === 'CREATING', 10_000);
  const download = await images.waitForRequest((r) => r.path === path && r.range === undefined);
  // At least 1 MiB on its way, so a temp file with data exists.
  const deadline = Date.now() + 10_000;
  while (download.bytesSent < MiB && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  expect(download.bytesSent).toBeGreaterThanOrEqual(MiB);

  run.child.kill('SIGKILL');
  expect(await run.exited).toEqual({ code: null, signal: 'SIGKILL' });

  // Only a temp file may be left: never the final file of an incomplete image.
  const left = filesOf(image.providerId);
  expect(left.filter((name) => name.endsWith('.raw'))).toEqual([]);
  expect(left.every((name) => name.startsWith('.partial-'))).toBe(true);
  // The database, as the killed process left it: still CREATING, no size, no checksum.
  const db = new Database(join(dir, 'data', 'local', 'images.sqlite'), { readonly: true });
  try {
    const row = db.prepare('SELECT status, size_bytes, checksum_value FROM images WHERE id = ?').get(image.providerId);
    expect(row).toEqual({ status: 'CREATING', size_bytes: null, checksum_value: null });
  } finally {
    db.close();
  }
  // The image server notices the dropped connection.
  await images.waitForRequest((r) => r === download && r.aborted, 5_000);
  return { image, partialsAfterKill: partials() };
}

describe('an import interrupted by kill -9', () => {
  it('resumes at the next start and ends READY with the right bytes, leaving no temp file', async () => {
    const config = writeConfig();
    const path = '/resumed.raw';
    const { image, partialsAfterKill } = await killMidImport(config, path);
    // The killed process may have left its temp file (at most one), which the restart must clear.
    expect(partialsAfterKill.length).toBeLessThanOrEqual(1);

    images.route(path, { body: disk }); // fast now
    const run = await startMain(config);
    const seen = await follow(run, image.id, (i) => i.status === 'READY' || i.status === 'FAILED');

    const final = seen.at(-1)!;
    expect(final).toMatchObject({
      status: 'READY',
      statusReason: null,
      sizeBytes: BIG,
      checksum: { algorithm: 'sha256', value: diskSha256 },
    });
    // Never READY with another size or checksum on the way, never FAILED.
    for (const state of seen) {
      expect(['PENDING', 'CREATING', 'READY']).toContain(state.status);
      if (state.status === 'READY') expect(state).toMatchObject({ sizeBytes: BIG, checksum: { value: diskSha256 } });
      else expect(state.sizeBytes).toBeNull();
    }
    expect(filesOf(image.providerId)).toEqual([`${image.providerId}.raw`]);
    expect(await sha256Of(join(imagesDir(), `${image.providerId}.raw`))).toBe(diskSha256);
    expect(partials()).toEqual([]);
    // Downloaded again from the start: a second full GET after the killed one.
    const downloads = images.requests.filter((r) => r.path === path && r.range === undefined);
    expect(downloads).toHaveLength(2);
    expect(downloads[1]).toMatchObject({ finished: true, bytesSent: BIG });
    expect(run.stdout()).toContain('resuming interrupted import');
  });

  it('ends FAILED with a reason when the remote file is gone by the restart, never stuck PENDING or CREATING', async () => {
    const config = writeConfig();
    const path = '/vanishing.raw';
    const { image } = await killMidImport(config, path);

    images.remove(path); // now 404
    const run = await startMain(config);
    const seen = await follow(run, image.id, (i) => i.status !== 'PENDING' && i.status !== 'CREATING', 15_000);

    const final = seen.at(-1)!;
    expect(final.status).toBe('FAILED');
    expect(final.statusReason).toMatch(/404/);
    expect(final.sizeBytes).toBeNull();
    expect(final.checksum).toBeNull();
    expect(seen.some((state) => state.status === 'READY')).toBe(false);
    expect(filesOf(image.providerId)).toEqual([]);
    expect(partials()).toEqual([]);
    expect(images.requests.filter((r) => r.path === path).at(-1)!.status).toBe(404);
  });
});
