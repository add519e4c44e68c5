import { EventEmitter } from 'node:events';

export interface ImageEvent {
  region: string;
  id: string;
  /** `changed`: status, size or usage may differ; `deleted`: the image is gone. */
  kind: 'changed' | 'deleted';
}

/**
 * In-process notifications of image changes, for the `imageChanged` subscription. Only a hint to look
 * again: the provider stays the source of truth, and the subscription also polls, so changes made by
 * another replica are seen too.
 */
export class ImageEvents {
  private readonly emitter = new EventEmitter().setMaxListeners(0);

  publish(event: ImageEvent): void {
    this.emitter.emit(key(event.region, event.id), event);
  }

  /** Calls `listener` on every event of one image; returns the unsubscribe function. */
  subscribe(region: string, id: string, listener: (event: ImageEvent) => void): () => void {
    this.emitter.on(key(region, id), listener);
    return () => this.emitter.off(key(region, id), listener);
  }
}

const key = (region: string, id: string) => `${region}\u0000${id}`;
