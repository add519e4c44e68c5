import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capturedLogs, loud } from '../../support/captured-logs.js';
import { providerKinds } from '../../support/glance.js';
import { startTestServer, type TestServer } from '../../support/harness.js';
import { type ImageServer, startImageServer } from '../../support/image-server.js';
import { makeMbrDisk } from '../../support/mbr-disk.js';
import { openstackCliInstalled, type Operator, operatorFor } from '../../support/openstack-cli.js';

/**
 * imagegraph and OpenStack's own CLI on one Glance: what an operator does with `openstack image ...`
 * is seen correctly by imagegraph, and imagegraph's imports look right to `openstack image show`.
 * Under the trusted-headers Glance and the Keystone one alike.
 */
const ADMIN = { token: 't-admin', subject: 'root', platformAdmin: true };
const MEMBER = { token: 't-member', subject: 'alice', organizations: [{ id: 'acme', role: 'MEMBER' as const }] };

const FIELDS = `id name visibility status statusReason architecture organization { id } minDiskGiB minRamMiB
  os { kernel family distro version } properties { name value }`;

interface ImageView {
  id: string;
  name: string;
  visibility: string;
  status: string;
  statusReason: string | null;
  architecture: string;
  organization: { id: string } | null;
  minDiskGiB: number | null;
  minRamMiB: number | null;
  os: { kernel: string; family: string; distro: string; version: string };
  properties: { name: string; value: string }[];
}

const kinds = providerKinds().filter((kind) => kind !== 'local');

