import { canRead } from '../auth/principal.js';
import type { Context } from '../context.js';
import { ImageInUseError, ImageNotFoundError, ImageProtectedError } from '../errors.js';
import { requireVisibleImage } from './support/load-visible-image.js';
import { requireOwnerRight } from './support/require-owner-right.js';

/**
 * `deleteImage`: only the owning organization's MEMBERs (and platform admins, alone for PUBLIC images)
 * may delete; registered uses refuse the delete; an import in progress is cancelled once it is gone.
 */
export async function deleteImage(ctx: Context, id: string): Promise<{ deletedImageId: string }> {
  const image = await requireVisibleImage(ctx, id, 'region-not-found');
  const { region, record } = image;
  requireOwnerRight(ctx, image, 'Deleting images');

  const outcome = await ctx.provider(region).deleteImage(record.id);
  switch (outcome.result) {
    case 'deleted':
      // After the delete, so a refused delete leaves the import running; the provider drops late bytes.
      await ctx.imports.queue.cancel(region, record.id, record.organizationId);
      ctx.events.publish({ region, id: record.id, kind: 'deleted' });
      return { deletedImageId: id };
    case 'not-found':
      throw new ImageNotFoundError(id);
    case 'in-use':
      // Uses held by organizations the image is shared with are theirs: counted, not shown.
      throw new ImageInUseError(
        image,
        outcome.usedBy.filter((use) => canRead(ctx.principal, use.organizationId)),
      );
    case 'protected':
      throw new ImageProtectedError(image);
  }
}
