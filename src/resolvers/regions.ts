import type { RegionConfig } from '../config.js';
import type { Context } from '../context.js';

/** `regions`: every configured region the caller may see, in configuration order. */
export async function regions(ctx: Context): Promise<RegionConfig[]> {
  const decisions = await ctx.regionAccess.loadMany(ctx.configuredRegions);
  return decisions.filter((decision): decision is RegionConfig => decision !== null && !(decision instanceof Error));
}
