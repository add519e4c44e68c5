/**
 * Sharing, deprecation, copies and signed platform images, end to end through GraphQL on each provider:
 * shared images interleaved with public and own ones page exactly; a deprecation set for later takes
 * effect by itself; copies between local and Glance regions in all four directions end READY with the
 * source's bytes; unsigned or wrongly signed PUBLIC images are hidden from all but platform admins,
 * and a signature made by `openssl dgst -sha256 -sign` verifies.
 */
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeImageId } from '../../src/ids.js';
import { createOne, newImage } from '../fixtures/images.js';
import { allButKeystone, glanceUrl, type ProviderKind, providerKinds } from '../support/glance.js';
import { type GqlResult, startTestServer, type TestCaller, type TestServer } from '../support/harness.js';
import { type ImageServer, startImageServer } from '../support/image-server.js';
import { makeMbrDisk } from '../support/mbr-disk.js';

const MEMBER = { token: 't-acme', subject: 'alice', organizations: [{ id: 'acme', role: 'MEMBER' }] } satisfies TestCaller;
const PARTNER = { token: 't-partner', subject: 'pat', organizations: [{ id: 'partner', role: 'MEMBER' }] } satisfies TestCaller;
const ADMIN = { token: 't-admin', subject: 'root', platformAdmin: true } satisfies TestCaller;
const CALLERS = [MEMBER, PARTNER, ADMIN];

const PAGE = /* GraphQL */ `
  query ($region: ID!, $first: Int!, $after: String, $filter: ImageFilter) {
    images(region: $region, first: $first, after: $after, filter: $filter) {
      nodes {
        name
      }
      pageInfo {
        hasNextPage
        endCursor
      }
    }
  }
`;

const NODE = /* GraphQL */ `
  query ($id: ID!) {
    node(id: $id) {
      ... on Image {
        name
        status
        statusReason
        sizeBytes
        checksum {
          algorithm
          value
        }
        source {
          kind
          sourceImageId
        }
        sharedWith {
          id
        }
        deprecation {
          at
          replacement {
            name
          }
        }
        signature {
          status
        }
      }
    }
  }
`;

interface ImageView {
  name: string;
  status: string;
  statusReason: string | null;
  sizeBytes: number | null;
  checksum: { algorithm: string; value: string } | null;
  source: { kind: string; sourceImageId: string | null };
  sharedWith: { id: string }[];
  deprecation: { at: string; replacement: { name: string } | null } | null;
  signature: { status: string } | null;
}

const MUTATE = (field: string, input: string) => /* GraphQL */ `
  mutation ($input: ${input}!) {
    ${field}(input: $input) {
      __typename
      ... on Error {
        message
      }
      ... on ${field[0]!.toUpperCase()}${field.slice(1)}Payload {
        image {
          id
          name
          status
        }
      }
    }
  }
`;

async function mutate(server: TestServer, field: string, input: Record<string, unknown>, token: string) {
  const inputType = `${field[0]!.toUpperCase()}${field.slice(1)}Input`;
  const result = await server.gql<
    Record<string, { __typename: string; message?: string; image?: { id: string; status: string } }>
  >(MUTATE(field, inputType), { input }, token);
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return result.data![field]!;
}

async function node(server: TestServer, id: string, token: string): Promise<ImageView | null> {
  const result = await server.gql<{ node: ImageView | null }>(NODE, { id }, token);
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return result.data!.node;
}

