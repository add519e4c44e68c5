import type { Config } from '../config.js';
import type { ImageEvents } from '../image-events.js';
import type { ImportExecutor } from '../imports/import-executor.js';
import type { ImportQueue } from '../imports/import-queue.js';
import { InProcessImportQueue } from '../imports/in-process-import-queue.js';
import type { SharedCounters } from '../limits/request-rate-limiter.js';
import type { Logger } from '../logger.js';
import type { ProviderRegistry } from '../provider-access/provider-registry.js';
import { RedisClients } from './redis-clients.js';
import { RedisEventBus } from './redis-event-bus.js';
import { RedisImportQueue } from './redis-import-queue.js';

/** How this replica works with the others: alone (embedded), or through Redis (`coordination.redis`). */
export interface Coordination {
  mode: 'embedded' | 'redis';
  queue: ImportQueue;
  /** Where rate limits are counted; undefined: in this process. */
  counters?: SharedCounters;
  /** Null while the replicas can coordinate (always, when embedded); otherwise why not, for /ready. */
  unavailableReason(): string | null;
  close(): Promise<void>;
}

export interface CoordinationParts {
  providers: ProviderRegistry;
  executor: ImportExecutor;
  events: ImageEvents;
  logger: Logger;
}

/** Builds the import queue, event bus and counters the config asks for; nothing else knows which. */
export function createCoordination(config: Config, parts: CoordinationParts): Coordination {
  const queueSettings = { maxConcurrent: config.imports.maxConcurrent, perOwner: config.limits.importsPerOrganization };
  const logger = parts.logger.child({ component: 'imports' });
  const settings = config.coordination.redis;
  if (!settings) {
    const queue = new InProcessImportQueue({ ...parts, ...queueSettings, logger });
    return { mode: 'embedded', queue, unavailableReason: () => null, close: () => queue.close() };
  }
  const redis = new RedisClients(settings, parts.logger.child({ component: 'coordination' }));
  parts.events.connect(new RedisEventBus(redis, parts.logger));
  const queue = new RedisImportQueue({
    ...parts,
    ...queueSettings,
    logger,
    redis,
    leaseMs: config.coordination.leaseSeconds * 1000,
  });
  return {
    mode: 'redis',
    queue,
    counters: { redis: redis.commands, keyPrefix: settings.keyPrefix },
    unavailableReason: () => redis.unavailableReason(),
    close: async () => {
      await queue.close();
      await redis.close();
    },
  };
}
