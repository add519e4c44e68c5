import type { Plugin } from 'graphql-yoga';
import { graphiqlAsset } from '../graphiql/graphiql-assets.js';
import type { Metrics } from '../metrics.js';
import type { ImageProvider } from '../providers/types.js';

export interface OperationalRoutesOptions {
  metrics: Metrics;
  providers: ReadonlyMap<string, ImageProvider>;
  /** How long `/ready` waits for each provider. @default 3000 */
  readyTimeoutMs?: number;
}

/** `/health` (liveness), `/ready` (every provider answers), `/metrics` (Prometheus) and GraphiQL's files. */
export function useOperationalRoutes({ metrics, providers, readyTimeoutMs = 3000 }: OperationalRoutesOptions): Plugin {
  return {
    async onRequest({ request, url, endResponse }) {
      if (request.method !== 'GET' && request.method !== 'HEAD') return;
      switch (url.pathname) {
        case '/health':
          return endResponse(Response.json({ status: 'ok' }));
        case '/ready':
          return endResponse(await readiness(providers, readyTimeoutMs));
        case '/metrics':
          return endResponse(
            new Response(await metrics.registry.metrics(), { headers: { 'content-type': metrics.registry.contentType } }),
          );
        default: {
          const asset = await graphiqlAsset(url.pathname);
          if (asset) endResponse(asset);
        }
      }
    },
  };
}

async function readiness(providers: ReadonlyMap<string, ImageProvider>, timeoutMs: number): Promise<Response> {
  const checks = await Promise.all(
    [...providers].map(async ([region, provider]) => {
      try {
        await Promise.race([
          provider.checkHealth(),
          new Promise((_, reject) => setTimeout(() => reject(new Error('timed out')), timeoutMs).unref()),
        ]);
        return [region, 'ok'] as const;
      } catch {
        return [region, 'unavailable'] as const;
      }
    }),
  );
  const ready = checks.every(([, state]) => state === 'ok');
  return Response.json({ status: ready ? 'ready' : 'not ready', regions: Object.fromEntries(checks) }, { status: ready ? 200 : 503 });
}
