import type { ImageEvents } from '../image-events.js';

export type ImportPhase = 'QUEUED' | 'DOWNLOADING' | 'CONVERTING' | 'STORING';

/** How far a running import has come. */
export interface ImportProgress {
  phase: ImportPhase;
  bytesDone: number;
  /** Null when the size is not known in advance. */
  bytesTotal: number | null;
}

/** Progress is published at most this often per import (a phase change goes out at once). */
const PUBLISH_INTERVAL_MS = 250;

/**
 * One import's progress, published as `progress` events: a phase change at once, byte counts at
 * most every 250 ms, and null when the import ends, so a subscriber sees a few updates a second
 * however fast the bytes move.
 */
export class ProgressReporter {
  private current: ImportProgress | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly publish: (progress: ImportProgress | null) => void) {}

  phase(phase: ImportPhase, bytesTotal: number | null): void {
    this.current = { phase, bytesDone: 0, bytesTotal };
    this.flush();
  }

  /** Sets the bytes done in the current phase. */
  done(bytes: number): void {
    if (!this.current) return;
    this.current = { ...this.current, bytesDone: bytes };
    this.timer ??= setTimeout(() => this.flush(), PUBLISH_INTERVAL_MS);
  }

  /** Adds to the bytes done in the current phase. */
  add(bytes: number): void {
    if (this.current) this.done(this.current.bytesDone + bytes);
  }

  end(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.current = null;
    this.publish(null);
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.current) this.publish(this.current);
  }
}

/**
 * The latest progress of every running import, as the `progress` events announced it: what
 * `Image.progress` answers. Entries go when their import ends, so the board holds at most the
 * imports running at once.
 */
export class ProgressBoard {
  private readonly entries = new Map<string, ImportProgress>();

  constructor(events: ImageEvents) {
    events.subscribeAll((event) => {
      const key = `${event.region}\u0000${event.id}`;
      // A status change ends what was known: a replica killed mid-import never sends its last (null) progress.
      if (event.kind !== 'progress') this.entries.delete(key);
      else if (event.progress) this.entries.set(key, event.progress);
      else this.entries.delete(key);
    });
  }

  of(region: string, id: string): ImportProgress | null {
    return this.entries.get(`${region}\u0000${id}`) ?? null;
  }
}
