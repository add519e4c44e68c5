import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-sse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { providerKinds } from '../support/glance.js';
import { startTestServer, type TestServer } from '../support/harness.js';
import { type ImageServer, startImageServer } from '../support/image-server.js';
import { makeMbrDisk } from '../support/mbr-disk.js';

const MEMBER = { token: 't-member', subject: 'alice', organizations: [{ id: 'acme', role: 'MEMBER' as const }] };
const OUTSIDER = { token: 't-outsider', subject: 'olga', organizations: [{ id: 'globex', role: 'MEMBER' as const }] };

const IMPORT = /* GraphQL */ `
  mutation ($input: ImportImageInput!) {
    importImage(input: $input) {
      ... on ImportImagePayload {
        image {
          id
        }
      }
    }
  }
`;
const SUBSCRIBE = 'subscription ($id: ID!) { imageChanged(id: $id) { status sizeBytes } }';

/** Opens the subscription over server-sent events and collects every event until the stream ends. */
async function follow(server: TestServer, id: string, token: string) {
  const response = await server.app.yoga.fetch('http://imagegraph.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query: SUBSCRIBE, variables: { id } }),
  });
  expect(response.headers.get('content-type')).toMatch(/text\/event-stream/);
  const text = await response.text();
  const events = [...text.matchAll(/event: (\w+)\ndata: ?(.*)\n/g)].map(([, event, data]) => ({
    event,
    data: data ? JSON.parse(data) : null,
  }));
  return events;
}

describe.each(providerKinds())('imageChanged on the %s provider', (kind) => {
  let dir: string;
  let images: ImageServer;
  let server: TestServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imagegraph-changed-'));
    const disk = readFileSync(makeMbrDisk(dir, 'disk.raw', 2048));
    images = await startImageServer({ '/disk': { body: disk, holdUntilReleased: true } });
    server = await startTestServer({
      regions: [{ id: 'alpha', provider: kind }],
      callers: [MEMBER, OUTSIDER],
      imports: { allowedHosts: [images.host] },
    });
  });
  afterAll(async () => {
    images.release();
    await server.close();
    await images.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('follows an import from PENDING to READY and then completes', async () => {
    const input = {
      region: 'alpha',
      organization: 'acme',
      name: 'followed',
      uri: images.url('/disk'),
      os: { family: 'DEBIAN', distro: 'DEBIAN', version: '12' },
    };
    const imported = await server.gql<{ importImage: { image: { id: string } } }>(IMPORT, { input }, MEMBER.token);
    const id = imported.data!.importImage.image.id;
    const events = follow(server, id, MEMBER.token);
    setTimeout(() => images.release('/disk'), 300);
    const received = await events;
    const statuses = received.filter((e) => e.event === 'next').map((e) => e.data.data.imageChanged.status);
    expect(statuses[0]).toMatch(/PENDING|CREATING/);
    expect(statuses.at(-1)).toBe('READY');
    expect(received.filter((e) => e.event === 'next').at(-1)!.data.data.imageChanged.sizeBytes).toBe(2048 * 1024);
    expect(received.at(-1)!.event).toBe('complete');
  });

  it("answers another organization's image with IMAGE_NOT_FOUND, like a missing one", async () => {
    const input = {
      region: 'alpha',
      organization: 'acme',
      name: 'secret',
      uri: images.url('/disk'),
      os: { family: 'DEBIAN', distro: 'DEBIAN', version: '12' },
    };
    const imported = await server.gql<{ importImage: { image: { id: string } } }>(IMPORT, { input }, MEMBER.token);
    await server.app.importsIdle();
    const events = await follow(server, imported.data!.importImage.image.id, OUTSIDER.token);
    const next = events.find((e) => e.event === 'next')!;
    expect(next.data.errors[0].extensions.code).toBe('IMAGE_NOT_FOUND');
    expect(JSON.stringify(events)).not.toMatch(/secret/);
  });
});

