import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import ipaddr from 'ipaddr.js';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const RegionIdSchema = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'must be a lowercase slug such as "eu-west-1"');

const LocalProviderConfigSchema = z.strictObject({
  type: z.literal('local'),
  /** Directory for the region's SQLite database and image files; relative to the config file. */
  dataDir: z.string().min(1),
});

const TrustedHeadersAuthSchema = z.strictObject({
  type: z.literal('trusted-headers'),
  projectId: z.string().min(1),
  userId: z.string().min(1),
  roles: z.array(z.string().min(1)).default(['admin']),
});

const KeystoneAuthSchema = z.strictObject({
  type: z.literal('keystone'),
  /** Keystone's v3 endpoint, e.g. https://keystone.example.com:5000/v3. */
  authUrl: z.url({ protocol: /^https?$/ }),
  applicationCredential: z
    .strictObject({
      id: z.string().min(1),
      secret: z.string().min(1).optional(),
      /** A file holding the secret, so that it need not sit in the config; relative to the config file. */
      secretFile: z.string().min(1).optional(),
    })
    .refine((credential) => Boolean(credential.secret) !== Boolean(credential.secretFile), {
      message: 'set exactly one of secret or secretFile',
    }),
  /** Which catalog endpoint of the image service to use. */
  interface: z.enum(['public', 'internal', 'admin']).default('public'),
  /** The catalog region of the image endpoint. */
  regionName: z.string().min(1).optional(),
});

const OpenStackProviderConfigSchema = z
  .strictObject({
    type: z.literal('openstack'),
    /** Glance's endpoint, e.g. http://127.0.0.1:9292; with keystone auth, the catalog's when left out. */
    imageUrl: z.url({ protocol: /^https?$/ }).optional(),
    /**
     * proxy: imagegraph streams the remote image through its guarded client into Glance, so Glance never
     * fetches a user URL. web-download: Glance fetches it (see the README for the filter settings it needs).
     */
    importMethod: z.enum(['proxy', 'web-download']).default('proxy'),
    auth: z.discriminatedUnion('type', [TrustedHeadersAuthSchema, KeystoneAuthSchema]),
  })
  .refine((provider) => provider.auth.type === 'keystone' || Boolean(provider.imageUrl), {
    path: ['imageUrl'],
    message: 'is required with trusted-headers auth (keystone auth can take it from the catalog)',
  });

const ProviderConfigSchema = z.discriminatedUnion('type', [LocalProviderConfigSchema, OpenStackProviderConfigSchema]);

/** A PEM public key that is ECDSA P-256, the curve the seed's platform image signatures use. */
const P256PublicKeySchema = z.string().refine(
  (pem) => {
    try {
      const key = createPublicKey(pem);
      return key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1';
    } catch {
      return false;
    }
  },
  { message: 'must be a PEM public key of ECDSA P-256 (openssl ec -in key.pem -pubout)' },
);

const RegionConfigSchema = z.strictObject({
  id: RegionIdSchema,
  name: z.string().min(1),
  description: z.string().optional(),
  /** Restricts the region to members of these organizations (and platform admins). */
  organizations: z.array(z.string().min(1)).min(1).optional(),
  provider: ProviderConfigSchema,
  /**
   * When set, PUBLIC images must carry a signature (imagegraph.signature; on Glance also unikorn:digest)
   * that verifies against this key over the SHA-256 of their provider id; others are shown to platform admins only.
   */
  platformImages: z.strictObject({ publicKey: P256PublicKeySchema }).optional(),
});

const AuthConfigSchema = z.discriminatedUnion('mode', [
  z.strictObject({ mode: z.literal('dev') }),
  z.strictObject({ mode: z.literal('tokens'), tokensFile: z.string().min(1) }),
  z.strictObject({
    mode: z.literal('jwt'),
    jwt: z
      .strictObject({
        issuer: z.string().min(1),
        audience: z.string().min(1),
        algorithms: z.array(z.string().min(1)).min(1).default(['RS256', 'ES256']),
        jwksUrl: z.url().optional(),
        /** A static public key (PEM, SPKI) instead of a JWKS endpoint: for tests and air-gapped setups. */
        publicKeyPem: z.string().optional(),
        /** Claim holding the caller's organizations: `[{ id, role }]` or `{ <id>: <role> }`. */
        organizationsClaim: z.string().default('organizations'),
        /** Boolean claim that marks a platform admin. */
        platformAdminClaim: z.string().default('platform_admin'),
      })
      .refine((jwt) => Boolean(jwt.jwksUrl) !== Boolean(jwt.publicKeyPem), {
        message: 'set exactly one of jwksUrl or publicKeyPem',
      }),
  }),
]);

const CorsConfigSchema = z.strictObject({
  /** Exact origins (scheme://host[:port]) a browser may call from; [] sends no CORS headers at all. */
  origins: z
    .array(
      z
        .url({ protocol: /^https?$/ })
        .refine((origin) => new URL(origin).origin === origin, 'must be an origin: scheme://host[:port], no path'),
    )
    .default([]),
});

