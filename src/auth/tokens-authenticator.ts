import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError } from '../config.js';
import { UnauthenticatedError } from '../errors.js';
import { type Authenticator, bearerToken } from './authenticator.js';
import { MembershipSchema, type Principal } from './principal.js';

export const TokensFileSchema = z.array(
  z.strictObject({
    sha256: z.string().regex(/^[0-9a-f]{64}$/i, "must be the 64 hex digits of the token's SHA-256"),
    subject: z.string().min(1),
    platformAdmin: z.boolean().default(false),
    organizations: z.array(MembershipSchema).default([]),
  }),
);

interface TokenEntry {
  digest: Buffer;
  principal: Principal;
}

/** Bearer tokens for automation clients, listed by SHA-256 in a YAML file so no secret sits on disk. */
export class TokensAuthenticator implements Authenticator {
  private readonly entries: TokenEntry[];

  constructor(tokensFile: string) {
    this.entries = readTokensFile(tokensFile).map(({ sha256, ...principal }) => ({
      digest: Buffer.from(sha256, 'hex'),
      principal,
    }));
  }

  async authenticate(request: Request): Promise<Principal> {
    const token = bearerToken(request);
    if (!token) throw new UnauthenticatedError();
    const digest = createHash('sha256').update(token).digest();
    // Compare against every entry, whichever matches, so timing does not tell how far the list was read.
    let match: Principal | null = null;
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, digest)) match = entry.principal;
    }
    if (!match) throw new UnauthenticatedError();
    return match;
  }
}

function readTokensFile(file: string): z.infer<typeof TokensFileSchema> {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError(`Cannot read auth.tokensFile ${file}: ${(error as Error).message}`);
  }
  const result = TokensFileSchema.safeParse(raw);
  if (!result.success) throw new ConfigError(`Invalid auth.tokensFile ${file}:\n${z.prettifyError(result.error)}`);
  return result.data;
}
