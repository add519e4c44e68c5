import { createRemoteJWKSet, importSPKI, type JWTPayload, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import type { AuthConfig } from '../config.js';
import { UnauthenticatedError } from '../errors.js';
import { type Authenticator, bearerToken } from './authenticator.js';
import { MembershipSchema, type Principal, ROLES } from './principal.js';

type JwtConfig = Extract<AuthConfig, { mode: 'jwt' }>['jwt'];
type VerificationKey = JWTVerifyGetKey | Awaited<ReturnType<typeof importSPKI>>;

/** Accepts either `[{ id, role }]` or `{ <id>: <role> }`: identity providers differ in what they can emit. */
const OrganizationsClaimSchema = z.union([
  z.array(MembershipSchema),
  z.record(z.string().min(1), z.enum(ROLES)).transform((map) => Object.entries(map).map(([id, role]) => ({ id, role }))),
]);

/** OIDC bearer JWTs: signature, issuer, audience, algorithms and expiry checked by jose. */
export class JwtAuthenticator implements Authenticator {
  private constructor(
    private readonly config: JwtConfig,
    private readonly key: VerificationKey,
  ) {}

  static async create(config: JwtConfig): Promise<JwtAuthenticator> {
    const key = config.jwksUrl
      ? createRemoteJWKSet(new URL(config.jwksUrl), { timeoutDuration: 5_000, cooldownDuration: 30_000 })
      : await importSPKI(config.publicKeyPem!, config.algorithms[0]!);
    return new JwtAuthenticator(config, key);
  }

  async authenticate(request: Request): Promise<Principal> {
    const token = bearerToken(request);
    if (!token) throw new UnauthenticatedError();
    let payload: JWTPayload;
    try {
      const options = { issuer: this.config.issuer, audience: this.config.audience, algorithms: this.config.algorithms };
      payload = (typeof this.key === 'function'
        ? await jwtVerify(token, this.key, options)
        : await jwtVerify(token, this.key, options)
      ).payload;
    } catch {
      throw new UnauthenticatedError();
    }
    const organizations = OrganizationsClaimSchema.safeParse(payload[this.config.organizationsClaim] ?? []);
    if (!payload.sub || !organizations.success) throw new UnauthenticatedError();
    return {
      subject: payload.sub,
      platformAdmin: payload[this.config.platformAdminClaim] === true,
      organizations: organizations.data,
    };
  }
}
