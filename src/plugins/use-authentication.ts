import type { Plugin } from 'graphql-yoga';
import type { Authenticator } from '../auth/authenticator.js';
import type { Principal } from '../auth/principal.js';
import { RateLimitedError, UnauthenticatedError } from '../errors.js';
import type { RequestRateLimiter } from '../limits/request-rate-limiter.js';
import type { Metrics } from '../metrics.js';
import { errorResponse } from '../schema/query-errors.js';

export interface AuthenticationOptions {
  authenticator: Authenticator;
  /** Requests per subject, and per client address for requests that do not authenticate. */
  rateLimiter: RequestRateLimiter;
  metrics: Metrics;
}

const principals = new WeakMap<Request, Principal>();

/** The caller useAuthentication established for this request (before its document was even read). */
export function principalOf(request: Request): Principal {
  const principal = principals.get(request);
  if (!principal) throw new UnauthenticatedError();
  return principal;
}

/**
 * Authenticates every GraphQL request before its body is read, parsed, validated or cached, and
 * applies the rate limit: an unauthenticated request costs a hash look-up whatever it carries, and
 * gets 401 (or 429 when its address keeps trying); an authenticated one over its subject's rate gets
 * 429 with Retry-After.
 */
export function useAuthentication({ authenticator, rateLimiter, metrics }: AuthenticationOptions): Plugin {
  return {
    async onRequestParse({ request, serverContext, endResponse }) {
      const principal = await authenticator.authenticate(request).catch((error: unknown) => {
        if (error instanceof UnauthenticatedError) return null;
        throw error;
      });
      const key = principal ? `subject:${principal.subject}` : `address:${clientAddress(serverContext)}`;
      const decision = await rateLimiter.consume(key);
      if (!decision.allowed) {
        metrics.requestsRefused.inc({ reason: 'rateLimit' });
        return endResponse(errorResponse(new RateLimitedError(decision.retryAfterSeconds)));
      }
      if (!principal) {
        metrics.requestsRefused.inc({ reason: 'unauthenticated' });
        return endResponse(errorResponse(new UnauthenticatedError()));
      }
      principals.set(request, principal);
    },
  };
}

/** The peer address of the connection (yoga.fetch in tests has none). */
function clientAddress(serverContext: unknown): string {
  return (serverContext as { req?: { socket?: { remoteAddress?: string } } }).req?.socket?.remoteAddress ?? 'unknown';
}
