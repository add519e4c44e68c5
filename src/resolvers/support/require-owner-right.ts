import { requireMember } from '../../auth/require-role.js';
import type { Context } from '../../context.js';
import { ImageNotOwnedError } from '../../errors.js';
import type { RegionImage } from '../../region-image.js';

/**
 * Changing an image is its owner's: a MEMBER or ADMIN of the owning organization, or a platform admin
 * (alone for PUBLIC images). An organization it is shared with may read and use it, not change it.
 */
export function requireOwnerRight(ctx: Context, image: RegionImage, action: string): void {
  const owner = image.record.organizationId;
  if (owner === null && !ctx.principal.platformAdmin) throw new ImageNotOwnedError(image);
  if (owner !== null) requireMember(ctx.principal, owner, action);
}
