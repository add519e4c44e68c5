import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLError } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { RegionAccessPolicy } from './access/region-access-policy.js';
import { createAuthenticator } from './auth/create-authenticator.js';
import type { Config } from './config.js';
import { type Context, createContext, type Services } from './context.js';
import { EXAMPLE_QUERY, renderGraphiQLPage } from './graphiql/graphiql-page.js';
import { createLogger, type Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { useErrorLog } from './plugins/use-error-log.js';
import { useOperationalRoutes } from './plugins/use-operational-routes.js';
import { requestIdOf, useRequestLog } from './plugins/use-request-log.js';
import { ImageEvents } from './image-events.js';
import { GuardedFetcher } from './imports/guarded-fetch.js';
import { ImportRunner } from './imports/import-runner.js';
import { createProvider } from './providers/create-provider.js';
import type { ImageProvider } from './providers/types.js';
import { schema } from './schema/index.js';
import { toGraphQLError } from './schema/query-errors.js';

export interface Imagegraph {
  yoga: YogaServerInstance<Record<string, unknown>, Context>;
  services: Services;
  /** Starts the HTTP listener on the configured host and port; resolves with the URL of the GraphQL endpoint. */
  listen(): Promise<string>;
  /** Stops accepting, lets in-flight requests finish (bounded by shutdownTimeoutMs), closes providers. */
  close(): Promise<void>;
}

export interface ImagegraphOptions {
  logger?: Logger;
}

/** Builds the server from a validated config: providers, auth, access policy, yoga and its plugins. */
export async function createImagegraph(config: Config, options: ImagegraphOptions = {}): Promise<Imagegraph> {
  const logger = options.logger ?? createLogger(config.logLevel);
  const providers = new Map<string, ImageProvider>(config.regions.map((region) => [region.id, createProvider(region, logger)]));
  const events = new ImageEvents();
  const fetcher = new GuardedFetcher({ allowedHosts: config.imports.allowedHosts, allowHttp: config.imports.allowHttp });
  const runner = new ImportRunner({
    providers,
    fetcher,
    events,
    logger: logger.child({ component: 'imports' }),
    maxConcurrent: config.imports.maxConcurrent,
    maxSizeBytes: config.imports.maxSizeBytes,
  });
  const services: Services = {
    config,
    logger,
    metrics: new Metrics(),
    authenticator: await createAuthenticator(config.auth),
    accessPolicy: new RegionAccessPolicy(config.regions),
    providers,
    imports: { fetcher, runner, maxSizeBytes: config.imports.maxSizeBytes },
    events,
  };
  await runner.resumeInterrupted();

  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    landingPage: false,
    // Yoga's own probe answers any path ending in its endpoint with an empty body; move it out of the
    // way of the JSON /health served by useOperationalRoutes.
    healthCheckEndpoint: '/-/yoga-health',
    multipart: false,
    logging: yogaLogger(logger),
    graphiql: config.server.graphiql ? { title: 'imagegraph', defaultQuery: EXAMPLE_QUERY } : false,
    renderGraphiQL: renderGraphiQLPage,
    maskedErrors: { maskError: (error) => toGraphQLError(error) },
    context: ({ request }) => createContext(services, request, requestIdOf(request)),
    plugins: [
      useRequestLog({ logger, metrics: services.metrics }),
      useOperationalRoutes({ metrics: services.metrics, providers }),
      useErrorLog(),
    ],
  });

  let server: Server | undefined;
  return {
    yoga,
    services,
    listen: () =>
      new Promise((resolve, reject) => {
        server = createServer(yoga);
        server.once('error', reject);
        server.listen(config.server.port, config.server.host, () => {
          const { address, port } = server!.address() as AddressInfo;
          const host = address.includes(':') ? `[${address}]` : address;
          resolve(`http://${host}:${port}/graphql`);
        });
      }),
    close: async () => {
      if (server) await closeServer(server, config.server.shutdownTimeoutMs);
      await runner.close();
      await fetcher.close();
      await Promise.all([...providers.values()].map((provider) => provider.close()));
    },
  };
}

/**
 * Yoga logs every error its masking replaced. Domain errors are expected answers (debug); unexpected
 * errors are logged with the request id by useErrorLog, so yoga's copy is debug too.
 */
function yogaLogger(logger: Logger) {
  const yoga = logger.child({ component: 'yoga' });
  return {
    debug: (...args: unknown[]) => yoga.debug({ args }, 'yoga'),
    info: (...args: unknown[]) => yoga.info({ args }, 'yoga'),
    warn: (...args: unknown[]) => yoga.warn({ args }, 'yoga'),
    error: (...args: unknown[]) =>
      args.some((arg) => arg instanceof GraphQLError) ? yoga.debug({ err: args[0] }, 'masked error') : yoga.error({ args }, 'yoga'),
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
