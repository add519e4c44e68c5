import { decodeImageId } from '../ids.js';
import type { Logger } from '../logger.js';
import type { ProviderRegistry } from '../provider-access/provider-registry.js';
import type { ImageRecord } from '../providers/types.js';
import type { ImportExecutor } from './import-executor.js';
import type { ImportJob } from './import-queue.js';

const RESUME_RETRY_MS = 30_000;

/**
 * The imports every region's provider shows PENDING or CREATING, as jobs for `enqueue`; those with
 * nothing to resume from are marked FAILED. A region whose provider cannot answer now does not hold up
 * the others: it is tried again in 30 s (until `stopped()`).
 */
export async function resumeUnfinished(parts: {
  providers: ProviderRegistry;
  executor: ImportExecutor;
  logger: Logger;
  stopped: () => boolean;
  enqueue: (job: ImportJob, image: ImageRecord) => Promise<void>;
}): Promise<void> {
  const resumeRegion = async (region: string): Promise<void> => {
    if (parts.stopped()) return;
    try {
      for (const image of await parts.providers.get(region).listUnfinishedImports()) {
        const job = jobOf(region, image);
        if (!job) {
          await parts.executor.fail(region, image.id, 'The import was interrupted and has nothing to resume from');
          continue;
        }
        await parts.enqueue(job, image);
      }
    } catch (error) {
      parts.logger.warn(
        { region, err: error },
        `cannot resume the region's unfinished imports yet; retrying in ${RESUME_RETRY_MS / 1000} s`,
      );
      setTimeout(() => void resumeRegion(region), RESUME_RETRY_MS).unref();
    }
  };
  await Promise.all(parts.providers.entries().map(([region]) => resumeRegion(region)));
}

/** The job that runs an unfinished image's import (or copy) again; null when it has no source. */
function jobOf(region: string, image: ImageRecord): ImportJob | null {
  const job = { region, id: image.id, sourceFormat: image.source.format, owner: image.organizationId };
  if (image.source.kind === 'COPY') {
    const copyFrom = image.source.sourceImageId ? decodeImageId(image.source.sourceImageId) : null;
    return copyFrom ? { ...job, uri: '', copyFrom: { region: copyFrom.region, id: copyFrom.providerId } } : null;
  }
  return image.source.uri ? { ...job, uri: image.source.uri } : null;
}
