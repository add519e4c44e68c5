import type { ServerAdapterPlugin } from '@whatwg-node/server';
import type { Metrics } from '../metrics.js';
import { opsAllowed } from './ops-token.js';

export interface MetricsRouteOptions {
  metrics: Metrics;
  /**
   * When set, only `Authorization: Bearer <token>` may read the route (the public port); unset on the
   * operations listener. The metrics name every region and tenant activity.
   */
  token?: string;
  /** @default '/metrics' */
  path?: string;
}

/** `GET /metrics`: the server's Prometheus metrics as text. */
export function useMetricsRoute({ metrics, token, path = '/metrics' }: MetricsRouteOptions): ServerAdapterPlugin {
  return {
    async onRequest({ request, url, endResponse }) {
      if (url.pathname !== path || request.method !== 'GET' || !opsAllowed(request, token)) return;
      endResponse(new Response(await metrics.registry.metrics(), { headers: { 'content-type': metrics.registry.contentType } }));
    },
  };
}
