/**
 * Conversion on import (behaviour.md section 15) end to end: real QCOW2, VMDK, VHD, VHDX, VDI, QED and
 * compressed raw disks made by qemu-img and the compressors, served over loopback HTTP, imported into
 * the local provider and into Glance, each ending READY with the sha256 of what `qemu-img convert`
 * itself makes of the file; unsafe files refused with their problem; nothing left behind.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { glanceImage, providerKinds } from '../../support/glance.js';
import { glanceProjectId, startTestServer, type TestServer } from '../../support/harness.js';
import { type ImageServer, startImageServer } from '../../support/image-server.js';
import { type Corpus, makeConvertibleImages } from './make-convertible-images.js';

const MEMBER = { token: 't-acme-member', subject: 'alice', organizations: [{ id: 'acme', role: 'MEMBER' as const }] };
const ADMIN = { token: 't-platform', subject: 'root', platformAdmin: true };
const MAX_DISK_BYTES = 64 * 2 ** 20;
/** The convertible files make-convertible-images.ts writes. */
const CONVERTIBLE = [
  'disk.qcow2',
  'disk-compressed.qcow2',
  'disk.qed',
  'disk.vmdk',
  'disk-stream.vmdk',
  'disk.vhd',
  'disk-fixed.vhd',
  'disk.vhdx',
  'disk.vdi',
  'disk.raw.gz',
  'disk.raw.xz',
  'disk.raw.zst',
  'disk.raw.bz2',
];

const IMPORT = /* GraphQL */ `
  mutation ($input: ImportImageInput!) {
    importImage(input: $input) {
      __typename
      ... on Error {
        code
        message
      }
      ... on UnsafeImageError {
        detectedFormat
        problem
      }
      ... on UnsupportedImageFormatError {
        detectedFormat
        hint
      }
      ... on ImportImagePayload {
        image {
          id
          providerId
          status
          sourceFormat
          progress {
            phase
            bytesDone
            bytesTotal
          }
        }
      }
    }
  }
`;

const NODE = /* GraphQL */ `
  query ($id: ID!) {
    node(id: $id) {
      ... on Image {
        status
        statusReason
        sizeBytes
        sourceFormat
        checksum {
          algorithm
          value
        }
        progress {
          phase
        }
      }
    }
  }
`;

interface ImportResult {
  __typename: string;
  code?: string;
  message?: string;
  detectedFormat?: string;
  problem?: string;
  hint?: string;
  image?: { id: string; providerId: string; status: string; sourceFormat: string | null; progress: unknown };
}

