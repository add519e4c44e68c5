import { createServer, type RequestListener, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServerAdapter } from '@whatwg-node/server';
import { GraphQLError } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import type { Config } from './config.js';
import { type Context, createContext } from './context.js';
import { EXAMPLE_QUERY, renderGraphiQLPage } from './graphiql/graphiql-page.js';
import { documentCaches } from './limits/document-cache.js';
import { createLogger, type Logger } from './logger.js';
import { useAuthentication } from './plugins/use-authentication.js';
import { useCompiledQueries } from './plugins/use-compiled-queries.js';
import { useErrorLog } from './plugins/use-error-log.js';
import { useGraphiQLAssets } from './plugins/use-graphiql-assets.js';
import { useHealthRoute } from './plugins/use-health-route.js';
import { useMetricsRoute } from './plugins/use-metrics-route.js';
import { useQueryLimits } from './plugins/use-query-limits.js';
import { useReadinessRoute } from './plugins/use-readiness-route.js';
import { useRequestBody } from './plugins/use-request-body.js';
import { useRequestErrors } from './plugins/use-request-errors.js';
import { requestIdOf, useRequestLog } from './plugins/use-request-log.js';
import type { ImageProvider } from './providers/types.js';
import { schema } from './schema/index.js';
import { isExpectedError, toGraphQLError } from './schema/query-errors.js';
import { createServices, type Services } from './services.js';

export interface Imagegraph {
  /** The GraphQL endpoint and public routes, as a fetch handler (`yoga.fetch(request)`). */
  yoga: YogaServerInstance<Record<string, unknown>, Context>;
  /** The operations routes (/health, /ready, /metrics) as the operations listener serves them. */
  ops: (request: Request) => Promise<Response>;
  /** A region's provider as the server reaches it (counted, guarded): for seeding data and inspecting it. */
  provider(region: string): ImageProvider;
  /** Resolves when no import is queued or running (tests, benchmarks). */
  importsIdle(): Promise<void>;
  /**
   * Starts the public listener (GraphQL) and the operations listener on the configured hosts and
   * ports; resolves with the URL of the GraphQL endpoint and the operations listener's base URL.
   */
  listen(): Promise<{ url: string; opsUrl: string }>;
  /** Stops accepting, lets in-flight requests finish (bounded by shutdownTimeoutMs), closes providers. */
  close(): Promise<void>;
}

export interface ImagegraphOptions {
  logger?: Logger;
}

/** The server from a validated config: its services, and yoga with its plugins on two HTTP listeners. */
export async function createImagegraph(config: Config, options: ImagegraphOptions = {}): Promise<Imagegraph> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const services = await createServices(config, logger);
  await services.start();
  const yoga = createGraphQLServer(services);
  const ops = createServerAdapter(() => new Response('Not found', { status: 404 }), {
    plugins: [
      useHealthRoute(),
      useReadinessRoute({ providers: services.providers, coordination: services.coordination }),
      useMetricsRoute({ metrics: services.metrics }),
    ],
  });

  const listeners: Server[] = [];
  const start = (handler: RequestListener, host: string, port: number) =>
    new Promise<string>((resolve, reject) => {
      const server = createServer(
        {
          headersTimeout: config.server.headersTimeoutMs,
          requestTimeout: config.server.requestTimeoutMs,
          keepAliveTimeout: config.server.keepAliveTimeoutMs,
          // Node checks the two timeouts above only this often (30 s by default, which let slow clients hold on far longer).
          connectionsCheckingInterval: Math.min(1_000, Math.ceil(config.server.headersTimeoutMs / 4)),
        },
        handler,
      );
      server.maxConnections = config.server.maxConnections;
      server.once('error', reject);
      server.listen(port, host, () => {
        listeners.push(server);
        const { address, port: bound } = server.address() as AddressInfo;
        resolve(`http://${address.includes(':') ? `[${address}]` : address}:${bound}`);
      });
    });
  return {
    yoga,
    ops: async (request) => ops.fetch(request),
    provider: (region) => services.providers.get(region),
    importsIdle: () => services.imports.queue.idle(),
    listen: async () => {
      const base = await start(yoga, config.server.host, config.server.port);
      const opsUrl = await start(ops, config.server.opsHost, opsPortOf(config.server));
      return { url: `${base}/graphql`, opsUrl };
    },
    close: async () => {
      // Subscriptions end first: their streams would otherwise hold the listeners open until the timeout.
      services.watcher.close();
      await Promise.all(listeners.map((server) => closeServer(server, config.server.shutdownTimeoutMs)));
      await services.close();
    },
  };
}

