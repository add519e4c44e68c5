import { unusedPort } from '../support/main-process.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/harness.js';

describe('a region whose Glance is unreachable', () => {
  let server: TestServer;
  const MEMBER = { token: 't-member', subject: 'alice', organizations: [{ id: 'acme', role: 'MEMBER' as const }] };

  beforeAll(async () => {
    const glanceUrl = `http://127.0.0.1:${await unusedPort()}`;
    server = await startTestServer({
      regions: [{ id: 'local' }, { id: 'down', provider: 'openstack' }],
      callers: [MEMBER],
      glanceUrl,
    });
  });
  afterAll(() => server.close());

  it('answers PROVIDER_UNAVAILABLE for a listing there', async () => {
    const result = await server.gql(
      '{ down: images(region: "down") { nodes { id } } local: images(region: "local") { nodes { id } } }',
      undefined,
      MEMBER.token,
    );
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]).toMatchObject({ path: ['down'], extensions: { code: 'PROVIDER_UNAVAILABLE', region: 'down' } });
    // images is non-null, so the failed field nulls the whole answer: the error carries the region.
    expect(result.data).toBeNull();
  });

  it('answers ProviderUnavailableError to a mutation there', async () => {
    const result = await server.gql<{ deleteImage: { __typename: string; region: string } }>(
      'mutation { deleteImage(input: { id: "SW1hZ2U6ZG93bjowMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDA" }) { __typename ... on ProviderUnavailableError { region } } }',
      undefined,
      MEMBER.token,
    );
    expect(result.data!.deleteImage).toEqual({ __typename: 'ProviderUnavailableError', region: 'down' });
  });

  it('is not ready, naming the region', async () => {
    const response = await server.app.ops(new Request('http://imagegraph.test/ready'));
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: 'not ready', regions: { local: 'ok', down: 'unavailable' } });
  });
});
