import type { Context } from '../context.js';
import type { RegionImage } from '../region-image.js';
import { loadVisibleImage } from './support/load-visible-image.js';

/**
 * `node(id)`: null for a malformed ID, a hidden region, a missing image and another organization's
 * image alike, so the answer reveals nothing about what exists elsewhere.
 */
export function node(ctx: Context, id: string): Promise<RegionImage | null> {
  return loadVisibleImage(ctx, id);
}
