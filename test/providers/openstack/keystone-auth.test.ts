import { unusedPort } from '../../support/main-process.js';
/**
 * KeystoneAuth against the real Keystone and the Glance in its keystone pipeline started for the run
 * (test/global-setup.ts): tokens reused and issued one at a time, renewed after a real expiry and a
 * revocation, and every Keystone failure answered as PROVIDER_UNAVAILABLE with a log line for the
 * operator that carries neither secrets nor tokens.
 *
 * Token requests are counted in Keystone's own gunicorn access log (`POST /v3/auth/tokens`). So that
 * other test files running in parallel against the same Keystone do not count, each test sends
 * imagegraph's Keystone requests from a loopback address of its own (undici's global dispatcher, which
 * KeystoneAuth uses, bound to a random 127.x.y.z; the log's first field is the client address).
 */
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Agent, type Dispatcher, getGlobalDispatcher, setGlobalDispatcher } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import type { Logger } from '../../../src/logger.js';
import type { GlanceAuth } from '../../../src/providers/openstack/glance-auth.js';
import { KeystoneAuth } from '../../../src/providers/openstack/keystone-auth.js';
import { OpenStackImageProvider } from '../../../src/providers/openstack/openstack-provider.js';
import type { ResilientProvider } from '../../../src/provider-access/resilient-provider.js';
import { startTestServer, type TestServer } from '../../support/harness.js';
import {
  createProject,
  type KeystoneProject,
  openstack,
  revokeToken,
  shortLivedToken,
  tokenIsValid,
  tokenRequests,
} from '../../support/keystone.js';

const setup = openstack();
const MEMBER = { token: 't-member', subject: 'alice', organizations: [{ id: 'acme', role: 'MEMBER' as const }] };
/** One Glance call per request: acme's own images only (no public stream). */
const LIST = '{ images(region: "ks", filter: { scope: OWNED }) { nodes { id } } }';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

if (!setup) {
  it('needs a real Keystone', (ctx) => {
    ctx.skip('no Keystone here: install python3-keystone with scripts/openstack.sh install (see test/global-setup.ts)');
  });
}

/** A loopback address no other test uses: imagegraph's Keystone requests come from it while `use`d. */
function clientAddress(): { address: string; use(): void } {
  const byte = () => Math.floor(Math.random() * 250) + 2;
  const address = `127.${byte()}.${byte()}.${byte()}`;
  return {
    address,
    use() {
      const agent = new Agent({ localAddress: address });
      dispatchers.push({ previous: getGlobalDispatcher(), agent });
      setGlobalDispatcher(agent);
    },
  };
}
const dispatchers: { previous: Dispatcher; agent: Agent }[] = [];

/** The token requests from `address` since `before`, once gunicorn has written their log lines. */
async function tokenRequestsSince(address: string, before: number, atLeast: number): Promise<number> {
  const count = () => tokenRequests(address)! - before;
  const deadline = Date.now() + 3_000;
  while (count() < atLeast && Date.now() < deadline) await sleep(50);
  // A moment more, for a request that should not have been made.
  await sleep(250);
  return count();
}

/** The counting tests need the access log; OPENSTACK_JSON of a Keystone elsewhere has none here. */
function needsAccessLog(ctx: TestContext) {
  if (tokenRequests('127.0.0.1') === null)
    ctx.skip(`Keystone's access log is not readable here (${setup?.accessLog ?? 'no path'})`);
}

/** A pino logger like the server's (createLogger) that keeps its JSON lines; no redaction, to catch a leak at its source. */
function capturedLogger(): { logger: Logger; lines: () => Record<string, unknown>[]; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level: 'trace', base: { service: 'imagegraph' } }, stream);
  const text = () => chunks.join('');
  return {
    logger,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}

/** The GlanceAuth a running server's region uses (the provider keeps it private). */
function authOf(server: TestServer, region: string): GlanceAuth {
  return ((server.provider(region) as ResilientProvider).inner as unknown as { options: { auth: GlanceAuth } }).options.auth;
}

async function tokenOf(auth: GlanceAuth): Promise<string> {
  return (await auth.headers())['x-auth-token']!;
}

