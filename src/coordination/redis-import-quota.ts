import type { Redis } from 'ioredis';

/**
 * Per-owner import places counted in Redis, shared by every replica: a sorted set per owner whose
 * members are the places and whose scores say until when each holds. A reservation holds for a few
 * minutes (the time to create the image; a replica killed meanwhile cannot leak it); a queued import
 * holds until its job ends. The check and the take are one Lua script, so replicas cannot both take
 * the last place.
 */
export class RedisImportQuota {
  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly perOwner: number,
  ) {}

  /** Takes a place for `member` when the owner has fewer than `perOwner`; false when it has them all. */
  async take(owner: string | null, member: string, holdMs: number): Promise<boolean> {
    const taken = await this.redis.eval(TAKE, 1, this.key(owner), this.perOwner, member, holdMs);
    return taken === 1;
  }

  /** Turns a reservation into the queued import's place, held until `release(job)`. */
  async convert(owner: string | null, reservation: string, job: string): Promise<void> {
    await this.redis.multi().zrem(this.key(owner), reservation).zadd(this.key(owner), '+inf', job).exec();
  }

  /** Counts an import already accepted (resumed after a restart), even over the limit: it keeps its place. */
  async hold(owner: string | null, job: string): Promise<void> {
    await this.redis.zadd(this.key(owner), '+inf', job);
  }

  async release(owner: string | null, member: string): Promise<void> {
    await this.redis.zrem(this.key(owner), member);
  }

  private key(owner: string | null): string {
    return `${this.keyPrefix}:import-quota:${owner ?? ''}`;
  }
}

// KEYS[1] the owner's set; ARGV: limit, member, hold (ms). Redis's clock, so that replicas' clocks need not agree.
const TAKE = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[2])
return 1
`;
