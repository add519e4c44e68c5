import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ConfigError, loadConfig, parseConfig } from '../src/config.js';

const LOCAL_REGION = { id: 'local', name: 'Local', provider: { type: 'local', dataDir: './data/local' } };

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'imagegraph-config-'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `content` (an object to serialise, or raw YAML text) to a file in the temp dir and returns its path. */
function writeConfig(content: unknown, name = 'imagegraph.yaml'): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : stringify(content));
  return file;
}

/** The ConfigError `load` throws; fails the test when it throws nothing or something else. */
function configErrorOf(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError, but the config was accepted');
}

describe('loadConfig without IMAGEGRAPH_CONFIG', () => {
  it('uses dev defaults with one local region whose data lives under <cwd>/data/local', () => {
    const config = loadConfig({});

    expect(config.auth).toEqual({ mode: 'dev' });
    expect(config.server).toMatchObject({ host: '127.0.0.1', port: 4000, graphiql: true });
    expect(config.regions).toHaveLength(1);
    expect(config.regions[0]).toMatchObject({ id: 'local', name: 'Local' });
    expect(config.regions[0]!.provider).toEqual({ type: 'local', dataDir: join(process.cwd(), 'data', 'local') });
  });

  it('applies PORT and HOST to the dev defaults too', () => {
    const config = loadConfig({ PORT: '4555', HOST: '::1' });

    expect(config.server.port).toBe(4555);
    expect(config.server.host).toBe('::1');
  });
});

describe('loadConfig with a YAML file', () => {
  it('resolves a relative dataDir and tokensFile against the directory of the config file', () => {
    mkdirSync(join(dir, 'etc'));
    const file = writeConfig(
      {
        auth: { mode: 'tokens', tokensFile: 'tokens.yaml' },
        regions: [
          { id: 'eu-west-1', name: 'EU West', provider: { type: 'local', dataDir: './data/eu' } },
          { id: 'lab', name: 'Lab', organizations: ['acme'], provider: { type: 'local', dataDir: '/srv/lab' } },
        ],
      },
      'etc/imagegraph.yaml',
    );

    // Named relative to the working directory, as a shell user would.
    const config = loadConfig({ IMAGEGRAPH_CONFIG: relative(process.cwd(), file) });

    expect(config.auth).toEqual({ mode: 'tokens', tokensFile: join(dir, 'etc', 'tokens.yaml') });
    expect(config.regions.map((r) => (r.provider.type === 'local' ? r.provider.dataDir : null))).toEqual([
      join(dir, 'etc', 'data', 'eu'),
      '/srv/lab',
    ]);
    expect(config.regions[1]!.organizations).toEqual(['acme']);
  });

  it('fills in defaults for every section the file leaves out', () => {
    const config = loadConfig({ IMAGEGRAPH_CONFIG: writeConfig({ regions: [LOCAL_REGION] }) });

    expect(config.auth).toEqual({ mode: 'dev' });
    expect(config.server).toEqual({
      host: '127.0.0.1',
      port: 4000,
      graphiql: true,
      shutdownTimeoutMs: 10_000,
      headersTimeoutMs: 15_000,
      requestTimeoutMs: 60_000,
      keepAliveTimeoutMs: 5_000,
      maxConnections: 4096,
      cors: { origins: [] },
      opsHost: '127.0.0.1',
    });
    expect(config.limits).toEqual({
      maxCost: 20_000,
      maxDepth: 12,
      maxAliases: 30,
      maxTokens: 5_000,
      maxBodyBytes: 1_048_576,
      documentCacheBytes: 16 * 2 ** 20,
      rateLimit: { requestsPerSecond: 50, burst: 100 },
      maxSubscriptionsPerSubject: 20,
      importsPerOrganization: 4,
      importDeadlineSeconds: 3_600,
      importMinBytesPerSecond: 65_536,
      importThroughputWindowSeconds: 60,
      providerTimeoutMs: 10_000,
      circuitBreakerFailures: 5,
      circuitBreakerResetMs: 5_000,
    });
    expect(config.imports).toEqual({
      allowedHosts: [],
      allowHttp: true,
      maxSizeBytes: 64 * 2 ** 30,
      maxConcurrent: 2,
      conversionTimeoutSeconds: 1800,
      conversionMemoryBytes: 2 ** 30,
    });
    expect(config.coordination).toEqual({ leaseSeconds: 30 });
    expect(config.logLevel).toBe('info');
  });

  it('lets PORT and HOST override the server section of the file', () => {
    const file = writeConfig({
      server: { host: '127.0.0.1', port: 4000, graphiql: false },
      auth: { mode: 'tokens', tokensFile: './tokens.yaml' },
      regions: [LOCAL_REGION],
    });

    const config = loadConfig({ IMAGEGRAPH_CONFIG: file, PORT: '8080', HOST: '0.0.0.0' });

    expect(config.server).toMatchObject({ host: '0.0.0.0', port: 8080, graphiql: false });
  });

  it('rejects a PORT that is not a port number, naming server.port', () => {
    const file = writeConfig({ regions: [LOCAL_REGION] });

    for (const PORT of ['http', '70000', '-1', '80.5']) {
      const error = configErrorOf(() => loadConfig({ IMAGEGRAPH_CONFIG: file, PORT }));
      expect(error.message).toContain('server.port');
    }
  });

  it('reports a file that cannot be read, naming it', () => {
    const missing = join(dir, 'nope.yaml');

    const error = configErrorOf(() => loadConfig({ IMAGEGRAPH_CONFIG: missing }));

    expect(error.message).toContain(missing);
    expect(error.message).toMatch(/cannot read/i);
  });

  it('reports a file that is not valid YAML, naming it', () => {
    const file = writeConfig('regions:\n  - id: local\n   name: [unclosed\n');

    const error = configErrorOf(() => loadConfig({ IMAGEGRAPH_CONFIG: file }));

    expect(error.message).toContain(file);
    expect(error.message).toMatch(/not valid YAML/i);
  });

  it('reports an empty file as a config without regions', () => {
    const file = writeConfig('');

    const error = configErrorOf(() => loadConfig({ IMAGEGRAPH_CONFIG: file }));

    expect(error.message).toContain(file);
    expect(error.message).toContain('regions');
  });

  it('names the config file in validation errors', () => {
    const file = writeConfig({ regions: [{ ...LOCAL_REGION, id: 'Local' }] });

    const error = configErrorOf(() => loadConfig({ IMAGEGRAPH_CONFIG: file }));

    expect(error.message).toContain(file);
    expect(error.message).toContain('regions[0].id');
  });
});