describe('imageChanged streams per caller', () => {
  let dir: string;
  let images: ImageServer;
  let server: TestServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imagegraph-changed-cap-'));
    images = await startImageServer({
      '/disk': { body: readFileSync(makeMbrDisk(dir, 'disk.raw', 2048)), holdUntilReleased: true },
    });
    server = await startTestServer({
      regions: [{ id: 'alpha' }],
      callers: [MEMBER, OUTSIDER],
      imports: { allowedHosts: [images.host] },
      limits: { maxSubscriptionsPerSubject: 2 },
    });
  });
  afterAll(async () => {
    images.release();
    await server.close();
    await images.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Opens a stream and reads its first event, leaving it open. */
  async function open(id: string, token: string) {
    const abort = new AbortController();
    const response = await server.app.yoga.fetch('http://imagegraph.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: SUBSCRIBE, variables: { id } }),
      signal: abort.signal,
    });
    const reader = response.body!.getReader();
    let text = '';
    while (!/\ndata: .*\n/.test(text)) text += new TextDecoder().decode((await reader.read()).value);
    const data = JSON.parse(/\ndata: (.*)\n/.exec(text)![1]!) as { data?: unknown; errors?: { extensions: { code: string } }[] };
    return {
      data,
      close: () => {
        void reader.cancel();
        abort.abort();
      },
    };
  }

  it("refuses a caller's stream over maxSubscriptionsPerSubject with a GraphQL error, and frees the place on close", async () => {
    const input = {
      region: 'alpha',
      organization: 'acme',
      name: 'watched',
      uri: images.url('/disk'),
      os: { family: 'DEBIAN', distro: 'DEBIAN', version: '12' },
    };
    const imported = await server.gql<{ importImage: { image: { id: string } } }>(IMPORT, { input }, MEMBER.token);
    const id = imported.data!.importImage.image.id;

    const first = await open(id, MEMBER.token);
    const second = await open(id, MEMBER.token);
    expect(first.data.data).toBeDefined();
    expect(second.data.data).toBeDefined();
    const third = await open(id, MEMBER.token);
    expect(third.data.errors?.[0]?.extensions.code).toBe('SUBSCRIPTION_LIMIT_EXCEEDED');
    // Another caller has places of its own (and sees nothing of acme's image).
    expect((await open(id, OUTSIDER.token)).data.errors?.[0]?.extensions.code).toBe('IMAGE_NOT_FOUND');

    first.close();
    for (let attempt = 0; ; attempt++) {
      const again = await open(id, MEMBER.token);
      if (again.data.data) break;
      expect(attempt).toBeLessThan(20);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    second.close();
  });
});

describe('imageChanged with the graphql-sse client', () => {
  let dir: string;
  let images: ImageServer;
  let server: TestServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'imagegraph-changed-sse-'));
    images = await startImageServer({
      '/disk': { body: readFileSync(makeMbrDisk(dir, 'disk.raw', 2048)), holdUntilReleased: true },
    });
    server = await startTestServer({ regions: [{ id: 'alpha' }], callers: [MEMBER], imports: { allowedHosts: [images.host] } });
  });
  afterAll(async () => {
    images.release();
    await server.close();
    await images.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('follows an import in distinct-connections mode, the mode the README names', async () => {
    const input = {
      region: 'alpha',
      organization: 'acme',
      name: 'sse-client',
      uri: images.url('/disk'),
      os: { family: 'DEBIAN', distro: 'DEBIAN', version: '12' },
    };
    const imported = await server.gql<{ importImage: { image: { id: string } } }>(IMPORT, { input }, MEMBER.token);
    const client = createClient({
      url: 'http://imagegraph.test/graphql',
      singleConnection: false,
      headers: { authorization: `Bearer ${MEMBER.token}` },
      fetchFn: (url: string, init?: RequestInit) => server.app.yoga.fetch(new Request(url, init)),
      retryAttempts: 0,
    });
    const statuses: string[] = [];
    setTimeout(() => images.release('/disk'), 300);
    for await (const result of client.iterate<{ imageChanged: { status: string } }>({
      query: SUBSCRIBE,
      variables: { id: imported.data!.importImage.image.id },
    })) {
      statuses.push(result.data!.imageChanged.status);
    }
    client.dispose();
    expect(statuses[0]).toMatch(/PENDING|CREATING/);
    expect(statuses.at(-1)).toBe('READY');
  });
});
