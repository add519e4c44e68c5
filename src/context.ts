import type { RegionAccessLoader } from './access/region-access-loader.js';
import { createRegionAccessLoader } from './access/region-access-loader.js';
import type { RegionAccessPolicy } from './access/region-access-policy.js';
import type { Authenticator } from './auth/authenticator.js';
import type { Principal } from './auth/principal.js';
import type { Config } from './config.js';
import type { ImageEvents } from './image-events.js';
import type { ImageWatcher } from './image-watcher.js';
import type { GuardedFetcher } from './imports/guarded-fetch.js';
import type { ImportRunner } from './imports/import-runner.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';
import { principalOf } from './plugins/use-authentication.js';
import { ProviderCalls } from './provider-calls.js';
import type { ImageProvider } from './providers/types.js';

/** What lives as long as the server: built once in `server.ts`. */
export interface Services {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  authenticator: Authenticator;
  accessPolicy: RegionAccessPolicy;
  providers: ReadonlyMap<string, ImageProvider>;
  imports: Imports;
  events: ImageEvents;
  watcher: ImageWatcher;
}

/** What imports need: the guarded client, the background runner and the size limit. */
export interface Imports {
  fetcher: GuardedFetcher;
  runner: ImportRunner;
  maxSizeBytes: number;
}

/** What lives as long as one GraphQL request. */
export interface Context {
  principal: Principal;
  requestId: string;
  log: Logger;
  /** Ids of every configured region, in configuration order (visible or not). */
  configuredRegions: readonly string[];
  /** Every region check goes through here: one policy batch per request. */
  regionAccess: RegionAccessLoader;
  providerCalls: ProviderCalls;
  imports: Imports;
  events: ImageEvents;
  watcher: ImageWatcher;
}

/** The request's context: the caller useAuthentication established before parsing, and fresh loaders. */
export function createContext(services: Services, request: Request, requestId: string): Context {
  const principal = principalOf(request);
  return {
    principal,
    requestId,
    log: services.logger.child({ requestId, subject: principal.subject }),
    configuredRegions: services.config.regions.map((region) => region.id),
    regionAccess: createRegionAccessLoader(services.accessPolicy, principal, services.metrics),
    providerCalls: new ProviderCalls(services.providers),
    imports: services.imports,
    events: services.events,
    watcher: services.watcher,
  };
}
