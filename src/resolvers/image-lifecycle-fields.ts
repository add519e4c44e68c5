import type { SignatureStatus } from '../access/platform-image-signatures.js';
import { canRead } from '../auth/principal.js';
import type { Context } from '../context.js';
import type { RegionImage } from '../region-image.js';
import type { OrganizationModel } from './support/models.js';
import { loadVisibleImage } from './support/load-visible-image.js';

/** `Image.sharedWith`: whom the owner shared it with, told to the owner's members and platform admins only. */
export function sharedWith(ctx: Context, image: RegionImage): OrganizationModel[] {
  const owner = image.record.organizationId;
  const told = ctx.principal.platformAdmin || (owner !== null && canRead(ctx.principal, owner));
  return told ? image.record.sharedWith.map((id) => ({ id })) : [];
}

/** `Image.deprecation`, with the replacement the caller may see (null when it may not, or it is gone). */
export async function deprecation(ctx: Context, image: RegionImage) {
  const deprecated = image.record.deprecation;
  if (!deprecated) return null;
  const replacement = deprecated.replacementId ? await loadVisibleImage(ctx, deprecated.replacementId) : null;
  return { at: deprecated.at, replacement };
}

/** `Image.signature`: for PUBLIC images of regions that require signed platform images; null otherwise. */
export function signature(ctx: Context, image: RegionImage): { status: SignatureStatus } | null {
  const status = ctx.signatures.status(image.region, image.record);
  return status ? { status } : null;
}
