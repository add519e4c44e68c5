import type { ImageRecord } from '../../providers/types.js';

/**
 * Which organization holds a use of an image: the owner for its own images; the named organization for
 * a PUBLIC image, and for an image shared with it (so that its consumers' uses are its own, and the
 * owner cannot take the image back from under them). Null when a PUBLIC image's use names none.
 */
export function useOrganization(image: ImageRecord, named: string | null | undefined): string | null {
  if (image.organizationId === null) return named ?? null;
  if (named && named !== image.organizationId && image.sharedWith.includes(named)) return named;
  return image.organizationId;
}
