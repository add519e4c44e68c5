import { randomUUID } from 'node:crypto';
import type { EventBus, ImageEvent } from '../image-events.js';
import type { Logger } from '../logger.js';
import type { RedisClients } from './redis-clients.js';

interface Envelope {
  /** The replica that sent it: a replica does not deliver its own events twice. */
  from: string;
  event: ImageEvent;
}

/**
 * Image events between replicas over one Redis pub/sub channel. Pub/sub keeps nothing for a replica
 * that is away, which is right for hints: watchers poll the provider as well, so a lost event delays
 * a change by one poll and loses nothing.
 */
export class RedisEventBus implements EventBus {
  private readonly replica = randomUUID();
  private readonly channel: string;

  constructor(
    private readonly redis: RedisClients,
    private readonly logger: Logger,
  ) {
    this.channel = `${redis.settings.keyPrefix}:image-events`;
  }

  send(event: ImageEvent): void {
    if (this.redis.commands.status !== 'ready') return;
    const envelope: Envelope = { from: this.replica, event };
    this.redis.commands
      .publish(this.channel, JSON.stringify(envelope))
      .catch((error: unknown) => this.logger.debug({ err: error }, 'could not publish an image event'));
  }

  receive(listener: (event: ImageEvent) => void): void {
    const { subscriber } = this.redis;
    subscriber
      .subscribe(this.channel)
      .catch((error: unknown) => this.logger.warn({ err: error }, 'could not subscribe to image events'));
    subscriber.on('message', (channel: string, message: string) => {
      if (channel !== this.channel) return;
      const envelope = parseEnvelope(message);
      if (envelope && envelope.from !== this.replica) listener(envelope.event);
    });
  }
}

function parseEnvelope(message: string): Envelope | null {
  try {
    const envelope = JSON.parse(message) as Envelope;
    return typeof envelope.from === 'string' && typeof envelope.event?.region === 'string' ? envelope : null;
  } catch {
    return null;
  }
}
