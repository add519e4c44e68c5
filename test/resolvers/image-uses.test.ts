import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageRecord } from '../../src/providers/types.js';
import { createOne, newImage } from '../fixtures/images.js';
import { allButKeystone, providerKinds } from '../support/glance.js';
import { type GqlResult, startTestServer, type TestCaller, type TestServer } from '../support/harness.js';

const CALLERS = {
  acmeMember: { token: 't-acme-member', subject: 'alice', organizations: [{ id: 'acme', role: 'MEMBER' }] },
  acmeReader: { token: 't-acme-reader', subject: 'rita', organizations: [{ id: 'acme', role: 'READER' }] },
  globexAdmin: { token: 't-globex-admin', subject: 'gary', organizations: [{ id: 'globex', role: 'ADMIN' }] },
  platformAdmin: { token: 't-platform', subject: 'root', platformAdmin: true },
  nobody: { token: 't-nobody', subject: 'nora' },
} satisfies Record<string, TestCaller>;

/** alpha and beta are open; gamma only to acme (and platform admins). beta holds the usedBy listing alone. */
const REGIONS = [{ id: 'alpha' }, { id: 'beta' }, { id: 'gamma', organizations: ['acme'] }];

const USE_FIELDS = 'kind consumerId organization { id } createdAt';

const RESULT_FIELDS = /* GraphQL */ `
  __typename
  ... on Error { message code }
  ... on ImageNotFoundError { id }
  ... on InvalidInputError { issues { path message } }
`;

const REGISTER = /* GraphQL */ `
  mutation Register($input: RegisterImageUseInput!) {
    registerImageUse(input: $input) {
      ${RESULT_FIELDS}
      ... on RegisterImageUsePayload { image { id usedBy { ${USE_FIELDS} } } }
    }
  }
`;

const RELEASE = /* GraphQL */ `
  mutation Release($input: ReleaseImageUseInput!) {
    releaseImageUse(input: $input) {
      __typename
      ... on Error { message code }
      ... on ImageNotFoundError { id }
      ... on ReleaseImageUsePayload { image { id usedBy { ${USE_FIELDS} } } }
    }
  }
`;

interface Use {
  kind: string;
  consumerId: string;
  organization: { id: string } | null;
  createdAt: string;
}

interface UseResult {
  __typename: string;
  message?: string;
  code?: string;
  id?: string;
  issues?: { path: string[]; message: string }[];
  image?: { id: string; usedBy: Use[] };
}

