import type { RegionConfig } from '../../config.js';
import type { Context } from '../../context.js';
import { RegionNotFoundError } from '../../errors.js';

/** The region when the caller may see it; REGION_NOT_FOUND for a hidden region exactly as for a missing one. */
export async function requireRegion(ctx: Context, id: string): Promise<RegionConfig> {
  const region = await ctx.regionAccess.load(id);
  if (!region) throw new RegionNotFoundError(id);
  return region;
}
