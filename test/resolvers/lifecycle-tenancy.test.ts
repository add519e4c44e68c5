/**
 * The tenancy matrix of the lifecycle mutations (sharing, deprecation, signatures, copies): each of
 * them as the image's owner (acme MEMBER), acme's READER, the organization the image is shared with
 * (partner MEMBER), a third organization (globex MEMBER) and a platform admin. Each cell is the exact
 * union member expected. Then what sharing gives the partner (reads, uses) and what it does not (no
 * change, no delete), that a use held by the partner keeps the image shared, and that nothing the
 * third organization receives carries anything of the shared image.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageRecord } from '../../src/providers/types.js';
import { createOne, newImage } from '../fixtures/images.js';
import { allButKeystone, isOpenStack, providerKinds } from '../support/glance.js';
import { startTestServer, type TestCaller, type TestServer } from '../support/harness.js';

const CALLERS = {
  OWNER: { token: 't-acme-member', subject: 'alice', organizations: [{ id: 'acme', role: 'MEMBER' }] },
  READER: { token: 't-acme-reader', subject: 'rita', organizations: [{ id: 'acme', role: 'READER' }] },
  PARTNER: { token: 't-partner-member', subject: 'pat', organizations: [{ id: 'partner', role: 'MEMBER' }] },
  THIRD: { token: 't-globex-member', subject: 'gina', organizations: [{ id: 'globex', role: 'MEMBER' }] },
  ADMIN: { token: 't-platform', subject: 'root', platformAdmin: true },
} satisfies Record<string, TestCaller>;
type Caller = keyof typeof CALLERS;
/** The order every row is run in: the owner first, the platform admin last. */
const ORDER: Caller[] = ['OWNER', 'READER', 'PARTNER', 'THIRD', 'ADMIN'];

/** The organization each caller copies into (its own; the platform admin copies for acme). */
const OWN_ORGANIZATION: Record<Caller, string> = {
  OWNER: 'acme',
  READER: 'acme',
  PARTNER: 'partner',
  THIRD: 'globex',
  ADMIN: 'acme',
};

type Row = Record<Caller, string>;
const row = (owner: string, reader: string, partner: string, third: string, admin: string): Row => ({
  OWNER: owner,
  READER: reader,
  PARTNER: partner,
  THIRD: third,
  ADMIN: admin,
});

/** The expected union member of each mutation, per caller, on the `shared` image unless the name says. */
const EXPECTED = {
  'shareImage(shared, other2)': row(
    'ShareImagePayload',
    'PermissionDeniedError',
    'PermissionDeniedError',
    'ImageNotFoundError',
    'ShareImagePayload',
  ),
  'unshareImage(shared, other2)': row(
    'UnshareImagePayload',
    'PermissionDeniedError',
    'PermissionDeniedError',
    'ImageNotFoundError',
    'UnshareImagePayload',
  ),
  'deprecateImage(shared)': row(
    'DeprecateImagePayload',
    'PermissionDeniedError',
    'PermissionDeniedError',
    'ImageNotFoundError',
    'DeprecateImagePayload',
  ),
  'undeprecateImage(shared)': row(
    'UndeprecateImagePayload',
    'PermissionDeniedError',
    'PermissionDeniedError',
    'ImageNotFoundError',
    'UndeprecateImagePayload',
  ),
  'deprecateImage(pub)': row(
    'ImageNotOwnedError',
    'ImageNotOwnedError',
    'ImageNotOwnedError',
    'ImageNotOwnedError',
    'DeprecateImagePayload',
  ),
  'setImageSignature(pub)': row(
    'PermissionDeniedError',
    'PermissionDeniedError',
    'PermissionDeniedError',
    'PermissionDeniedError',
    'SetImageSignaturePayload',
  ),
  /** Local: the seeded source is READY. */
  'copyImage(shared) local': row(
    'CopyImagePayload',
    'PermissionDeniedError',
    'CopyImagePayload',
    'ImageNotFoundError',
    'CopyImagePayload',
  ),
  /** OpenStack: Glance has no bytes of the seeded source, so it is PENDING and cannot be copied by anyone who sees it. */
  'copyImage(shared) openstack': row(
    'InvalidInputError',
    'InvalidInputError',
    'InvalidInputError',
    'ImageNotFoundError',
    'InvalidInputError',
  ),
} satisfies Record<string, Row>;

