import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { providerKinds } from '../support/glance.js';
import { startTestServer, type TestServer } from '../support/harness.js';
import { type ImageServer, startImageServer } from '../support/image-server.js';
import { makeMbrDisk } from '../support/mbr-disk.js';

const ACME = { token: 't-acme', subject: 'alice', organizations: [{ id: 'acme', role: 'MEMBER' as const }] };
const GLOBEX = { token: 't-globex', subject: 'gary', organizations: [{ id: 'globex', role: 'MEMBER' as const }] };

const IMPORT = /* GraphQL */ `
  mutation ($input: ImportImageInput!) {
    importImage(input: $input) {
      __typename
      ... on Error {
        code
        message
      }
      ... on QuotaExceededError {
        limit
      }
      ... on ImportImagePayload {
        image {
          id
          status
        }
      }
    }
  }
`;
const STATUS = 'query ($id: ID!) { node(id: $id) { ... on Image { status statusReason } } }';

interface Imported {
  __typename: string;
  code?: string;
  message?: string;
  limit?: number;
  image?: { id: string; status: string };
}

describe.each(providerKinds().filter((kind) => kind !== 'openstack-keystone'))('import limits on the %s provider', (kind) => {
  let dir: string;
  let disk: string;
  let images: ImageServer;
  let server: TestServer | undefined;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imagegraph-import-limits-'));
    disk = makeMbrDisk(dir, 'disk.raw', 32 * 1024);
    images = await startImageServer({
      '/held': { body: disk, holdUntilReleased: true },
      // One byte every 20 s once the peek is answered: it would hold a slot for days.
      '/dribble': { body: disk, throttle: { chunkBytes: 1, delayMs: 20_000 } },
      // 256 KiB every 100 ms: fast enough for the pace, far too slow for a 2 s deadline.
      '/slow': { body: disk, throttle: { chunkBytes: 256 * 1024, delayMs: 100 } },
      '/fast': disk,
    });
  });
  afterEach(async () => {
    images.release();
    await server?.close();
    server = undefined;
  });
  afterAll(async () => {
    await images.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (limits: Record<string, unknown>, maxConcurrent = 2) =>
    startTestServer({
      regions: [{ id: 'alpha', provider: kind }],
      callers: [ACME, GLOBEX],
      imports: { allowedHosts: [images.host], maxConcurrent },
      limits,
    });

  const importFrom = async (caller: typeof ACME, path: string, name: string, idempotencyKey?: string): Promise<Imported> => {
    const input = {
      region: 'alpha',
      organization: caller.organizations[0]!.id,
      name,
      uri: images.url(path),
      os: { family: 'DEBIAN', distro: 'DEBIAN', version: '12' },
      ...(idempotencyKey ? { idempotencyKey } : {}),
    };
    return (await server!.gql<{ importImage: Imported }>(IMPORT, { input }, caller.token)).data!.importImage;
  };

  const settled = async (id: string, token: string, timeoutMs = 30_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const image = (await server!.gql<{ node: { status: string; statusReason: string | null } }>(STATUS, { id }, token)).data!
        .node;
      if (image.status === 'READY' || image.status === 'FAILED') return image;
      if (Date.now() > deadline) throw new Error(`still ${image.status} after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };

  it('refuses an organization over its quota with QuotaExceededError, while others and retries go on', async () => {
    server = await start({ importsPerOrganization: 2 }, 1);
    const first = await importFrom(ACME, '/held', 'q-1', 'key-1');
    const second = await importFrom(ACME, '/held', 'q-2');
    expect([first.__typename, second.__typename]).toEqual(['ImportImagePayload', 'ImportImagePayload']);

    const third = await importFrom(ACME, '/held', 'q-3');
    expect(third).toMatchObject({ __typename: 'QuotaExceededError', code: 'QUOTA_EXCEEDED', limit: 2 });
    expect(third.message).toMatch(/acme.*2 imports/);
    // A retry of an accepted import is not a new one; another organization has its own quota.
    expect((await importFrom(ACME, '/held', 'q-1', 'key-1')).image?.id).toBe(first.image!.id);
    expect((await importFrom(GLOBEX, '/held', 'g-1')).__typename).toBe('ImportImagePayload');

    images.release('/held');
    expect((await settled(first.image!.id, ACME.token)).status).toBe('READY');
    expect((await settled(second.image!.id, ACME.token)).status).toBe('READY');
    expect((await importFrom(ACME, '/fast', 'q-4')).__typename).toBe('ImportImagePayload');
  });

  it('fails downloads that dribble below the minimum pace, and another tenant is not kept waiting meanwhile', async () => {
    server = await start({ importMinBytesPerSecond: 65_536, importThroughputWindowSeconds: 2 });
    const stalled = [await importFrom(ACME, '/dribble', 'd-1'), await importFrom(ACME, '/dribble', 'd-2')];
    const other = await importFrom(GLOBEX, '/fast', 'g-fast');

    const started = Date.now();
    expect((await settled(other.image!.id, GLOBEX.token, 10_000)).status).toBe('READY');
    for (const { image } of stalled) {
      const ended = await settled(image!.id, ACME.token);
      expect(ended.status).toBe('FAILED');
      expect(ended.statusReason).toMatch(/below the minimum of 65536 \(limits\.importMinBytesPerSecond\)/);
    }
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('fails a download that takes longer than the whole-import deadline', async () => {
    server = await start({ importDeadlineSeconds: 2 });
    const slow = await importFrom(ACME, '/slow', 'slow');
    const ended = await settled(slow.image!.id, ACME.token);
    expect(ended.status).toBe('FAILED');
    expect(ended.statusReason).toMatch(/did not finish within 2 s \(limits\.importDeadlineSeconds\)/);
  });
});