const ServerConfigSchema = z.strictObject({
  host: z.string().min(1).default('127.0.0.1'),
  port: z.number().int().min(0).max(65535).default(4000),
  graphiql: z.boolean().default(true),
  /** How long SIGTERM waits for in-flight requests before closing connections. */
  shutdownTimeoutMs: z.number().int().positive().default(10_000),
  /** A client must send its request headers within this; slowloris connections are cut. */
  headersTimeoutMs: z.number().int().positive().default(15_000),
  /** A client must send its whole request (headers and body) within this. */
  requestTimeoutMs: z.number().int().positive().default(60_000),
  /** Idle keep-alive connections are closed after this. */
  keepAliveTimeoutMs: z.number().int().positive().default(5_000),
  /** Connections open at once; more are refused by the socket layer. */
  maxConnections: z.number().int().positive().default(4096),
  cors: CorsConfigSchema.default(CorsConfigSchema.parse({})),
  /** Port of the operations listener (/health, /ready, /metrics); default: port + 1 (0 when port is 0). */
  opsPort: z.number().int().min(0).max(65535).optional(),
  /** Address of the operations listener; keep it off the public network. */
  opsHost: z.string().min(1).default('127.0.0.1'),
  /** When set, /ready and /metrics are also served on the public port to `Authorization: Bearer <opsToken>`. */
  opsToken: z.string().min(16).optional(),
});

const ImportsConfigSchema = z.strictObject({
  allowedHosts: z.array(z.string().min(1)).default([]),
  allowHttp: z.boolean().default(true),
  maxSizeBytes: z
    .number()
    .int()
    .positive()
    .default(64 * 2 ** 30),
  maxConcurrent: z.number().int().positive().default(2),
  /** Largest guest disk a converted or decompressed image may have; default: maxSizeBytes. */
  maxVirtualSizeBytes: z.number().int().positive().optional(),
  /** Where downloads wait for conversion (a private directory is made inside): needs room for maxConcurrent images. */
  scratchDir: z.string().min(1).optional(),
  /** A conversion (qemu-img or a decompressor) is killed after this long. */
  conversionTimeoutSeconds: z.number().int().positive().default(1_800),
  /** Address space a conversion tool may use (prlimit --as); qemu-img needs about 64 MiB. */
  conversionMemoryBytes: z
    .number()
    .int()
    .positive()
    .default(2 ** 30),
});

const RateLimitConfigSchema = z.strictObject({
  /** Sustained requests per second of one subject (or one client address before authentication). */
  requestsPerSecond: z.number().int().positive().default(50),
  /** Extra requests a subject may make at once above the sustained rate. */
  burst: z.number().int().min(0).default(100),
});

/** Behaviour spec section 10: every default is chosen so that a dashboard or automation client never meets it. */
const LimitsConfigSchema = z.strictObject({
  /** Static cost of one operation: every list field costs its page size times the cost of its selection. */
  maxCost: z.number().int().positive().default(20_000),
  maxDepth: z.number().int().positive().default(12),
  maxAliases: z.number().int().min(0).default(30),
  /** Lexer tokens of a document; longer documents are refused before they are parsed. */
  maxTokens: z.number().int().positive().default(5_000),
  /** Request body bytes; larger bodies are refused with 413 without being read. */
  maxBodyBytes: z.number().int().positive().default(1_048_576),
  /** Parsed documents and validation results kept, by the bytes of their source text. */
  documentCacheBytes: z
    .number()
    .int()
    .min(0)
    .default(16 * 2 ** 20),
  rateLimit: RateLimitConfigSchema.default(RateLimitConfigSchema.parse({})),
  /** imageChanged streams one subject may hold open at once. */
  maxSubscriptionsPerSubject: z.number().int().positive().default(20),
  /** Imports of one organization (or of the platform, for PUBLIC images) PENDING or CREATING at once. */
  importsPerOrganization: z.number().int().positive().default(4),
  /** A whole download must finish within this. */
  importDeadlineSeconds: z.number().int().positive().default(3_600),
  /** A download slower than this on average over any `importThroughputWindowSeconds` is stopped. */
  importMinBytesPerSecond: z.number().int().min(0).default(65_536),
  importThroughputWindowSeconds: z.number().int().positive().default(60),
  /** Deadline of one provider call (uploads excepted: they have the import deadline). */
  providerTimeoutMs: z.number().int().positive().default(10_000),
  /** Consecutive provider failures after which a region's circuit opens: calls fail at once. */
  circuitBreakerFailures: z.number().int().positive().default(5),
  /** How long an open circuit waits before letting one call try the provider again. */
  circuitBreakerResetMs: z.number().int().positive().default(5_000),
});

const CoordinationConfigSchema = z.strictObject({
  /** Several replicas serving the same regions meet here; unset, everything stays in this process. */
  redis: z
    .strictObject({
      /** redis://[user:password@]host:port[/db] or rediss:// for TLS. */
      url: z.url({ protocol: /^rediss?$/ }),
      /** Prefix of every key and channel, so that several deployments can share one Redis. */
      keyPrefix: z
        .string()
        .regex(/^[A-Za-z0-9_.-]+$/)
        .default('imagegraph'),
      /** Deadline of a Redis command made for a request; past it the mutation is refused as unavailable. */
      commandTimeoutMs: z.number().int().positive().default(2_000),
    })
    .optional(),
  /** A replica holds a running import this long without renewing (it renews every half); a dead replica's imports move on after it. */
  leaseSeconds: z.number().int().min(5).max(600).default(30),
});

