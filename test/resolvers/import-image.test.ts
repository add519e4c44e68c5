import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { IMAGE_NAMES, makeImages, type MadeImage } from '../imports/formats/make-images.js';
import { allButKeystone, glanceImage, providerKinds } from '../support/glance.js';
import { glanceProjectId, type GqlResult, startTestServer, type TestCaller, type TestServer } from '../support/harness.js';
import { diskWithHead, type ImageServer, sha256Of, startImageServer } from '../support/image-server.js';

const CALLERS = {
  acmeMember: { token: 't-acme-member', subject: 'alice', organizations: [{ id: 'acme', role: 'MEMBER' }] },
  acmeReader: { token: 't-acme-reader', subject: 'rita', organizations: [{ id: 'acme', role: 'READER' }] },
  globexAdmin: { token: 't-globex-admin', subject: 'gary', organizations: [{ id: 'globex', role: 'ADMIN' }] },
  platformAdmin: { token: 't-platform', subject: 'root', platformAdmin: true },
} satisfies Record<string, TestCaller>;

const REGIONS = [{ id: 'alpha' }, { id: 'gamma', organizations: ['acme'] }];

const MiB = 1024 * 1024;

const IMAGE_FIELDS = /* GraphQL */ `
  fragment ImageFields on Image {
    id
    providerId
    name
    status
    statusReason
    sizeBytes
    sizeGiB
    visibility
    checksum {
      algorithm
      value
    }
    source {
      kind
      uri
      createdBy
    }
    organization {
      id
    }
    region {
      id
    }
    tags {
      name
      value
    }
  }
`;

const IMPORT = /* GraphQL */ `
  mutation Import($input: ImportImageInput!) {
    importImage(input: $input) {
      __typename
      ... on Error {
        message
        code
      }
      ... on ImportImagePayload {
        image {
          ...ImageFields
        }
      }
      ... on UnsupportedImageFormatError {
        detectedFormat
        hint
      }
      ... on ImageFetchError {
        uri
        reason
        httpStatus
      }
      ... on InvalidInputError {
        issues {
          path
          message
        }
      }
      ... on RegionNotFoundError {
        region
      }
      ... on IdempotencyConflictError {
        idempotencyKey
      }
    }
  }
  ${IMAGE_FIELDS}
`;

const NODE = /* GraphQL */ `
  query Node($id: ID!) {
    node(id: $id) {
      ... on Image {
        ...ImageFields
      }
    }
  }
  ${IMAGE_FIELDS}
`;