/** graphql-yoga with imagegraph's plugins, in the order a request meets them. */
function createGraphQLServer(services: Services): YogaServerInstance<Record<string, unknown>, Context> {
  const { config, logger, metrics } = services;
  const { limits } = config;
  const origins = new Set(config.server.cors.origins);
  const opsToken = config.server.opsToken;
  return createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // Yoga's own probe answers any path ending in its endpoint with an empty body; move it out of the
    // way of the JSON /health served by useHealthRoute.
    healthCheckEndpoint: '/-/yoga-health',
    multipart: false,
    // useRequestBody bounds bodies (Content-Length checked first, else counted while reading); yoga's own
    // limit would pipe every body through a TransformStream, an AbortController and a DOMException more.
    maxRequestBodySize: false,
    logging: yogaLogger(logger),
    graphiql: config.server.graphiql ? { title: 'imagegraph', defaultQuery: EXAMPLE_QUERY } : false,
    renderGraphiQL: renderGraphiQLPage,
    maskedErrors: { maskError: (error) => toGraphQLError(error) },
    parserAndValidationCache: documentCaches(limits.documentCacheBytes),
    // Only the configured origins get CORS headers (credentials allowed, never a wildcard); any
    // other origin gets none, so the browser keeps the answer from the page.
    cors: (request) => {
      const origin = request.headers.get('origin');
      if (!origin || !origins.has(origin)) return false;
      return { origin: [origin], credentials: true, methods: ['GET', 'POST'], exposedHeaders: ['x-request-id'] };
    },
    context: ({ request }) => createContext(services, request, requestIdOf(request)),
    plugins: [
      useRequestLog({ logger, metrics }),
      useHealthRoute(),
      ...(opsToken
        ? [
            useReadinessRoute({ providers: services.providers, token: opsToken, coordination: services.coordination }),
            useMetricsRoute({ metrics, token: opsToken }),
          ]
        : []),
      useGraphiQLAssets(),
      useRequestBody({ maxBodyBytes: limits.maxBodyBytes, metrics }),
      useAuthentication({ authenticator: services.authenticator, rateLimiter: services.rateLimiter, metrics }),
      useQueryLimits({ ...limits, metrics }),
      useErrorLog(),
      useRequestErrors(),
      useCompiledQueries(),
    ],
  });
}

/** The operations listener's port: configured, else the public port + 1 (any free port when that is 0). */
function opsPortOf(server: Config['server']): number {
  if (server.opsPort !== undefined) return server.opsPort;
  return server.port === 0 || server.port === 65535 ? 0 : server.port + 1;
}

/**
 * Yoga logs every error its masking replaced, and its own failures. Expected errors (domain errors,
 * the client's mistakes) are debug; anything else is an error with its cause, serialized as pino does.
 */
function yogaLogger(logger: Logger) {
  const yoga = logger.child({ component: 'yoga' });
  const describe = (args: unknown[]) => {
    const err = args.find((arg) => arg instanceof Error);
    const text = args.filter((arg) => typeof arg === 'string').join(' ');
    return { err, text: text || (err instanceof Error ? err.message : 'yoga') };
  };
  return {
    debug: (...args: unknown[]) => yoga.debug(describe(args).text),
    info: (...args: unknown[]) => yoga.info(describe(args).text),
    warn: (...args: unknown[]) => yoga.warn(describe(args).text),
    error: (...args: unknown[]) => {
      const { err, text } = describe(args);
      if (args.some((arg) => arg instanceof GraphQLError || isExpectedError(arg))) yoga.debug({ err }, text);
      else yoga.error({ err }, text);
    },
  };
}

/** Stops accepting, waits for in-flight requests, then cuts whatever is still open after the timeout. */
async function closeServer(server: Server, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
  await closed;
  clearTimeout(timer);
}
