import { setTimeout as sleep } from 'node:timers/promises';
import { isImageVisible } from '../access/image-visibility.js';
import type { Context } from '../context.js';
import { ImageNotFoundError } from '../errors.js';
import { decodeImageId } from '../ids.js';
import type { ImageRecord } from '../providers/types.js';
import type { ImageModel } from './models.js';
import { visibleUses } from './visible-uses.js';

/** How often the provider is asked again without an in-process event: other replicas change images too. */
const POLL_MS = 2_000;

const isFinal = (image: ImageRecord) => image.status === 'READY' || image.status === 'FAILED';

/**
 * `imageChanged(id)`: the image now, then again on every change of status, status reason, size or uses;
 * completes after READY or FAILED, or when the image is deleted. Same visibility rules as `node(id)`.
 */
export async function* imageChanges(ctx: Context, id: string): AsyncGenerator<ImageModel> {
  const ref = decodeImageId(id);
  if (!ref || !(await ctx.regionAccess.load(ref.region))) throw new ImageNotFoundError(id);
  const read = async () => {
    const [image] = await ctx.providerCalls.direct(ref.region, 'getImages', (provider) => provider.getImages([ref.providerId]));
    return image && isImageVisible(ctx.principal, image) ? image : null;
  };
  // What a subscriber sees change: status, reason, size and (visible) uses.
  const fingerprint = async (image: ImageRecord) => {
    ctx.providerCalls.forgetUses(ref.region, image.id);
    const uses = await visibleUses(ctx, { region: ref.region, record: image });
    return JSON.stringify([image.status, image.statusReason, image.sizeBytes, uses]);
  };
  let current = await read();
  if (!current) throw new ImageNotFoundError(id);
  let seen = await fingerprint(current);
  yield { region: ref.region, record: current };

  let wake = new AbortController();
  const unsubscribe = ctx.events.subscribe(ref.region, ref.providerId, () => wake.abort());
  try {
    // A client that goes away ends the generator at its next yield (yoga calls return()).
    while (!isFinal(current)) {
      await sleep(POLL_MS, undefined, { signal: wake.signal }).catch(() => undefined);
      wake = new AbortController();
      const next = await read();
      if (!next) return;
      const now = await fingerprint(next);
      current = next;
      if (now !== seen) {
        seen = now;
        yield { region: ref.region, record: next };
      }
    }
  } finally {
    unsubscribe();
  }
}
