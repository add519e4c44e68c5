import type { ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from '../logger.js';

/** Where the replicas meet: `coordination.redis` of the config. */
export interface RedisSettings {
  url: string;
  /** Prefix of every key and channel, so that several deployments can share one Redis. */
  keyPrefix: string;
  /** Deadline of one command from a request (a quota, a queue add); past it the mutation is refused. */
  commandTimeoutMs: number;
}

/**
 * The Redis connections of one replica, each with the settings its use needs, and what they say of
 * Redis's health. `commands` serves requests: when Redis is away it fails at once (no offline queue,
 * a deadline per command) so that a mutation is refused with a clear error instead of hanging.
 * `subscriber` is held by the event bus; BullMQ's workers open their own blocking connections.
 */
export class RedisClients {
  readonly commands: Redis;
  readonly subscriber: Redis;
  private lastError: string | null = null;

  constructor(
    readonly settings: RedisSettings,
    private readonly logger: Logger,
  ) {
    this.commands = this.connect('commands', {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: settings.commandTimeoutMs,
    });
    this.subscriber = this.connect('events', { maxRetriesPerRequest: null });
  }

  /** Connection options for BullMQ's own connections (blocking commands: no per-request retry limit). */
  workerConnection(): ConnectionOptions {
    return { url: this.settings.url, maxRetriesPerRequest: null, retryStrategy };
  }

  /** Null when the command connection is up; otherwise why not, for /ready and error messages. */
  unavailableReason(): string | null {
    if (this.commands.status === 'ready') return null;
    return `Redis at ${redactedUrl(this.settings.url)} is ${this.commands.status}${this.lastError ? ` (${this.lastError})` : ''}`;
  }

  async close(): Promise<void> {
    await Promise.all([this.commands, this.subscriber].map((client) => client.quit().catch(() => client.disconnect())));
  }

  private connect(purpose: string, options: RedisOptions): Redis {
    const client = new Redis(this.settings.url, { ...options, retryStrategy, connectionName: `imagegraph-${purpose}` });
    let wasReady = false;
    client.on('ready', () => {
      this.lastError = null;
      if (!wasReady) this.logger.info({ purpose }, 'connected to Redis');
      wasReady = true;
    });
    client.on('error', (error: Error) => {
      // ioredis reconnects by itself; one line per outage, not one per attempt.
      if (wasReady || this.lastError === null)
        this.logger.warn({ purpose, err: error.message }, 'Redis connection lost; reconnecting');
      wasReady = false;
      this.lastError = error.message;
    });
    return client;
  }
}

/** Reconnects soon after a blip, then every 2 s at most while Redis is away. */
const retryStrategy = (attempt: number) => Math.min(100 * attempt, 2_000);

/** The URL without its password, for logs and /ready. */
export function redactedUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}
