import type { Redis } from 'ioredis';
import {
  BurstyRateLimiter,
  type IRateLimiterOptions,
  RateLimiterMemory,
  RateLimiterRedis,
  RateLimiterRes,
} from 'rate-limiter-flexible';

export interface RateLimitOptions {
  /** Sustained requests per second of one key. */
  requestsPerSecond: number;
  /** Extra requests one key may make at once above the sustained rate. */
  burst: number;
}

/** Where the counts live: this process, or a Redis every replica shares. */
export interface SharedCounters {
  redis: Redis;
  keyPrefix: string;
}

export type RateDecision = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Requests per key (a subject, or a client address before authentication): `requestsPerSecond` in
 * every second, and when those are spent, up to `burst` more per burst window (burst / rate seconds),
 * so a page that fires a volley of requests at once is served and a sustained flood is not.
 * rate-limiter-flexible counts atomically, in memory or, with several replicas, in Redis; while
 * Redis is away each replica counts in memory (its insurance limiter), so requests keep being served.
 */
export class RequestRateLimiter {
  private readonly limiter: BurstyRateLimiter;

  constructor(options: RateLimitOptions, shared?: SharedCounters) {
    const limiter = (settings: IRateLimiterOptions) => {
      const memory = new RateLimiterMemory(settings);
      if (!shared) return memory;
      return new RateLimiterRedis({
        ...settings,
        keyPrefix: `${shared.keyPrefix}:${settings.keyPrefix}`,
        storeClient: shared.redis,
        rejectIfRedisNotReady: true,
        insuranceLimiter: memory,
      });
    };
    const sustained = limiter({ keyPrefix: 'rate', points: options.requestsPerSecond, duration: 1 });
    const burst = limiter({
      keyPrefix: 'burst',
      points: options.burst,
      duration: Math.max(1, Math.ceil(options.burst / options.requestsPerSecond)),
    });
    this.limiter = new BurstyRateLimiter(sustained, burst);
  }

  async consume(key: string): Promise<RateDecision> {
    try {
      await this.limiter.consume(key);
      return { allowed: true };
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(rejection.msBeforeNext / 1000)) };
    }
  }
}
