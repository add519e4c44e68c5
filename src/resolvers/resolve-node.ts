import { isImageVisible } from '../access/image-visibility.js';
import type { Context } from '../context.js';
import { decodeImageId } from '../ids.js';
import type { ImageModel } from './models.js';

/**
 * `node(id)`: null for a malformed ID, a hidden region, a missing image and another organization's
 * image alike, so the answer reveals nothing about what exists elsewhere.
 */
export async function resolveNode(ctx: Context, id: string): Promise<ImageModel | null> {
  const ref = decodeImageId(id);
  if (!ref || !(await ctx.regionAccess.load(ref.region))) return null;
  const record = await ctx.providerCalls.getImage(ref.region, ref.providerId);
  return record && isImageVisible(ctx.principal, record) ? { region: ref.region, record } : null;
}
