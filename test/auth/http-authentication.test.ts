import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, type TestServer } from '../support/harness.js';

const VIEWER_QUERY = '{ viewer { subject platformAdmin organizations { id role } } }';

const ALICE = {
  token: 'alice-token-5f1c2b',
  subject: 'alice',
  organizations: [
    { id: 'acme', role: 'ADMIN' as const },
    { id: 'globex', role: 'READER' as const },
  ],
};
const ROOT = { token: 'root-token-9a7e44', subject: 'root', platformAdmin: true };

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({ regions: [{ id: 'local' }], callers: [ALICE, ROOT] });
});

afterAll(async () => {
  await server?.close();
});

/** A raw HTTP exchange with the server, keeping status and headers. */
async function post(authorization: string | undefined, query = VIEWER_QUERY): Promise<Response> {
  return server.app.yoga.fetch('http://imagegraph.test/graphql', {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json', ...(authorization ? { authorization } : {}) },
    body: JSON.stringify({ query }),
  });
}

interface GraphQLBody {
  data?: unknown;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

describe('HTTP authentication', () => {
  const badCredentials: [string, string | undefined][] = [
    ['no Authorization header', undefined],
    ['an unknown bearer token', 'Bearer not-a-known-token'],
    ['a Basic credential', 'Basic x'],
    ['the Bearer scheme without a token', 'Bearer'],
    ['a known token with trailing garbage', `Bearer ${ALICE.token} extra`],
    ['a known token without a scheme', ALICE.token],
  ];

  it.each(badCredentials)(
    'answers %s with 401, UNAUTHENTICATED, a Bearer challenge and no data',
    async (_cause, authorization) => {
      const response = await post(authorization);
      const body = (await response.json()) as GraphQLBody;

      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
      expect(body).not.toHaveProperty('data');
      expect(body.errors).toHaveLength(1);
      expect(body.errors![0]!.extensions).toMatchObject({ code: 'UNAUTHENTICATED' });
    },
  );

  it('gives every bad credential the same error message', async () => {
    const messages = new Set<string>();
    for (const [, authorization] of badCredentials) {
      const body = (await (await post(authorization)).json()) as GraphQLBody;
      messages.add(body.errors![0]!.message);
    }

    expect(messages.size).toBe(1);
    expect([...messages][0]).toMatch(/authentication required/i);
  });

  it('refuses introspection without a token', async () => {
    const response = await post(undefined, '{ __schema { queryType { name } } }');

    expect(response.status).toBe(401);
    expect(await response.json()).not.toHaveProperty('data');
  });

  it('refuses a GET query without a token', async () => {
    const response = await server.app.yoga.fetch(`http://imagegraph.test/graphql?query=${encodeURIComponent(VIEWER_QUERY)}`, {
      headers: { accept: 'application/json' },
    });

    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('answers a good token with 200 and the caller as viewer', async () => {
    const response = await post(`Bearer ${ALICE.token}`);

    expect(response.status).toBe(200);
    expect(response.headers.get('www-authenticate')).toBeNull();
    expect(await response.json()).toEqual({
      data: {
        viewer: {
          subject: 'alice',
          platformAdmin: false,
          organizations: [
            { id: 'acme', role: 'ADMIN' },
            { id: 'globex', role: 'READER' },
          ],
        },
      },
    });
  });

  it('tells callers apart by their token', async () => {
    const result = await server.gql<{ viewer: unknown }>(VIEWER_QUERY, undefined, ROOT.token);

    expect(result.status).toBe(200);
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ viewer: { subject: 'root', platformAdmin: true, organizations: [] } });
  });
});