const COUNT = /* GraphQL */ `
  query Count($region: ID!, $names: [String!], $after: String) {
    images(region: $region, filter: { names: $names }, first: 100, after: $after) {
      totalCount
      nodes {
        id
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

interface ImageView {
  id: string;
  providerId: string;
  name: string;
  status: 'PENDING' | 'CREATING' | 'READY' | 'FAILED';
  statusReason: string | null;
  sizeBytes: number | null;
  sizeGiB: number | null;
  visibility: 'PUBLIC' | 'ORGANIZATION';
  checksum: { algorithm: string; value: string } | null;
  source: { kind: string; uri: string | null; createdBy: string | null };
  organization: { id: string } | null;
  region: { id: string };
  tags: { name: string; value: string }[];
}

interface CountPage {
  totalCount: number | null;
  nodes: { id: string }[];
  pageInfo: { hasNextPage: boolean; endCursor: string | null };
}

interface ImportResult {
  __typename: string;
  message?: string;
  code?: string;
  image?: ImageView;
  detectedFormat?: string;
  hint?: string;
  uri?: string;
  reason?: string;
  httpStatus?: number | null;
  issues?: { path: string[]; message: string }[];
  region?: string;
  idempotencyKey?: string;
}

/** Every refused corpus entry and what the detector names it (as in detect-format.test.ts). */
const REFUSED: { image: string; format: string; optional?: boolean }[] = [
  { image: 'qcow2', format: 'QCOW2' },
  { image: 'qed', format: 'QED' },
  { image: 'vmdk', format: 'VMDK' },
  { image: 'vmdk-stream', format: 'VMDK' },
  { image: 'vmdk-descriptor', format: 'VMDK' },
  { image: 'vdi', format: 'VDI' },
  { image: 'vhd-dynamic', format: 'VHD' },
  { image: 'vhdx', format: 'VHDX' },
  { image: 'iso', format: 'ISO' },
  { image: 'iso-hybrid-mbr', format: 'ISO' },
  { image: 'iso-hybrid-gpt', format: 'ISO' },
  { image: 'luks1', format: 'LUKS', optional: true },
  { image: 'luks2', format: 'LUKS', optional: true },
  { image: 'gzip', format: 'GZIP' },
  { image: 'tar-gz', format: 'GZIP' },
  { image: 'xz', format: 'XZ' },
  { image: 'zstd', format: 'ZSTD' },
  { image: 'bzip2', format: 'BZIP2' },
  { image: 'zip', format: 'ZIP' },
  { image: 'tar', format: 'TAR' },
  { image: 'tar-gnu', format: 'TAR' },
  { image: 'tar-v7', format: 'RAW_WITHOUT_BOOT_RECORD' },
  { image: 'raw-zeros', format: 'RAW_WITHOUT_BOOT_RECORD' },
  { image: 'ext4', format: 'RAW_WITHOUT_BOOT_RECORD' },
  { image: 'mbr-empty-table', format: 'RAW_WITHOUT_BOOT_RECORD' },
  { image: 'vhd-fixed-zeros', format: 'RAW_WITHOUT_BOOT_RECORD' },
];
const BOOTABLE = ['mbr-disk', 'gpt-disk', 'gpt-4k-disk'];
/** Corpus entries that are only building blocks of others, plus the fixed VHD, tested on its own. */
const NOT_FORMAT_CASES = ['iso-root', 'efi-partition', 'vhd-fixed-mbr'];

let corpusDir: string;
let corpus: Map<string, MadeImage>;

beforeAll(() => {
  corpusDir = mkdtempSync(join(tmpdir(), 'imagegraph-import-corpus-'));
  corpus = makeImages(corpusDir);
});

afterAll(() => {
  if (corpusDir) rmSync(corpusDir, { recursive: true, force: true });
});

/** The corpus file of an entry; fails with the cause (e.g. the package to install), or skips an optional one. */
function fileOf(image: string, ctx?: TestContext, optional = false): string {
  const made = corpus.get(image);
  if (!made) throw new Error(`no corpus entry "${image}"`);
  if ('file' in made) return made.file;
  if (optional && ctx) ctx.skip(`${image} could not be made here: ${made.error.message}`);
  throw made.error;
}

/** A 64 MiB raw disk: the MBR disk's first 64 KiB, then zeros. */
function bigDisk() {
  return diskWithHead(readFileSync(fileOf('mbr-disk')).subarray(0, 64 * 1024), 64 * MiB);
}

function sha256File(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

describe('image server helper', () => {
  it('hashes bodies the way the importer does', async () => {
    expect(await sha256Of(fileOf('mbr-disk'))).toBe(sha256File(fileOf('mbr-disk')));
  });
});

describe.each(providerKinds())('on the %s provider', (kind) => {
  const local = kind === 'local';
  // The keystone half runs a sample (see allButKeystone): a few corpus entries and cases of each kind.
  const keystone = kind === 'openstack-keystone';
  const sampled = allButKeystone(kind);
  const regions = REGIONS.map((region) => ({ ...region, provider: kind }));
  let images: ImageServer;
  /** A second image server whose port is not on the allow-list. */
  let outside: ImageServer;
  let server: TestServer;
  let nameCounter = 0;

  beforeAll(async () => {
    images = await startImageServer();
    for (const name of IMAGE_NAMES) {
      const made = corpus.get(name);
      if (made && 'file' in made && name !== 'iso-root') images.route(`/${name}`, made.file);
    }
    outside = await startImageServer({ '/mbr-disk': fileOf('mbr-disk') });
    server = await startTestServer({ regions, callers: Object.values(CALLERS), imports: { allowedHosts: [images.host] } });
  });

  afterAll(async () => {
    await server?.close();
    await images?.close();
    await outside?.close();
  });

  /** An input that passes validation: acme's image in alpha, fetched from `uri`. */
  function input(uri: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      region: 'alpha',
      organization: 'acme',
      name: `img-${++nameCounter}`,
      uri,
      os: { family: 'DEBIAN', distro: 'DEBIAN', version: '12' },
      ...overrides,
    };
  }

  async function importImage(
    caller: TestCaller,
    variables: Record<string, unknown>,
    on: TestServer = server,
  ): Promise<ImportResult> {
    const result: GqlResult<{ importImage: ImportResult }> = await on.gql(IMPORT, { input: variables }, caller.token);
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    return result.data!.importImage;
  }

  /** Imports and expects the payload; returns its image. */
  async function accepted(caller: TestCaller, variables: Record<string, unknown>, on: TestServer = server): Promise<ImageView> {
    const result = await importImage(caller, variables, on);
    expect(result.__typename, JSON.stringify(result)).toBe('ImportImagePayload');
    return result.image!;
  }

  async function node(id: string, on: TestServer = server): Promise<ImageView> {
    const result = await on.gql<{ node: ImageView | null }>(NODE, { id }, CALLERS.platformAdmin.token);
    expect(result.errors).toBeUndefined();
    expect(result.data!.node).not.toBeNull();
    return result.data!.node!;
  }

  /** How many images a platform admin sees: totalCount, or the listing counted where it is null (Glance). */
  async function count(region = 'alpha', names?: string[], on: TestServer = server): Promise<number> {
    let listed = 0;
    let after: string | null = null;
    for (;;) {
      const result: GqlResult<{ images: CountPage }> = await on.gql(COUNT, { region, names, after }, CALLERS.platformAdmin.token);
      expect(result.errors).toBeUndefined();
      const page: CountPage = result.data!.images;
      if (page.totalCount !== null) return page.totalCount;
      listed += page.nodes.length;
      if (!page.pageInfo.hasNextPage) return listed;
      after = page.pageInfo.endCursor;
    }
  }

  const idle = (on: TestServer = server) => on.app.importsIdle();
  const imagesDir = (region = 'alpha', on: TestServer = server) => join(on.dir, region, 'images');
  /** Files in a region's images dir that belong to one image. */
  const filesOf = (providerId: string, region = 'alpha', on: TestServer = server) =>
    readdirSync(imagesDir(region, on)).filter((name) => name.includes(providerId));
  const partials = (region = 'alpha', on: TestServer = server) =>
    readdirSync(imagesDir(region, on)).filter((name) => name.startsWith('.partial-'));

  /** The image READY with exactly the bytes of `file`, stored once under its id (in the data dir, or in Glance). */
  async function expectImported(image: ImageView, file: string, region = 'alpha', on: TestServer = server): Promise<ImageView> {
    const size = statSync(file).size;
    const sha256 = sha256File(file);
    const now = await node(image.id, on);
    expect(now).toMatchObject({
      status: 'READY',
      statusReason: null,
      sizeBytes: size,
      sizeGiB: Math.ceil(size / 2 ** 30),
      checksum: { algorithm: 'sha256', value: sha256 },
    });
    if (local) {
      expect(filesOf(image.providerId, region, on)).toEqual([`${image.providerId}.raw`]);
      expect(sha256File(join(imagesDir(region, on), `${image.providerId}.raw`))).toBe(sha256);
      expect(partials(region, on)).toEqual([]);
    } else {
      await expectInGlance(now, readFileSync(file), region, on);
    }
    return now;
  }

  /**
   * Glance's own API agrees, bypassing imagegraph: active with the file's size and imagegraph's
   * properties, and the bytes Glance hashed itself (os_hash_algo, sha512 by default) are the file's.
   */
  async function expectInGlance(image: ImageView, bytes: Uint8Array, region = 'alpha', on: TestServer = server): Promise<void> {
    const glance = await glanceImage(glanceProjectId(on.dir, region), image.providerId);
    expect(glance).toMatchObject({
      status: 'active',
      size: bytes.length,
      'imagegraph.sha256': createHash('sha256').update(bytes).digest('hex'),
      'imagegraph.source_uri': image.source.uri,
    });
    expect(glance!['imagegraph.organization']).toBe(image.organization?.id);
    expect(glance!.os_hash_value).toBe(createHash(String(glance!.os_hash_algo)).update(bytes).digest('hex'));
  }

  /** The image FAILED with a reason matching `reason`, and nothing of it left on disk (or in Glance). */
  async function expectFailed(image: ImageView, reason: RegExp, region = 'alpha', on: TestServer = server): Promise<void> {
    const now = await node(image.id, on);
    expect(now.status).toBe('FAILED');
    expect(now.statusReason).toMatch(reason);
    expect(now.sizeBytes).toBeNull();
    expect(now.checksum).toBeNull();
    if (local) {
      expect(filesOf(image.providerId, region, on)).toEqual([]);
      expect(partials(region, on)).toEqual([]);
    } else {
      // A failed upload leaves the image `queued` in Glance, without bytes, and says why.
      const glance = await glanceImage(glanceProjectId(on.dir, region), image.providerId);
      expect(glance).toMatchObject({ status: 'queued', size: null, 'imagegraph.failed_reason': now.statusReason });
    }
  }

  /** Polls an image until `predicate` holds. */
  async function waitForImage(id: string, predicate: (image: ImageView) => boolean, on: TestServer = server, timeoutMs = 10_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const image = await node(id, on);
      if (predicate(image)) return image;
      if (Date.now() > deadline) throw new Error(`image ${id} still ${JSON.stringify(image)} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  describe('importImage of a raw bootable disk', () => {
    it.each(keystone ? BOOTABLE.slice(0, 1) : BOOTABLE)(
      'imports %s: PENDING at once, then READY with its size, sha256 and provenance, stored once',
      async (name) => {
        const file = fileOf(name);
        const uri = images.url(`/${name}`);

        const image = await accepted(CALLERS.acmeMember, input(uri, { tags: [{ name: 'team', value: 'core' }] }));

        expect(image).toMatchObject({
          status: 'PENDING',
          sizeBytes: null,
          sizeGiB: null,
          checksum: null,
          visibility: 'ORGANIZATION',
          organization: { id: 'acme' },
          region: { id: 'alpha' },
          source: { kind: 'IMPORT', uri, createdBy: 'alice' },
          tags: [{ name: 'team', value: 'core' }],
        });
        await idle();
        const ready = await expectImported(image, file);
        expect(ready).toMatchObject({
          id: image.id,
          name: image.name,
          visibility: 'ORGANIZATION',
          organization: { id: 'acme' },
          source: { kind: 'IMPORT', uri, createdBy: 'alice' },
        });
        // The listing shows it too, to its organization.
        const listed = await server.gql<{ images: { nodes: ImageView[] } }>(
          `query($names: [String!]) { images(region: "alpha", filter: { names: $names }) { nodes { ...ImageFields } } } ${IMAGE_FIELDS}`,
          { names: [image.name] },
          CALLERS.acmeReader.token,
        );
        expect(listed.data!.images.nodes).toEqual([ready]);
      },
    );

    sampled('peeks with a Range request for the first 64 KiB and downloads with one plain GET', async () => {
      const path = '/mbr-disk';
      const before = images.requests.length;
      const image = await accepted(CALLERS.acmeMember, input(images.url(path)));
      await idle();
      await expectImported(image, fileOf('mbr-disk'));
      const seen = images.requests.slice(before).filter((r) => r.path === path);
      // The head, the last 512 bytes (a fixed VHD shows only there), then the download.
      const size = statSync(fileOf('mbr-disk')).size;
      expect(seen.map((r) => [r.range ?? null, r.status])).toEqual([
        ['bytes=0-65535', 206],
        [`bytes=${size - 512}-${size - 1}`, 206],
        [null, 200],
      ]);
    });

    sampled('imports READY from a server that ignores Range and always sends the whole file', async () => {
      images.route('/no-range', { body: fileOf('mbr-disk'), honourRange: false });
      const image = await accepted(CALLERS.acmeMember, input(images.url('/no-range')));
      await idle();
      await expectImported(image, fileOf('mbr-disk'));
      expect(images.requests.filter((r) => r.path === '/no-range').map((r) => r.status)).toEqual([200, 200]);
    });

    sampled('imports READY through a 302 redirect to the real file, keeping the URI as given', async () => {
      images.route('/moved', { body: fileOf('gpt-disk'), redirect: '/gpt-disk' });
      const uri = images.url('/moved');
      const image = await accepted(CALLERS.acmeMember, input(uri));
      await idle();
      const ready = await expectImported(image, fileOf('gpt-disk'));
      expect(ready.source.uri).toBe(uri);
      expect(images.requests.filter((r) => r.path === '/moved').map((r) => r.status)).toEqual([302, 302, 302]);
    });
  });

  describe('importImage redirects and large files', () => {
    it('reads at most about 64 KiB at the peek of a 64 MiB file from a server that ignores Range, then imports it whole', async () => {
      const big = bigDisk();
      images.route('/big-no-range', { body: big, honourRange: false });
      const image = await accepted(CALLERS.acmeMember, input(images.url('/big-no-range')));
      const [peek] = images.requests.filter((r) => r.path === '/big-no-range');
      expect(peek).toMatchObject({ range: 'bytes=0-65535', status: 200 });
      await images.waitForRequest((r) => r === peek && r.aborted);
      expect(peek!.bytesSent).toBeLessThan(32 * MiB);
      await idle();
      const ready = await node(image.id);
      expect(ready).toMatchObject({ status: 'READY', sizeBytes: 64 * MiB, sizeGiB: 1, checksum: { value: await sha256Of(big) } });
      if (local) expect(statSync(join(imagesDir(), `${image.providerId}.raw`)).size).toBe(64 * MiB);
      else
        expect(await glanceImage(glanceProjectId(server.dir, 'alpha'), image.providerId)).toMatchObject({
          status: 'active',
          size: 64 * MiB,
        });
    });

    sampled('refuses a redirect to a host that is not on allowedHosts, without connecting to it', async () => {
      images.route('/to-outside', { body: fileOf('mbr-disk'), redirect: outside.url('/mbr-disk') });
      const before = await count();
      const result = await importImage(CALLERS.acmeMember, input(images.url('/to-outside')));
      expect(result).toMatchObject({ __typename: 'ImageFetchError', reason: 'ADDRESS_NOT_ALLOWED' });
      expect(outside.requests).toEqual([]);
      expect(await count()).toBe(before);
    });

    sampled('refuses more than 3 redirects with REDIRECT_NOT_ALLOWED', async () => {
      for (let hop = 1; hop <= 4; hop++) images.route(`/hop-${hop}`, { body: fileOf('mbr-disk'), redirect: `/hop-${hop + 1}` });
      images.route('/hop-5', fileOf('mbr-disk'));
      const result = await importImage(CALLERS.acmeMember, input(images.url('/hop-1')));
      expect(result).toMatchObject({ __typename: 'ImageFetchError', reason: 'REDIRECT_NOT_ALLOWED' });
      expect(images.requests.some((r) => r.path === '/hop-5')).toBe(false);
    });
  });

  describe('importImage of anything but a raw bootable disk', () => {
    it('covers every corpus entry in one of the cases', () => {
      const covered = new Set([...BOOTABLE, ...REFUSED.map((c) => c.image), ...NOT_FORMAT_CASES]);
      expect(IMAGE_NAMES.filter((name) => !covered.has(name))).toEqual([]);
    });

    it.for(keystone ? REFUSED.filter((c) => ['qcow2', 'iso'].includes(c.image)) : REFUSED)(
      'refuses $image as $format with a hint, creating nothing',
      async ({ image, format, optional }, ctx) => {
        fileOf(image, ctx, optional);
        const before = await count();
        const requestsBefore = images.requests.length;

        // convert: false keeps the rule from before conversion: raw bootable disks only (conversion.test.ts has the rest).
        const result = await importImage(CALLERS.acmeMember, input(images.url(`/${image}`), { convert: false }));

        expect(result).toMatchObject({
          __typename: 'UnsupportedImageFormatError',
          code: 'UNSUPPORTED_IMAGE_FORMAT',
          detectedFormat: format,
        });
        expect(result.hint!.trim()).not.toBe('');
        expect(result.message).toContain(format);
        expect(await count()).toBe(before);
        // Only the peek reached the server.
        expect(images.requests.slice(requestsBefore).map((r) => r.range)).toEqual(['bytes=0-65535']);
      },
    );

    it('sees a fixed VHD by its footer at the peek (a second Range request for the last 512 bytes)', async () => {
      const result = await importImage(CALLERS.acmeMember, input(images.url('/vhd-fixed-mbr'), { convert: false }));
      expect(result).toMatchObject({ __typename: 'UnsupportedImageFormatError', detectedFormat: 'VHD' });
    });

    it('without Range, accepts a fixed VHD of a bootable disk at the peek, then fails the download on its footer', async () => {
      images.route('/vhd-fixed-no-range', { body: fileOf('vhd-fixed-mbr'), honourRange: false });
      const image = await accepted(CALLERS.acmeMember, input(images.url('/vhd-fixed-no-range'), { convert: false }));
      expect(image.status).toBe('PENDING');
      await idle();
      await expectFailed(image, /VHD/);
    });

    sampled('fails the download when the file changed since the peek (Range gets a raw disk, GET a qcow2)', async () => {
      images.route('/changing', { body: fileOf('qcow2'), rangeBody: fileOf('mbr-disk') });
      const image = await accepted(CALLERS.acmeMember, input(images.url('/changing')));
      await idle();
      await expectFailed(image, /QCOW2/);
      if (local) expect(readdirSync(imagesDir())).not.toContainEqual(expect.stringMatching(/^\.partial-/));
    });
  });

  describe('importImage fetch failures', () => {
    it('answers a 404 with ImageFetchError HTTP_STATUS 404, creating nothing', async () => {
      const before = await count();
      const uri = images.url('/no-such-file.raw');
      const result = await importImage(CALLERS.acmeMember, input(uri));
      expect(result).toMatchObject({
        __typename: 'ImageFetchError',
        code: 'IMAGE_FETCH_FAILED',
        uri,
        reason: 'HTTP_STATUS',
        httpStatus: 404,
      });
      expect(await count()).toBe(before);
    });

    sampled('refuses a loopback port that is not on allowedHosts with ADDRESS_NOT_ALLOWED, without connecting', async () => {
      const before = await count();
      const uri = outside.url('/mbr-disk');
      const result = await importImage(CALLERS.acmeMember, input(uri));
      expect(result).toMatchObject({ __typename: 'ImageFetchError', uri, reason: 'ADDRESS_NOT_ALLOWED', httpStatus: null });
      expect(outside.requests).toEqual([]);
      expect(await count()).toBe(before);
    });

    sampled('answers a 500 with ImageFetchError HTTP_STATUS 500', async () => {
      images.route('/broken', { body: fileOf('mbr-disk'), status: 500 });
      const result = await importImage(CALLERS.acmeMember, input(images.url('/broken')));
      expect(result).toMatchObject({ __typename: 'ImageFetchError', reason: 'HTTP_STATUS', httpStatus: 500 });
    });

    sampled.each([
      ['an empty file from a server that ignores Range', 0],
      ['a file of 511 bytes', 511],
    ])('answers %s with ImageFetchError TOO_SMALL', async (_name, size) => {
      images.route(`/small-${size}`, { body: readFileSync(fileOf('mbr-disk')).subarray(0, size), honourRange: false });
      const before = await count();
      const result = await importImage(CALLERS.acmeMember, input(images.url(`/small-${size}`)));
      expect(result).toMatchObject({ __typename: 'ImageFetchError', reason: 'TOO_SMALL' });
      expect(await count()).toBe(before);
    });

    // A Range-honouring server (nginx, S3) answers an empty file's `Range: bytes=0-65535` with 416.
    sampled('answers an empty file from a Range-honouring server (416, bytes */0) with TOO_SMALL', async () => {
      images.route('/empty-ranged', new Uint8Array(0));
      const result = await importImage(CALLERS.acmeMember, input(images.url('/empty-ranged')));
      expect(images.requests.find((r) => r.path === '/empty-ranged')?.status).toBe(416);
      expect(result).toMatchObject({ __typename: 'ImageFetchError', reason: 'TOO_SMALL' });
    });

    describe.skipIf(keystone)('with imports.maxSizeBytes of 1 MiB', () => {
      let limited: TestServer;
      beforeAll(async () => {
        limited = await startTestServer({
          regions,
          callers: Object.values(CALLERS),
          imports: { allowedHosts: [images.host], maxSizeBytes: MiB },
        });
      });
      afterAll(() => limited?.close());

      it('answers TOO_LARGE at once when the server says the size in Content-Range', async () => {
        const uri = images.url('/mbr-disk');
        const result = await importImage(CALLERS.acmeMember, input(uri), limited);
        expect(result).toMatchObject({ __typename: 'ImageFetchError', uri, reason: 'TOO_LARGE' });
        expect(await count('alpha', undefined, limited)).toBe(0);
      });

      it('fails the download at the limit when the server does not say the size (chunked, Content-Range total *)', async () => {
        images.route('/unsized', { body: bigDisk(), omitLength: true });
        const image = await accepted(CALLERS.acmeMember, input(images.url('/unsized')), limited);
        await idle(limited);
        await expectFailed(image, /limit/, 'alpha', limited);
        const download = images.requests.filter((r) => r.path === '/unsized' && r.range === undefined);
        expect(download).toHaveLength(1);
        // Stopped near the limit, not after the whole 64 MiB.
        await images.waitForRequest((r) => r === download[0] && r.aborted);
        expect(download[0]!.bytesSent).toBeLessThan(32 * MiB);
      });
    });
  });

  describe('importImage input validation', () => {
    const uri = () => images.url('/mbr-disk');
    const tags = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `t${i}`, value: 'v' }));
    const cases: { name: string; overrides: () => Record<string, unknown>; paths: string[][] }[] = [
      { name: 'a name with a space', overrides: () => ({ name: 'has space' }), paths: [['input', 'name']] },
      { name: 'a name of 64 characters', overrides: () => ({ name: 'n'.repeat(64) }), paths: [['input', 'name']] },
      {
        name: 'a description of 256 characters',
        overrides: () => ({ description: 'd'.repeat(256) }),
        paths: [['input', 'description']],
      },
      { name: 'a non-http uri', overrides: () => ({ uri: 'ftp://127.0.0.1/disk.raw' }), paths: [['input', 'uri']] },
      {
        name: 'a uri with user info',
        overrides: () => ({ uri: uri().replace('http://', 'http://user:secret@') }),
        paths: [['input', 'uri']],
      },
      {
        name: 'a uri of 2049 characters',
        overrides: () => ({ uri: `${uri()}?${'q'.repeat(2049 - uri().length - 1)}` }),
        paths: [['input', 'uri']],
      },
      { name: '33 tags', overrides: () => ({ tags: tags(33) }), paths: [['input', 'tags']] },
      {
        name: 'a reserved tag name',
        overrides: () => ({ tags: [{ name: 'imagegraph.organization', value: 'globex' }] }),
        paths: [['input', 'tags', '0', 'name']],
      },
      {
        name: 'duplicate tag names',
        overrides: () => ({
          tags: [
            { name: 'team', value: 'a' },
            { name: 'team', value: 'b' },
          ],
        }),
        paths: [['input', 'tags']],
      },
      {
        name: 'no organization for an ORGANIZATION image',
        overrides: () => ({ organization: null, visibility: 'ORGANIZATION' }),
        paths: [['input', 'organization']],
      },
      {
        name: 'an organization for a PUBLIC image',
        overrides: () => ({ organization: 'acme', visibility: 'PUBLIC' }),
        paths: [['input', 'organization']],
      },
      {
        name: 'a tag name of 64 characters',
        overrides: () => ({ tags: [{ name: 'x'.repeat(64), value: 'v' }] }),
        paths: [['input', 'tags', '0', 'name']],
      },
      {
        name: 'a tag value of 256 characters',
        overrides: () => ({ tags: [{ name: 'x', value: 'v'.repeat(256) }] }),
        paths: [['input', 'tags', '0', 'value']],
      },
    ];

    const pathsOf = (result: ImportResult) => result.issues!.map((issue) => issue.path);

    it.each(keystone ? cases.slice(0, 1) : cases)(
      'answers InvalidInputError for $name, with the path, before fetching anything',
      async ({ overrides, paths }) => {
        const requestsBefore = images.requests.length;
        const before = await count();
        const result = await importImage(CALLERS.acmeMember, input(uri(), overrides()));
        expect(result.__typename, JSON.stringify(result)).toBe('InvalidInputError');
        expect(result.code).toBe('INVALID_INPUT');
        expect(pathsOf(result)).toEqual(paths);
        for (const issue of result.issues!) expect(issue.message.trim()).not.toBe('');
        expect(images.requests.length).toBe(requestsBefore);
        expect(await count()).toBe(before);
      },
    );

    it('lists every issue at once, each with its path', async () => {
      const result = await importImage(
        CALLERS.acmeMember,
        input('ftp://user:pw@example.com/disk.raw', {
          name: 'has space',
          description: 'd'.repeat(256),
          organization: null,
          tags: [
            { name: 'imagegraph.created_by', value: 'mallory' },
            { name: 'dup', value: '1' },
            { name: 'dup', value: '2' },
          ],
        }),
      );
      expect(result.__typename).toBe('InvalidInputError');
      expect(
        pathsOf(result)
          .map((p) => p.join('.'))
          .sort(),
      ).toEqual(['description', 'name', 'organization', 'tags', 'tags.0.name', 'uri'].map((p) => `input.${p}`));
    });

    // @pothos/plugin-validation stops at the first failing nested field validator, so tags are validated by
    // ImportImageInput's schema rather than TagInput's fields: this checks every issue still comes back.
    it('lists a tag length issue together with the other issues', async () => {
      const result = await importImage(
        CALLERS.acmeMember,
        input(images.url('/mbr-disk'), { name: 'has space', tags: [{ name: 'x'.repeat(64), value: 'v'.repeat(256) }] }),
      );
      expect(result.__typename).toBe('InvalidInputError');
      expect(
        pathsOf(result)
          .map((p) => p.join('.'))
          .sort(),
      ).toEqual(['input.name', 'input.tags.0.name', 'input.tags.0.value']);
    });
  });

  describe('importImage permissions and regions', () => {
    const uri = () => images.url('/mbr-disk');

    it('refuses a READER with PermissionDeniedError', async () => {
      const result = await importImage(CALLERS.acmeReader, input(uri()));
      expect(result).toMatchObject({ __typename: 'PermissionDeniedError', code: 'PERMISSION_DENIED' });
    });

    it('refuses an acme MEMBER importing for globex', async () => {
      const result = await importImage(CALLERS.acmeMember, input(uri(), { organization: 'globex' }));
      expect(result.__typename).toBe('PermissionDeniedError');
    });

    it('refuses an acme MEMBER importing a PUBLIC image', async () => {
      const result = await importImage(CALLERS.acmeMember, input(uri(), { organization: null, visibility: 'PUBLIC' }));
      expect(result.__typename).toBe('PermissionDeniedError');
    });

    it('lets a platform admin import a PUBLIC image, owned by no organization', async () => {
      const image = await accepted(CALLERS.platformAdmin, input(uri(), { organization: null, visibility: 'PUBLIC' }));
      expect(image).toMatchObject({ status: 'PENDING', organization: null, visibility: 'PUBLIC', source: { createdBy: 'root' } });
      await idle();
      const ready = await expectImported(image, fileOf('mbr-disk'));
      expect(ready).toMatchObject({ organization: null, visibility: 'PUBLIC' });
    });

    it('answers a hidden region exactly like a missing one', async () => {
      const hidden = await importImage(CALLERS.globexAdmin, input(uri(), { region: 'gamma', organization: 'globex' }));
      const missing = await importImage(CALLERS.globexAdmin, input(uri(), { region: 'nope', organization: 'globex' }));
      expect(hidden).toMatchObject({ __typename: 'RegionNotFoundError', code: 'REGION_NOT_FOUND', region: 'gamma' });
      expect(missing).toMatchObject({ __typename: 'RegionNotFoundError', code: 'REGION_NOT_FOUND', region: 'nope' });
      expect(hidden.message!.replace('gamma', '<id>')).toBe(missing.message!.replace('nope', '<id>'));
    });

    it('lets an acme MEMBER import into the restricted region gamma', async () => {
      const image = await accepted(CALLERS.acmeMember, input(uri(), { region: 'gamma' }));
      expect(image.region.id).toBe('gamma');
      await idle();
      await expectImported(image, fileOf('mbr-disk'), 'gamma');
    });
  });

  describe('importImage idempotency', () => {
    it('returns the first image for a retry with the same key and input: one image, one download, one file', async () => {
      images.route('/idem-same', fileOf('mbr-disk'));
      const variables = input(images.url('/idem-same'), { idempotencyKey: 'key-same' });
      const first = await accepted(CALLERS.acmeMember, variables);
      await idle();
      const second = await accepted(CALLERS.acmeMember, variables);
      expect(second.id).toBe(first.id);
      expect(second.status).toBe('READY');
      await idle();
      expect(await count('alpha', [variables.name as string])).toBe(1);
      await expectImported(first, fileOf('mbr-disk'));
      expect(images.requests.filter((r) => r.path === '/idem-same')).toHaveLength(3); // the peek at head and tail, one download
    });

    sampled('answers IdempotencyConflictError for the same key with other input', async () => {
      const variables = input(images.url('/mbr-disk'), { idempotencyKey: 'key-conflict' });
      await accepted(CALLERS.acmeMember, variables);
      const result = await importImage(CALLERS.acmeMember, { ...variables, name: 'another-name' });
      expect(result).toMatchObject({
        __typename: 'IdempotencyConflictError',
        code: 'IDEMPOTENCY_CONFLICT',
        idempotencyKey: 'key-conflict',
      });
      expect(await count('alpha', ['another-name'])).toBe(0);
      await idle();
    });

    sampled("keeps one organization's key apart from another's", async () => {
      const acme = await accepted(
        CALLERS.acmeMember,
        input(images.url('/mbr-disk'), { name: 'shared-key', idempotencyKey: 'key-shared' }),
      );
      const globex = await accepted(
        CALLERS.globexAdmin,
        input(images.url('/mbr-disk'), { name: 'shared-key', organization: 'globex', idempotencyKey: 'key-shared' }),
      );
      expect(globex.id).not.toBe(acme.id);
      expect(globex.organization).toEqual({ id: 'globex' });
      await idle();
      expect(await count('alpha', ['shared-key'])).toBe(2);
      await expectImported(acme, fileOf('mbr-disk'));
      await expectImported(globex, fileOf('mbr-disk'));
    });

    sampled('creates one image for two concurrent calls with one key and the same input', async () => {
      images.route('/idem-race', fileOf('gpt-disk'));
      const variables = input(images.url('/idem-race'), { idempotencyKey: 'key-race' });
      const [a, b] = await Promise.all([accepted(CALLERS.acmeMember, variables), accepted(CALLERS.acmeMember, variables)]);
      expect(a.id).toBe(b.id);
      await idle();
      expect(await count('alpha', [variables.name as string])).toBe(1);
      await expectImported(a, fileOf('gpt-disk'));
      expect(images.requests.filter((r) => r.path === '/idem-race' && r.range === undefined)).toHaveLength(1);
    });

    it('keeps the key across a restart on the same data dir', async () => {
      const first = await startTestServer({ regions, callers: Object.values(CALLERS), imports: { allowedHosts: [images.host] } });
      const variables = input(images.url('/mbr-disk'), { idempotencyKey: 'key-restart' });
      let image: ImageView;
      try {
        image = await accepted(CALLERS.acmeMember, variables, first);
        await idle(first);
      } finally {
        await first.close({ keepData: true });
      }
      const again = await startTestServer({
        regions,
        callers: Object.values(CALLERS),
        imports: { allowedHosts: [images.host] },
        dir: first.dir,
      });
      try {
        const retried = await accepted(CALLERS.acmeMember, variables, again);
        expect(retried.id).toBe(image.id);
        expect(retried.status).toBe('READY');
        expect(await count('alpha', undefined, again)).toBe(1);
        const conflict = await importImage(CALLERS.acmeMember, { ...variables, description: 'changed' }, again);
        expect(conflict).toMatchObject({ __typename: 'IdempotencyConflictError', idempotencyKey: 'key-restart' });
      } finally {
        await again.close();
      }
    });

    sampled('answers one of two concurrent calls with one key but different input with IdempotencyConflictError', async () => {
      const variables = input(images.url('/mbr-disk'), { idempotencyKey: 'key-race-conflict' });
      const results = await Promise.all([
        importImage(CALLERS.acmeMember, variables),
        importImage(CALLERS.acmeMember, { ...variables, name: `${variables.name as string}-other` }),
      ]);
      expect(results.map((r) => r.__typename).sort()).toEqual(['IdempotencyConflictError', 'ImportImagePayload']);
      await idle();
    });
  });

  describe.skipIf(keystone)('importImage with imports.maxConcurrent 1', () => {
    it('keeps the second import PENDING while the first downloads, then finishes both', async () => {
      const serial = await startTestServer({
        regions,
        callers: Object.values(CALLERS),
        imports: { allowedHosts: [images.host], maxConcurrent: 1 },
      });
      try {
        // Held past the 64 KiB head check, so bytes are moving into the provider (Glance sees an upload
        // only from its first byte on: until then the image is PENDING there).
        images.route('/held-1', { body: fileOf('mbr-disk'), holdUntilReleased: true, holdAfterBytes: 128 * 1024 });
        images.route('/held-2', { body: fileOf('gpt-disk'), holdUntilReleased: true, holdAfterBytes: 128 * 1024 });
        const first = await accepted(CALLERS.acmeMember, input(images.url('/held-1')), serial);
        const second = await accepted(CALLERS.acmeMember, input(images.url('/held-2')), serial);

        await images.waitForRequest((r) => r.path === '/held-1' && r.range === undefined);
        expect((await waitForImage(first.id, (i) => i.status === 'CREATING', serial)).status).toBe('CREATING');
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect((await node(second.id, serial)).status).toBe('PENDING');
        expect((await node(first.id, serial)).status).toBe('CREATING');
        expect(images.requests.filter((r) => r.path === '/held-2' && r.range === undefined)).toEqual([]);

        images.release('/held-1');
        images.release('/held-2');
        await idle(serial);
        await expectImported(first, fileOf('mbr-disk'), 'alpha', serial);
        await expectImported(second, fileOf('gpt-disk'), 'alpha', serial);
      } finally {
        images.release();
        await serial.close();
      }
    });
  });
});
