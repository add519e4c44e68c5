import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';
import { createProvider } from '../providers/create-provider.js';
import type { ImageProvider } from '../providers/types.js';
import { ResilientProvider } from './resilient-provider.js';

/**
 * Every configured region's provider, as the server reaches it: behind a ResilientProvider (counted,
 * with deadlines, a circuit breaker and read retries, provider-level errors mapped to domain errors).
 * Request handling (through `ctx.provider(region)`) and background imports both get their providers
 * here, so no call bypasses the metrics or the breaker.
 */
export class ProviderRegistry {
  private readonly providers: ReadonlyMap<string, ResilientProvider>;

  constructor(config: Config, options: { logger: Logger; metrics: Metrics }) {
    const { limits } = config;
    this.providers = new Map(
      config.regions.map((region) => [
        region.id,
        new ResilientProvider(region.id, createProvider(region, options.logger), {
          timeoutMs: limits.providerTimeoutMs,
          breakerFailures: limits.circuitBreakerFailures,
          breakerResetMs: limits.circuitBreakerResetMs,
          metrics: options.metrics,
        }),
      ]),
    );
  }

  /** The region's provider; throws for a region that is not configured (a programming error). */
  get(region: string): ImageProvider {
    const provider = this.providers.get(region);
    if (!provider) throw new Error(`No provider configured for region ${region}`);
    return provider;
  }

  /** Every region with its provider, in configuration order. */
  entries(): [string, ImageProvider][] {
    return [...this.providers];
  }

  async close(): Promise<void> {
    await Promise.all([...this.providers.values()].map((provider) => provider.close()));
  }
}
