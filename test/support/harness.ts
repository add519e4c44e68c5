import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config.js';
import { createLogger, type Logger } from '../../src/logger.js';
import { createImagegraph, type Imagegraph } from '../../src/server.js';
import type { ImageProvider } from '../../src/providers/types.js';
import { glanceUrl, type ProviderKind } from './glance.js';
import { type KeystoneProject, openstack, regionProject, regionProjectIfAny } from './keystone.js';

export interface TestCaller {
  token: string;
  subject: string;
  platformAdmin?: boolean;
  organizations?: { id: string; role: 'READER' | 'MEMBER' | 'ADMIN' }[];
}

export interface TestRegion {
  id: string;
  name?: string;
  organizations?: string[];
  /**
   * Which provider backs the region (default local); openstack needs a Glance, openstack-keystone a
   * Keystone (see glance.ts and keystone.ts).
   */
  provider?: ProviderKind;
  /** openstack kinds only: proxy (default) or web-download. */
  importMethod?: 'proxy' | 'web-download';
  /** The region's `platformImages` (a PEM ECDSA P-256 public key): PUBLIC images must be signed. */
  platformImages?: { publicKey: string };
  /**
   * openstack-keystone only: what to put in the region's `auth` instead of the defaults (the
   * suite's Keystone, the region's own project and credential, no regionName), e.g. a wrong secret.
   * `project` uses that Keystone project instead of making one for the region.
   */
  keystone?: {
    authUrl?: string;
    secret?: string;
    regionName?: string;
    interface?: 'public' | 'internal' | 'admin';
    project?: KeystoneProject;
  };
}

export interface TestServer {
  app: Imagegraph;
  dir: string;
  provider(region: string): ImageProvider;
  /** POSTs a GraphQL request through yoga's fetch, as `token`'s caller (none when omitted). */
  gql<T = Record<string, unknown>>(query: string, variables?: Record<string, unknown>, token?: string): Promise<GqlResult<T>>;
  /** The value of one Prometheus sample at /metrics (0 when absent). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Stops the server; the data dir is removed unless `keepData`. */
  close(options?: { keepData?: boolean }): Promise<void>;
}

export interface GqlResult<T> {
  status: number;
  data: T | null;
  errors?: { message: string; path?: string[]; extensions?: Record<string, unknown> }[];
}

/**
 * A real imagegraph on temp dirs: tokens auth with the given callers and one local provider per region.
 * Nothing is mocked; requests go through yoga's fetch (no socket needed).
 */
export async function startTestServer(options: {
  regions: TestRegion[];
  callers: TestCaller[];
  /** The config's `imports` section, e.g. `{ allowedHosts: ['127.0.0.1:PORT'] }` for a loopback image server. */
  imports?: Record<string, unknown>;
  /**
   * The config's `limits` section, over the harness's own default: no rate limit to speak of (a test
   * fires requests far faster than a client would), every other limit at its default.
   */
  limits?: Record<string, unknown>;
  /** The config's `server` section, over `{ port: 0 }`. */
  serverConfig?: Record<string, unknown>;
  /** Reuse a data dir (to restart on the same data); a new temp dir otherwise. */
  dir?: string;
  /** The Glance openstack regions use (default: the suite's, see glance.ts). */
  glanceUrl?: string;
  /** The server's logger (default: silent). */
  logger?: Logger;
}): Promise<TestServer> {
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), 'imagegraph-test-'));
  const tokensFile = join(dir, 'tokens.yaml');
  writeFileSync(
    tokensFile,
    stringify(
      options.callers.map((c) => ({
        sha256: createHash('sha256').update(c.token).digest('hex'),
        subject: c.subject,
        platformAdmin: c.platformAdmin ?? false,
        organizations: c.organizations ?? [],
      })),
    ),
  );
  const config = parseConfig({
    server: { port: 0, ...options.serverConfig },
    auth: { mode: 'tokens', tokensFile },
    ...(options.imports ? { imports: options.imports } : {}),
    limits: { rateLimit: { requestsPerSecond: 1_000_000, burst: 1_000_000 }, ...options.limits },
    regions: await Promise.all(
      options.regions.map(async (r) => ({
        id: r.id,
        name: r.name ?? r.id,
        ...(r.organizations ? { organizations: r.organizations } : {}),
        ...(r.platformImages ? { platformImages: r.platformImages } : {}),
        provider: await providerConfig(r, dir, options.glanceUrl),
      })),
    ),
  });
  const app = await createImagegraph(config, { logger: options.logger ?? createLogger('silent') });
  return {
    app,
    dir,
    provider: (region) => app.provider(region),
    async gql(query, variables, token) {
      const response = await app.yoga.fetch('http://imagegraph.test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
        body: JSON.stringify({ query, variables }),
      });
      return { status: response.status, ...((await response.json()) as object) } as never;
    },
    async metric(name, labels = {}) {
      // Read as Prometheus scrapes it: from /metrics on the operations listener.
      const text = await (await app.ops(new Request('http://imagegraph.test/metrics'))).text();
      const wanted = Object.entries(labels);
      for (const line of text.split('\n')) {
        const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
        if (!match || match[1] !== name) continue;
        const found = new Map(
          [...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, key, value]) => [key!, value!]),
        );
        if (wanted.every(([key, value]) => found.get(key) === value)) return Number(match[3]);
      }
      return 0;
    },
    async close({ keepData = false } = {}) {
      await app.close();
      if (!keepData) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A local region in the test's dir, or a region on a shared test Glance under a project of its own
 * (`dir` is unique per server and stable across restarts), so tests never see each other's images:
 * with trusted headers, a project id derived from `dir`; with Keystone, a project, user and
 * application credential made for it (imageUrl left out: Glance's URL comes from the catalog).
 */
async function providerConfig(region: TestRegion, dir: string, url = glanceUrl()): Promise<Record<string, unknown>> {
  if (region.provider === 'openstack-keystone') {
    const setup = openstack();
    if (!setup) throw new Error('an openstack-keystone test region needs a Keystone: install it (scripts/openstack.sh install)');
    const overrides = region.keystone ?? {};
    const project = overrides.project ?? (await regionProject(dir, region.id));
    return {
      type: 'openstack',
      importMethod: region.importMethod ?? 'proxy',
      auth: {
        type: 'keystone',
        authUrl: overrides.authUrl ?? setup.keystoneUrl,
        applicationCredential: {
          id: project.applicationCredential.id,
          secret: overrides.secret ?? project.applicationCredential.secret,
        },
        ...(overrides.regionName ? { regionName: overrides.regionName } : {}),
        ...(overrides.interface ? { interface: overrides.interface } : {}),
      },
    };
  }
  if (region.provider !== 'openstack') return { type: 'local', dataDir: join(dir, region.id) };
  if (!url) throw new Error('an openstack test region needs a Glance: set GLANCE_URL or install it (scripts/glance.sh install)');
  const projectId = glanceProjectId(dir, region.id);
  return {
    type: 'openstack',
    imageUrl: url,
    importMethod: region.importMethod ?? 'proxy',
    auth: { type: 'trusted-headers', projectId, userId: 'imagegraph-test', roles: ['admin'] },
  };
}

/**
 * The Glance project of an openstack test region: the Keystone project made for it
 * (openstack-keystone), else derived from the server's dir; see providerConfig.
 */
export function glanceProjectId(dir: string, region: string): string {
  const keystone = regionProjectIfAny(dir, region);
  if (keystone) return keystone.projectId;
  return createHash('sha256').update(`${dir}/${region}`).digest('hex').slice(0, 32);
}
