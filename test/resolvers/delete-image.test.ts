import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { ImageRecord } from '../../src/providers/types.js';
import { createOne, newImage } from '../fixtures/images.js';
import { allButKeystone, glanceImage, providerKinds } from '../support/glance.js';
import { glanceProjectId, startTestServer, type TestCaller, type TestServer } from '../support/harness.js';
import { type ImageServer, startImageServer } from '../support/image-server.js';
import { makeMbrDisk } from '../support/mbr-disk.js';

const CALLERS = {
  acmeMember: { token: 't-acme-member', subject: 'alice', organizations: [{ id: 'acme', role: 'MEMBER' }] },
  acmeReader: { token: 't-acme-reader', subject: 'rita', organizations: [{ id: 'acme', role: 'READER' }] },
  globexAdmin: { token: 't-globex-admin', subject: 'gary', organizations: [{ id: 'globex', role: 'ADMIN' }] },
  platformAdmin: { token: 't-platform', subject: 'root', platformAdmin: true },
} satisfies Record<string, TestCaller>;

/** alpha is open to everyone; gamma only to acme (and platform admins). */
const REGIONS = [{ id: 'alpha' }, { id: 'gamma', organizations: ['acme'] }];

const DELETE = /* GraphQL */ `
  mutation Delete($id: ID!) {
    deleteImage(input: { id: $id }) {
      __typename
      ... on Error {
        message
        code
      }
      ... on DeleteImagePayload {
        deletedImageId
      }
      ... on ImageNotFoundError {
        id
      }
      ... on RegionNotFoundError {
        region
      }
      ... on ImageNotOwnedError {
        image {
          id
          name
        }
      }
      ... on ImageInUseError {
        image {
          id
          name
        }
        usedBy {
          kind
          consumerId
          organization {
            id
          }
          createdAt
        }
      }
    }
  }
`;

const REGISTER = /* GraphQL */ `
  mutation Register($input: RegisterImageUseInput!) {
    registerImageUse(input: $input) {
      __typename
      ... on Error {
        message
        code
      }
    }
  }
`;

const RELEASE = /* GraphQL */ `
  mutation Release($input: ReleaseImageUseInput!) {
    releaseImageUse(input: $input) {
      __typename
      ... on Error {
        message
        code
      }
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
          id
          providerId
          status
        }
      }
    }
  }
`;

interface DeleteResult {
  __typename: string;
  message?: string;
  code?: string;
  deletedImageId?: string;
  id?: string;
  region?: string;
  image?: { id: string; name: string };
  usedBy?: { kind: string; consumerId: string; organization: { id: string } | null; createdAt: string }[];
}

interface Seeded {
  record: ImageRecord;
  /** Global ID. */
  id: string;
  region: string;
  /** `<dataDir>/<region>/images/<providerId>.raw` (local provider). */
  file: string;
}

