import { canRead } from '../../auth/principal.js';
import type { Context } from '../../context.js';
import type { ImageUse } from '../../providers/types.js';
import type { RegionImage } from '../../region-image.js';

/**
 * `Image.usedBy`, loaded for all listed images of a region in one provider call. On a PUBLIC image
 * only the uses of organizations the caller may read are shown: another tenant's consumers are its own.
 */
export async function visibleUses(ctx: Context, image: RegionImage): Promise<ImageUse[]> {
  const uses = await ctx.provider(image.region).imageUses(image.record.id);
  return uses.filter((use) => canRead(ctx.principal, use.organizationId));
}
