import { createPublicKey, type KeyObject } from 'node:crypto';
import { createRemoteJWKSet, type JWTPayload, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import type { AuthConfig } from '../config.js';
import { UnauthenticatedError } from '../errors.js';
import { type Authenticator, bearerToken } from './authenticator.js';
import { MembershipSchema, type Principal, ROLES } from './principal.js';

type JwtConfig = Extract<AuthConfig, { mode: 'jwt' }>['jwt'];
type VerificationKey = JWTVerifyGetKey | KeyObject;

/**
 * Accepts either `[{ id, role }]` or `{ <id>: <role> }`: identity providers differ in what they can emit,
 * and may add fields of their own (a display name), which are ignored.
 */
const OrganizationsClaimSchema = z.union([
  z.array(z.object(MembershipSchema.shape).transform(({ id, role }) => ({ id, role }))),
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
      : // A KeyObject, not jose's importSPKI: that binds the key to one algorithm of the list.
        createPublicKey(config.publicKeyPem!);
    return new JwtAuthenticator(config, key);
  }

  async authenticate(request: Request): Promise<Principal> {
    const token = bearerToken(request);
    if (!token) throw new UnauthenticatedError();
    let payload: JWTPayload;
    try {
      const options = {
        issuer: this.config.issuer,
        audience: this.config.audience,
        algorithms: this.config.algorithms,
        // A token without an expiry would be valid for ever.
        requiredClaims: ['exp', 'sub'],
      };
      // Two calls only because jose types its key-function and key overloads apart.
      payload = (
        typeof this.key === 'function' ? await jwtVerify(token, this.key, options) : await jwtVerify(token, this.key, options)
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
