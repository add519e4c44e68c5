import { PlatformImageSignatures } from './access/platform-image-signatures.js';
import { RegionAccessPolicy } from './access/region-access-policy.js';
import type { Authenticator } from './auth/authenticator.js';
import { createAuthenticator } from './auth/create-authenticator.js';
import type { Config } from './config.js';
import { type Coordination, createCoordination } from './coordination/coordination.js';
import { ImageEvents } from './image-events.js';
import { ImageWatcher } from './image-watcher.js';
import { ConversionTools } from './imports/conversion/conversion-tools.js';
import { ScratchSpace } from './imports/conversion/scratch-space.js';
import { GuardedFetcher } from './imports/guarded-fetch.js';
import { ImportExecutor } from './imports/import-executor.js';
import { ImportLimits } from './imports/import-limits.js';
import { ImportPipeline } from './imports/import-pipeline.js';
import { ProgressBoard } from './imports/import-progress.js';
import type { ImportQueue } from './imports/import-queue.js';
import { RequestRateLimiter } from './limits/request-rate-limiter.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { ProviderRegistry } from './provider-access/provider-registry.js';
import type { ImageProvider } from './providers/types.js';

/** What lives as long as the server, whatever serves it over HTTP. */
export interface Services {
  config: Config;
  logger: Logger;
  metrics: Metrics;
  authenticator: Authenticator;
  rateLimiter: RequestRateLimiter;
  accessPolicy: RegionAccessPolicy;
  /** Which PUBLIC images regions with a platform key show, and to whom. */
  signatures: PlatformImageSignatures;
  providers: ProviderRegistry;
  imports: Imports;
  events: ImageEvents;
  watcher: ImageWatcher;
  /** Alone, or with the other replicas through Redis. */
  coordination: Coordination;
  /** Resumes what a previous run left unfinished; called once before serving. */
  start(): Promise<void>;
  /** Stops watchers and imports (left resumable) and closes the providers. */
  close(): Promise<void>;
}

/** What imports need: the pipeline (peek, rules, conversion, storage), the queue that runs them, and what running imports report. */
export interface Imports {
  pipeline: ImportPipeline;
  queue: ImportQueue;
  progress: ProgressBoard;
}

const PREPARE_RETRY_MS = 30_000;

/** Brings a provider's data up to this version; a provider that cannot answer now is tried again later. */
async function prepareProvider(region: string, provider: ImageProvider, logger: Logger): Promise<void> {
  if (!provider.prepare) return;
  try {
    await provider.prepare();
  } catch (error) {
    logger.warn({ region, err: error }, `cannot prepare the region's provider yet; retrying in ${PREPARE_RETRY_MS / 1000} s`);
    setTimeout(() => void prepareProvider(region, provider, logger), PREPARE_RETRY_MS).unref();
  }
}

/** Builds the server's long-lived parts from a validated config; nothing here knows of HTTP or GraphQL. */
export async function createServices(config: Config, logger: Logger): Promise<Services> {
  const { limits } = config;
  const metrics = new Metrics();
  const providers = new ProviderRegistry(config, { logger, metrics });
  const events = new ImageEvents();
  const fetcher = new GuardedFetcher({ allowedHosts: config.imports.allowedHosts, allowHttp: config.imports.allowHttp });
  const scratch = new ScratchSpace(config.imports.scratchDir);
  const pipeline = new ImportPipeline({
    providers,
    fetcher,
    limits: new ImportLimits(config.imports.maxSizeBytes, config.imports.maxVirtualSizeBytes ?? config.imports.maxSizeBytes),
    tools: new ConversionTools(),
    scratch,
    conversion: {
      timeoutMs: config.imports.conversionTimeoutSeconds * 1000,
      memoryBytes: config.imports.conversionMemoryBytes,
    },
    deadlineMs: limits.importDeadlineSeconds * 1000,
    minBytesPerSecond: limits.importMinBytesPerSecond,
    throughputWindowMs: limits.importThroughputWindowSeconds * 1000,
  });
  const executor = new ImportExecutor({ providers, pipeline, events, logger: logger.child({ component: 'imports' }) });
  const coordination = createCoordination(config, { providers, executor, events, logger });
  const queue = coordination.queue;
  const progress = new ProgressBoard(events);
  const watcher = new ImageWatcher({
    providers,
    events,
    progress: (region, id) => progress.of(region, id),
    maxPerSubject: limits.maxSubscriptionsPerSubject,
  });
  return {
    config,
    logger,
    metrics,
    authenticator: await createAuthenticator(config.auth),
    rateLimiter: new RequestRateLimiter(limits.rateLimit, coordination.counters),
    accessPolicy: new RegionAccessPolicy(config.regions),
    signatures: new PlatformImageSignatures(config.regions),
    providers,
    imports: { pipeline, queue, progress },
    events,
    watcher,
    coordination,
    start: async () => {
      await Promise.all(providers.entries().map(([region, provider]) => prepareProvider(region, provider, logger)));
      await queue.resumeInterrupted();
    },
    close: async () => {
      watcher.close();
      await coordination.close();
      await fetcher.close();
      await scratch.close();
      await providers.close();
    },
  };
}
