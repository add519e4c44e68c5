import type { ServerAdapterPlugin } from '@whatwg-node/server';
import type { ImageProvider } from '../providers/types.js';
import { opsAllowed } from './ops-token.js';

export interface ReadinessRouteOptions {
  /** Every region's provider, asked in order (a Map or the provider registry). */
  providers: { entries(): Iterable<[string, ImageProvider]> };
  /** How long the route waits for each provider. @default 3000 */
  timeoutMs?: number;
  /**
   * When set, only `Authorization: Bearer <token>` may read the route (the public port); unset on the
   * operations listener. The answer names every region, restricted ones too.
   */
  token?: string;
  /** @default '/ready' */
  path?: string;
  /** How the replicas coordinate; reported when they do so through Redis. */
  coordination?: { mode: 'embedded' | 'redis'; unavailableReason(): string | null };
}

/**
 * Readiness: `GET /ready` asks every region's provider at once; 503 and the failing regions when any
 * does not answer. With Redis coordination it also says whether Redis answers. Redis away is
 * `degraded`, still 200: queries and deletes keep working and only new imports are refused, so a
 * load balancer should keep the replica (taking every replica out would stop the queries too).
 */
export function useReadinessRoute({
  providers,
  timeoutMs = 3000,
  token,
  path = '/ready',
  coordination,
}: ReadinessRouteOptions): ServerAdapterPlugin {
  return {
    async onRequest({ request, url, endResponse }) {
      if (url.pathname !== path || request.method !== 'GET' || !opsAllowed(request, token)) return;
      endResponse(await readiness(providers, timeoutMs, coordination));
    },
  };
}

async function readiness(
  providers: ReadinessRouteOptions['providers'],
  timeoutMs: number,
  coordination: ReadinessRouteOptions['coordination'],
): Promise<Response> {
  const checks = await Promise.all(
    [...providers.entries()].map(async ([region, provider]) => {
      const timedOut = AbortSignal.timeout(timeoutMs);
      try {
        await Promise.race([
          provider.checkHealth(),
          new Promise((_, reject) => timedOut.addEventListener('abort', () => reject(new Error('timed out')))),
        ]);
        return [region, 'ok'] as const;
      } catch {
        return [region, 'unavailable'] as const;
      }
    }),
  );
  const ready = checks.every(([, state]) => state === 'ok');
  const regions = Object.fromEntries(checks);
  if (coordination?.mode !== 'redis')
    return Response.json({ status: ready ? 'ready' : 'not ready', regions }, { status: ready ? 200 : 503 });
  const reason = coordination.unavailableReason();
  const redis =
    reason === null ? { state: 'ok' } : { state: 'unavailable', reason: `${reason}; new imports are refused until it answers` };
  const status = !ready ? 'not ready' : reason === null ? 'ready' : 'degraded';
  return Response.json({ status, regions, coordination: { redis } }, { status: ready ? 200 : 503 });
}
