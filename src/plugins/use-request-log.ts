import { randomUUID } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

export interface RequestLogOptions {
  logger: Logger;
  metrics: Metrics;
}

const requestIds = new WeakMap<Request, string>();
const startTimes = new WeakMap<Request, bigint>();
const INCOMING_ID = /^[\w.:-]{1,128}$/;

/** The request's id: the caller's `x-request-id` when it is sane, else a new UUID. */
export function requestIdOf(request: Request): string {
  let id = requestIds.get(request);
  if (!id) {
    const incoming = request.headers.get('x-request-id');
    id = incoming && INCOMING_ID.test(incoming) ? incoming : randomUUID();
    requestIds.set(request, id);
  }
  return id;
}

/**
 * Gives every request an id (echoed in `x-request-id`), logs one JSON line when it ends and records
 * its duration, so a client's report can be matched to the server's log.
 */
export function useRequestLog({ logger, metrics }: RequestLogOptions): Plugin {
  return {
    onRequest({ request }) {
      requestIdOf(request);
      startTimes.set(request, process.hrtime.bigint());
    },
    // Requests that yoga's built-in plugins answer (the GraphiQL page) skip onRequest: they get an id
    // here and no duration.
    onResponse({ request, response, serverContext }) {
      const requestId = requestIdOf(request);
      response.headers.set('x-request-id', requestId);
      const start = startTimes.get(request);
      const seconds = start === undefined ? undefined : Number(process.hrtime.bigint() - start) / 1e9;
      const path = new URL(request.url).pathname;
      if (seconds !== undefined) {
        metrics.httpRequestDuration.observe({ route: routeLabel(path), status: String(response.status) }, seconds);
      }
      const ip = (serverContext as { req?: { socket?: { remoteAddress?: string } } }).req?.socket?.remoteAddress;
      const durationMs = seconds === undefined ? undefined : Math.round(seconds * 1000);
      logger.info({ requestId, method: request.method, path, status: response.status, durationMs, ip }, 'request');
    },
  };
}

/** Keeps the metric's label set small whatever paths clients try. */
function routeLabel(path: string): string {
  return ['/graphql', '/health', '/ready', '/metrics'].includes(path)
    ? path
    : path.startsWith('/graphiql-assets/')
      ? '/graphiql-assets'
      : 'other';
}
