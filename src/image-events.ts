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

const ALL = Symbol('all images');

/**
 * In-process notifications of image changes, for the `imageChanged` subscription. Only a hint to look
 * again: the provider stays the source of truth, and the subscription also polls, so changes made by
 * another replica are seen too. Progress events carry their news, since the provider does not hold it.
 */
export class ImageEvents {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  publish(event: ImageEvent): void {
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