describe('parseConfig', () => {
  it('accepts a complete valid config', () => {
    const config = parseConfig({
      server: { host: '::1', port: 4001, graphiql: false, shutdownTimeoutMs: 500 },
      auth: { mode: 'jwt', jwt: { issuer: 'https://id.example', audience: 'imagegraph', jwksUrl: 'https://id.example/jwks' } },
      imports: { allowedHosts: ['mirror.lab:8080'], allowHttp: false, maxSizeBytes: 1024, maxConcurrent: 1 },
      logLevel: 'debug',
      regions: [LOCAL_REGION],
    });

    expect(config.auth).toEqual({
      mode: 'jwt',
      jwt: {
        issuer: 'https://id.example',
        audience: 'imagegraph',
        jwksUrl: 'https://id.example/jwks',
        algorithms: ['RS256', 'ES256'],
        organizationsClaim: 'organizations',
        platformAdminClaim: 'platform_admin',
      },
    });
    expect(config.imports.allowedHosts).toEqual(['mirror.lab:8080']);
  });

  it('reports every mistake in one ConfigError, each with its path', () => {
    const error = configErrorOf(() =>
      parseConfig(
        {
          bogus: true,
          server: { port: 'http' },
          auth: { mode: 'password' },
          regions: [
            { id: 'EU_West', name: 'EU West', provider: { type: 'local', dataDir: './eu' } },
            { id: 'lab', name: 'Lab' },
            { id: 'edge', name: 'Edge', provider: { type: 'local', dataDir: './edge' }, zone: 'a' },
          ],
        },
        'imagegraph.yaml',
      ),
    );

    expect(error.message).toContain('imagegraph.yaml');
    expect(error.message).toContain('Unrecognized key: "bogus"');
    expect(error.message).toContain('server.port');
    expect(error.message).toContain('auth.mode');
    expect(error.message).toContain('regions[0].id');
    expect(error.message).toContain('lowercase slug');
    expect(error.message).toContain('regions[1].provider');
    expect(error.message).toContain('Unrecognized key: "zone"');
    expect(error.message).toContain('regions[2]');
  });

  it('rejects a region without a provider', () => {
    const error = configErrorOf(() => parseConfig({ regions: [{ id: 'local', name: 'Local' }] }));

    expect(error.message).toContain('regions[0].provider');
  });

  it('rejects an unknown provider type', () => {
    const error = configErrorOf(() =>
      parseConfig({ regions: [{ id: 'local', name: 'Local', provider: { type: 'ceph', dataDir: './x' } }] }),
    );

    expect(error.message).toContain('regions[0].provider.type');
  });

  it('rejects duplicate region ids', () => {
    const error = configErrorOf(() => parseConfig({ regions: [LOCAL_REGION, { ...LOCAL_REGION, name: 'Local again' }] }));

    expect(error.message).toContain('region ids must be unique');
    expect(error.message).toContain('regions');
  });

  it('refuses local regions under Redis coordination, saying why and what to do', () => {
    const error = configErrorOf(() =>
      parseConfig({ regions: [LOCAL_REGION], coordination: { redis: { url: 'redis://127.0.0.1:6379' } } }),
    );

    expect(error.message).toContain('coordination.redis');
    expect(error.message).toContain('local regions keep their database and image files on one host');
    expect(error.message).toContain('serve local regions from a single imagegraph without coordination');
  });

  it('takes a Redis URL with its defaults for coordination, and refuses other schemes', () => {
    const glance = {
      id: 'os',
      name: 'OpenStack',
      provider: {
        type: 'openstack',
        imageUrl: 'http://127.0.0.1:9292',
        auth: { type: 'trusted-headers', projectId: 'p', userId: 'u' },
      },
    };
    const config = parseConfig({ regions: [glance], coordination: { redis: { url: 'rediss://user:pw@redis.internal:6380/2' } } });
    expect(config.coordination).toEqual({
      redis: { url: 'rediss://user:pw@redis.internal:6380/2', keyPrefix: 'imagegraph', commandTimeoutMs: 2_000 },
      leaseSeconds: 30,
    });
    expect(
      configErrorOf(() => parseConfig({ regions: [glance], coordination: { redis: { url: 'http://redis:6379' } } })).message,
    ).toContain('coordination.redis.url');
  });

  it('rejects a config without regions', () => {
    expect(configErrorOf(() => parseConfig({})).message).toContain('regions');
    expect(configErrorOf(() => parseConfig({ regions: [] })).message).toContain('regions');
  });

  it('rejects region ids that are not lowercase slugs', () => {
    for (const id of ['EU', 'eu_west', '-eu', 'eu-', 'eu west', 'a'.repeat(64), '']) {
      const error = configErrorOf(() => parseConfig({ regions: [{ ...LOCAL_REGION, id }] }));
      expect(error.message).toContain('regions[0].id');
    }
  });

  it('accepts region ids that are lowercase slugs', () => {
    for (const id of ['a', 'eu-west-1', '9lives', 'a'.repeat(63)]) {
      expect(parseConfig({ regions: [{ ...LOCAL_REGION, id }] }).regions[0]!.id).toBe(id);
    }
  });

  it('rejects a restricted region with an empty organizations list', () => {
    const error = configErrorOf(() => parseConfig({ regions: [{ ...LOCAL_REGION, organizations: [] }] }));

    expect(error.message).toContain('regions[0].organizations');
  });

  it('rejects a tokens auth section without a tokensFile', () => {
    const error = configErrorOf(() => parseConfig({ auth: { mode: 'tokens' }, regions: [LOCAL_REGION] }));

    expect(error.message).toContain('auth.tokensFile');
  });

  it('rejects jwt auth with both jwksUrl and publicKeyPem, or with neither', () => {
    const jwt = { issuer: 'https://id.example', audience: 'imagegraph' };
    const both = { ...jwt, jwksUrl: 'https://id.example/jwks', publicKeyPem: '-----BEGIN PUBLIC KEY-----' };

    for (const section of [jwt, both]) {
      const error = configErrorOf(() => parseConfig({ auth: { mode: 'jwt', jwt: section }, regions: [LOCAL_REGION] }));
      expect(error.message).toContain('auth.jwt');
      expect(error.message).toContain('set exactly one of jwksUrl or publicKeyPem');
    }
  });

  it('rejects jwt auth without issuer or audience, or with a jwksUrl that is not a URL', () => {
    const error = configErrorOf(() =>
      parseConfig({ auth: { mode: 'jwt', jwt: { jwksUrl: 'not a url' } }, regions: [LOCAL_REGION] }),
    );

    expect(error.message).toContain('auth.jwt.issuer');
    expect(error.message).toContain('auth.jwt.audience');
    expect(error.message).toContain('auth.jwt.jwksUrl');
  });

  it('rejects an unknown log level', () => {
    const error = configErrorOf(() => parseConfig({ logLevel: 'verbose', regions: [LOCAL_REGION] }));

    expect(error.message).toContain('logLevel');
  });
});