describe.skipIf(!setup)('KeystoneAuth against a real Keystone', () => {
  const servers: TestServer[] = [];
  const providers: OpenStackImageProvider[] = [];

  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
    for (const provider of providers.splice(0)) await provider.close();
    for (const { previous, agent } of dispatchers.splice(0).reverse()) {
      setGlobalDispatcher(previous);
      await agent.close();
    }
  });

  async function keystoneServer(options: { logger?: Logger } = {}): Promise<TestServer> {
    const server = await startTestServer({
      regions: [{ id: 'ks', provider: 'openstack-keystone' }],
      callers: [MEMBER],
      ...options,
    });
    servers.push(server);
    return server;
  }

  async function list(server: TestServer) {
    const result = await server.gql<{ images: { nodes: unknown[] } }>(LIST, undefined, MEMBER.token);
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    return result.data!.images.nodes;
  }

  function keystoneAuth(project: KeystoneProject, region: string): KeystoneAuth {
    return new KeystoneAuth({
      region,
      authUrl: setup!.keystoneUrl,
      applicationCredential: project.applicationCredential,
      logger: pino({ level: 'silent' }),
    });
  }

  /** A provider on `auth`, outside any server: nothing has asked for a token yet. */
  function providerOn(auth: GlanceAuth, region: string): OpenStackImageProvider {
    const provider = new OpenStackImageProvider({ region, auth });
    providers.push(provider);
    return provider;
  }

  describe('token reuse', () => {
    it('asks Keystone for one token for 20 sequential and 10 concurrent requests', async (ctx) => {
      needsAccessLog(ctx);
      const client = clientAddress();
      const before = tokenRequests(client.address)!;
      client.use();
      // The start already needs the token: interrupted imports are looked for.
      const server = await keystoneServer();
      expect(await tokenRequestsSince(client.address, before, 1)).toBe(1);

      for (let i = 0; i < 20; i++) expect(await list(server)).toEqual([]);
      await Promise.all(Array.from({ length: 10 }, () => list(server)));

      expect(await tokenRequestsSince(client.address, before, 1)).toBe(1);
    });

    it('asks once on a cold start, however many requests wait for the token (single flight)', async (ctx) => {
      needsAccessLog(ctx);
      const project = await createProject('cold');
      const client = clientAddress();
      const before = tokenRequests(client.address)!;
      client.use();
      const auth = keystoneAuth(project, 'cold');
      const provider = providerOn(auth, 'cold');

      await Promise.all(Array.from({ length: 10 }, () => provider.checkHealth()));

      expect(await tokenRequestsSince(client.address, before, 1)).toBe(1);
      expect(await auth.projectId()).toBe(project.projectId);
      expect(await auth.endpoint()).toBe(setup!.glanceUrl);
    });
  });

  describe('renewal', () => {
    /**
     * Starts on a real token that Keystone made with a lifetime of seconds (issue-short-token.py); once
     * Glance refuses it, hands over to a KeystoneAuth of the same credential, as a KeystoneAuth whose
     * token expired under it would renew. Counts the refusals (the invalidate() calls).
     */
    class ShortTokenFirst implements GlanceAuth {
      refusals = 0;
      private renewed = false;

      constructor(
        private readonly short: string,
        private readonly project: KeystoneProject,
        private readonly keystone: KeystoneAuth,
      ) {}

      async headers(): Promise<Record<string, string>> {
        return this.renewed ? this.keystone.headers() : { 'x-auth-token': this.short };
      }

      invalidate(refused: Record<string, string>): void {
        this.refusals++;
        this.renewed = true;
        this.keystone.invalidate(refused);
      }

      async projectId(): Promise<string> {
        return this.renewed ? this.keystone.projectId() : this.project.projectId;
      }

      async endpoint(): Promise<string> {
        return this.renewed ? this.keystone.endpoint() : setup!.glanceUrl;
      }
    }

    it('renews a token that expired: Glance refuses it, a new one is issued and the request retried once', async (ctx) => {
      needsAccessLog(ctx);
      const project = await createProject('expiry');
      const short = await shortLivedToken(8, project.applicationCredential);
      const client = clientAddress();
      const before = tokenRequests(client.address)!;
      client.use();
      const auth = new ShortTokenFirst(short.token, project, keystoneAuth(project, 'expiry'));
      const provider = providerOn(auth, 'expiry');

      // While it lasts, the short token is used as it is.
      expect(Date.now()).toBeLessThan(short.expiresAt);
      await provider.checkHealth();
      expect(auth.refusals).toBe(0);

      await sleep(short.expiresAt - Date.now() + 1_000);
      expect(await tokenIsValid(short.token)).toBe(false);
      const missing = randomUUID();
      expect(await provider.getImages([missing])).toEqual([null]);

      expect(auth.refusals).toBe(1);
      expect(await tokenRequestsSince(client.address, before, 1)).toBe(1);
      const renewed = await tokenOf(auth);
      expect(renewed).not.toBe(short.token);
      expect(await tokenIsValid(renewed)).toBe(true);
      // And it is kept: no other request, no other token.
      await provider.checkHealth();
      expect(auth.refusals).toBe(1);
      expect(await tokenRequestsSince(client.address, before, 1)).toBe(1);
    }, 60_000);

    it('renews a token revoked at Keystone: the next request through imagegraph succeeds on a new token', async (ctx) => {
      needsAccessLog(ctx);
      const client = clientAddress();
      const before = tokenRequests(client.address)!;
      client.use();
      const server = await keystoneServer();
      await list(server);
      const auth = authOf(server, 'ks');
      const revoked = await tokenOf(auth);
      expect(await tokenRequestsSince(client.address, before, 1)).toBe(1);

      await revokeToken(revoked);
      expect(await tokenIsValid(revoked)).toBe(false);

      expect(await list(server)).toEqual([]);
      expect(await tokenRequestsSince(client.address, before, 2)).toBe(2);
      const renewed = await tokenOf(auth);
      expect(renewed).not.toBe(revoked);
      expect(await tokenIsValid(renewed)).toBe(true);
      await list(server);
      expect(await tokenRequestsSince(client.address, before, 2)).toBe(2);
    });

    // Every refused request reports the token it used; only the current one is dropped.
    it('renews a revoked token once for concurrent requests that all see Glance refuse it', async (ctx) => {
      needsAccessLog(ctx);
      const client = clientAddress();
      const before = tokenRequests(client.address)!;
      client.use();
      const server = await keystoneServer();
      await list(server);
      await revokeToken(await tokenOf(authOf(server, 'ks')));

      const results = await Promise.all(Array.from({ length: 10 }, () => server.gql(LIST, undefined, MEMBER.token)));
      expect(results.map((result) => result.errors)).toEqual(results.map(() => undefined));
      expect(await tokenRequestsSince(client.address, before, 2)).toBe(2);
    });
  });

  describe('when Keystone cannot give a token', () => {
    /**
     * One server, a region that works and one for each way Keystone can fail it: a wrong secret, an
     * unknown credential, no Keystone listening, and a catalog without an image endpoint in the region
     * asked for.
     */
    let failing: { server: TestServer; project: KeystoneProject; wrongSecret: string; logs: ReturnType<typeof capturedLogger> };
    beforeAll(async () => {
      const project = await createProject('failures');
      const wrongSecret = `wrong-${randomUUID()}`;
      const logs = capturedLogger();
      const down = `http://127.0.0.1:${await unusedPort()}/v3`;
      const server = await startTestServer({
        regions: [
          { id: 'good', provider: 'openstack-keystone', keystone: { project } },
          { id: 'wrong-secret', provider: 'openstack-keystone', keystone: { project, secret: wrongSecret } },
          {
            id: 'unknown-credential',
            provider: 'openstack-keystone',
            keystone: {
              project: {
                ...project,
                applicationCredential: { id: '0'.repeat(32), secret: project.applicationCredential.secret },
              },
            },
          },
          { id: 'keystone-down', provider: 'openstack-keystone', keystone: { project, authUrl: down } },
          { id: 'nowhere', provider: 'openstack-keystone', keystone: { project, regionName: 'Nowhere' } },
        ],
        callers: [MEMBER],
        logger: logs.logger,
      });
      failing = { server, project, wrongSecret, logs };
    });
    afterAll(() => failing?.server.close());

    const FAILING = ['wrong-secret', 'unknown-credential', 'keystone-down', 'nowhere'] as const;

    it('answers PROVIDER_UNAVAILABLE in those regions, saying nothing of Keystone, the credential or the cause', async () => {
      const { server, project, wrongSecret } = failing;
      const listing = (region: string) =>
        server.gql(`{ images(region: "${region}", filter: { scope: OWNED }) { nodes { id } } }`, undefined, MEMBER.token);
      expect((await listing('good')).errors).toBeUndefined();
      for (const region of FAILING) {
        const result = await listing(region);
        expect(result.data, region).toBeNull();
        expect(result.errors, region).toEqual([
          {
            message: `The image provider of region "${region}" is unavailable; try again later`,
            path: ['images'],
            locations: expect.any(Array),
            extensions: { code: 'PROVIDER_UNAVAILABLE', region },
          },
        ]);
        const text = JSON.stringify(result);
        for (const secret of [
          wrongSecret,
          project.applicationCredential.secret,
          project.applicationCredential.id,
          setup!.keystoneUrl,
          'gAAAAA',
        ]) {
          expect(text, region).not.toContain(secret);
        }
      }

      // A mutation there answers the union member.
      const id = Buffer.from(`Image:wrong-secret:${randomUUID()}`).toString('base64url');
      const mutation = await server.gql<{ deleteImage: unknown }>(
        'mutation ($id: ID!) { deleteImage(input: { id: $id }) { __typename ... on ProviderUnavailableError { region message } } }',
        { id },
        MEMBER.token,
      );
      expect(mutation.data!.deleteImage).toEqual({
        __typename: 'ProviderUnavailableError',
        region: 'wrong-secret',
        message: 'The image provider of region "wrong-secret" is unavailable; try again later',
      });
    });

    it('is not ready, naming those regions', async () => {
      const { server } = failing;
      const response = await server.app.ops(new Request('http://imagegraph.test/ready'));
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({
        status: 'not ready',
        regions: {
          good: 'ok',
          'wrong-secret': 'unavailable',
          'unknown-credential': 'unavailable',
          'keystone-down': 'unavailable',
          nowhere: 'unavailable',
        },
      });
    });

    it('logs a clear line for each, with neither the secret nor any token', async () => {
      const { server, project, wrongSecret, logs } = failing;
      await server.gql(`{ images(region: "good") { nodes { id } } }`, undefined, MEMBER.token);
      for (const region of FAILING) await server.gql(`{ images(region: "${region}") { nodes { id } } }`, undefined, MEMBER.token);
      const goodToken = await tokenOf(authOf(server, 'good'));

      const errors = logs.lines().filter((line) => line.level === 50 && line.component === 'keystone');
      const lineOf = (region: string) => errors.find((line) => line.region === region);
      expect(lineOf('wrong-secret')).toMatchObject({
        msg: expect.stringMatching(/Keystone refused the application credential.*wrong secret/),
        status: 401,
        credentialId: project.applicationCredential.id,
        authUrl: setup!.keystoneUrl,
      });
      expect(lineOf('unknown-credential')).toMatchObject({
        msg: expect.stringMatching(/Keystone refused the application credential/),
        status: 404,
      });
      expect(lineOf('keystone-down')).toMatchObject({
        msg: 'Keystone is unreachable',
        authUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/v3$/),
      });
      expect(lineOf('nowhere')).toMatchObject({
        msg: expect.stringMatching(/catalog has no image endpoint/),
        regionName: 'Nowhere',
        interface: 'public',
      });
      expect(lineOf('good')).toBeUndefined();

      const text = logs.text();
      expect(text).not.toContain(wrongSecret);
      expect(text).not.toContain(project.applicationCredential.secret);
      expect(text).not.toContain(goodToken);
      // No Keystone token of any kind (fernet: gAAAAA, then URL-safe base64).
      expect(text).not.toMatch(/gAAAAA[\w-]{40,}/);
    });
  });
});
