import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalog, seed } from '../fixtures/images.js';
import { startTestServer, type TestServer } from '../support/harness.js';

// An `images` selection reads only the record fields it needs (src/resolvers/support/selected-image-fields.ts);
// `progress` is not in its table, so a selection with it reads whole records: both must answer alike.

const MEMBER = 'fields-member';
let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    regions: [{ id: 'local' }],
    callers: [{ token: MEMBER, subject: 'member', organizations: [{ id: 'acme', role: 'MEMBER' }] }],
  });
  const provider = server.provider('local');
  const records = await seed(provider, catalog(['acme', null, 'globex', 'acme'], 16));
  for (const [i, record] of records.entries()) {
    if (record.organizationId === 'acme' && i % 2 === 0) {
      await provider.updateImage(record.id, { shareWith: 'globex' });
      await provider.registerImageUse(record.id, { kind: 'server', consumerId: `vm-${i}`, organizationId: 'acme' });
    }
    if (i % 5 === 1) {
      await provider.updateImage(record.id, {
        deprecation: { at: new Date('2099-01-01T00:00:00Z'), replacementId: records[0]!.id },
      });
    }
  }
});
afterAll(() => server.close());

const SELECTIONS = [
  '__typename',
  'id',
  'providerId',
  'region { id }',
  'name',
  'description',
  'organization { id }',
  'visibility',
  'status',
  'statusReason',
  'diskFormat',
  'sizeBytes',
  'sizeGiB',
  'checksum { algorithm value }',
  'architecture',
  'virtualization',
  'os { kernel family distro version variant codename }',
  'gpu { vendor driver models }',
  'softwareVersions { name version }',
  'tags { name value }',
  'source { kind uri createdBy sourceImageId }',
  'usedBy { kind consumerId }',
  'createdAt',
  'updatedAt',
  'properties { name value }',
  'minDiskGiB',
  'minRamMiB',
  'sourceFormat',
  'sharedWith { id }',
  'deprecation { at replacement { id name } }',
  'signature { status }',
];
const EVERY_FIELD = SELECTIONS.join(' ');

const shapes: { name: string; query: (fields: string) => string }[] = [
  { name: 'nodes', query: (f) => `{ images(region: "local", first: 30) { totalCount nodes { ${f} } } }` },
  {
    name: 'edges and a named fragment',
    query: (f) =>
      `{ images(region: "local", first: 30) { edges { cursor node { ...F } } pageInfo { endCursor } } } fragment F on Image { ${f} }`,
  },
  {
    name: 'inline fragments, a region and an organization',
    query: (f) =>
      `{ region(id: "local") { images(first: 30, orderBy: { field: CREATED_AT, direction: DESC }) { ... on ImageConnection { nodes { ... on Image { ${f} } } } } }
         viewer { organizations { images(region: "local", first: 30) { nodes { ${f} } } } } }`,
  },
];

describe('images selections', () => {
  it.each(shapes)('answer $name the same read in part as read whole', async ({ query }) => {
    const part = await server.gql(query(EVERY_FIELD), undefined, MEMBER);
    const whole = await server.gql(query(`${EVERY_FIELD} progress { phase }`), undefined, MEMBER);
    expect(part.errors).toBeUndefined();
    expect(JSON.stringify(part)).toContain('"sharedWith":[{"id":"globex"}]');
    const withoutProgress = JSON.parse(JSON.stringify(whole), (key, value: unknown) => (key === 'progress' ? undefined : value));
    expect(part).toEqual(withoutProgress);
  });

  it('answers one field at a time as it answers them all', async () => {
    const all = await server.gql<{ images: { nodes: Record<string, unknown>[] } }>(
      `{ images(region: "local", first: 30) { nodes { ${EVERY_FIELD} } } }`,
      undefined,
      MEMBER,
    );
    for (const selection of SELECTIONS) {
      const name = selection.split(' ')[0]!;
      const one = await server.gql<{ images: { nodes: Record<string, unknown>[] } }>(
        `{ images(region: "local", first: 30) { nodes { ${selection} } } }`,
        undefined,
        MEMBER,
      );
      expect(one.data!.images.nodes, name).toEqual(all.data!.images.nodes.map((node) => ({ [name]: node[name] })));
    }
  });
});

describe('the reads of a selection, kept per document', () => {
  it('tells a fragment read alone from the same fragment merged with more fields', async () => {
    // `first` runs the fragment's `images` alone (name only); `merged` merges the same field node with
    // one that asks for tags. The second must not be answered with what was found for the first.
    const query = `{
      first: region(id: "local") { ...Names }
      merged: region(id: "local") { ...Names images(first: 30) { nodes { tags { name value } } } }
    }
    fragment Names on Region { images(first: 30) { nodes { name } } }`;
    const tags = await server.gql<{ images: { nodes: { name: string; tags: unknown[] }[] } }>(
      `{ images(region: "local", first: 30) { nodes { name tags { name value } } } }`,
      undefined,
      MEMBER,
    );
    expect(tags.data!.images.nodes.some((node) => node.tags.length > 0)).toBe(true);
    // Three times: the document is parsed once, then compiled; each run must answer alike.
    for (let run = 0; run < 3; run++) {
      const answer = await server.gql<{ merged: { images: unknown } }>(query, undefined, MEMBER);
      expect(answer.errors).toBeUndefined();
      expect(answer.data!.merged.images, `run ${run}`).toEqual(tags.data!.images);
    }
  });
});
