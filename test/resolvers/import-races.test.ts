import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providerKinds } from '../support/glance.js';
import { startTestServer, type TestServer } from '../support/harness.js';
import { type ImageServer, startImageServer } from '../support/image-server.js';
import { makeMbrDisk } from '../support/mbr-disk.js';

const MEMBER = { token: 't-member', subject: 'alice', organizations: [{ id: 'acme', role: 'MEMBER' as const }] };

const IMPORT = /* GraphQL */ `
  mutation ($input: ImportImageInput!) {
    importImage(input: $input) {
      __typename
      ... on ImportImagePayload {
        image {
          id
          status
        }
      }
      ... on Error {
        code
        message
      }
    }
  }
`;
const DELETE = /* GraphQL */ `
  mutation ($id: ID!) {
    deleteImage(input: { id: $id }) {
      __typename
      ... on Error {
        code
      }
    }
  }
`;
const REGISTER = /* GraphQL */ `
  mutation ($id: ID!) {
    registerImageUse(input: { image: $id, kind: "server", consumerId: "srv-1" }) {
      __typename
      ... on Error {
        code
      }
    }
  }
`;
const STATUS = /* GraphQL */ `
  query ($id: ID!) {
    node(id: $id) {
      ... on Image {
        status
        usedBy {
          consumerId
        }
      }
    }
  }
`;

describe.each(providerKinds())('import races on the %s provider', (kind) => {
  let dir: string;
  let server: TestServer;
  let images: ImageServer;
  let url: (path: string) => string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imagegraph-races-'));
    const disk = makeMbrDisk(dir, 'disk.raw', 4096);
    images = await startImageServer({
      '/disk': disk,
      '/slow': { body: disk, holdUntilReleased: true, holdAfterBytes: 128 * 1024 },
    });
    url = (path) => images.url(path);
    server = await startTestServer({
      regions: [{ id: 'alpha', provider: kind }],
      callers: [MEMBER],
      imports: { allowedHosts: [images.host] },
    });
  });
  afterAll(async () => {
    images.release();
    await server.close();
    await images.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const input = (uri: string, idempotencyKey?: string) => ({
    region: 'alpha',
    organization: 'acme',
    name: 'race',
    uri,
    os: { family: 'DEBIAN', distro: 'DEBIAN', version: '12' },
    ...(idempotencyKey ? { idempotencyKey } : {}),
  });
  const importImage = async (uri: string, key?: string) =>
    (
      await server.gql<{ importImage: { __typename: string; image?: { id: string } } }>(
        IMPORT,
        { input: input(uri, key) },
        MEMBER.token,
      )
    ).data!.importImage;

  it('imports again with an idempotency key whose image was deleted', async () => {
    const first = await importImage(url('/disk'), 'reused-key');
    await server.app.importsIdle();
    expect(
      (await server.gql<{ deleteImage: { __typename: string } }>(DELETE, { id: first.image!.id }, MEMBER.token)).data!.deleteImage
        .__typename,
    ).toBe('DeleteImagePayload');
    const second = await importImage(url('/disk'), 'reused-key');
    expect(second.__typename).toBe('ImportImagePayload');
    expect(second.image!.id).not.toBe(first.image!.id);
    // And the key now stands for the new image.
    expect((await importImage(url('/disk'), 'reused-key')).image!.id).toBe(second.image!.id);
    await server.app.importsIdle();
  });

  it("keeps a use registered while the image's bytes are still being stored", async () => {
    const imported = await importImage(url('/slow'));
    const id = imported.image!.id;
    // Wait until the download is held after its first 128 KiB: bytes are flowing into the provider.
    await images.waitForRequest((request) => request.path === '/slow' && !request.range && request.bytesSent >= 128 * 1024);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const registration = server.gql<{ registerImageUse: { __typename: string } }>(REGISTER, { id }, MEMBER.token);
    setTimeout(() => images.release('/slow'), 500);
    expect((await registration).data!.registerImageUse.__typename).toBe('RegisterImageUsePayload');
    await server.app.importsIdle();
    const after = await server.gql<{ node: { status: string; usedBy: { consumerId: string }[] } }>(STATUS, { id }, MEMBER.token);
    expect(after.data!.node).toEqual({ status: 'READY', usedBy: [{ consumerId: 'srv-1' }] });
    expect(
      (await server.gql<{ deleteImage: { __typename: string } }>(DELETE, { id }, MEMBER.token)).data!.deleteImage.__typename,
    ).toBe('ImageInUseError');
  });
});
