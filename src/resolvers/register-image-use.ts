import { requireMember } from '../auth/require-role.js';
import type { Context } from '../context.js';
import { ImageNotFoundError, InvalidInputError } from '../errors.js';
import type { ImageUseInput } from '../inputs/image-use.js';
import type { RegionImage } from '../region-image.js';
import { requireVisibleImage } from './support/load-visible-image.js';
import { useOrganization } from './support/use-organization.js';

/**
 * `registerImageUse`: by a MEMBER of the image's owner, or for a PUBLIC or shared image of the
 * organization the use is registered for. Idempotent per image, organization, kind and consumerId.
 */
export async function registerImageUse(ctx: Context, input: ImageUseInput): Promise<{ image: RegionImage }> {
  const image = await requireVisibleImage(ctx, input.image, 'image-not-found');
  const organizationId = useOrganization(image.record, input.organization);
  if (!organizationId) {
    throw new InvalidInputError([{ path: ['input', 'organization'], message: 'is required for a PUBLIC image' }]);
  }
  requireMember(ctx.principal, organizationId, 'Registering image uses');
  const use = { kind: input.kind, consumerId: input.consumerId, organizationId };
  // Deleted between the look-up and the registration: the registration lost the race.
  if (!(await ctx.provider(image.region).registerImageUse(image.record.id, use))) throw new ImageNotFoundError(input.image);
  ctx.events.publish({ region: image.region, id: image.record.id, kind: 'changed' });
  return { image };
}
