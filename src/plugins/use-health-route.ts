import type { ServerAdapterPlugin } from '@whatwg-node/server';

export interface HealthRouteOptions {
  /** Path of the liveness probe. @default '/health' */
  path?: string;
}

/** Liveness: `GET /health` answers `{"status":"ok"}` while the process serves requests; it checks nothing else. */
export function useHealthRoute({ path = '/health' }: HealthRouteOptions = {}): ServerAdapterPlugin {
  return {
    onRequest({ request, url, endResponse }) {
      if (url.pathname === path && (request.method === 'GET' || request.method === 'HEAD')) {
        endResponse(Response.json({ status: 'ok' }));
      }
    },
  };
}
