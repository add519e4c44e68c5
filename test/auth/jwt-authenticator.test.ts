import { exportSPKI, generateKeyPair, type JWTPayload, SignJWT, UnsecuredJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { JwtAuthenticator } from '../../src/auth/jwt-authenticator.js';
import { parseConfig } from '../../src/config.js';
import { UnauthenticatedError } from '../../src/errors.js';

const ISSUER = 'https://id.example.test/realms/cloud';
const AUDIENCE = 'imagegraph';

type KeyPair = Awaited<ReturnType<typeof generateKeyPair>>;

let keys: KeyPair;
let otherKeys: KeyPair;
let publicKeyPem: string;
let authenticator: JwtAuthenticator;

/** A jwt auth section validated like the real config, so defaults (claim names, algorithms) apply. */
async function authenticatorFor(jwt: Record<string, unknown>): Promise<JwtAuthenticator> {
  const config = parseConfig({
    server: { host: '127.0.0.1' },
    auth: { mode: 'jwt', jwt: { issuer: ISSUER, audience: AUDIENCE, ...jwt } },
    regions: [{ id: 'local', name: 'Local', provider: { type: 'local', dataDir: './unused' } }],
  });
  if (config.auth.mode !== 'jwt') throw new Error('expected a jwt auth config');
  return JwtAuthenticator.create(config.auth.jwt);
}

interface TokenOptions {
  key?: CryptoKey | Uint8Array;
  alg?: string;
  issuer?: string;
  audience?: string;
  subject?: string | null;
  /** Seconds since the epoch, or a jose time span such as '5m'. */
  expiresAt?: number | string;
  notBefore?: number | string;
}

/** A token that the default authenticator accepts unless an option spoils it. */
async function token(claims: JWTPayload = {}, options: TokenOptions = {}): Promise<string> {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? 'ES256', typ: 'JWT' })
    .setIssuedAt()
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setExpirationTime(options.expiresAt ?? '5m');
  if (options.subject !== null) jwt.setSubject(options.subject ?? 'user-42');
  if (options.notBefore !== undefined) jwt.setNotBefore(options.notBefore);
  return jwt.sign(options.key ?? keys.privateKey);
}

function bearer(jwt: string): Request {
  return new Request('http://imagegraph.test/graphql', { headers: { authorization: `Bearer ${jwt}` } });
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  keys = await generateKeyPair('ES256', { extractable: true });
  otherKeys = await generateKeyPair('ES256', { extractable: true });
  publicKeyPem = await exportSPKI(keys.publicKey);
  authenticator = await authenticatorFor({ publicKeyPem, algorithms: ['ES256'] });
});

describe('JwtAuthenticator accepting a token', () => {
  it('reads organizations given as a list of { id, role } and the platform admin claim', async () => {
    const jwt = await token({
      organizations: [
        { id: 'acme', role: 'ADMIN' },
        { id: 'globex', role: 'READER' },
      ],
      platform_admin: true,
    });

    await expect(authenticator.authenticate(bearer(jwt))).resolves.toEqual({
      subject: 'user-42',
      platformAdmin: true,
      organizations: [
        { id: 'acme', role: 'ADMIN' },
        { id: 'globex', role: 'READER' },
      ],
    });
  });

  it('reads organizations given as a map of id to role', async () => {
    const jwt = await token({ organizations: { acme: 'MEMBER', initech: 'ADMIN' } });

    await expect(authenticator.authenticate(bearer(jwt))).resolves.toEqual({
      subject: 'user-42',
      platformAdmin: false,
      organizations: [
        { id: 'acme', role: 'MEMBER' },
        { id: 'initech', role: 'ADMIN' },
      ],
    });
  });

  it('treats a token without an organizations claim as a member of none', async () => {
    await expect(authenticator.authenticate(bearer(await token()))).resolves.toEqual({
      subject: 'user-42',
      platformAdmin: false,
      organizations: [],
    });
  });

  it('makes a platform admin only of a platform admin claim that is exactly true', async () => {
    for (const claim of ['true', 1, 'yes', [true], { admin: true }]) {
      const principal = await authenticator.authenticate(bearer(await token({ platform_admin: claim })));
      expect(principal.platformAdmin).toBe(false);
    }
  });

  it('reads organizations and platform admin from the claims the config names', async () => {
    const custom = await authenticatorFor({
      publicKeyPem,
      algorithms: ['ES256'],
      organizationsClaim: 'https://imagegraph.test/orgs',
      platformAdminClaim: 'https://imagegraph.test/admin',
    });
    const jwt = await token({
      'https://imagegraph.test/orgs': { acme: 'READER' },
      'https://imagegraph.test/admin': true,
      // The default claim names mean nothing to this config.
      organizations: [{ id: 'globex', role: 'ADMIN' }],
      platform_admin: false,
    });

    await expect(custom.authenticate(bearer(jwt))).resolves.toEqual({
      subject: 'user-42',
      platformAdmin: true,
      organizations: [{ id: 'acme', role: 'READER' }],
    });
  });

  it('accepts an ES256 key and token with the default algorithms, whose first is RS256', async () => {
    const defaults = await authenticatorFor({ publicKeyPem });
    const jwt = await token({ organizations: [{ id: 'acme', role: 'MEMBER' }] });
    await expect(defaults.authenticate(bearer(jwt))).resolves.toMatchObject({ subject: 'user-42' });
  });

  it('ignores fields an identity provider adds to organization entries', async () => {
    const jwt = await token({ organizations: [{ id: 'acme', role: 'MEMBER', name: 'Acme Inc.' }] });
    await expect(authenticator.authenticate(bearer(jwt))).resolves.toMatchObject({
      organizations: [{ id: 'acme', role: 'MEMBER' }],
    });
  });

  it('accepts an RS256 key and token with the default algorithms', async () => {
    const rsa = await generateKeyPair('RS256', { extractable: true });
    const rsaAuthenticator = await authenticatorFor({ publicKeyPem: await exportSPKI(rsa.publicKey) });

    const jwt = await token({ organizations: [{ id: 'acme', role: 'MEMBER' }] }, { key: rsa.privateKey, alg: 'RS256' });

    await expect(rsaAuthenticator.authenticate(bearer(jwt))).resolves.toMatchObject({
      subject: 'user-42',
      organizations: [{ id: 'acme', role: 'MEMBER' }],
    });
  });
});

