import { requireMember } from '../auth/require-role.js';
import type { Principal } from '../auth/principal.js';
import type { Context } from '../context.js';
import { ImageNotFoundError, InvalidInputError } from '../errors.js';
import type { RegionImage } from '../providers/types.js';
import { findVisibleImage } from './find-image.js';

export interface ImageUseInput {
  image: string;
  kind: string;
  consumerId: string;
  organization?: string | null;
}

/**
 * `registerImageUse`: by a MEMBER of the image's owner, or for a PUBLIC image of the organization the
 * use is registered for. Idempotent per image, organization, kind and consumerId.
 */
export async function registerImageUse(ctx: Context, input: ImageUseInput): Promise<{ image: RegionImage }> {
  const image = await findVisibleImage(ctx, input.image, 'image-not-found');
  const organizationId = image.record.organizationId ?? input.organization;
  if (!organizationId) {
    throw new InvalidInputError([{ path: ['input', 'organization'], message: 'is required for a PUBLIC image' }]);
  }
  requireMember(ctx.principal, organizationId, 'Registering image uses');
  const use = { kind: input.kind, consumerId: input.consumerId, organizationId };
  const found = await ctx.providerCalls.direct(image.region, 'registerImageUse', (p) => p.registerImageUse(image.record.id, use));
  // Deleted between the look-up and the registration: the registration lost the race.
  if (!found) throw new ImageNotFoundError(input.image);
  changed(ctx, image);
  return { image };
}

/** The uses changed: this request must read them again, and subscribers hear of it. */
function changed(ctx: Context, image: RegionImage): void {
  ctx.providerCalls.forgetUses(image.region, image.record.id);
  ctx.events.publish({ region: image.region, id: image.record.id, kind: 'changed' });
}

/**
 * `releaseImageUse`: releases the use held by the image's owner, or for a PUBLIC image by the named
 * organization or else every organization where the caller may change images. Idempotent.
 */
export async function releaseImageUse(ctx: Context, input: ImageUseInput): Promise<{ image: RegionImage }> {
  const image = await findVisibleImage(ctx, input.image, 'image-not-found');
  const named = image.record.organizationId ?? input.organization;
  if (named) requireMember(ctx.principal, named, 'Releasing image uses');
  const organizationIds = named ? [named] : memberOrganizations(ctx.principal);
  const release = { kind: input.kind, consumerId: input.consumerId, organizationIds };
  const found = await ctx.providerCalls.direct(image.region, 'releaseImageUse', (p) =>
    p.releaseImageUse(image.record.id, release),
  );
  if (!found) throw new ImageNotFoundError(input.image);
  changed(ctx, image);
  return { image };
}

function memberOrganizations(principal: Principal): string[] | 'all' {
  if (principal.platformAdmin) return 'all';
  return principal.organizations.filter((m) => m.role === 'MEMBER' || m.role === 'ADMIN').map((m) => m.id);
}
