import { EventEmitter } from 'node:events';
import type { ImportProgress } from './imports/import-progress.js';

export type ImageEvent =
  | {
      region: string;
      id: string;
      /** `changed`: status, size or usage may differ; `deleted`: the image is gone. */
      kind: 'changed' | 'deleted';
    }
  | {
      region: string;
      id: string;
      /** A running import moved on; null when it ended. Nothing at the provider changed. */
      kind: 'progress';
      progress: ImportProgress | null;
    };

/** Carries events between replicas (Redis pub/sub under `coordination`). */
export interface EventBus {
  /** Sends an event to the other replicas; best effort. */
  send(event: ImageEvent): void;
  /** Calls `listener` on every event another replica sent. */
  receive(listener: (event: ImageEvent) => void): void;
}

const ALL = Symbol('all images');

/**
 * Notifications of image changes, for the `imageChanged` subscription, the progress board and the
 * import queue: delivered in this process at once, and through the bus, when there is one, to every
 * other replica. Only a hint to look again: the provider stays the source of truth, and the
 * subscription also polls. Progress events carry their news, since the provider does not hold it.
 */
export class ImageEvents {
  private readonly emitter = new EventEmitter().setMaxListeners(0);
  private bus: EventBus | null = null;

  /** Joins the other replicas: what is published here reaches them, and what they publish is delivered here. */
  connect(bus: EventBus): void {
    this.bus = bus;
    bus.receive((event) => this.deliver(event));
  }

  publish(event: ImageEvent): void {
    this.deliver(event);
    this.bus?.send(event);
  }

  private deliver(event: ImageEvent): void {
    this.emitter.emit(ALL, event);
    this.emitter.emit(key(event.region, event.id), event);
  }

  /** Calls `listener` on every event of one image; returns the unsubscribe function. */
  subscribe(region: string, id: string, listener: (event: ImageEvent) => void): () => void {
    this.emitter.on(key(region, id), listener);
    return () => this.emitter.off(key(region, id), listener);
  }

  /** Calls `listener` on every event of every image; returns the unsubscribe function. */
  subscribeAll(listener: (event: ImageEvent) => void): () => void {
    this.emitter.on(ALL, listener);
    return () => this.emitter.off(ALL, listener);
  }
}

const key = (region: string, id: string) => `${region}\u0000${id}`;
