import type { Context } from '../context.js';
import type { RegionModel } from './models.js';

/** Every configured region the caller may see, in configuration order. */
export async function listRegions(ctx: Context): Promise<RegionModel[]> {
  const decisions = await ctx.regionAccess.loadMany(ctx.configuredRegions);
  return decisions.filter((decision): decision is RegionModel => decision !== null && !(decision instanceof Error));
}
