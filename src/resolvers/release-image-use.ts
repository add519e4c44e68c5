import type { Principal } from '../auth/principal.js';
import { requireMember } from '../auth/require-role.js';
import type { Context } from '../context.js';
import { ImageNotFoundError } from '../errors.js';
import type { ImageUseInput } from '../inputs/image-use.js';
import type { RegionImage } from '../region-image.js';
import { requireVisibleImage } from './support/load-visible-image.js';
import { useOrganization } from './support/use-organization.js';

/**
 * `releaseImageUse`: releases the use held by the image's owner, or for a PUBLIC or shared image by the
 * named organization (a PUBLIC one's: else every organization where the caller may change images). Idempotent.
 */
export async function releaseImageUse(ctx: Context, input: ImageUseInput): Promise<{ image: RegionImage }> {
  const image = await requireVisibleImage(ctx, input.image, 'image-not-found');
  const named = useOrganization(image.record, input.organization);
  if (named) requireMember(ctx.principal, named, 'Releasing image uses');
  const release = {
    kind: input.kind,
    consumerId: input.consumerId,
    organizationIds: named ? [named] : memberOrganizations(ctx.principal),
  };
  if (!(await ctx.provider(image.region).releaseImageUse(image.record.id, release))) throw new ImageNotFoundError(input.image);
  ctx.events.publish({ region: image.region, id: image.record.id, kind: 'changed' });
  return { image };
}

function memberOrganizations(principal: Principal): string[] | 'all' {
  if (principal.platformAdmin) return 'all';
  return principal.organizations.filter((m) => m.role === 'MEMBER' || m.role === 'ADMIN').map((m) => m.id);
}