let dir: string;
let corpus: Corpus;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'imagegraph-conversion-'));
  corpus = makeConvertibleImages(dir);
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(providerKinds().filter((kind) => kind !== 'openstack-keystone'))('conversion on the %s provider', (kind) => {
  let images: ImageServer;
  let server: TestServer;
  let scratch: string;
  let counter = 0;

  beforeAll(async () => {
    images = await startImageServer();
    for (const [name, image] of [...Object.entries(corpus.convertible), ...Object.entries(corpus.unsafe)]) {
      images.route(`/${name}`, image.file);
    }
    images.route('/blank.qcow2', corpus.blankQcow2);
    images.route('/slow.qcow2', {
      body: corpus.convertible['disk.qcow2']!.file,
      throttle: { chunkBytes: 256 * 1024, delayMs: 100 },
    });
    scratch = mkdtempSync(join(tmpdir(), 'imagegraph-scratch-'));
    server = await startTestServer({
      regions: [{ id: 'alpha', provider: kind }],
      callers: [MEMBER, ADMIN],
      imports: { allowedHosts: [images.host], maxVirtualSizeBytes: MAX_DISK_BYTES, scratchDir: scratch },
    });
  });

  afterAll(async () => {
    await server?.close();
    await images?.close();
    rmSync(scratch, { recursive: true, force: true });
  });

  async function importImage(path: string, extra: Record<string, unknown> = {}): Promise<ImportResult> {
    const input = {
      region: 'alpha',
      organization: 'acme',
      name: `conv-${++counter}`,
      uri: images.url(path),
      os: { family: 'DEBIAN', distro: 'DEBIAN', version: '12' },
      ...extra,
    };
    const result = await server.gql<{ importImage: ImportResult }>(IMPORT, { input }, MEMBER.token);
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    return result.data!.importImage;
  }

  async function node(id: string) {
    const result = await server.gql<{
      node: {
        status: string;
        statusReason: string | null;
        sizeBytes: number | null;
        sourceFormat: string | null;
        checksum: { algorithm: string; value: string } | null;
        progress: { phase: string } | null;
      };
    }>(NODE, { id }, MEMBER.token);
    return result.data!.node;
  }

  /** Scratch directories of imports still there (each import's is removed when it ends). */
  const leftovers = () => readdirSync(scratch).flatMap((root) => readdirSync(join(scratch, root)));

  it.for(CONVERTIBLE)('imports %s as a raw disk equal to qemu-img convert output', async (name) => {
    const image = corpus.convertible[name]!;
    const result = await importImage(`/${name}`);
    expect(result.__typename, JSON.stringify(result)).toBe('ImportImagePayload');
    expect(result.image).toMatchObject({ status: 'PENDING', sourceFormat: image.format });
    await server.app.importsIdle();
    const now = await node(result.image!.id);
    expect(now, now.statusReason ?? '').toMatchObject({
      status: 'READY',
      sourceFormat: image.format,
      checksum: { algorithm: 'sha256', value: image.expectedSha256 },
      progress: null,
    });
    if (kind !== 'local') {
      const glance = await glanceImage(glanceProjectId(server.dir, 'alpha'), result.image!.providerId);
      expect(glance).toMatchObject({ status: 'active', disk_format: 'raw', 'imagegraph.source_format': image.format });
      expect(glance!['imagegraph.sha256']).toBe(image.expectedSha256);
    } else {
      const stored = join(server.dir, 'alpha', 'images', `${result.image!.providerId}.raw`);
      expect(statSync(stored).size).toBe(now.sizeBytes);
    }
    expect(leftovers()).toEqual([]);
  });

  it.for(['backed.qcow2', 'data-file.qcow2', 'flat.vmdk', 'split.vmdk', 'encrypted.qcow2', 'huge.qcow2'])(
    'refuses %s at the peek with its problem, creating nothing',
    async (name) => {
      const { format, problem } = corpus.unsafe[name]!;
      const requests = images.requests.length;
      const result = await importImage(`/${name}`);
      expect(result).toMatchObject({ __typename: 'UnsafeImageError', code: 'UNSAFE_IMAGE', detectedFormat: format, problem });
      expect(result.message).toContain(format);
      // Only the peek reached the server; the file was never downloaded.
      expect(images.requests.slice(requests).map((request) => request.range)).toEqual(['bytes=0-65535']);
    },
  );

  it('stops a compression bomb at the size limit, not at its end, and fails the import naming it', async () => {
    const result = await importImage('/bomb.raw.xz');
    expect(result.image).toMatchObject({ status: 'PENDING', sourceFormat: 'XZ' });
    await server.app.importsIdle();
    const now = await node(result.image!.id);
    expect(now.status).toBe('FAILED');
    expect(now.statusReason).toMatch(/XZ image is not safe to convert: it decompresses to more than .* 67108864 bytes/);
    const download = images.requests.find((request) => request.path === '/bomb.raw.xz' && !request.range)!;
    // 1 TiB of zeros in 160 MB of xz: the download was cut off long before its end (what was sent
    // includes what the kernel's socket buffers took in).
    expect(download.finished).toBe(false);
    expect(download.bytesSent).toBeLessThan(statSync(corpus.unsafe['bomb.raw.xz']!.file).size / 3);
    if (kind === 'local') {
      const files = readdirSync(join(server.dir, 'alpha', 'images'));
      expect(files.filter((file) => file.includes(result.image!.providerId) || file.startsWith('.partial-'))).toEqual([]);
    }
    expect(leftovers()).toEqual([]);
  });

  it('fails a conversion whose output has no boot record, naming what came out', async () => {
    const result = await importImage('/blank.qcow2');
    await server.app.importsIdle();
    const now = await node(result.image!.id);
    expect(now.status).toBe('FAILED');
    expect(now.statusReason).toMatch(/disk converted from QCOW2 has no MBR or GPT boot record/);
  });

  it('keeps the old rule with convert: false, with a hint that says how to convert', async () => {
    const result = await importImage('/disk.qcow2', { convert: false });
    expect(result).toMatchObject({ __typename: 'UnsupportedImageFormatError', detectedFormat: 'QCOW2' });
    expect(result.hint).toMatch(/qemu-img convert -f qcow2 -O raw .*convert: false/);
    const compressed = await importImage('/disk.raw.xz', { convert: false });
    expect(compressed).toMatchObject({ __typename: 'UnsupportedImageFormatError', detectedFormat: 'XZ' });
    const fixed = await importImage('/disk-fixed.vhd', { convert: false });
    expect(fixed).toMatchObject({ __typename: 'UnsupportedImageFormatError', detectedFormat: 'VHD' });
  });

  it('shows progress while it runs: QUEUED or DOWNLOADING with bytes, a few updates a second at most', async () => {
    const result = await importImage('/slow.qcow2');
    const started = Date.now();
    const events = follow(server, result.image!.id, MEMBER.token);
    const size = statSync(corpus.convertible['disk.qcow2']!.file).size;
    // Image.progress answers the same while the download runs.
    await expect
      .poll(async () => (await node(result.image!.id)).progress, { interval: 50, timeout: 5_000 })
      .toMatchObject({
        phase: 'DOWNLOADING',
      });
    const received = await events;
    const seconds = (Date.now() - started) / 1000;
    const progress = received.map((event) => event.progress).filter((p): p is NonNullable<typeof p> => p !== null);
    const downloading = progress.filter((p) => p.phase === 'DOWNLOADING');
    expect(downloading.length).toBeGreaterThan(2);
    expect(downloading.every((p) => p.bytesTotal === size)).toBe(true);
    expect(downloading.map((p) => p.bytesDone)).toEqual([...downloading.map((p) => p.bytesDone)].sort((a, b) => a - b));
    // Published at most every 250 ms per import, plus one per phase change.
    expect(progress.length).toBeLessThanOrEqual(Math.ceil(seconds * 4) + 4);
    expect(received.at(-1)).toMatchObject({ status: 'READY', progress: null });
  });
});

/** Follows imageChanged over server-sent events until it completes; each event's status and progress. */
async function follow(server: TestServer, id: string, token: string) {
  const response = await server.app.yoga.fetch('http://imagegraph.test/graphql', {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream', 'content-type': 'application/json' },
    body: JSON.stringify({
      query: `subscription ($id: ID!) { imageChanged(id: $id) { status progress { phase bytesDone bytesTotal } } }`,
      variables: { id },
    }),
  });
  const text = await response.text();
  return [...text.matchAll(/event: next\ndata: ?(.*)\n/g)].map(
    ([, data]) =>
      (
        JSON.parse(data!) as {
          data: {
            imageChanged: { status: string; progress: { phase: string; bytesDone: number; bytesTotal: number | null } | null };
          };
        }
      ).data.imageChanged,
  );
}