describe.skipIf(!openstackCliInstalled() || kinds.length === 0).each(kinds)(
  'the OpenStack CLI and imagegraph on the %s Glance',
  (kind) => {
    let dir: string;
    let disk: string;
    let images: ImageServer;
    let server: TestServer;
    let operator: Operator;
    let lines: Record<string, unknown>[];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'imagegraph-osc-'));
      disk = makeMbrDisk(dir, 'disk.raw', 3 * 1024);
      images = await startImageServer({
        '/disk': disk,
        '/slow': {
          body: readFileSync(makeMbrDisk(dir, 'big.raw', 64 * 1024)),
          throttle: { chunkBytes: 256 * 1024, delayMs: 200 },
        },
      });
      const captured = capturedLogs('info');
      lines = captured.lines;
      server = await startTestServer({
        regions: [{ id: 'alpha', provider: kind }],
        callers: [ADMIN, MEMBER],
        imports: { allowedHosts: [images.host] },
        logger: captured.logger,
      });
      operator = await operatorFor(kind, server.dir, 'alpha');
    }, 120_000);
    afterAll(async () => {
      await operator?.close();
      await server?.close();
      await images?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    const globalId = (providerId: string) => Buffer.from(`Image:alpha:${providerId}`).toString('base64url');
    const node = async (providerId: string, token = ADMIN.token) =>
      (
        await server.gql<{ node: ImageView | null }>(
          `query ($id: ID!) { node(id: $id) { ... on Image { ${FIELDS} } } }`,
          { id: globalId(providerId) },
          token,
        )
      ).data!.node;
    const listed = async (filter: Record<string, unknown>, token = ADMIN.token) => {
      const result = await server.gql<{ images: { nodes: ImageView[] } }>(
        `query ($filter: ImageFilter) { images(region: "alpha", filter: $filter, first: 100) { nodes { ${FIELDS} } } }`,
        { filter },
        token,
      );
      expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
      return result.data!.images.nodes.map((image) => image.name);
    };
    const create = async (name: string, ...options: string[]) =>
      (
        await operator.json<{ id: string }>(
          'image',
          'create',
          name,
          '--disk-format',
          'raw',
          '--container-format',
          'bare',
          ...options,
        )
      ).id;

    it("reads an operator's image by its standard properties, and every filter agrees with the fields", async () => {
      const id = await create(
        'op-arm-ubuntu',
        '--file',
        disk,
        '--public',
        '--min-disk',
        '10',
        '--min-ram',
        '2048',
        '--property',
        'architecture=aarch64',
        '--property',
        'os_distro=ubuntu',
        '--property',
        'os_version=24.04',
        '--property',
        'hw_firmware_type=uefi',
      );
      const image = (await node(id, MEMBER.token))!;
      expect(image).toMatchObject({
        name: 'op-arm-ubuntu',
        visibility: 'PUBLIC',
        status: 'READY',
        organization: null,
        architecture: 'AARCH64',
        os: { kernel: 'LINUX', family: 'DEBIAN', distro: 'UBUNTU', version: '24.04' },
        minDiskGiB: 10,
        minRamMiB: 2048,
      });
      expect(image.properties).toContainEqual({ name: 'hw_firmware_type', value: 'uefi' });
      expect(image.properties.map((p) => p.name)).not.toContain('architecture');
      expect(image.properties.map((p) => p.name).filter((name) => name.startsWith('imagegraph.'))).toEqual([]);

      for (const filter of [
        { architecture: 'AARCH64' },
        { osDistro: 'UBUNTU' },
        { osFamily: 'DEBIAN' },
        { osVersion: '24.04' },
      ]) {
        expect(await listed(filter, MEMBER.token), JSON.stringify(filter)).toContain('op-arm-ubuntu');
      }
      for (const filter of [{ architecture: 'X86_64' }, { osDistro: 'DEBIAN' }, { osFamily: 'REDHAT' }, { osVersion: '22.04' }]) {
        expect(await listed(filter, MEMBER.token), JSON.stringify(filter)).not.toContain('op-arm-ubuntu');
      }
    });

    it('never guesses: no architecture reads as X86_64, an unknown one and no distro as OTHER, and filters agree', async () => {
      const bare = await create('op-bare', '--public');
      const odd = await create('op-odd', '--public', '--property', 'architecture=ppc64le', '--property', 'os_distro=gentoo');
      expect(await node(bare)).toMatchObject({ architecture: 'X86_64', os: { distro: 'OTHER', family: 'OTHER', version: '' } });
      const oddImage = (await node(odd))!;
      expect(oddImage).toMatchObject({ architecture: 'OTHER', os: { distro: 'OTHER', family: 'OTHER' } });
      expect(oddImage.properties).toEqual(
        expect.arrayContaining([
          { name: 'architecture', value: 'ppc64le' },
          { name: 'os_distro', value: 'gentoo' },
        ]),
      );
      expect(await listed({ architecture: 'X86_64' })).toContain('op-bare');
      expect(await listed({ architecture: 'X86_64' })).not.toContain('op-odd');
      expect(await listed({ architecture: 'OTHER' })).toEqual(expect.arrayContaining(['op-odd']));
      expect(await listed({ architecture: 'OTHER' })).not.toContain('op-bare');
      expect(await listed({ osDistro: 'OTHER' })).toEqual(expect.arrayContaining(['op-bare', 'op-odd']));

      // Changed with the CLI: imagegraph reads the change.
      await operator.run('image', 'set', '--property', 'architecture=x86_64', odd);
      expect(await node(odd)).toMatchObject({ architecture: 'X86_64' });
      expect(await listed({ architecture: 'OTHER' })).not.toContain('op-odd');
    });

    it("shows every visibility the same way in listings and node(id): community is public, private and shared are platform admins' only", async () => {
      const community = await create('op-community', '--community');
      const privateImage = await create('op-private', '--private');
      const shared = await create('op-shared', '--shared');
      await operator.shareWithAnotherProject(shared);
      for (const [id, name, visibility] of [
        [community, 'op-community', 'PUBLIC'],
        [privateImage, 'op-private', 'ORGANIZATION'],
        [shared, 'op-shared', 'ORGANIZATION'],
      ] as const) {
        expect(await node(id), name).toMatchObject({ name, visibility, organization: null });
        expect(await listed({}), name).toContain(name);
      }
      expect(await node(community, MEMBER.token)).toMatchObject({ name: 'op-community' });
      expect(await listed({}, MEMBER.token)).toContain('op-community');
      for (const [id, name] of [
        [privateImage, 'op-private'],
        [shared, 'op-shared'],
      ] as const) {
        expect(await node(id, MEMBER.token), name).toBeNull();
        expect(await listed({}, MEMBER.token), name).not.toContain(name);
      }
    });

    it('writes the standard properties on an import, and `openstack image show` sees what imagegraph says', async () => {
      const result = await server.gql<{ importImage: { image: { id: string } } }>(
        `mutation ($input: ImportImageInput!) { importImage(input: $input) { ... on ImportImagePayload { image { id } } } }`,
        {
          input: {
            region: 'alpha',
            organization: 'acme',
            name: 'imported-arm',
            uri: images.url('/disk'),
            architecture: 'AARCH64',
            os: { family: 'DEBIAN', distro: 'DEBIAN', version: '12', codename: 'bookworm' },
          },
        },
        MEMBER.token,
      );
      await server.app.importsIdle();
      const providerId = Buffer.from(result.data!.importImage.image.id, 'base64url').toString().split(':')[2]!;
      const shown = await operator.json<{
        status: string;
        size: number;
        min_disk: number;
        visibility: string;
        checksum: string;
        properties: Record<string, string>;
      }>('image', 'show', providerId);
      const bytes = readFileSync(disk);
      expect(shown).toMatchObject({
        status: 'active',
        size: 3 * 1024 * 1024,
        min_disk: 1,
        visibility: 'private',
        checksum: createHash('md5').update(bytes).digest('hex'),
      });
      expect(shown.properties).toMatchObject({
        architecture: 'aarch64',
        os_distro: 'debian',
        os_version: '12',
        os_type: 'linux',
        'imagegraph.organization': 'acme',
        'imagegraph.sha256': createHash('sha256').update(bytes).digest('hex'),
      });
      const sha256 = (await node(providerId, MEMBER.token))!;
      expect(sha256).toMatchObject({
        status: 'READY',
        architecture: 'AARCH64',
        minDiskGiB: 1,
        os: { distro: 'DEBIAN', version: '12' },
      });
    });

    it('stops an import within seconds when the operator deletes its image, with no error logged and a last event that says so', async () => {
      const result = await server.gql<{ importImage: { image: { id: string } } }>(
        `mutation ($input: ImportImageInput!) { importImage(input: $input) { ... on ImportImagePayload { image { id } } } }`,
        {
          input: {
            region: 'alpha',
            organization: 'acme',
            name: 'deleted-mid-import',
            uri: images.url('/slow'),
            os: { family: 'DEBIAN', distro: 'DEBIAN', version: '12' },
          },
        },
        MEMBER.token,
      );
      const id = result.data!.importImage.image.id;
      const providerId = Buffer.from(id, 'base64url').toString().split(':')[2]!;
      const events = (async () => {
        const response = await server.app.yoga.fetch('http://imagegraph.test/graphql', {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${MEMBER.token}` },
          body: JSON.stringify({ query: 'subscription ($id: ID!) { imageChanged(id: $id) { status } }', variables: { id } }),
        });
        return response.text();
      })();
      const download = await images.waitForRequest((request) => request.path === '/slow' && request.range === undefined);
      while (download.bytesSent < 1024 * 1024) await new Promise((resolve) => setTimeout(resolve, 50));
      const deletedAt = Date.now();
      await operator.run('image', 'delete', providerId);

      const text = await events;
      const stoppedAfter = Date.now() - deletedAt;
      expect(stoppedAfter).toBeLessThan(10_000);
      expect(download.bytesSent).toBeLessThan(48 * 1024 * 1024);
      const last = [...text.matchAll(/event: (\w+)\ndata: ?(.*)\n/g)].map(([, event, data]) => ({ event, data }));
      expect(last.at(-1)?.event).toBe('complete');
      expect(JSON.parse(last.at(-2)!.data!).errors[0]).toMatchObject({
        extensions: { code: 'IMAGE_NOT_FOUND' },
        message: expect.stringMatching(/was deleted/),
      });
      await server.app.importsIdle();
      expect(await node(providerId)).toBeNull();
      expect(loud(lines).filter((line) => line.level === 50)).toEqual([]);
    });

    it('brings an image written before the standard properties forward at start-up, so filters find it too', async () => {
      const legacy = await create(
        'legacy-arm-rocky',
        '--private',
        '--property',
        'imagegraph.organization=acme',
        '--property',
        'imagegraph.architecture=AARCH64',
        '--property',
        'imagegraph.os_family=REDHAT',
        '--property',
        'imagegraph.os_distro=ROCKY',
        '--property',
        'imagegraph.os_version=9',
      );
      expect(await node(legacy, MEMBER.token)).toMatchObject({
        architecture: 'AARCH64',
        os: { distro: 'ROCKY', family: 'REDHAT', version: '9' },
      });
      // A restart on the same project: start-up upgrades the image in Glance.
      const restarted = await startTestServer({
        regions: [{ id: 'alpha', provider: kind }],
        callers: [ADMIN, MEMBER],
        dir: server.dir,
      });
      try {
        const shown = await operator.json<{ properties: Record<string, string> }>('image', 'show', legacy);
        expect(shown.properties).toMatchObject({
          architecture: 'aarch64',
          os_distro: 'rocky',
          os_version: '9',
          os_type: 'linux',
        });
        expect(Object.keys(shown.properties)).not.toContain('imagegraph.os_distro');
        const found = await restarted.gql<{ images: { nodes: { name: string }[] } }>(
          '{ images(region: "alpha", filter: { architecture: AARCH64, osDistro: ROCKY }) { nodes { name } } }',
          {},
          MEMBER.token,
        );
        expect(found.data!.images.nodes.map((image) => image.name)).toEqual(['legacy-arm-rocky']);
      } finally {
        await restarted.close({ keepData: true });
      }
    });

    it('follows a deactivation and a protection made behind its back, without error logs', async () => {
      const id = await create('op-in-use', '--file', disk, '--public');
      const use = (mutation: string) =>
        server.gql<Record<string, { __typename: string }>>(
          `mutation ($id: ID!) { ${mutation}(input: { image: $id, kind: "server", consumerId: "vm-1", organization: "acme" }) { __typename } }`,
          { id: globalId(id) },
          MEMBER.token,
        );
      expect((await use('registerImageUse')).data!.registerImageUse!.__typename).toBe('RegisterImageUsePayload');
      await operator.run('image', 'set', '--deactivate', id);
      expect(await node(id)).toMatchObject({ status: 'FAILED', statusReason: expect.stringMatching(/deactivated/) });
      expect((await use('releaseImageUse')).data!.releaseImageUse!.__typename).toBe('ReleaseImageUsePayload');
      await operator.run('image', 'set', '--activate', '--protected', id);
      const deleted = await server.gql<{ deleteImage: { __typename: string } }>(
        'mutation ($id: ID!) { deleteImage(input: { id: $id }) { __typename } }',
        { id: globalId(id) },
        ADMIN.token,
      );
      expect(deleted.data!.deleteImage.__typename).toBe('ImageProtectedError');
      expect(loud(lines).filter((line) => line.level === 50)).toEqual([]);
    });
  },
);
