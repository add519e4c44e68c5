import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImageRecord } from '../../src/providers/types.js';
import { catalog, seed } from '../fixtures/images.js';
import { isOpenStack, providerKinds } from '../support/glance.js';
import { startTestServer, type TestServer } from '../support/harness.js';

const ACME = { token: 't-acme', subject: 'alice', organizations: [{ id: 'acme', role: 'MEMBER' as const }] };
const GLOBEX = { token: 't-globex', subject: 'gary', organizations: [{ id: 'globex', role: 'ADMIN' as const }] };
const ADMIN = { token: 't-admin', subject: 'root', platformAdmin: true };

describe.each(providerKinds())('on the %s provider', (kind) => {
  let server: TestServer;
  const images = new Map<string, ImageRecord[]>();

  beforeAll(async () => {
    server = await startTestServer({
      regions: [{ id: 'alpha' }, { id: 'beta' }, { id: 'gamma', organizations: ['acme'] }].map((region) => ({
        ...region,
        provider: kind,
      })),
      callers: [ACME, GLOBEX, ADMIN],
    });
    for (const region of ['alpha', 'beta', 'gamma']) {
      images.set(region, await seed(server.provider(region), catalog([null, 'acme', 'globex'], 6)));
    }
  });
  afterAll(() => server.close());

  /** Runs a request and returns how much each counter grew. */
  async function measured(query: string, token: string, variables?: Record<string, unknown>) {
    const before = {
      batches: await server.metric('imagegraph_access_batches_total'),
      keys: await server.metric('imagegraph_access_keys_total'),
    };
    const calls = async () =>
      Object.fromEntries(
        await Promise.all(
          ['alpha', 'beta', 'gamma'].flatMap((region) =>
            ['queryImages', 'countImages', 'getImages'].map(
              async (operation) =>
                [
                  `${region}.${operation}`,
                  await server.metric('imagegraph_provider_calls_total', { region, operation }),
                ] as const,
            ),
          ),
        ),
      );
    const callsBefore = await calls();
    const result = await server.gql(query, variables, token);
    const callsAfter = await calls();
    return {
      result,
      batches: (await server.metric('imagegraph_access_batches_total')) - before.batches,
      keys: (await server.metric('imagegraph_access_keys_total')) - before.keys,
      providerCalls: Object.fromEntries(
        Object.entries(callsAfter)
          .map(([key, value]) => [key, value - callsBefore[key]!] as const)
          .filter(([, delta]) => delta > 0),
      ),
    };
  }

  const globalId = (region: string, id: string) => Buffer.from(`Image:${region}:${id}`).toString('base64url');

  describe('region access', () => {
    it('decides every region of a request in one batch and asks each provider once per distinct query', async () => {
      const alpha = images.get('alpha')!;
      const query = /* GraphQL */ `
        query ($a: ID!, $b: ID!) {
          a: images(region: "alpha") {
            totalCount
            nodes {
              name
              region {
                id
              }
            }
          }
          b: images(region: "beta") {
            nodes {
              region {
                name
              }
            }
          }
          c: images(region: "gamma") {
            nodes {
              id
            }
          }
          again: images(region: "alpha") {
            nodes {
              id
            }
          }
          regions {
            id
            images {
              totalCount
              nodes {
                id
                region {
                  id
                }
              }
            }
          }
          one: node(id: $a) {
            id
          }
          two: node(id: $b) {
            id
          }
          viewer {
            organizations {
              images(region: "beta") {
                nodes {
                  id
                }
              }
            }
          }
        }
      `;
      const { result, batches, keys, providerCalls } = await measured(query, ACME.token, {
        a: globalId('alpha', alpha[0]!.id),
        b: globalId('alpha', alpha[1]!.id),
      });
      expect(result.errors).toBeUndefined();
      expect(batches).toBe(1);
      expect(keys).toBe(3);
      expect(providerCalls).toEqual({
        // a, again and regions.images share one query; totalCount is one count.
        'alpha.queryImages': 1,
        'alpha.countImages': 1,
        'alpha.getImages': 1,
        // b and regions.images share one query; the OWNED listing of acme is another.
        'beta.queryImages': 2,
        'beta.countImages': 1,
        'gamma.queryImages': 1,
        'gamma.countImages': 1,
      });
    });

    it('makes no access decision for a request that touches no region', async () => {
      const { batches, providerCalls } = await measured('{ viewer { subject } }', ACME.token);
      expect(batches).toBe(0);
      expect(providerCalls).toEqual({});
    });

    it('answers a hidden region exactly like a missing one', async () => {
      const hidden = await server.gql('{ images(region: "gamma") { totalCount } }', undefined, GLOBEX.token);
      const missing = await server.gql('{ images(region: "delta") { totalCount } }', undefined, GLOBEX.token);
      const normalise = (value: unknown) => JSON.stringify(value).replaceAll('gamma', 'X').replaceAll('delta', 'X');
      expect(hidden.errors?.[0]?.extensions?.code).toBe('REGION_NOT_FOUND');
      expect(normalise(hidden)).toBe(normalise(missing));

      const lookups = await server.gql(
        '{ hidden: region(id: "gamma") { id } missing: region(id: "delta") { id } regions { id } }',
        undefined,
        GLOBEX.token,
      );
      expect(lookups.data).toEqual({ hidden: null, missing: null, regions: [{ id: 'alpha' }, { id: 'beta' }] });
    });

    it("shows a restricted region to its organization's members and to platform admins", async () => {
      for (const caller of [ACME, ADMIN]) {
        const result = await server.gql('{ region(id: "gamma") { id provider } regions { id } }', undefined, caller.token);
        expect(result.data).toEqual({
          region: { id: 'gamma', provider: isOpenStack(kind) ? 'OPENSTACK' : 'LOCAL' },
          regions: [{ id: 'alpha' }, { id: 'beta' }, { id: 'gamma' }],
        });
      }
    });

    it('finds no node in a hidden region, of another organization, or that does not exist', async () => {
      const gammaImage = images.get('gamma')!.find((image) => image.organizationId === 'acme')!;
      const acmeImage = images.get('alpha')!.find((image) => image.organizationId === 'acme')!;
      const publicImage = images.get('alpha')!.find((image) => image.organizationId === null)!;
      const result = await server.gql(
        `query ($hidden: ID!, $other: ID!, $missing: ID!, $public: ID!) {
          hidden: node(id: $hidden) { id } other: node(id: $other) { id } missing: node(id: $missing) { id }
          garbage: node(id: "not-an-id") { id } public: node(id: $public) { id ... on Image { name } }
        }`,
        {
          hidden: globalId('gamma', gammaImage.id),
          other: globalId('alpha', acmeImage.id),
          missing: globalId('alpha', '00000000-0000-0000-0000-000000000000'),
          public: globalId('alpha', publicImage.id),
        },
        GLOBEX.token,
      );
      expect(result.data).toEqual({
        hidden: null,
        other: null,
        missing: null,
        garbage: null,
        public: { id: globalId('alpha', publicImage.id), name: publicImage.name },
      });
    });

    it("lists an organization's images only for callers who may read it", async () => {
      const query =
        '{ viewer { organizations { id role images(region: "alpha") { totalCount nodes { organization { id } } } } } }';
      const result = await server.gql<{
        viewer: {
          organizations: {
            id: string;
            role: string;
            images: { totalCount: number | null; nodes: { organization: { id: string } }[] };
          }[];
        };
      }>(query, undefined, ACME.token);
      const [acme] = result.data!.viewer.organizations;
      expect(acme!.role).toBe('MEMBER');
      // Glance cannot count cheaply: totalCount is null there.
      expect(acme!.images.totalCount).toBe(isOpenStack(kind) ? null : 2);
      expect(acme!.images.nodes).toHaveLength(2);
      expect(new Set(acme!.images.nodes.map((n) => n.organization.id))).toEqual(new Set(['acme']));
    });
  });
});