interface PageResult {
  images: { nodes: { name: string }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
}

/**
 * Every name of a listing, walked `first` at a time; every page but the last says where the next
 * starts, and (`fullPages`) is full.
 */
async function walk(
  server: TestServer,
  region: string,
  token: string,
  filter: Record<string, unknown> = {},
  first = 2,
  fullPages = true,
) {
  const names: string[] = [];
  let after: string | null = null;
  for (let page = 0; page < 200; page++) {
    const result: GqlResult<PageResult> = await server.gql<PageResult>(PAGE, { region, first, after, filter }, token);
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    const { nodes, pageInfo } = result.data!.images;
    names.push(...nodes.map((n) => n.name));
    if (!pageInfo.hasNextPage) return names;
    if (fullPages) expect(nodes).toHaveLength(first);
    after = pageInfo.endCursor;
    expect(after).not.toBeNull();
  }
  throw new Error('more than 200 pages');
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(server: TestServer, id: string, token: string, done: (image: ImageView) => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const image = await node(server, id, token);
    if (image && done(image)) return image;
    if (Date.now() > deadline) throw new Error(`image still ${JSON.stringify(image)}`);
    await sleep(50);
  }
}

describe.each(providerKinds())('sharing and deprecation on the %s provider', (kind) => {
  let server: TestServer;
  const own = (name: string) => newImage({ name, organizationId: 'acme', status: 'READY' });

  beforeAll(async () => {
    server = await startTestServer({ regions: [{ id: 'alpha', provider: kind }], callers: CALLERS });
  });
  afterAll(async () => server?.close());

  const id = (providerId: string) => encodeImageId('alpha', providerId);

  // 16 images and 8 walks: on openstack-keystone every Glance call is validated at Keystone, so that half skips it.
  allButKeystone(kind)(
    'pages exactly through public, own and shared images interleaved, for the owner and the receiver',
    async () => {
      const provider = server.provider('alpha');
      // Sorted by name, the kinds interleave: list-0-globex, list-0-own, list-0-public, list-0-shared, list-1-...
      const made: { name: string; kind: 'public' | 'own' | 'shared' | 'globex' }[] = [];
      for (let i = 0; i < 4; i++) {
        for (const [kindOf, org] of [
          ['public', null],
          ['own', 'acme'],
          ['shared', 'acme'],
          ['globex', 'globex'],
        ] as const) {
          const name = `list-${i}-${kindOf}`;
          const record = await createOne(provider, newImage({ name, organizationId: org }));
          if (kindOf === 'shared') {
            expect(
              (await mutate(server, 'shareImage', { image: id(record.id), organization: 'partner' }, MEMBER.token)).__typename,
            ).toBe('ShareImagePayload');
          }
          made.push({ name, kind: kindOf });
        }
      }
      const names = (kinds: string[]) =>
        made
          .filter((m) => kinds.includes(m.kind))
          .map((m) => m.name)
          .sort();
      const filter = { names: made.map((m) => m.name) };
      expect(await walk(server, 'alpha', MEMBER.token, filter)).toEqual(names(['public', 'own', 'shared']));
      expect(await walk(server, 'alpha', PARTNER.token, filter)).toEqual(names(['public', 'shared']));
      expect(await walk(server, 'alpha', PARTNER.token, { ...filter, scope: 'SHARED' })).toEqual(names(['shared']));
      expect(await walk(server, 'alpha', MEMBER.token, { ...filter, scope: 'OWNED' })).toEqual(names(['own', 'shared']));
      // What the receiver is told of the sharing: nothing; the owner sees with whom.
      const shared = await createOne(provider, own('told'));
      await mutate(server, 'shareImage', { image: id(shared.id), organization: 'partner' }, MEMBER.token);
      expect((await node(server, id(shared.id), MEMBER.token))!.sharedWith).toEqual([{ id: 'partner' }]);
      expect((await node(server, id(shared.id), PARTNER.token))!.sharedWith).toEqual([]);
    },
    120_000,
  );

  it('refuses to share a PUBLIC image, or with the owner itself', async () => {
    const provider = server.provider('alpha');
    const pub = await createOne(provider, newImage({ name: 'refuse-public' }));
    const mine = await createOne(provider, own('refuse-self'));
    expect(await mutate(server, 'shareImage', { image: id(pub.id), organization: 'partner' }, ADMIN.token)).toMatchObject({
      __typename: 'InvalidInputError',
    });
    expect(await mutate(server, 'shareImage', { image: id(mine.id), organization: 'acme' }, MEMBER.token)).toMatchObject({
      __typename: 'InvalidInputError',
    });
  });

  allButKeystone(kind)('hides a deprecated image from default listings from its time on, by itself', async () => {
    const provider = server.provider('alpha');
    const old = await createOne(provider, own('deprecated-old'));
    const next = await createOne(provider, own('deprecated-next'));
    const soon = await createOne(provider, own('deprecated-soon'));
    const filter = { names: ['deprecated-old', 'deprecated-next', 'deprecated-soon'] };
    const at = new Date(Date.now() + 2_000).toISOString();
    expect(
      (await mutate(server, 'deprecateImage', { image: id(old.id), replacement: id(next.id) }, MEMBER.token)).__typename,
    ).toBe('DeprecateImagePayload');
    expect((await mutate(server, 'deprecateImage', { image: id(soon.id), at }, MEMBER.token)).__typename).toBe(
      'DeprecateImagePayload',
    );
    expect(await walk(server, 'alpha', MEMBER.token, filter)).toEqual(['deprecated-next', 'deprecated-soon']);
    expect(await walk(server, 'alpha', MEMBER.token, { ...filter, includeDeprecated: true })).toEqual([
      'deprecated-next',
      'deprecated-old',
      'deprecated-soon',
    ]);
    // Still readable by id, saying what to use instead.
    expect((await node(server, id(old.id), MEMBER.token))!.deprecation).toMatchObject({
      replacement: { name: 'deprecated-next' },
    });
    await sleep(Date.parse(at) - Date.now() + 200);
    expect(await walk(server, 'alpha', MEMBER.token, filter)).toEqual(['deprecated-next']);
    await mutate(server, 'undeprecateImage', { image: id(old.id) }, MEMBER.token);
    expect(await walk(server, 'alpha', MEMBER.token, filter)).toEqual(['deprecated-next', 'deprecated-old']);
    expect((await node(server, id(old.id), MEMBER.token))!.deprecation).toBeNull();
  });

  allButKeystone(kind)(
    'pages on past a long run of deprecated images (Glance filters them page by page)',
    async () => {
      const provider = server.provider('alpha');
      const at = new Date(Date.now() - 1_000);
      // More than Glance's refills of one listing call hold: the page ends early, and the cursor goes on.
      const run = { tags: [{ name: 'run', value: 'long' }] };
      for (let i = 0; i < 140; i++) {
        const name = `run-${String(i).padStart(3, '0')}`;
        const image = await createOne(provider, newImage({ name, organizationId: 'acme', ...run }));
        await provider.updateImage(image.id, { deprecation: { at, replacementId: null } });
      }
      await createOne(provider, newImage({ name: 'run-999-kept', organizationId: 'acme', ...run }));
      expect(await walk(server, 'alpha', MEMBER.token, run, 5, false)).toEqual(['run-999-kept']);
    },
    180_000,
  );

  it('refuses a replacement the caller cannot see, or the image itself', async () => {
    const provider = server.provider('alpha');
    const mine = await createOne(provider, own('replace-me'));
    const theirs = await createOne(provider, newImage({ name: 'not-yours', organizationId: 'globex' }));
    for (const replacement of [id(theirs.id), id(mine.id)]) {
      expect(await mutate(server, 'deprecateImage', { image: id(mine.id), replacement }, MEMBER.token)).toMatchObject({
        __typename: 'InvalidInputError',
      });
    }
  });
});

describe.each(providerKinds().filter((kind) => kind !== 'openstack-keystone'))(
  'signed platform images on the %s provider',
  (kind) => {
    let dir: string;
    let server: TestServer;
    let keyFile: string;

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'imagegraph-signed-'));
      // A key made here, in the PEM forms openssl writes.
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      keyFile = join(dir, 'platform.pem');
      writeFileSync(keyFile, privateKey.export({ type: 'sec1', format: 'pem' }));
      const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
      server = await startTestServer({
        regions: [{ id: 'signed', provider: kind, platformImages: { publicKey: pem } }],
        callers: CALLERS,
      });
    });
    afterAll(async () => {
      await server?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    const id = (providerId: string) => encodeImageId('signed', providerId);
    /** What an operator runs: openssl over the provider id, base64. */
    const opensslSign = (providerId: string) => {
      const idFile = join(dir, 'id');
      writeFileSync(idFile, providerId);
      return execFileSync('openssl', ['dgst', '-sha256', '-sign', keyFile, idFile]).toString('base64');
    };

    it('shows a PUBLIC image to everyone once its openssl-made signature verifies, and to platform admins only before', async () => {
      const provider = server.provider('signed');
      const image = await createOne(provider, newImage({ name: 'platform-ubuntu' }));
      expect(await node(server, id(image.id), MEMBER.token)).toBeNull();
      expect((await node(server, id(image.id), ADMIN.token))!.signature).toEqual({ status: 'UNSIGNED' });

      const result = await mutate(
        server,
        'setImageSignature',
        { image: id(image.id), signature: opensslSign(image.id) },
        ADMIN.token,
      );
      expect(result.__typename).toBe('SetImageSignaturePayload');
      expect((await node(server, id(image.id), MEMBER.token))!.signature).toEqual({ status: 'VERIFIED' });

      // A signature over another id (an image swapped at the provider) does not verify.
      await mutate(server, 'setImageSignature', { image: id(image.id), signature: opensslSign('another-id') }, ADMIN.token);
      expect(await node(server, id(image.id), MEMBER.token)).toBeNull();
      expect((await node(server, id(image.id), ADMIN.token))!.signature).toEqual({ status: 'INVALID' });
    });

    it('verifies what scripts/sign-image makes, and openssl verifies it too', async () => {
      const image = await createOne(server.provider('signed'), newImage({ name: 'platform-debian' }));
      const signature = execFileSync('bash', [join(import.meta.dirname, '..', '..', 'scripts', 'sign-image'), keyFile, image.id])
        .toString()
        .trim();
      await mutate(server, 'setImageSignature', { image: id(image.id), signature }, ADMIN.token);
      expect((await node(server, id(image.id), MEMBER.token))!.signature).toEqual({ status: 'VERIFIED' });
      const pub = join(dir, 'platform.pub');
      execFileSync('openssl', ['ec', '-in', keyFile, '-pubout', '-out', pub], { stdio: 'ignore' });
      const sigFile = join(dir, 'sig.der');
      writeFileSync(sigFile, Buffer.from(signature, 'base64'));
      writeFileSync(join(dir, 'id'), image.id);
      expect(
        execFileSync('openssl', ['dgst', '-sha256', '-verify', pub, '-signature', sigFile, join(dir, 'id')]).toString(),
      ).toMatch(/Verified OK/);
    });

    it('keeps listing pages full and exact around hidden platform images', async () => {
      const provider = server.provider('signed');
      const names: string[] = [];
      for (let i = 0; i < 9; i++) {
        const image = await createOne(provider, newImage({ name: `page-${i}` }));
        // Every third is signed; the others are hidden from non-admins.
        if (i % 3 === 0) {
          await mutate(server, 'setImageSignature', { image: id(image.id), signature: opensslSign(image.id) }, ADMIN.token);
          names.push(image.name);
        }
      }
      const filter = { names: Array.from({ length: 9 }, (_, i) => `page-${i}`) };
      expect(await walk(server, 'signed', MEMBER.token, filter, 1)).toEqual(names);
      expect(await walk(server, 'signed', MEMBER.token, filter, 2)).toEqual(names);
      expect(await walk(server, 'signed', ADMIN.token, filter, 2)).toHaveLength(9);
    });
  },
);