describe('openstack regions', () => {
  const keystoneRegion = (applicationCredential: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
    id: 'eu',
    name: 'EU',
    provider: {
      type: 'openstack',
      auth: { type: 'keystone', authUrl: 'https://keystone.example.com:5000/v3', applicationCredential },
      ...extra,
    },
  });

  it('takes a keystone application credential with its secret in a file beside the config, and no imageUrl', () => {
    const config = loadConfig({
      IMAGEGRAPH_CONFIG: writeConfig({ regions: [keystoneRegion({ id: 'ac', secretFile: 'secrets/eu' })] }),
    });
    const provider = config.regions[0]!.provider;
    expect(provider).toMatchObject({ type: 'openstack', importMethod: 'proxy' });
    expect(provider.type === 'openstack' && provider.auth).toMatchObject({
      type: 'keystone',
      interface: 'public',
      applicationCredential: { id: 'ac', secretFile: join(dir, 'secrets', 'eu') },
    });
  });

  it('refuses a credential with both or neither of secret and secretFile, and trusted headers without imageUrl', () => {
    for (const credential of [{ id: 'ac', secret: 's', secretFile: 'f' }, { id: 'ac' }]) {
      expect(() => parseConfig({ regions: [keystoneRegion(credential)] })).toThrow(/secret or secretFile/);
    }
    const trusted = {
      id: 'lab',
      name: 'Lab',
      provider: { type: 'openstack', auth: { type: 'trusted-headers', projectId: 'p', userId: 'u' } },
    };
    expect(() => parseConfig({ regions: [trusted] })).toThrow(/imageUrl/);
  });
});