/** Every image field that could carry the image's data or its sharing, asked for everywhere an image appears. */
const IMAGE =
  'id providerId name status visibility organization { id } sharedWith { id } deprecation { at } usedBy { kind consumerId organization { id } }';
const ERROR = '__typename ... on Error { message code } ... on ImageNotFoundError { id }';
const INVALID_INPUT = '... on InvalidInputError { issues { path message } }';
const NOT_OWNED = `... on ImageNotOwnedError { image { ${IMAGE} } }`;
const IN_USE = `... on ImageInUseError { image { ${IMAGE} } usedBy { kind consumerId organization { id } } }`;

/** Each mutation: its input type, its payload and what its payload holds, and the fragments of the other members of its union. */
const MUTATIONS = {
  shareImage: ['ShareImageInput', 'ShareImagePayload', [INVALID_INPUT, NOT_OWNED]],
  unshareImage: ['UnshareImageInput', 'UnshareImagePayload', [NOT_OWNED, IN_USE]],
  deprecateImage: ['DeprecateImageInput', 'DeprecateImagePayload', [INVALID_INPUT, NOT_OWNED]],
  undeprecateImage: ['UndeprecateImageInput', 'UndeprecateImagePayload', [NOT_OWNED]],
  setImageSignature: ['SetImageSignatureInput', 'SetImageSignaturePayload', [INVALID_INPUT]],
  copyImage: ['CopyImageInput', 'CopyImagePayload', [INVALID_INPUT]],
  registerImageUse: ['RegisterImageUseInput', 'RegisterImageUsePayload', [INVALID_INPUT]],
  releaseImageUse: ['ReleaseImageUseInput', 'ReleaseImageUsePayload', []],
  deleteImage: ['DeleteImageInput', 'DeleteImagePayload', [NOT_OWNED, IN_USE]],
} as const;
type Mutation = keyof typeof MUTATIONS;

interface ImageView {
  id: string;
  providerId: string;
  name: string;
  sharedWith: { id: string }[];
  usedBy: { kind: string; consumerId: string; organization: { id: string } | null }[];
  deprecation: { at: string } | null;
}

interface MutationResult {
  __typename: string;
  message?: string;
  issues?: { path: string[]; message: string }[];
  image?: ImageView;
  usedBy?: ImageView['usedBy'];
}

