import { canRead } from '../auth/principal.js';
import type { Context } from '../context.js';
import { encodeImageId } from '../ids.js';
import { ImageInUseError, ImageNotFoundError, InvalidInputError, PermissionDeniedError } from '../errors.js';
import type { ImagePatch } from '../providers/types.js';
import { RegionImage } from '../region-image.js';
import { loadVisibleImage, requireVisibleImage } from './support/load-visible-image.js';
import { requireOwnerRight } from './support/require-owner-right.js';

/**
 * The lifecycle mutations: sharing with another organization, deprecation, and the signature of a
 * platform image. Each reads the image fresh, checks the caller's right, changes it at the provider
 * and tells watchers.
 */

export async function shareImage(ctx: Context, input: { image: string; organization: string }): Promise<{ image: RegionImage }> {
  const image = await requireVisibleImage(ctx, input.image, 'image-not-found');
  requireOwnerRight(ctx, image, 'Sharing images');
  if (image.record.organizationId === null) {
    throw new InvalidInputError([
      { path: ['input', 'image'], message: "only an organization's image can be shared; a PUBLIC one is everyone's already" },
    ]);
  }
  if (input.organization === image.record.organizationId) {
    throw new InvalidInputError([{ path: ['input', 'organization'], message: 'is the organization that owns the image' }]);
  }
  return { image: await change(ctx, input.image, image, { shareWith: input.organization }) };
}

/** Refused while the organization holds uses of the image: its consumers would lose an image they run. */
export async function unshareImage(
  ctx: Context,
  input: { image: string; organization: string },
): Promise<{ image: RegionImage }> {
  const image = await requireVisibleImage(ctx, input.image, 'image-not-found');
  requireOwnerRight(ctx, image, 'Unsharing images');
  const uses = (await ctx.provider(image.region).imageUses(image.record.id)).filter(
    (use) => use.organizationId === input.organization,
  );
  // The other organization's consumers are its own: the refusal says how many, not which.
  if (uses.length > 0)
    throw new ImageInUseError(
      image,
      uses.filter((use) => canRead(ctx.principal, use.organizationId)),
    );
  return { image: await change(ctx, input.image, image, { unshareWith: input.organization }) };
}

export async function deprecateImage(
  ctx: Context,
  input: { image: string; at?: Date | null; replacement?: string | null },
): Promise<{ image: RegionImage }> {
  const image = await requireVisibleImage(ctx, input.image, 'image-not-found');
  requireOwnerRight(ctx, image, 'Deprecating images');
  let replacementId: string | undefined;
  if (input.replacement) {
    const replacement = await loadVisibleImage(ctx, input.replacement);
    if (!replacement) throw new InvalidInputError([{ path: ['input', 'replacement'], message: 'no such image' }]);
    if (replacement.region === image.region && replacement.record.id === image.record.id) {
      throw new InvalidInputError([{ path: ['input', 'replacement'], message: 'is the image being deprecated' }]);
    }
    // Stored as this API writes the ID, whatever spelling of it the client sent.
    replacementId = encodeImageId(replacement.region, replacement.record.id);
  }
  const deprecation = { at: input.at ?? new Date(), replacementId: replacementId ?? null };
  return { image: await change(ctx, input.image, image, { deprecation }) };
}

export async function undeprecateImage(ctx: Context, input: { image: string }): Promise<{ image: RegionImage }> {
  const image = await requireVisibleImage(ctx, input.image, 'image-not-found');
  requireOwnerRight(ctx, image, 'Undeprecating images');
  return { image: await change(ctx, input.image, image, { deprecation: null }) };
}

/** Platform admins attach (or, with null, remove) the signature over a PUBLIC image's provider id. */
export async function setImageSignature(
  ctx: Context,
  input: { image: string; signature?: string | null },
): Promise<{ image: RegionImage }> {
  if (!ctx.principal.platformAdmin) throw new PermissionDeniedError('Only platform admins may sign platform images');
  const image = await requireVisibleImage(ctx, input.image, 'image-not-found');
  if (image.record.visibility !== 'PUBLIC') {
    throw new InvalidInputError([{ path: ['input', 'image'], message: 'only PUBLIC (platform) images carry signatures' }]);
  }
  return { image: await change(ctx, input.image, image, { signature: input.signature ?? null }) };
}

async function change(ctx: Context, id: string, image: RegionImage, patch: ImagePatch): Promise<RegionImage> {
  const record = await ctx.provider(image.region).updateImage(image.record.id, patch);
  if (!record) throw new ImageNotFoundError(id); // deleted meanwhile
  ctx.events.publish({ region: image.region, id: record.id, kind: 'changed' });
  return new RegionImage(image.region, record);
}
