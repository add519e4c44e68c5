import { Repeater } from 'graphql-yoga';
import { canRead } from '../auth/principal.js';
import type { Context } from '../context.js';
import { ImageDeletedError, ImageNotFoundError } from '../errors.js';
import type { ImageSnapshot } from '../image-watcher.js';
import { RegionImage } from '../region-image.js';
import { canSee, resolveImageRef } from './support/load-visible-image.js';

/**
 * `imageChanged(id)`: the image now, then again on every change of status, status reason, size,
 * (visible) uses or import progress (a few times a second at most); completes after READY or FAILED. When the image is deleted, the last event is an
 * IMAGE_NOT_FOUND error ("was deleted") before the stream completes. Same visibility rules
 * as `node(id)`; a caller over its stream cap gets SubscriptionLimitError. The image is read by the
 * shared watcher, once for all the streams that follow it. A Repeater rather than a generator: a client
 * that goes away ends the stream (and frees its place) at once, not at the image's next change.
 */
export function imageChanged(ctx: Context, id: string): AsyncIterable<RegionImage> {
  return new Repeater<RegionImage>(async (push, stop) => {
    const ref = await resolveImageRef(ctx, id);
    if (!ref || 'hiddenRegion' in ref) throw new ImageNotFoundError(id);
    const snapshots = ctx.watcher.watch(ctx.principal.subject, ref.region, ref.providerId);
    const stopped = stop.then(() => ({ done: true as const, value: undefined }));
    try {
      let seen: string | null = null;
      for (;;) {
        const next = await Promise.race([snapshots.next(), stopped]);
        if (next.done) return stop();
        if (!visible(ctx, ref.region, next.value)) {
          if (seen === null) throw new ImageNotFoundError(id);
          // Deleted (or gone from the caller's sight) while followed: a last event says so.
          throw new ImageDeletedError(id);
        }
        const now = fingerprint(ctx, next.value);
        if (now !== seen) {
          seen = now;
          await push(model(ctx, ref.region, next.value));
        }
        // The executor's return ends nothing by itself: stop() completes the stream.
        if (next.value.record.status === 'READY' || next.value.record.status === 'FAILED') return stop();
      }
    } finally {
      // Frees the caller's place at once; the watcher's own read loop ends when no stream is left.
      void snapshots.return?.();
    }
  });
}

/** The image to emit; its uses are those just read, not what this long request loaded before. */
function model(ctx: Context, region: string, { record, uses }: NonNullable<ImageSnapshot>): RegionImage {
  ctx.provider(region).primeUses(record.id, uses);
  return new RegionImage(region, record);
}

function visible(ctx: Context, region: string, snapshot: ImageSnapshot): snapshot is NonNullable<ImageSnapshot> {
  return snapshot !== null && canSee(ctx, region, snapshot.record);
}

/** What a subscriber sees change: status, reason, size, the uses it may see, and the import's progress. */
function fingerprint(ctx: Context, { record, uses, progress }: NonNullable<ImageSnapshot>): string {
  const visibleUses = uses.filter((use) => canRead(ctx.principal, use.organizationId));
  return JSON.stringify([record.status, record.statusReason, record.sizeBytes, visibleUses, progress]);
}
