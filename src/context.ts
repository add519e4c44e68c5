import type { PlatformImageSignatures } from './access/platform-image-signatures.js';
import type { RegionAccessLoader } from './access/region-access-loader.js';
import { createRegionAccessLoader } from './access/region-access-loader.js';
import type { Principal } from './auth/principal.js';
import type { ImageEvents } from './image-events.js';
import type { ImageWatcher } from './image-watcher.js';
import type { Logger } from './logger.js';
import { principalOf } from './plugins/use-authentication.js';
import { type RequestProvider, requestProviders } from './provider-access/request-providers.js';
import type { Imports, Services } from './services.js';

/** What lives as long as one GraphQL request. */
export interface Context {
  principal: Principal;
  requestId: string;
  /** The time of the request: every comparison with "now" in it (deprecations) uses this one. */
  now: Date;
  log: Logger;
  /** Ids of every configured region, in configuration order (visible or not). */
  configuredRegions: readonly string[];
  /** Every region check goes through here: one policy batch per request. */
  regionAccess: RegionAccessLoader;
  /** The one way a request reaches a region's provider: reads shared within the request, every call counted. */
  provider(region: string): RequestProvider;
  imports: Imports;
  signatures: PlatformImageSignatures;
  events: ImageEvents;
  watcher: ImageWatcher;
}

/** The request's context: the caller useAuthentication established before parsing, and fresh loaders. */
export function createContext(services: Services, request: Request, requestId: string): Context {
  const principal = principalOf(request);
  return {
    principal,
    requestId,
    now: new Date(),
    log: services.logger.child({ requestId, subject: principal.subject }),
    configuredRegions: services.config.regions.map((region) => region.id),
    regionAccess: createRegionAccessLoader(services.accessPolicy, principal, services.metrics),
    provider: requestProviders(services.providers),
    imports: services.imports,
    signatures: services.signatures,
    events: services.events,
    watcher: services.watcher,
  };
}
