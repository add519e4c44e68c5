import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { TokensAuthenticator } from '../../src/auth/tokens-authenticator.js';
import { ConfigError } from '../../src/config.js';
import { UnauthenticatedError } from '../../src/errors.js';

const ALICE_TOKEN = 'alice-secret-token-0123456789';
const ROOT_TOKEN = 'root-secret-token-9876543210';

const sha256 = (token: string) => createHash('sha256').update(token).digest('hex');

let dir: string;
let authenticator: TokensAuthenticator;

function writeTokensFile(name: string, content: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, typeof content === 'string' ? content : stringify(content));
  return file;
}

function requestWith(authorization?: string): Request {
  return new Request('http://imagegraph.test/graphql', { headers: authorization ? { authorization } : {} });
}

/** The error `authenticate` rejects with for this Authorization header; fails the test when it resolves. */
async function rejectionOf(authorization?: string): Promise<unknown> {
  return authenticator.authenticate(requestWith(authorization)).then(
    (principal) => {
      throw new Error(`expected a rejection, got principal ${principal.subject}`);
    },
    (error: unknown) => error,
  );
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'imagegraph-tokens-'));
  const file = writeTokensFile('tokens.yaml', [
    { sha256: sha256(ALICE_TOKEN), subject: 'ci-alice', organizations: [{ id: 'acme', role: 'MEMBER' }] },
    // Upper-case hex is a valid spelling of the digest.
    { sha256: sha256(ROOT_TOKEN).toUpperCase(), subject: 'ops-root', platformAdmin: true },
  ]);
  authenticator = new TokensAuthenticator(file);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('TokensAuthenticator', () => {
  it('turns a listed bearer token into its principal', async () => {
    await expect(authenticator.authenticate(requestWith(`Bearer ${ALICE_TOKEN}`))).resolves.toEqual({
      subject: 'ci-alice',
      platformAdmin: false,
      organizations: [{ id: 'acme', role: 'MEMBER' }],
    });
  });

  it('tells listed tokens apart and defaults organizations to none', async () => {
    await expect(authenticator.authenticate(requestWith(`Bearer ${ROOT_TOKEN}`))).resolves.toEqual({
      subject: 'ops-root',
      platformAdmin: true,
      organizations: [],
    });
  });

  it('accepts the Bearer scheme in any letter case and surrounding whitespace', async () => {
    for (const header of [`bearer ${ALICE_TOKEN}`, `BEARER   ${ALICE_TOKEN}`, `Bearer ${ALICE_TOKEN}  `]) {
      await expect(authenticator.authenticate(requestWith(header))).resolves.toMatchObject({ subject: 'ci-alice' });
    }
  });

  it('rejects a wrong, missing or malformed credential with one UnauthenticatedError message for every cause', async () => {
    const causes = [
      undefined, // no Authorization header
      'Bearer not-a-listed-token',
      `Bearer ${sha256(ALICE_TOKEN)}`, // the digest itself is not the token
      `Bearer ${ALICE_TOKEN.slice(0, -1)}`,
      `Basic ${Buffer.from(`user:${ALICE_TOKEN}`).toString('base64')}`,
      'Basic x',
      'Bearer',
      'Bearer ',
      `Bearer ${ALICE_TOKEN} extra`,
      ALICE_TOKEN, // no scheme
    ];

    const errors = await Promise.all(causes.map((cause) => rejectionOf(cause)));

    for (const error of errors) {
      expect(error).toBeInstanceOf(UnauthenticatedError);
      expect(error).toMatchObject({ code: 'UNAUTHENTICATED' });
    }
    const messages = new Set(errors.map((error) => (error as Error).message));
    expect(messages.size).toBe(1);
    expect([...messages][0]).not.toContain(ALICE_TOKEN);
  });

  it('rejects every token when the tokens file lists none', async () => {
    const empty = new TokensAuthenticator(writeTokensFile('empty.yaml', '[]\n'));

    await expect(empty.authenticate(requestWith(`Bearer ${ALICE_TOKEN}`))).rejects.toBeInstanceOf(UnauthenticatedError);
  });
});

describe('TokensAuthenticator with an invalid tokens file', () => {
  const invalidFiles: [string, unknown, string][] = [
    ['a digest that is not 64 hex digits', [{ sha256: 'abc', subject: 'x' }], 'sha256'],
    ['an entry without a subject', [{ sha256: sha256('t') }], 'subject'],
    ['an unknown key in an entry', [{ sha256: sha256('t'), subject: 'x', token: 't' }], 'token'],
    ['an unknown role', [{ sha256: sha256('t'), subject: 'x', organizations: [{ id: 'acme', role: 'OWNER' }] }], 'role'],
    ['a map instead of a list', { [sha256('t')]: 'x' }, 'expected array'],
    ['an empty file', '', 'expected array'],
    ['invalid YAML', '- sha256: [unclosed\n', 'tokens'],
  ];

  it.each(invalidFiles)('throws a ConfigError naming the file for %s', (_case, content, detail) => {
    const file = writeTokensFile('invalid.yaml', content);

    expect(() => new TokensAuthenticator(file)).toThrow(ConfigError);
    expect(() => new TokensAuthenticator(file)).toThrow(file);
    expect(() => new TokensAuthenticator(file)).toThrow(detail);
  });

  it('throws a ConfigError naming a tokens file that does not exist', () => {
    const missing = join(dir, 'missing.yaml');

    expect(() => new TokensAuthenticator(missing)).toThrow(ConfigError);
    expect(() => new TokensAuthenticator(missing)).toThrow(missing);
  });
});
