import type { Context } from '../context.js';
import type { ImportProgress } from '../imports/import-progress.js';
import type { RegionImage } from '../region-image.js';

/**
 * `Image.progress`: what the running import last reported; QUEUED for a PENDING image no import has
 * taken up yet; null once the image is READY or FAILED.
 */
export function importProgress(ctx: Context, { region, record }: RegionImage): ImportProgress | null {
  if (record.status !== 'PENDING' && record.status !== 'CREATING') return null;
  const reported = ctx.imports.progress.of(region, record.id);
  if (reported) return reported;
  return record.status === 'PENDING' ? { phase: 'QUEUED', bytesDone: 0, bytesTotal: null } : null;
}