describe.each(providerKinds())('on the %s provider', (kind) => {
  let server: TestServer;
  let counter = 0;
  // The keystone half runs a sample (see allButKeystone).
  const sampled = allButKeystone(kind);

  beforeAll(async () => {
    server = await startTestServer({
      regions: REGIONS.map((region) => ({ ...region, provider: kind })),
      callers: Object.values(CALLERS),
    });
  });
  afterAll(() => server?.close());

  const globalId = (region: string, providerId: string) => Buffer.from(`Image:${region}:${providerId}`).toString('base64url');

  async function seedImage(region: string, organizationId: string | null): Promise<{ record: ImageRecord; id: string }> {
    const record = await createOne(
      server.provider(region),
      newImage({ organizationId, name: `uses-${organizationId ?? 'public'}-${++counter}` }),
    );
    return { record, id: globalId(region, record.id) };
  }

  async function mutate(query: string, caller: TestCaller, input: Record<string, unknown>): Promise<UseResult> {
    const result: GqlResult<Record<string, UseResult>> = await server.gql(query, { input }, caller.token);
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    return Object.values(result.data!)[0]!;
  }
  const register = (caller: TestCaller, input: Record<string, unknown>) => mutate(REGISTER, caller, input);
  const release = (caller: TestCaller, input: Record<string, unknown>) => mutate(RELEASE, caller, input);

  /** `Image.usedBy` as `caller` sees it, reduced to (organization, kind, consumerId), sorted. */
  async function usedBy(caller: TestCaller, id: string): Promise<string[]> {
    const result = await server.gql<{ node: { usedBy: Use[] } | null }>(
      `query ($id: ID!) { node(id: $id) { ... on Image { usedBy { ${USE_FIELDS} } } } }`,
      { id },
      caller.token,
    );
    expect(result.errors).toBeUndefined();
    expect(result.data!.node).not.toBeNull();
    return summarise(result.data!.node!.usedBy);
  }

  const summarise = (uses: Use[]) => uses.map((u) => `${u.organization?.id ?? '-'}/${u.kind}/${u.consumerId}`).sort();

  describe('registerImageUse', () => {
    it('is idempotent: registering twice leaves one use, with the first registration time', async () => {
      const own = await seedImage('alpha', 'acme');
      const first = await register(CALLERS.acmeMember, { image: own.id, kind: 'server', consumerId: 'vm-1' });
      expect(first.__typename).toBe('RegisterImageUsePayload');
      expect(first.image!.id).toBe(own.id);
      expect(summarise(first.image!.usedBy)).toEqual(['acme/server/vm-1']);

      await new Promise((resolve) => setTimeout(resolve, 5));
      const second = await register(CALLERS.acmeMember, { image: own.id, kind: 'server', consumerId: 'vm-1' });
      expect(second.__typename).toBe('RegisterImageUsePayload');
      expect(second.image!.usedBy).toEqual(first.image!.usedBy);
      expect(await server.provider('alpha').listImageUses([own.record.id])).toHaveLength(1);
      expect((await server.provider('alpha').listImageUses([own.record.id]))[0]).toHaveLength(1);

      // Another consumer or another kind is another use.
      await register(CALLERS.acmeMember, { image: own.id, kind: 'server', consumerId: 'vm-2' });
      await register(CALLERS.acmeMember, { image: own.id, kind: 'cluster', consumerId: 'vm-1' });
      expect(await usedBy(CALLERS.acmeMember, own.id)).toEqual(['acme/cluster/vm-1', 'acme/server/vm-1', 'acme/server/vm-2']);
    });

    it("records the owner as the use's organization on an organization's image, whatever `organization` says", async () => {
      const own = await seedImage('alpha', 'acme');
      const result = await register(CALLERS.acmeMember, {
        image: own.id,
        kind: 'server',
        consumerId: 'vm-9',
        organization: 'globex',
      });
      expect(result.__typename).toBe('RegisterImageUsePayload');
      expect(summarise(result.image!.usedBy)).toEqual(['acme/server/vm-9']);
    });

    it("refuses a READER with PermissionDeniedError, on its organization's image and for a PUBLIC one", async () => {
      const own = await seedImage('alpha', 'acme');
      const pub = await seedImage('alpha', null);
      expect(await register(CALLERS.acmeReader, { image: own.id, kind: 'server', consumerId: 'vm-1' })).toMatchObject({
        __typename: 'PermissionDeniedError',
        code: 'PERMISSION_DENIED',
      });
      expect(
        await register(CALLERS.acmeReader, { image: pub.id, kind: 'server', consumerId: 'vm-1', organization: 'acme' }),
      ).toMatchObject({
        __typename: 'PermissionDeniedError',
      });
      // Nor for an organization the caller is not in at all.
      expect(
        await register(CALLERS.acmeMember, { image: pub.id, kind: 'server', consumerId: 'vm-1', organization: 'globex' }),
      ).toMatchObject({
        __typename: 'PermissionDeniedError',
      });
      expect(await usedBy(CALLERS.platformAdmin, own.id)).toEqual([]);
      expect(await usedBy(CALLERS.platformAdmin, pub.id)).toEqual([]);
    });

    sampled('requires `organization` on a PUBLIC image (InvalidInputError), even for a platform admin', async () => {
      const pub = await seedImage('alpha', null);
      for (const caller of [CALLERS.acmeMember, CALLERS.platformAdmin]) {
        expect(await register(caller, { image: pub.id, kind: 'server', consumerId: 'vm-1' })).toMatchObject({
          __typename: 'InvalidInputError',
          code: 'INVALID_INPUT',
          issues: [{ path: ['input', 'organization'] }],
        });
      }
      expect(await usedBy(CALLERS.platformAdmin, pub.id)).toEqual([]);

      const ok = await register(CALLERS.acmeMember, { image: pub.id, kind: 'server', consumerId: 'vm-1', organization: 'acme' });
      expect(ok.__typename).toBe('RegisterImageUsePayload');
      expect(summarise(ok.image!.usedBy)).toEqual(['acme/server/vm-1']);
    });

    sampled(
      "keeps two organizations' uses of one PUBLIC image apart: same kind and consumerId, each sees only its own",
      async () => {
        const pub = await seedImage('alpha', null);
        const use = { image: pub.id, kind: 'server', consumerId: 'shared-name' };
        const acme = await register(CALLERS.acmeMember, { ...use, organization: 'acme' });
        const globex = await register(CALLERS.globexAdmin, { ...use, organization: 'globex' });
        expect(summarise(acme.image!.usedBy)).toEqual(['acme/server/shared-name']);
        // The payload of globex's registration shows globex's use only, not acme's.
        expect(summarise(globex.image!.usedBy)).toEqual(['globex/server/shared-name']);

        expect(await usedBy(CALLERS.acmeMember, pub.id)).toEqual(['acme/server/shared-name']);
        expect(await usedBy(CALLERS.acmeReader, pub.id)).toEqual(['acme/server/shared-name']);
        expect(await usedBy(CALLERS.globexAdmin, pub.id)).toEqual(['globex/server/shared-name']);
        expect(await usedBy(CALLERS.nobody, pub.id)).toEqual([]);
        expect(await usedBy(CALLERS.platformAdmin, pub.id)).toEqual(['acme/server/shared-name', 'globex/server/shared-name']);

        // Nothing of acme's use leaks into globex's raw answer.
        const raw = await server.gql(
          `query ($id: ID!) { node(id: $id) { ... on Image { usedBy { ${USE_FIELDS} } } } }`,
          { id: pub.id },
          CALLERS.globexAdmin.token,
        );
        expect(JSON.stringify(raw)).not.toContain('acme');
      },
    );

    it("answers ImageNotFoundError for another organization's image, a missing one, a hidden region and a malformed id alike", async () => {
      const other = await seedImage('alpha', 'globex');
      const hidden = await seedImage('gamma', 'acme');
      const cases: [TestCaller, string][] = [
        [CALLERS.acmeMember, other.id],
        [CALLERS.acmeMember, globalId('alpha', '00000000-0000-4000-8000-000000000000')],
        [CALLERS.acmeMember, globalId('nowhere', other.record.id)],
        [CALLERS.globexAdmin, hidden.id],
        [CALLERS.acmeMember, 'garbage'],
      ];
      for (const [caller, id] of cases) {
        for (const mutation of [REGISTER, RELEASE]) {
          const response = await server.gql(
            mutation,
            { input: { image: id, kind: 'server', consumerId: 'vm-1', organization: 'acme' } },
            caller.token,
          );
          expect(JSON.parse(JSON.stringify(response).replaceAll(id, '<id>'))).toEqual({
            status: 200,
            data: {
              [mutation === REGISTER ? 'registerImageUse' : 'releaseImageUse']: {
                __typename: 'ImageNotFoundError',
                code: 'IMAGE_NOT_FOUND',
                message: 'Image "<id>" not found',
                id: '<id>',
              },
            },
          });
        }
      }
      expect(await usedBy(CALLERS.platformAdmin, other.id)).toEqual([]);
      expect(await usedBy(CALLERS.platformAdmin, hidden.id)).toEqual([]);
    });

    it('answers a malformed kind or consumerId with InvalidInputError in the union', async () => {
      const own = await seedImage('alpha', 'acme');
      expect(await register(CALLERS.acmeMember, { image: own.id, kind: 'Has Space', consumerId: 'vm-1' })).toMatchObject({
        __typename: 'InvalidInputError',
        code: 'INVALID_INPUT',
        issues: [{ path: ['input', 'kind'] }],
      });
      expect(await register(CALLERS.acmeMember, { image: own.id, kind: 'server', consumerId: '' })).toMatchObject({
        __typename: 'InvalidInputError',
        issues: [{ path: ['input', 'consumerId'] }],
      });
      expect(await register(CALLERS.acmeMember, { image: own.id, kind: 'server', consumerId: 'x'.repeat(256) })).toMatchObject({
        __typename: 'InvalidInputError',
        issues: [{ path: ['input', 'consumerId'] }],
      });
      expect(await usedBy(CALLERS.acmeMember, own.id)).toEqual([]);
    });

    it('lists every issue of an invalid use input, not only the first', async () => {
      const own = await seedImage('alpha', 'acme');
      const result = await register(CALLERS.acmeMember, { image: own.id, kind: 'Has Space', consumerId: '' });
      expect(result.__typename).toBe('InvalidInputError');
      expect(result.issues!.map((issue) => issue.path.join('.')).sort()).toEqual(['input.consumerId', 'input.kind']);
    });

    it('answers a malformed kind on release with an INVALID_INPUT error (its union has no InvalidInputError)', async () => {
      const own = await seedImage('alpha', 'acme');
      const result = await server.gql(
        RELEASE,
        { input: { image: own.id, kind: 'Has Space', consumerId: 'vm-1' } },
        CALLERS.acmeMember.token,
      );
      expect(result.data).toBeNull();
      expect(result.errors?.[0]?.extensions).toMatchObject({ code: 'INVALID_INPUT', issues: [{ path: ['input', 'kind'] }] });
    });
  });

  describe('releaseImageUse', () => {
    sampled('is idempotent: releasing twice, or a use never registered, answers the payload', async () => {
      const own = await seedImage('alpha', 'acme');
      await register(CALLERS.acmeMember, { image: own.id, kind: 'server', consumerId: 'vm-1' });
      await register(CALLERS.acmeMember, { image: own.id, kind: 'server', consumerId: 'vm-2' });

      const released = await release(CALLERS.acmeMember, { image: own.id, kind: 'server', consumerId: 'vm-1' });
      expect(released.__typename).toBe('ReleaseImageUsePayload');
      expect(summarise(released.image!.usedBy)).toEqual(['acme/server/vm-2']);
      const again = await release(CALLERS.acmeMember, { image: own.id, kind: 'server', consumerId: 'vm-1' });
      expect(again.__typename).toBe('ReleaseImageUsePayload');
      expect(summarise(again.image!.usedBy)).toEqual(['acme/server/vm-2']);
      const unknown = await release(CALLERS.acmeMember, { image: own.id, kind: 'cluster', consumerId: 'never-registered' });
      expect(unknown.__typename).toBe('ReleaseImageUsePayload');
      expect(await usedBy(CALLERS.acmeMember, own.id)).toEqual(['acme/server/vm-2']);
    });

    sampled("refuses a READER on its organization's image and leaves the use", async () => {
      const own = await seedImage('alpha', 'acme');
      await register(CALLERS.acmeMember, { image: own.id, kind: 'server', consumerId: 'vm-1' });
      expect(await release(CALLERS.acmeReader, { image: own.id, kind: 'server', consumerId: 'vm-1' })).toMatchObject({
        __typename: 'PermissionDeniedError',
        code: 'PERMISSION_DENIED',
      });
      expect(await usedBy(CALLERS.acmeMember, own.id)).toEqual(['acme/server/vm-1']);
    });

    sampled("on a PUBLIC image without `organization` releases only the caller's MEMBER organizations' uses", async () => {
      const pub = await seedImage('alpha', null);
      const use = { image: pub.id, kind: 'server', consumerId: 'web-1' };
      await register(CALLERS.acmeMember, { ...use, organization: 'acme' });
      await register(CALLERS.globexAdmin, { ...use, organization: 'globex' });

      const released = await release(CALLERS.acmeMember, use);
      expect(released.__typename).toBe('ReleaseImageUsePayload');
      expect(released.image!.usedBy).toEqual([]);
      expect(await usedBy(CALLERS.platformAdmin, pub.id)).toEqual(['globex/server/web-1']);

      // Naming another organization is refused, and changes nothing.
      expect(await release(CALLERS.acmeMember, { ...use, organization: 'globex' })).toMatchObject({
        __typename: 'PermissionDeniedError',
      });
      expect(await usedBy(CALLERS.platformAdmin, pub.id)).toEqual(['globex/server/web-1']);

      // Naming its own organization releases that one only.
      await register(CALLERS.acmeMember, { ...use, organization: 'acme' });
      expect((await release(CALLERS.globexAdmin, { ...use, organization: 'globex' })).__typename).toBe('ReleaseImageUsePayload');
      expect(await usedBy(CALLERS.platformAdmin, pub.id)).toEqual(['acme/server/web-1']);
    });

    sampled("by a caller with no MEMBER organization, on a PUBLIC image, does nothing to anyone's uses", async () => {
      const pub = await seedImage('alpha', null);
      const use = { image: pub.id, kind: 'server', consumerId: 'db-1' };
      await register(CALLERS.acmeMember, { ...use, organization: 'acme' });
      await register(CALLERS.globexAdmin, { ...use, organization: 'globex' });

      for (const caller of [CALLERS.acmeReader, CALLERS.nobody]) {
        const result = await release(caller, use);
        expect(result.__typename).toBe('ReleaseImageUsePayload');
        expect(await usedBy(CALLERS.platformAdmin, pub.id)).toEqual(['acme/server/db-1', 'globex/server/db-1']);
      }
      // A READER naming its organization is refused.
      expect(await release(CALLERS.acmeReader, { ...use, organization: 'acme' })).toMatchObject({
        __typename: 'PermissionDeniedError',
      });
      expect(await usedBy(CALLERS.platformAdmin, pub.id)).toEqual(['acme/server/db-1', 'globex/server/db-1']);
    });

    sampled(
      "by a platform admin without `organization` releases every organization's matching use of a PUBLIC image",
      async () => {
        const pub = await seedImage('alpha', null);
        const use = { image: pub.id, kind: 'server', consumerId: 'lb-1' };
        await register(CALLERS.acmeMember, { ...use, organization: 'acme' });
        await register(CALLERS.globexAdmin, { ...use, organization: 'globex' });
        await register(CALLERS.globexAdmin, { ...use, consumerId: 'lb-2', organization: 'globex' });

        expect((await release(CALLERS.platformAdmin, use)).__typename).toBe('ReleaseImageUsePayload');
        expect(await usedBy(CALLERS.platformAdmin, pub.id)).toEqual(['globex/server/lb-2']);
      },
    );
  });

  describe('Image.usedBy in a listing', () => {
    // Each use is a Glance round trip or two: the openstack halves list fewer images.
    const listed = { local: 30, openstack: 12, 'openstack-keystone': 3 }[kind];

    it(`loads the uses of ${listed} listed images in one provider call, showing each caller only readable organizations' uses`, async () => {
      const provider = server.provider('beta');
      const expected = new Map<string, { acme: string[]; admin: string[] }>();
      for (let i = 0; i < listed; i++) {
        const owner = i % 3 === 0 ? null : 'acme';
        const image = await createOne(
          provider,
          newImage({ organizationId: owner, name: `listed-${String(i).padStart(2, '0')}` }),
        );
        const uses = [{ kind: 'server', consumerId: `vm-${i}`, organizationId: 'acme' }];
        if (i % 2 === 0) uses.push({ kind: 'cluster', consumerId: `k8s-${i}`, organizationId: 'acme' });
        // On PUBLIC images, globex holds a use as well, which acme must not see.
        if (owner === null) uses.push({ kind: 'server', consumerId: `globex-vm-${i}`, organizationId: 'globex' });
        for (const use of uses) expect(await provider.registerImageUse(image.id, use)).toBe(true);
        const all = uses.map((u) => `${u.organizationId}/${u.kind}/${u.consumerId}`).sort();
        expected.set(globalId('beta', image.id), { acme: all.filter((u) => u.startsWith('acme/')), admin: all });
      }

      const query = /* GraphQL */ `
        query {
          images(region: "beta", first: ${listed}) {
            nodes { id usedBy { ${USE_FIELDS} } }
            edges { node { id usedBy { kind consumerId } } }
          }
        }
      `;
      for (const [caller, view] of [
        [CALLERS.acmeMember, 'acme'],
        [CALLERS.platformAdmin, 'admin'],
      ] as const) {
        const labels = { region: 'beta', operation: 'listImageUses' };
        const before = await server.metric('imagegraph_provider_calls_total', labels);
        const result = await server.gql<{ images: { nodes: { id: string; usedBy: Use[] }[] } }>(query, undefined, caller.token);
        const after = await server.metric('imagegraph_provider_calls_total', labels);
        expect(result.errors).toBeUndefined();
        expect(after - before).toBe(1);

        const nodes = result.data!.images.nodes;
        expect(nodes).toHaveLength(listed);
        for (const node of nodes) {
          expect(summarise(node.usedBy), node.id).toEqual(expected.get(node.id)![view]);
          for (const use of node.usedBy) expect(Number.isNaN(Date.parse(use.createdAt))).toBe(false);
        }
        if (caller === CALLERS.acmeMember) expect(JSON.stringify(result)).not.toContain('globex');
      }
    });
  });

  describe('uses seen after a change in the same request or over a subscription', () => {
    it('answers each mutation of a document with the uses as they are after it', async () => {
      const own = await seedImage('alpha', 'acme');
      const result = await server.gql<Record<'a' | 'b' | 'c', { image: { usedBy: Use[] } }>>(
        `mutation ($id: ID!) {
          a: registerImageUse(input: { image: $id, kind: "server", consumerId: "vm-1" }) { ... on RegisterImageUsePayload { image { usedBy { ${USE_FIELDS} } } } }
          b: registerImageUse(input: { image: $id, kind: "server", consumerId: "vm-2" }) { ... on RegisterImageUsePayload { image { usedBy { ${USE_FIELDS} } } } }
          c: releaseImageUse(input: { image: $id, kind: "server", consumerId: "vm-1" }) { ... on ReleaseImageUsePayload { image { usedBy { ${USE_FIELDS} } } } }
        }`,
        { id: own.id },
        CALLERS.acmeMember.token,
      );
      expect(result.errors).toBeUndefined();
      expect(summarise(result.data!.a.image.usedBy)).toEqual(['acme/server/vm-1']);
      expect(summarise(result.data!.b.image.usedBy)).toEqual(['acme/server/vm-1', 'acme/server/vm-2']);
      expect(summarise(result.data!.c.image.usedBy)).toEqual(['acme/server/vm-2']);
    });

    it('emits imageChanged again when a use is registered on an image that is still importing', async () => {
      const record = await createOne(
        server.provider('alpha'),
        newImage({ organizationId: 'acme', name: `pending-${++counter}`, status: 'PENDING', sizeBytes: null, checksum: null }),
      );
      const id = globalId('alpha', record.id);
      const response = await server.app.yoga.fetch('http://imagegraph.test/graphql', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          authorization: `Bearer ${CALLERS.acmeMember.token}`,
        },
        body: JSON.stringify({
          query: `subscription ($id: ID!) { imageChanged(id: $id) { status usedBy { ${USE_FIELDS} } } }`,
          variables: { id },
        }),
      });
      const reader = response.body!.getReader();
      const decoder = new TextDecoder();
      let buffer = '';
      /** The data of the next `next` event, or null when none comes within `ms`. */
      const nextEvent = async (ms: number): Promise<{ status: string; usedBy: Use[] } | null> => {
        const deadline = Date.now() + ms;
        for (;;) {
          const match = /event: next\ndata: ([^\n]*)\n\n/.exec(buffer);
          if (match) {
            buffer = buffer.slice(match.index + match[0].length);
            return (JSON.parse(match[1]!) as { data: { imageChanged: { status: string; usedBy: Use[] } } }).data.imageChanged;
          }
          const left = deadline - Date.now();
          if (left <= 0) return null;
          const chunk = await Promise.race([
            reader.read(),
            new Promise<null>((resolve) => setTimeout(() => resolve(null), left)),
          ]);
          if (!chunk || chunk.done) return null;
          buffer += decoder.decode(chunk.value, { stream: true });
        }
      };
      try {
        expect(await nextEvent(5_000)).toEqual({ status: 'PENDING', usedBy: [] });
        expect((await register(CALLERS.acmeMember, { image: id, kind: 'server', consumerId: 'vm-1' })).__typename).toBe(
          'RegisterImageUsePayload',
        );
        // The registration publishes an event, which wakes the subscription at once: a second is plenty.
        const next = await nextEvent(1_000);
        expect(next).not.toBeNull();
        expect(summarise(next!.usedBy)).toEqual(['acme/server/vm-1']);
      } finally {
        await reader.cancel();
      }
    });
  });
});
