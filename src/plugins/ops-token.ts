import { createHash, timingSafeEqual } from 'node:crypto';
import { bearerToken } from '../auth/authenticator.js';

/**
 * Whether a request may see an operational route: always on the operations listener (`token`
 * undefined), else only with `Authorization: Bearer <token>`, compared in constant time.
 */
export function opsAllowed(request: Request, token: string | undefined): boolean {
  if (token === undefined) return true;
  const given = bearerToken(request);
  if (!given) return false;
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(given), digest(token));
}