describe('JwtAuthenticator rejecting a token', () => {
  const rejected: [string, () => Promise<Request>][] = [
    ['no Authorization header', async () => new Request('http://imagegraph.test/graphql')],
    ['a Basic credential', async () => new Request('http://imagegraph.test/graphql', { headers: { authorization: 'Basic x' } })],
    [
      'a Bearer scheme without a token',
      async () => new Request('http://imagegraph.test/graphql', { headers: { authorization: 'Bearer' } }),
    ],
    ['a bearer token that is not a JWT', async () => bearer('not-a-jwt')],
    ['a wrong issuer', async () => bearer(await token({}, { issuer: 'https://evil.example.test' }))],
    ['a wrong audience', async () => bearer(await token({}, { audience: 'some-other-api' }))],
    ['an expired token', async () => bearer(await token({}, { expiresAt: nowSeconds() - 60 }))],
    ['a token not valid yet', async () => bearer(await token({}, { notBefore: nowSeconds() + 3600 }))],
    ['a signature by another key', async () => bearer(await token({}, { key: otherKeys.privateKey }))],
    [
      'a tampered payload',
      async () => {
        const [header, , signature] = (await token()).split('.');
        const payload = Buffer.from(JSON.stringify({ sub: 'root', iss: ISSUER, aud: AUDIENCE, platform_admin: true })).toString(
          'base64url',
        );
        return bearer(`${header}.${payload}.${signature}`);
      },
    ],
    [
      // The classic algorithm confusion: HMAC keyed with the public key's PEM text.
      'an HS256 token keyed with the public key',
      async () => bearer(await token({ platform_admin: true }, { alg: 'HS256', key: new TextEncoder().encode(publicKeyPem) })),
    ],
    [
      'an unsigned token (alg none)',
      async () =>
        bearer(
          new UnsecuredJWT({ platform_admin: true })
            .setSubject('user-42')
            .setIssuer(ISSUER)
            .setAudience(AUDIENCE)
            .setExpirationTime('5m')
            .encode(),
        ),
    ],
    ['a token without a subject', async () => bearer(await token({}, { subject: null }))],
    ['organizations that are a string', async () => bearer(await token({ organizations: 'acme' }))],
    ['organizations with an unknown role', async () => bearer(await token({ organizations: [{ id: 'acme', role: 'OWNER' }] }))],
    ['organizations without ids', async () => bearer(await token({ organizations: [{ role: 'ADMIN' }] }))],
    ['an organizations map with a role that is not a string', async () => bearer(await token({ organizations: { acme: 1 } }))],
  ];

  it.each(rejected)('throws UnauthenticatedError for %s', async (_cause, request) => {
    await expect(authenticator.authenticate(await request())).rejects.toBeInstanceOf(UnauthenticatedError);
  });

  it('gives the same message whatever the cause', async () => {
    const messages = new Set<string>();
    for (const [, request] of rejected) {
      const error = await authenticator.authenticate(await request()).then(
        () => new Error('accepted'),
        (rejection: unknown) => rejection as Error,
      );
      messages.add(error.message);
    }

    expect([...messages]).toEqual([new UnauthenticatedError().message]);
  });

  it('rejects an RS256 token when only ES256 is allowed', async () => {
    const rsa = await generateKeyPair('RS256', { extractable: true });

    const jwt = await token({}, { key: rsa.privateKey, alg: 'RS256' });

    await expect(authenticator.authenticate(bearer(jwt))).rejects.toBeInstanceOf(UnauthenticatedError);
  });
});
