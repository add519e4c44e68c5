import { isImageVisible } from '../../access/image-visibility.js';
import type { Context } from '../../context.js';
import { ImageNotFoundError, RegionNotFoundError } from '../../errors.js';
import { decodeImageId } from '../../ids.js';
import type { ImageRecord } from '../../providers/types.js';
import { RegionImage } from '../../region-image.js';

/** Where a global ID points, once its region has been checked. */
export type ImageRef = { region: string; providerId: string } | { hiddenRegion: string } | null;

/**
 * The region and provider id behind a global ID, if its region is one the caller may see;
 * `hiddenRegion` when it is not (or does not exist); null for an ID this API did not issue.
 */
export async function resolveImageRef(ctx: Context, id: string): Promise<ImageRef> {
  const ref = decodeImageId(id);
  if (!ref) return null;
  return (await ctx.regionAccess.load(ref.region)) ? ref : { hiddenRegion: ref.region };
}

/**
 * The image behind a global ID when the caller may see it, else null: a malformed ID, a hidden
 * region, a missing image and another organization's image are all the same null. `fresh` reads the
 * provider again (for mutations, which must not act on what the request saw earlier).
 */
export async function loadVisibleImage(ctx: Context, id: string, { fresh = false } = {}): Promise<RegionImage | null> {
  const ref = await resolveImageRef(ctx, id);
  return ref && !('hiddenRegion' in ref) ? readVisible(ctx, ref, fresh) : null;
}

async function readVisible(
  ctx: Context,
  ref: { region: string; providerId: string },
  fresh: boolean,
): Promise<RegionImage | null> {
  const provider = ctx.provider(ref.region);
  const record = fresh ? await provider.readImage(ref.providerId) : await provider.getImage(ref.providerId);
  return record && canSee(ctx, ref.region, record) ? new RegionImage(ref.region, record) : null;
}

/** The caller may see the image: its ownership and sharing, and the region's rule for platform images. */
export function canSee(ctx: Context, region: string, record: ImageRecord): boolean {
  return isImageVisible(ctx.principal, record) && !ctx.signatures.hides(ctx.principal, region, record);
}

/**
 * The image a mutation acts on, read fresh: ImageNotFoundError for anything the caller may not see,
 * with the same message whatever the reason; RegionNotFoundError for a hidden region where the
 * mutation's answer can say so (`hiddenRegion: 'region-not-found'`).
 */
export async function requireVisibleImage(
  ctx: Context,
  id: string,
  hiddenRegion: 'region-not-found' | 'image-not-found',
): Promise<RegionImage> {
  const ref = await resolveImageRef(ctx, id);
  if (ref && 'hiddenRegion' in ref && hiddenRegion === 'region-not-found') throw new RegionNotFoundError(ref.hiddenRegion);
  const image = ref && !('hiddenRegion' in ref) ? await readVisible(ctx, ref, true) : null;
  if (!image) throw new ImageNotFoundError(id);
  return image;
}
