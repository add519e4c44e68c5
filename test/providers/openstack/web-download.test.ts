import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { glanceImage, glanceUrl } from '../../support/glance.js';
import { glanceProjectId, startTestServer, type TestServer } from '../../support/harness.js';
import { type ImageServer, startImageServer } from '../../support/image-server.js';
import { makeMbrDisk } from '../../support/mbr-disk.js';

const ADMIN = { token: 't-admin', subject: 'root', platformAdmin: true };

const IMPORT = /* GraphQL */ `
  mutation ($input: ImportImageInput!) {
    importImage(input: $input) {
      __typename
      ... on ImportImagePayload {
        image {
          id
          providerId
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`;
const IMAGE = /* GraphQL */ `
  query ($id: ID!) {
    node(id: $id) {
      ... on Image {
        status
        statusReason
        sizeBytes
        checksum {
          algorithm
          value
        }
      }
    }
  }
`;

describe.skipIf(!glanceUrl())('Glance web-download imports (Glance fetches the URL itself)', () => {
  let dir: string;
  let disk: string;
  let qcow2: string;
  let images: ImageServer;
  let server: TestServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imagegraph-web-download-'));
    disk = makeMbrDisk(dir, 'disk.raw', 2048);
    qcow2 = join(dir, 'disk.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', qcow2, '8M']);
    images = await startImageServer({
      '/disk': readFileSync(disk),
      '/disk.qcow2': readFileSync(qcow2),
      // Raw at the peek, qcow2 when Glance downloads it.
      '/changed': { body: readFileSync(qcow2), rangeBody: readFileSync(disk) },
    });
    server = await startTestServer({
      regions: [{ id: 'glance', provider: 'openstack', importMethod: 'web-download' }],
      callers: [ADMIN],
      imports: { allowedHosts: [images.host] },
    });
  });
  afterAll(async () => {
    await server.close();
    await images.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function importAndWait(path: string) {
    const input = {
      region: 'glance',
      organization: 'acme',
      name: 'wd',
      uri: images.url(path),
      os: { family: 'DEBIAN', distro: 'DEBIAN', version: '12' },
    };
    const result = await server.gql<{ importImage: { __typename: string; image: { id: string; providerId: string } } }>(
      IMPORT,
      { input },
      ADMIN.token,
    );
    expect(result.data!.importImage.__typename).toBe('ImportImagePayload');
    await server.app.importsIdle();
    const { id, providerId } = result.data!.importImage.image;
    const image = await server.gql<{
      node: { status: string; statusReason: string | null; sizeBytes: number; checksum: { algorithm: string; value: string } };
    }>(IMAGE, { id }, ADMIN.token);
    return { image: image.data!.node, glance: await glanceImage(glanceProjectId(server.dir, 'glance'), providerId) };
  }

  it('ends READY with the size and the sha512 Glance counted, the download made by Glance', async () => {
    const { image, glance } = await importAndWait('/disk');
    const bytes = readFileSync(disk);
    expect(image).toMatchObject({ status: 'READY', sizeBytes: bytes.length });
    expect(image.checksum).toEqual({ algorithm: 'sha512', value: createHash('sha512').update(bytes).digest('hex') });
    expect(glance).toMatchObject({ status: 'active', size: bytes.length });
    expect(images.requests.some((request) => request.path === '/disk' && !request.range && request.finished)).toBe(true);
  });

  it('refuses a qcow2 at the peek: Glance would fetch it, and imagegraph converts only what it downloads itself', async () => {
    const input = {
      region: 'glance',
      organization: 'acme',
      name: 'wd-qcow2',
      uri: images.url('/disk.qcow2'),
      os: { family: 'DEBIAN', distro: 'DEBIAN', version: '12' },
    };
    const result = await server.gql<{ importImage: { __typename: string; message: string } }>(IMPORT, { input }, ADMIN.token);
    expect(result.data!.importImage.__typename).toBe('UnsupportedImageFormatError');
    expect(result.data!.importImage.message).toMatch(/QCOW2.*qemu-img convert.*web-download/);
  });

  it('fails and deactivates an image whose downloaded bytes are not a raw disk any more', async () => {
    const { image, glance } = await importAndWait('/changed');
    expect(image.status).toBe('FAILED');
    expect(image.statusReason).toMatch(/QCOW2/);
    expect(glance).toMatchObject({ status: 'deactivated' });
  });
});