describe('copyImage between local and Glance regions', () => {
  const kinds: ProviderKind[] = glanceUrl() ? ['local', 'openstack'] : ['local'];
  const regions = kinds.flatMap((kind) => [`${kind === 'local' ? 'loc' : 'gla'}-a`, `${kind === 'local' ? 'loc' : 'gla'}-b`]);
  let dir: string;
  let images: ImageServer;
  let server: TestServer;
  let diskSha256: string;
  const sources = new Map<string, string>();

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imagegraph-copy-'));
    const disk = makeMbrDisk(dir, 'disk.raw', 24 * 1024);
    diskSha256 = createHash('sha256').update(readFileSync(disk)).digest('hex');
    images = await startImageServer({ '/disk.raw': disk });
    server = await startTestServer({
      regions: regions.map((region) => ({ id: region, provider: region.startsWith('loc') ? 'local' : 'openstack' })),
      callers: CALLERS,
      imports: { allowedHosts: [images.host] },
      limits: { importsPerOrganization: 8 },
    });
    // One READY source in the first region of each provider.
    for (const region of regions.filter((r) => r.endsWith('-a'))) {
      const result = await server.gql<{ importImage: { image: { id: string } } }>(
        `mutation ($input: ImportImageInput!) { importImage(input: $input) { ... on ImportImagePayload { image { id } } } }`,
        {
          input: {
            region,
            organization: 'acme',
            name: `source-${region}`,
            uri: images.url('/disk.raw'),
            os: { family: 'DEBIAN', distro: 'DEBIAN', version: '12' },
          },
        },
        MEMBER.token,
      );
      const sourceId = result.data!.importImage.image.id;
      await until(server, sourceId, MEMBER.token, (i) => i.status === 'READY');
      sources.set(region, sourceId);
    }
  }, 120_000);
  afterAll(async () => {
    await server?.close();
    await images?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const combinations = () =>
    [...sources.keys()].flatMap((from) => regions.filter((to) => to.endsWith('-b')).map((to) => ({ from, to })));

  it('copies in every direction: READY with the same bytes, source COPY naming the original', async () => {
    expect(combinations().length).toBe(kinds.length * kinds.length);
    for (const { from, to } of combinations()) {
      const source = sources.get(from)!;
      const result = await mutate(server, 'copyImage', { image: source, targetRegion: to, organization: 'acme' }, MEMBER.token);
      expect(result.__typename, `${from} -> ${to}: ${result.message}`).toBe('CopyImagePayload');
      expect(result.image!.status).toBe('PENDING');
      const copy = await until(server, result.image!.id, MEMBER.token, (i) => i.status === 'READY' || i.status === 'FAILED');
      expect(copy, `${from} -> ${to}`).toMatchObject({
        status: 'READY',
        name: `source-${from}`,
        sizeBytes: 24 * 1024 * 1024,
        source: { kind: 'COPY', sourceImageId: source },
      });
      // The copy's checksum is the source bytes' sha256 (Glance's own sha512 where it reports that).
      if (copy.checksum!.algorithm === 'sha256') expect(copy.checksum!.value).toBe(diskSha256);
    }
  }, 180_000);

  it('answers a retry with the same idempotency key with the same copy', async () => {
    const { from, to } = combinations()[0]!;
    const input = {
      image: sources.get(from)!,
      targetRegion: to,
      organization: 'acme',
      name: 'retried-copy',
      idempotencyKey: 'copy-1',
    };
    const first = await mutate(server, 'copyImage', input, MEMBER.token);
    const second = await mutate(server, 'copyImage', input, MEMBER.token);
    expect(second.image!.id).toBe(first.image!.id);
    expect((await mutate(server, 'copyImage', { ...input, name: 'other-name' }, MEMBER.token)).__typename).toBe(
      'IdempotencyConflictError',
    );
    await until(server, first.image!.id, MEMBER.token, (i) => i.status === 'READY');
  }, 60_000);

  it('fails the copy cleanly when the source is deleted during it', async () => {
    for (const from of sources.keys()) {
      const region = from;
      // A source of its own to delete: a copy of the shared one, made READY first.
      const made = await mutate(
        server,
        'copyImage',
        { image: sources.get(from)!, targetRegion: region, organization: 'acme', name: 'doomed' },
        MEMBER.token,
      );
      const doomed = made.image!.id;
      await until(server, doomed, MEMBER.token, (i) => i.status === 'READY');
      const copy = await mutate(
        server,
        'copyImage',
        { image: doomed, targetRegion: to(region), organization: 'acme' },
        MEMBER.token,
      );
      expect(copy.__typename).toBe('CopyImagePayload');
      const deleted = await server.gql<{ deleteImage: { __typename: string } }>(
        `mutation ($input: DeleteImageInput!) { deleteImage(input: $input) { __typename } }`,
        { input: { id: doomed } },
        MEMBER.token,
      );
      expect(deleted.data!.deleteImage.__typename).toBe('DeleteImagePayload');
      const ended = await until(server, copy.image!.id, MEMBER.token, (i) => i.status === 'READY' || i.status === 'FAILED');
      // Either the copy had finished before the delete, or it failed saying why; never half an image READY.
      if (ended.status === 'FAILED') expect(ended.statusReason).toMatch(/^Copying the image failed: the source image was/);
      else expect(ended.sizeBytes).toBe(24 * 1024 * 1024);
    }
  }, 120_000);

  it('refuses to copy an image that is not READY', async () => {
    const [region] = sources.keys();
    const pending = await createOne(
      server.provider(region!),
      newImage({ name: 'pending', organizationId: 'acme', status: 'PENDING' }),
    );
    const result = await mutate(
      server,
      'copyImage',
      { image: encodeImageId(region!, pending.id), targetRegion: to(region!), organization: 'acme' },
      MEMBER.token,
    );
    expect(result).toMatchObject({
      __typename: 'InvalidInputError',
      message: expect.stringMatching(/only READY images can be copied/),
    });
  });

  const to = (region: string) => regions.find((r) => r !== region && r.endsWith('-b'))!;
});