describe.each(providerKinds())('on the %s provider', (kind) => {
  let server: TestServer;
  let shared: ImageRecord;
  let pub: ImageRecord;
  let sharedId: string;
  let pubId: string;
  /** Every raw answer THIRD received, with what was asked. */
  const thirdAnswers: { what: string; text: string }[] = [];
  // The keystone half runs a sample (see allButKeystone): sharing, deprecation of the shared image, reads and uses.
  const sampled = allButKeystone(kind);

  const globalId = (region: string, providerId: string) => Buffer.from(`Image:${region}:${providerId}`).toString('base64url');

  /** POSTs as `caller`; answers the raw body and its JSON (THIRD's bodies are kept for the leak check). */
  async function post(
    caller: Caller,
    what: string,
    query: string,
    variables: Record<string, unknown>,
  ): Promise<{ text: string; json: { data?: Record<string, unknown> | null; errors?: unknown[] } }> {
    const response = await server.app.yoga.fetch('http://imagegraph.test/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${CALLERS[caller].token}` },
      body: JSON.stringify({ query, variables }),
    });
    const text = await response.text();
    if (caller === 'THIRD') thirdAnswers.push({ what, text });
    expect(response.status, text).toBe(200);
    return { text, json: JSON.parse(text) as { data?: Record<string, unknown> | null; errors?: unknown[] } };
  }

  /** One mutation as `caller`: its result (a union member), never a top-level error. */
  async function mutate(caller: Caller, mutation: Mutation, input: Record<string, unknown>): Promise<MutationResult> {
    const [inputType, payload, others] = MUTATIONS[mutation];
    const fields = mutation === 'deleteImage' ? 'deletedImageId' : `image { ${IMAGE} }`;
    const { text, json } = await post(
      caller,
      `${mutation} ${JSON.stringify(input)}`,
      `mutation ($input: ${inputType}!) { result: ${mutation}(input: $input) { ${ERROR} ${(others as readonly string[]).join(' ')} ... on ${payload} { ${fields} } } }`,
      { input },
    );
    expect(json.errors, `${caller} ${mutation}: ${text}`).toBeUndefined();
    return (json.data as { result: MutationResult }).result;
  }

  /** The same mutation as every caller in turn: the __typename each got. */
  async function matrix(mutation: Mutation, input: (caller: Caller) => Record<string, unknown>): Promise<Row> {
    const actual = {} as Row;
    for (const caller of ORDER) actual[caller] = (await mutate(caller, mutation, input(caller))).__typename;
    return actual;
  }

  async function node(caller: Caller, id: string): Promise<ImageView | null> {
    const { text, json } = await post(
      caller,
      `node ${id}`,
      `query ($id: ID!) { node(id: $id) { __typename ... on Image { ${IMAGE} } } }`,
      {
        id,
      },
    );
    expect(json.errors, text).toBeUndefined();
    return (json.data as { node: ImageView | null }).node;
  }

  /** The global IDs `caller` gets listed in alpha, with the given scope (none: the default, AVAILABLE). */
  async function listed(caller: Caller, scope?: 'AVAILABLE' | 'SHARED' | 'OWNED'): Promise<string[]> {
    const { text, json } = await post(
      caller,
      `images ${scope ?? 'default'}`,
      `query ($filter: ImageFilter) { images(region: "alpha", first: 100, filter: $filter) { totalCount nodes { ${IMAGE} } } }`,
      { filter: scope ? { scope } : null },
    );
    expect(json.errors, text).toBeUndefined();
    return (json.data as { images: { nodes: { id: string }[] } }).images.nodes.map((image) => image.id);
  }

  beforeAll(async () => {
    server = await startTestServer({
      regions: [{ id: 'alpha', provider: kind }, { id: 'beta' }],
      callers: Object.values(CALLERS),
    });
    const seed = async (organizationId: string | null, name: string) =>
      createOne(
        server.provider('alpha'),
        newImage({
          organizationId,
          name,
          sizeBytes: 1024 * 1024,
          source: { kind: 'IMPORT', uri: `https://mirror.example/${name}.raw`, createdBy: name, format: null },
        }),
      );
    shared = await seed('acme', 'acme-shared-secret-4b1d');
    pub = await seed(null, 'platform-public-image');
    sharedId = globalId('alpha', shared.id);
    pubId = globalId('alpha', pub.id);
    const share = await mutate('OWNER', 'shareImage', { image: sharedId, organization: 'partner' });
    expect(share.__typename, JSON.stringify(share)).toBe('ShareImagePayload');
    expect(share.image!.sharedWith).toEqual([{ id: 'partner' }]);
  });
  afterAll(() => server?.close());

  it('seeds the shared image PENDING on openstack (Glance holds no bytes of it) and READY on local', () => {
    expect(shared.status).toBe(isOpenStack(kind) ? 'PENDING' : 'READY');
    expect(pub.visibility).toBe('PUBLIC');
  });

  describe('reads', () => {
    it('node(id): every caller but the third organization gets the shared image', async () => {
      const actual = {} as Row;
      for (const caller of ORDER) actual[caller] = (await node(caller, sharedId)) ? 'Image' : 'null';
      expect(actual).toEqual(row('Image', 'Image', 'Image', 'null', 'Image'));
    });

    it('images(region: alpha): the partner lists the shared image by default and with scope SHARED, the third organization in neither', async () => {
      const actual: Record<string, Record<'AVAILABLE' | 'SHARED', string>> = {};
      for (const caller of ['PARTNER', 'THIRD'] as const) {
        actual[caller] = {
          AVAILABLE: (await listed(caller)).includes(sharedId) ? 'listed' : 'absent',
          SHARED: (await listed(caller, 'SHARED')).includes(sharedId) ? 'listed' : 'absent',
        };
      }
      expect(actual).toEqual({
        PARTNER: { AVAILABLE: 'listed', SHARED: 'listed' },
        THIRD: { AVAILABLE: 'absent', SHARED: 'absent' },
      });
      // SHARED is only what was shared: not the public image, which AVAILABLE lists for both.
      expect(await listed('PARTNER', 'SHARED')).toEqual([sharedId]);
      expect(await listed('THIRD', 'SHARED')).toEqual([]);
      expect(await listed('THIRD')).toContain(pubId);
    });

    it("sharedWith: told to the owner's organization and platform admins, not to the partner", async () => {
      const actual: Record<string, string[] | null> = {};
      for (const caller of ORDER) {
        const image = await node(caller, sharedId);
        actual[caller] = image ? image.sharedWith.map((org) => org.id) : null;
      }
      expect(actual).toEqual({ OWNER: ['partner'], READER: ['partner'], PARTNER: [], THIRD: null, ADMIN: ['partner'] });
    });
  });

  describe('lifecycle mutations, caller by caller', () => {
    it('shareImage(shared, other2)', async () => {
      expect(await matrix('shareImage', () => ({ image: sharedId, organization: 'other2' }))).toEqual(
        EXPECTED['shareImage(shared, other2)'],
      );
      expect((await node('OWNER', sharedId))!.sharedWith.map((org) => org.id).sort()).toEqual(['other2', 'partner']);
    });

    it('unshareImage(shared, other2)', async () => {
      expect(await matrix('unshareImage', () => ({ image: sharedId, organization: 'other2' }))).toEqual(
        EXPECTED['unshareImage(shared, other2)'],
      );
      // The partner's share is left alone.
      expect((await node('OWNER', sharedId))!.sharedWith).toEqual([{ id: 'partner' }]);
    });

    it('deprecateImage(shared)', async () => {
      expect(await matrix('deprecateImage', () => ({ image: sharedId }))).toEqual(EXPECTED['deprecateImage(shared)']);
      expect((await node('OWNER', sharedId))!.deprecation).not.toBeNull();
    });

    sampled('undeprecateImage(shared)', async () => {
      expect(await matrix('undeprecateImage', () => ({ image: sharedId }))).toEqual(EXPECTED['undeprecateImage(shared)']);
      expect((await node('OWNER', sharedId))!.deprecation).toBeNull();
    });

    sampled('deprecateImage(pub): a PUBLIC image is the platform admins’ alone', async () => {
      expect(await matrix('deprecateImage', () => ({ image: pubId }))).toEqual(EXPECTED['deprecateImage(pub)']);
      // Back as it was, for the reads that follow.
      expect((await mutate('ADMIN', 'undeprecateImage', { image: pubId })).__typename).toBe('UndeprecateImagePayload');
    });

    sampled('setImageSignature(pub): platform admins only; on an organization image, invalid input even for them', async () => {
      expect(await matrix('setImageSignature', () => ({ image: pubId, signature: 'AAAA' }))).toEqual(
        EXPECTED['setImageSignature(pub)'],
      );
      const onShared = await mutate('ADMIN', 'setImageSignature', { image: sharedId, signature: 'AAAA' });
      expect(onShared.__typename, JSON.stringify(onShared)).toBe('InvalidInputError');
      // Removed again.
      expect((await mutate('ADMIN', 'setImageSignature', { image: pubId, signature: null })).__typename).toBe(
        'SetImageSignaturePayload',
      );
    });

    sampled("copyImage(shared → beta, the caller's own organization)", async () => {
      const actual = await matrix('copyImage', (caller) => ({
        image: sharedId,
        targetRegion: 'beta',
        organization: OWN_ORGANIZATION[caller],
      }));
      expect(actual).toEqual(EXPECTED[isOpenStack(kind) ? 'copyImage(shared) openstack' : 'copyImage(shared) local']);
    });
  });

  describe('uses by the partner, and unsharing', () => {
    const use = { kind: 'server', consumerId: 'partner-vm-1' };
    const usesAtProvider = async () =>
      (await server.provider('alpha').listImageUses([shared.id]))[0]!.map((u) => `${u.organizationId}/${u.kind}/${u.consumerId}`);

    it('registerImageUse(shared): the partner registers a use for itself; the third organization cannot see the image', async () => {
      const partner = await mutate('PARTNER', 'registerImageUse', { image: sharedId, ...use, organization: 'partner' });
      const third = await mutate('THIRD', 'registerImageUse', { image: sharedId, ...use, organization: 'globex' });
      expect({ PARTNER: partner.__typename, THIRD: third.__typename }, JSON.stringify(partner)).toEqual({
        PARTNER: 'RegisterImageUsePayload',
        THIRD: 'ImageNotFoundError',
      });
      expect(partner.image!.usedBy).toEqual([{ ...use, organization: { id: 'partner' } }]);
      expect(await usesAtProvider()).toEqual(['partner/server/partner-vm-1']);
    });

    it('deleteImage(shared): the partner may use the image, not delete it', async () => {
      const result = await mutate('PARTNER', 'deleteImage', { id: sharedId });
      expect(result.__typename, JSON.stringify(result)).toBe('PermissionDeniedError');
      const [still] = await server.provider('alpha').getImages([shared.id]);
      expect(still?.id).toBe(shared.id);
    });

    it('unshareImage(shared, partner): refused while the partner holds a use', async () => {
      // The use registerImageUse made above, put at the provider too (idempotent), so that this case
      // stands whatever that one answered.
      expect(await server.provider('alpha').registerImageUse(shared.id, { ...use, organizationId: 'partner' })).toBe(true);
      const refused = await mutate('OWNER', 'unshareImage', { image: sharedId, organization: 'partner' });
      expect(refused.__typename, JSON.stringify(refused)).toBe('ImageInUseError');
      // The partner's consumers are its own: the owner learns that the image is in use, not by what.
      expect(refused.usedBy).toEqual([]);
      expect((await node('OWNER', sharedId))!.sharedWith).toEqual([{ id: 'partner' }]);
      expect(await node('PARTNER', sharedId)).not.toBeNull();
    });

    it('releaseImageUse(shared) by the partner, then unshareImage(shared, partner) is done and the partner no longer sees the image', async () => {
      const released = await mutate('PARTNER', 'releaseImageUse', { image: sharedId, ...use, organization: 'partner' });
      expect(released.__typename, JSON.stringify(released)).toBe('ReleaseImageUsePayload');
      expect(await usesAtProvider()).toEqual([]);

      const done = await mutate('OWNER', 'unshareImage', { image: sharedId, organization: 'partner' });
      expect(done.__typename, JSON.stringify(done)).toBe('UnshareImagePayload');
      expect(done.image!.sharedWith).toEqual([]);

      expect(await node('PARTNER', sharedId)).toBeNull();
      expect(await listed('PARTNER', 'SHARED')).not.toContain(sharedId);
      expect(await listed('PARTNER')).not.toContain(sharedId);
    });
  });

  it("never puts the shared image's name, provider id or sharing in anything the third organization receives", () => {
    expect(thirdAnswers.length).toBeGreaterThan(0);
    const secrets = [shared.name, shared.id, 'partner', 'other2'];
    const leaks: string[] = [];
    for (const { what, text } of thirdAnswers) {
      for (const secret of secrets) if (text.includes(secret)) leaks.push(`${what} contains ${secret}`);
      // Global IDs are opaque but decodable: none but the one THIRD asked about (echoed back) may name the image.
      for (const [encoded] of text.replaceAll(sharedId, '<asked>').matchAll(/[A-Za-z0-9_-]{20,}/g)) {
        const decoded = Buffer.from(encoded, 'base64url').toString('utf8');
        if (decoded.startsWith('Image:') && decoded.endsWith(shared.id)) leaks.push(`${what} names ${decoded}`);
      }
    }
    expect(leaks).toEqual([]);
  });
});
