import { isImageVisible } from '../access/image-visibility.js';
import type { Context } from '../context.js';
import { ImageNotFoundError, RegionNotFoundError } from '../errors.js';
import { decodeImageId } from '../ids.js';
import type { RegionImage } from '../providers/types.js';

/**
 * The image behind a global ID, read fresh from its provider (mutations must not act on a cached
 * copy). A malformed ID, a missing image and another organization's image are the same
 * ImageNotFoundError; a hidden region is RegionNotFoundError where the result can say so, else the same.
 */
export async function findVisibleImage(
  ctx: Context,
  id: string,
  hiddenRegion: 'region-not-found' | 'image-not-found',
): Promise<RegionImage> {
  const ref = decodeImageId(id);
  if (!ref) throw new ImageNotFoundError(id);
  if (!(await ctx.regionAccess.load(ref.region))) {
    throw hiddenRegion === 'region-not-found' ? new RegionNotFoundError(ref.region) : new ImageNotFoundError(id);
  }
  const [record] = await ctx.providerCalls.direct(ref.region, 'getImages', (provider) => provider.getImages([ref.providerId]));
  if (!record || !isImageVisible(ctx.principal, record)) throw new ImageNotFoundError(id);
  return { region: ref.region, record };
}