/** Dev mode trusts every request, so it may only be reachable from this machine. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  return ipaddr.isValid(host) && ipaddr.process(host).range() === 'loopback';
}

export const ConfigSchema = z
  .strictObject({
    server: ServerConfigSchema.default(ServerConfigSchema.parse({})),
    auth: AuthConfigSchema.default({ mode: 'dev' }),
    imports: ImportsConfigSchema.default(ImportsConfigSchema.parse({})),
    limits: LimitsConfigSchema.default(LimitsConfigSchema.parse({})),
    coordination: CoordinationConfigSchema.default(CoordinationConfigSchema.parse({})),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    regions: z
      .array(RegionConfigSchema)
      .min(1)
      .refine((regions) => new Set(regions.map((r) => r.id)).size === regions.length, {
        message: 'region ids must be unique',
      }),
  })
  .refine((config) => !config.coordination.redis || config.regions.every((region) => region.provider.type !== 'local'), {
    path: ['coordination', 'redis'],
    message:
      'local regions keep their database and image files on one host, so replicas on other hosts cannot serve them; ' +
      'coordination.redis is for OpenStack regions only: serve local regions from a single imagegraph without coordination',
  })
  .refine((config) => config.auth.mode !== 'dev' || isLoopbackHost(config.server.host), {
    path: ['server', 'host'],
    message:
      'auth.mode is dev (no authentication: every request acts as a platform admin), so the server only listens ' +
      'on a loopback address such as 127.0.0.1 or ::1; configure auth.mode tokens or jwt to listen elsewhere',
  });

export type Config = z.infer<typeof ConfigSchema>;
export type LimitsConfig = z.infer<typeof LimitsConfigSchema>;
export type CoordinationConfig = z.infer<typeof CoordinationConfigSchema>;
export type ServerConfig = z.infer<typeof ServerConfigSchema>;
export type RegionConfig = z.infer<typeof RegionConfigSchema>;
export type AuthConfig = z.infer<typeof AuthConfigSchema>;
export type ProviderConfig = z.infer<typeof ProviderConfigSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

const DEV_DEFAULTS = {
  regions: [{ id: 'local', name: 'Local', provider: { type: 'local', dataDir: './data/local' } }],
};

/**
 * Reads the YAML file named by `IMAGEGRAPH_CONFIG` (or dev defaults when unset), applies the
 * `PORT`/`HOST` overrides and validates the result. Relative paths are resolved against the
 * config file's directory (the working directory for the defaults).
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const file = env.IMAGEGRAPH_CONFIG;
  const raw = file ? readYaml(file) : structuredClone(DEV_DEFAULTS);
  const config = parseConfig(withEnvOverrides(raw, env), file ?? 'built-in dev defaults');
  return resolvePaths(config, file ? dirname(resolve(file)) : process.cwd());
}

/** Validates an already-parsed config object, throwing one ConfigError that lists every mistake. */
export function parseConfig(raw: unknown, source = 'config'): Config {
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(`Invalid configuration in ${source}:\n${z.prettifyError(result.error)}`);
  }
  return result.data;
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`Cannot read IMAGEGRAPH_CONFIG file ${file}: ${(error as Error).message}`);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (error) {
    throw new ConfigError(`IMAGEGRAPH_CONFIG file ${file} is not valid YAML: ${(error as Error).message}`);
  }
}

function withEnvOverrides(raw: unknown, env: NodeJS.ProcessEnv): unknown {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return raw;
  const config = raw as Record<string, unknown>;
  const server = { ...((config.server as Record<string, unknown> | undefined) ?? {}) };
  // Only a string of digits becomes a number, so PORT='' or PORT=abc is reported instead of meaning 0.
  if (env.PORT !== undefined) server.port = /^\d+$/.test(env.PORT) ? Number(env.PORT) : env.PORT;
  if (env.HOST !== undefined) server.host = env.HOST;
  return { ...config, server };
}

function resolvePaths(config: Config, baseDir: string): Config {
  const auth =
    config.auth.mode === 'tokens' ? { ...config.auth, tokensFile: resolve(baseDir, config.auth.tokensFile) } : config.auth;
  const regions = config.regions.map((region) => {
    const provider = region.provider;
    if (provider.type === 'local') return { ...region, provider: { ...provider, dataDir: resolve(baseDir, provider.dataDir) } };
    const credential = provider.auth.type === 'keystone' ? provider.auth.applicationCredential : null;
    if (!credential?.secretFile) return region;
    const secretFile = resolve(baseDir, credential.secretFile);
    return {
      ...region,
      provider: { ...provider, auth: { ...provider.auth, applicationCredential: { ...credential, secretFile } } },
    };
  });
  return { ...config, auth, regions };
}
