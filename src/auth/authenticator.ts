import type { Principal } from './principal.js';

/**
 * Turns a request's credentials into a Principal. Implementations throw UnauthenticatedError for a
 * missing or bad credential, with the same message whatever the cause.
 */
export interface Authenticator {
  authenticate(request: Request): Promise<Principal>;
}

/** The token of an `Authorization: Bearer <token>` header, or null. */
export function bearerToken(request: Request): string | null {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '');
  return match?.[1] ?? null;
}
