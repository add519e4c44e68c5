import { setTimeout as sleep } from 'node:timers/promises';
import { SubscriptionLimitError } from './errors.js';
import type { ImageEvents } from './image-events.js';
import type { ImportProgress } from './imports/import-progress.js';
import type { ImageProvider, ImageRecord, ImageUse } from './providers/types.js';

/** An image as its provider shows it now, with its uses and its import's progress; null once it is gone. */
export type ImageSnapshot = { record: ImageRecord; uses: ImageUse[]; progress: ImportProgress | null } | null;

export interface ImageWatcherOptions {
  /** Where images are read: a region's provider. */
  providers: { get(region: string): ImageProvider };
  events: ImageEvents;
  /** The latest progress of a running import (progress events carry it; the provider does not hold it). */
  progress: (region: string, id: string) => ImportProgress | null;
  /** How often a watched image is read again without an event (other replicas change images too). @default 2000 */
  pollMs?: number;
  /** Streams one subject may hold open at once. */
  maxPerSubject: number;
}

/** One watched image: a single read loop, shared by every stream that follows it. */
interface Watch {
  streams: number;
  version: number;
  snapshot: ImageSnapshot;
  /** Resolves at the next change (or when the loop stops). */
  changed: Promise<void>;
  announce: () => void;
  wake: AbortController;
  stop: AbortController;
}

/**
 * Follows images for `imageChanged`: one provider read per watched image per poll (or event), however
 * many streams watch it, and at most `maxPerSubject` streams per subject. Streams see the latest
 * snapshot (a slow reader skips states in between, never the last one).
 */
export class ImageWatcher {
  private readonly watches = new Map<string, Watch>();
  private readonly streamsBySubject = new Map<string, number>();
  private readonly pollMs: number;

  constructor(private readonly options: ImageWatcherOptions) {
    this.pollMs = options.pollMs ?? 2_000;
  }

  /**
   * Reserves one of the subject's stream slots (throwing SubscriptionLimitError when all are taken)
   * and returns the snapshots of one image: the first as soon as it is read, then one per change,
   * ending after a null (deleted). The slot is freed when the stream ends or is closed.
   */
  watch(subject: string, region: string, id: string): AsyncIterableIterator<ImageSnapshot> {
    const held = this.streamsBySubject.get(subject) ?? 0;
    if (held >= this.options.maxPerSubject) throw new SubscriptionLimitError(this.options.maxPerSubject);
    this.streamsBySubject.set(subject, held + 1);
    const watch = this.join(region, id);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (this.streamsBySubject.get(subject) ?? 1) - 1;
      if (left > 0) this.streamsBySubject.set(subject, left);
      else this.streamsBySubject.delete(subject);
      this.leave(region, id, watch);
    };
    const snapshots = follow(watch);
    return {
      [Symbol.asyncIterator]() {
        return this;
      },
      async next() {
        const result = await snapshots.next().catch((error: unknown) => {
          release();
          throw error;
        });
        if (result.done) release();
        return result;
      },
      async return() {
        release();
        await snapshots.return(undefined);
        return { done: true, value: undefined };
      },
    };
  }

  /** Streams open now, for tests and metrics. */
  get openStreams(): number {
    let total = 0;
    for (const count of this.streamsBySubject.values()) total += count;
    return total;
  }

  /** Stops every read loop (server shutdown); open streams end. */
  close(): void {
    for (const watch of this.watches.values()) watch.stop.abort();
    this.watches.clear();
  }

  private join(region: string, id: string): Watch {
    const key = `${region}\u0000${id}`;
    let watch = this.watches.get(key);
    if (!watch) {
      watch = newWatch();
      this.watches.set(key, watch);
      void this.loop(region, id, watch);
    }
    watch.streams++;
    return watch;
  }

  private leave(region: string, id: string, watch: Watch): void {
    if (--watch.streams > 0) return;
    watch.stop.abort();
    const key = `${region}\u0000${id}`;
    if (this.watches.get(key) === watch) this.watches.delete(key);
  }

  private async loop(region: string, id: string, watch: Watch): Promise<void> {
    const provider = this.options.providers.get(region);
    // Progress events need no provider read: only the progress changed.
    let stale = true;
    const unsubscribe = this.options.events.subscribe(region, id, (event) => {
      if (event.kind !== 'progress') stale = true;
      watch.wake.abort();
    });
    let seen: string | null = null;
    try {
      while (!watch.stop.signal.aborted) {
        let snapshot: ImageSnapshot | undefined;
        const progress = this.options.progress(region, id);
        if (stale || !watch.snapshot) {
          try {
            stale = false;
            snapshot = await read(provider, id, progress);
          } catch {
            // The provider is unavailable for now: the streams keep their last snapshot and the loop retries.
          }
        } else snapshot = { ...watch.snapshot, progress };
        if (snapshot !== undefined) {
          const fingerprint = JSON.stringify(snapshot);
          if (fingerprint !== seen) {
            seen = fingerprint;
            watch.snapshot = snapshot;
            watch.version++;
            watch.announce();
          }
          if (snapshot === null) return;
        }
        const signal = AbortSignal.any([watch.wake.signal, watch.stop.signal]);
        await sleep(this.pollMs, undefined, { signal }).catch(() => undefined);
        if (!watch.wake.signal.aborted) stale = true; // the poll: other replicas change images too
        watch.wake = new AbortController();
      }
    } finally {
      unsubscribe();
      watch.stop.abort();
      watch.announce();
    }
  }
}

async function read(provider: ImageProvider, id: string, progress: ImportProgress | null): Promise<ImageSnapshot> {
  const [[record], [uses]] = await Promise.all([provider.getImages([id]), provider.listImageUses([id])]);
  return record ? { record, uses: uses ?? [], progress } : null;
}

function newWatch(): Watch {
  const watch = { streams: 0, version: 0, snapshot: null, wake: new AbortController(), stop: new AbortController() } as Watch;
  const arm = () => {
    watch.changed = new Promise((resolve) => {
      watch.announce = () => {
        arm();
        resolve();
      };
    });
  };
  arm();
  return watch;
}

/** The snapshots one stream sees: the latest whenever the watch's version moved past what it saw. */
async function* follow(watch: Watch): AsyncGenerator<ImageSnapshot> {
  let seen = 0;
  for (;;) {
    if (watch.version > seen) {
      seen = watch.version;
      const snapshot = watch.snapshot;
      yield snapshot;
      if (snapshot === null) return;
      continue;
    }
    if (watch.stop.signal.aborted) return;
    await watch.changed;
  }
}