describe.each(providerKinds())('on the %s provider', (kind) => {
  const local = kind === 'local';
  // The keystone half runs a sample (see allButKeystone).
  const sampled = allButKeystone(kind);

  let server: TestServer;
  let images: ImageServer;
  let diskDir: string;
  let disk: string;
  let counter = 0;
  /** The paths routed with `hold` in the running test. */
  const heldPaths: string[] = [];

  beforeAll(async () => {
    diskDir = mkdtempSync(join(tmpdir(), 'imagegraph-delete-disks-'));
    disk = makeMbrDisk(diskDir, 'mbr.raw', 4096);
    images = await startImageServer();
    server = await startTestServer({
      regions: REGIONS.map((region) => ({ ...region, provider: kind })),
      callers: Object.values(CALLERS),
      imports: { allowedHosts: [images.host] },
    });
  });

  afterAll(async () => {
    await server?.close();
    await images?.close();
    if (diskDir) rmSync(diskDir, { recursive: true, force: true });
  });

  afterEach(async () => {
    // Nothing held or running leaks into the next test. By path: `release()` would stop holding for good.
    for (const path of heldPaths.splice(0)) images.release(path);
    await server.app.importsIdle();
  });

  const globalId = (region: string, providerId: string) => Buffer.from(`Image:${region}:${providerId}`).toString('base64url');
  const imagesDir = (region = 'alpha') => join(server.dir, region, 'images');
  const fileOf = (region: string, providerId: string) => join(imagesDir(region), `${providerId}.raw`);
  /** Every entry of the region's images dir that belongs to the image (final file or temp file). */
  const filesOf = (providerId: string, region = 'alpha') =>
    readdirSync(imagesDir(region)).filter((name) => name.includes(providerId));
  const partials = (region = 'alpha') => readdirSync(imagesDir(region)).filter((name) => name.startsWith('.partial-'));
  /** No temp file is left in the data dir; Glance keeps (and cleans up) partial uploads itself. */
  const expectNoPartials = () => {
    if (local) expect(partials()).toEqual([]);
  };
  /** The image as Glance's own API shows it, bypassing imagegraph (openstack). */
  const inGlance = (region: string, providerId: string) => glanceImage(glanceProjectId(server.dir, region), providerId);
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /**
   * Puts an image in place through the provider, as an import would; on the local provider a READY
   * image also gets its bytes (a dummy file) at the path it keeps them. (In Glance an image created
   * without bytes stays PENDING, whatever status is asked for.)
   */
  async function seedImage(
    region: string,
    organizationId: string | null,
    overrides: Parameters<typeof newImage>[0] = {},
  ): Promise<Seeded> {
    const record = await createOne(
      server.provider(region),
      newImage({ organizationId, name: `del-${organizationId ?? 'public'}-${++counter}`, ...overrides }),
    );
    const file = fileOf(region, record.id);
    if (local && record.status === 'READY') writeFileSync(file, Buffer.alloc(4096, 7));
    return { record, id: globalId(region, record.id), region, file };
  }

  async function deleteImage(caller: TestCaller, id: string): Promise<DeleteResult> {
    const result = await server.gql<{ deleteImage: DeleteResult }>(DELETE, { id }, caller.token);
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    return result.data!.deleteImage;
  }

  async function useMutation(query: string, caller: TestCaller, input: Record<string, unknown>): Promise<{ __typename: string }> {
    const result = await server.gql<Record<string, { __typename: string }>>(query, { input }, caller.token);
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    return Object.values(result.data!)[0]!;
  }

  /** The image as a platform admin sees it (null when gone). */
  async function adminNode(id: string): Promise<{ id: string; status: string } | null> {
    const result = await server.gql<{ node: { id: string; status: string } | null }>(
      'query ($id: ID!) { node(id: $id) { id ... on Image { status } } }',
      { id },
      CALLERS.platformAdmin.token,
    );
    expect(result.errors).toBeUndefined();
    return result.data!.node;
  }

  async function expectGone(image: { id: string; region: string; providerId: string }) {
    expect(await adminNode(image.id)).toBeNull();
    expect(await server.provider(image.region).getImages([image.providerId])).toEqual([null]);
    if (local) expect(filesOf(image.providerId, image.region)).toEqual([]);
    else expect(await inGlance(image.region, image.providerId)).toBeNull();
  }

  async function expectStillThere(image: Seeded) {
    expect(await adminNode(image.id)).not.toBeNull();
    if (local) expect(existsSync(image.file)).toBe(true);
    else expect(await inGlance(image.region, image.record.id)).not.toBeNull();
  }

  /** Starts an import of `path` on the image server by acme's member; answers the new image. */
  async function startImport(path: string): Promise<{ id: string; providerId: string; region: string }> {
    const result = await server.gql<{ importImage: { __typename: string; image?: { id: string; providerId: string } } }>(
      IMPORT,
      {
        input: {
          region: 'alpha',
          organization: 'acme',
          name: `imported-${++counter}`,
          uri: images.url(path),
          os: { family: 'DEBIAN', distro: 'DEBIAN', version: '12' },
        },
      },
      CALLERS.acmeMember.token,
    );
    expect(result.data?.importImage.__typename, JSON.stringify(result)).toBe('ImportImagePayload');
    return { ...result.data!.importImage.image!, region: 'alpha' };
  }

  /**
   * Waits until the held full download of `path` is open and its bytes are being stored: a temp file in
   * the data dir, or an upload Glance has begun (the image is `saving` there, CREATING).
   */
  async function waitForDownload(path: string, providerId: string) {
    const request = await images.waitForRequest((r) => r.path === path && r.range === undefined);
    const deadline = Date.now() + 10_000;
    while (!(await storing(providerId))) {
      if (Date.now() > deadline) throw new Error(`the bytes of ${providerId} are not being stored`);
      await sleep(local ? 5 : 20);
    }
    return request;
  }

  async function storing(providerId: string): Promise<boolean> {
    if (local) return partials().some((name) => name.includes(providerId));
    const [image] = await server.provider('alpha').getImages([providerId]);
    return image?.status === 'CREATING';
  }

  /**
   * Serves the disk at `path`, holding the full download after its first 128 KiB until
   * `images.release(path)`: past the 64 KiB head check, so bytes are already moving into the provider
   * (Glance sees an upload only once its first byte is sent).
   */
  function hold(path: string) {
    images.route(path, { body: disk, holdUntilReleased: true, holdAfterBytes: 128 * 1024 });
    heldPaths.push(path);
  }

  const seeded = (s: Seeded) => ({ id: s.id, region: s.region, providerId: s.record.id });

  describe('deleteImage', () => {
    it('removes the metadata and the file of an own image; a second delete is ImageNotFoundError', async () => {
      const own = await seedImage('alpha', 'acme');
      if (local) expect(existsSync(own.file)).toBe(true);

      expect(await deleteImage(CALLERS.acmeMember, own.id)).toEqual({ __typename: 'DeleteImagePayload', deletedImageId: own.id });
      await expectGone(seeded(own));
      const listed = await server.gql<{ images: { nodes: { id: string }[] } }>(
        'query ($names: [String!]) { images(region: "alpha", filter: { names: $names }) { nodes { id } } }',
        { names: [own.record.name] },
        CALLERS.acmeMember.token,
      );
      expect(listed.data!.images.nodes).toEqual([]);

      expect(await deleteImage(CALLERS.acmeMember, own.id)).toEqual({
        __typename: 'ImageNotFoundError',
        code: 'IMAGE_NOT_FOUND',
        message: `Image "${own.id}" not found`,
        id: own.id,
      });
    });

    it("answers another organization's image exactly like a missing or malformed one, and leaves it alone", async () => {
      const other = await seedImage('alpha', 'globex');
      const missing = globalId('alpha', '00000000-0000-4000-8000-000000000000');
      const malformed = 'not-an-image-id';

      const normalised = async (id: string) => {
        const response = await server.gql(DELETE, { id }, CALLERS.acmeMember.token);
        return JSON.stringify(response).replaceAll(id, '<id>');
      };
      const forOther = await normalised(other.id);
      expect(JSON.parse(forOther)).toEqual({
        status: 200,
        data: {
          deleteImage: {
            __typename: 'ImageNotFoundError',
            code: 'IMAGE_NOT_FOUND',
            message: 'Image "<id>" not found',
            id: '<id>',
          },
        },
      });
      expect(forOther).toBe(await normalised(missing));
      expect(forOther).toBe(await normalised(malformed));
      expect(forOther).not.toContain('globex');
      expect(forOther).not.toContain(other.record.name);
      await expectStillThere(other);
    });

    it('refuses a PUBLIC image to anyone but a platform admin with ImageNotOwnedError', async () => {
      const pub = await seedImage('alpha', null);
      for (const caller of [CALLERS.acmeMember, CALLERS.globexAdmin, CALLERS.acmeReader]) {
        expect(await deleteImage(caller, pub.id)).toMatchObject({
          __typename: 'ImageNotOwnedError',
          code: 'IMAGE_NOT_OWNED',
          image: { id: pub.id, name: pub.record.name },
        });
      }
      await expectStillThere(pub);
    });

    it('refuses a READER of the owning organization with PermissionDeniedError', async () => {
      const own = await seedImage('alpha', 'acme');
      expect(await deleteImage(CALLERS.acmeReader, own.id)).toMatchObject({
        __typename: 'PermissionDeniedError',
        code: 'PERMISSION_DENIED',
      });
      await expectStillThere(own);
    });

    it('refuses an image in use with ImageInUseError listing the uses; once they are released the delete succeeds', async () => {
      const own = await seedImage('alpha', 'acme');
      const uses = [
        { kind: 'server', consumerId: 'vm-1' },
        { kind: 'cluster', consumerId: 'k8s-prod' },
      ];
      for (const use of uses) {
        expect(await useMutation(REGISTER, CALLERS.acmeMember, { image: own.id, ...use })).toEqual({
          __typename: 'RegisterImageUsePayload',
        });
      }

      const refused = await deleteImage(CALLERS.acmeMember, own.id);
      expect(refused).toMatchObject({
        __typename: 'ImageInUseError',
        code: 'IMAGE_IN_USE',
        image: { id: own.id, name: own.record.name },
      });
      expect(refused.usedBy!.map(({ kind, consumerId, organization }) => ({ kind, consumerId, organization }))).toEqual(
        expect.arrayContaining(uses.map((use) => ({ ...use, organization: { id: 'acme' } }))),
      );
      expect(refused.usedBy).toHaveLength(2);
      for (const use of refused.usedBy!) expect(Number.isNaN(Date.parse(use.createdAt))).toBe(false);
      await expectStillThere(own);

      // Still refused while one use remains, and it is the only one listed.
      expect(await useMutation(RELEASE, CALLERS.acmeMember, { image: own.id, ...uses[0]! })).toEqual({
        __typename: 'ReleaseImageUsePayload',
      });
      const still = await deleteImage(CALLERS.acmeMember, own.id);
      expect(still.__typename).toBe('ImageInUseError');
      expect(still.usedBy!.map(({ kind, consumerId }) => ({ kind, consumerId }))).toEqual([uses[1]]);

      expect(await useMutation(RELEASE, CALLERS.acmeMember, { image: own.id, ...uses[1]! })).toEqual({
        __typename: 'ReleaseImageUsePayload',
      });
      expect(await deleteImage(CALLERS.acmeMember, own.id)).toEqual({ __typename: 'DeleteImagePayload', deletedImageId: own.id });
      await expectGone(seeded(own));
    });

    sampled('answers an image in a region the caller may not see with RegionNotFoundError, like an unknown region', async () => {
      const hidden = await seedImage('gamma', 'acme');
      const unknown = globalId('delta', hidden.record.id);
      const hiddenAnswer = await server.gql(DELETE, { id: hidden.id }, CALLERS.globexAdmin.token);
      const unknownAnswer = await server.gql(DELETE, { id: unknown }, CALLERS.globexAdmin.token);
      expect(hiddenAnswer.data).toEqual({
        deleteImage: {
          __typename: 'RegionNotFoundError',
          code: 'REGION_NOT_FOUND',
          message: 'Region "gamma" not found',
          region: 'gamma',
        },
      });
      const normalise = (value: unknown) => JSON.stringify(value).replaceAll('gamma', 'R').replaceAll('delta', 'R');
      expect(normalise(hiddenAnswer)).toBe(normalise(unknownAnswer));
      await expectStillThere(hidden);

      // acme may see gamma, so its member deletes there.
      expect(await deleteImage(CALLERS.acmeMember, hidden.id)).toEqual({
        __typename: 'DeleteImagePayload',
        deletedImageId: hidden.id,
      });
      await expectGone(seeded(hidden));
    });

    it("lets a platform admin delete a PUBLIC image and an organization's image", async () => {
      const pub = await seedImage('alpha', null);
      const own = await seedImage('alpha', 'acme');
      for (const image of [pub, own]) {
        expect(await deleteImage(CALLERS.platformAdmin, image.id)).toEqual({
          __typename: 'DeleteImagePayload',
          deletedImageId: image.id,
        });
        await expectGone(seeded(image));
      }
    });

    sampled('deletes images that hold no bytes (PENDING, FAILED) without complaint', async () => {
      for (const status of ['PENDING', 'FAILED'] as const) {
        const image = await seedImage('alpha', 'acme', { status, sizeBytes: null, checksum: null });
        // Glance keeps a new image PENDING: fail it as an import would.
        if (!local && status === 'FAILED')
          await server.provider('alpha').updateImage(image.record.id, { status, statusReason: 'test' });
        expect((await adminNode(image.id))?.status).toBe(status);
        if (local) expect(existsSync(image.file)).toBe(false);
        expect(await deleteImage(CALLERS.acmeMember, image.id)).toEqual({
          __typename: 'DeleteImagePayload',
          deletedImageId: image.id,
        });
        await expectGone(seeded(image));
      }
    });
  });

  describe('deleteImage while the image is being imported', () => {
    it('cancels the running download: no temp file and no image file remain, even after the server lets go', async () => {
      hold('/held');
      const image = await startImport('/held');
      const download = await waitForDownload('/held', image.providerId);

      expect(await deleteImage(CALLERS.acmeMember, image.id)).toEqual({
        __typename: 'DeleteImagePayload',
        deletedImageId: image.id,
      });
      // The download is cut, not left to finish into a deleted image.
      await images.waitForRequest((r) => r === download && r.aborted, 5_000);
      await server.app.importsIdle();
      await expectGone(image);
      expectNoPartials();

      images.release('/held');
      await sleep(100);
      await server.app.importsIdle();
      await expectGone(image);
      expectNoPartials();
      // The peek, the tail (for a fixed VHD's footer) and one download; nothing retried it.
      expect(images.requests.filter((r) => r.path === '/held')).toHaveLength(3);
    });

    sampled('drops a queued import (waiting for a download slot) so it never downloads', async () => {
      hold('/slot-1');
      hold('/slot-2');
      images.route('/queued', { body: disk });
      const first = await startImport('/slot-1');
      const second = await startImport('/slot-2');
      await waitForDownload('/slot-1', first.providerId);
      await waitForDownload('/slot-2', second.providerId);
      const queued = await startImport('/queued');
      expect((await adminNode(queued.id))?.status).toBe('PENDING');

      expect(await deleteImage(CALLERS.acmeMember, queued.id)).toEqual({
        __typename: 'DeleteImagePayload',
        deletedImageId: queued.id,
      });
      images.release('/slot-1');
      images.release('/slot-2');
      await server.app.importsIdle();
      await expectGone(queued);
      expect(images.requests.filter((r) => r.path === '/queued' && r.range === undefined)).toEqual([]);

      // The two that held the slots finished normally.
      for (const image of [first, second]) {
        expect((await adminNode(image.id))?.status).toBe('READY');
        if (local) expect(filesOf(image.providerId)).toEqual([`${image.providerId}.raw`]);
        else expect(await inGlance('alpha', image.providerId)).toMatchObject({ status: 'active', size: statSync(disk).size });
        expect((await deleteImage(CALLERS.acmeMember, image.id)).__typename).toBe('DeleteImagePayload');
        await expectGone(image);
      }
      expectNoPartials();
    });

    sampled(
      'leaves no file when the download completes right after a delete the runner did not hear of (another replica)',
      async () => {
        hold('/late');
        const image = await startImport('/late');
        const download = await waitForDownload('/late', image.providerId);

        // Deleted at the provider directly: no cancel reaches this server's runner, the download goes on.
        expect(await server.provider('alpha').deleteImage(image.providerId)).toEqual({ result: 'deleted' });
        images.release('/late');
        await images.waitForRequest((r) => r === download && (r.finished || r.aborted));
        await server.app.importsIdle();
        expect(download.finished).toBe(true);
        await expectGone(image);
        expectNoPartials();
      },
    );

    sampled('leaves no file whichever of a finishing download and a delete wins the race', async () => {
      for (let round = 0; round < 5; round++) {
        const path = `/race-${round}`;
        hold(path);
        const image = await startImport(path);
        await waitForDownload(path, image.providerId);
        const [deleted] = await Promise.all([
          deleteImage(CALLERS.acmeMember, image.id),
          // Let the bytes go a little before, at or after the delete.
          sleep(round % 3).then(() => images.release(path)),
        ]);
        expect(deleted).toEqual({ __typename: 'DeleteImagePayload', deletedImageId: image.id });
        await server.app.importsIdle();
        await expectGone(image);
        expectNoPartials();
      }
    });
  });
});
