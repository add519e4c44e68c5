import { DomainError, ImageFetchError } from '../errors.js';
import type { ImageEvents } from '../image-events.js';
import type { Logger } from '../logger.js';
import type { ProviderRegistry } from '../provider-access/provider-registry.js';
import { ImageGone, UploadRefused } from '../providers/errors.js';
import type { ImagePatch } from '../providers/types.js';
import { ConversionError } from './conversion/limited-process.js';
import { CopySourceError } from './copy-image-data.js';
import type { ImportPipeline } from './import-pipeline.js';
import { ProgressReporter } from './import-progress.js';
import type { ImportJob } from './import-queue.js';

export interface ImportExecutorOptions {
  /** The same counted, guarded providers requests use. */
  providers: ProviderRegistry;
  /** What each import does with its bytes. */
  pipeline: ImportPipeline;
  events: ImageEvents;
  logger: Logger;
}

/** Why a run ended: `stopped` means it was aborted for shutdown and is left PENDING for someone to resume. */
export type ImportEnd = 'finished' | 'cancelled' | 'stopped';

/**
 * Runs one import, whichever queue handed it over: CREATING, the pipeline into the provider, then
 * READY, or FAILED with a reason a person understands. Nothing here knows about queues or replicas.
 */
export class ImportExecutor {
  constructor(private readonly options: ImportExecutorOptions) {}

  /**
   * `stopping` tells an abort for shutdown (the image is set back to PENDING) from one for a delete
   * (nothing left to mark).
   */
  async run(job: ImportJob, signal: AbortSignal, stopping: () => boolean): Promise<ImportEnd> {
    const { region, id } = job;
    const log = this.options.logger.child({ region, imageId: id });
    const progress = new ProgressReporter((now) => this.options.events.publish({ region, id, kind: 'progress', progress: now }));
    try {
      if (!(await this.update(region, id, { status: 'CREATING' }))) return 'cancelled'; // deleted meanwhile
      const stored = await this.options.pipeline.run(job, signal, progress);
      progress.end();
      if (!(await this.update(region, id, { status: 'READY', ...stored }))) {
        log.info('import finished, but the image was deleted meanwhile');
        return 'cancelled';
      }
      log.info({ sizeBytes: stored.sizeBytes, sourceFormat: job.sourceFormat }, 'import finished');
      return 'finished';
    } catch (error) {
      progress.end();
      if (signal.aborted) {
        if (!stopping()) return 'cancelled';
        await this.update(region, id, { status: 'PENDING' }).catch(() => undefined);
        return 'stopped';
      }
      if (error instanceof ImageGone) {
        // Deleted at the provider by someone else (the OpenStack CLI, say): nothing left to mark.
        log.info({ reason: error.message }, 'import stopped: the image was deleted at the provider');
        this.options.events.publish({ region, id, kind: 'deleted' });
        return 'cancelled';
      }
      if (!isExplained(error)) log.error({ err: error }, 'import failed unexpectedly');
      else log.info({ reason: failureReason(error) }, 'import failed');
      await this.fail(region, id, failureReason(error));
      return 'finished';
    }
  }

  /** Marks an import FAILED with `reason`; a provider that cannot answer is logged, and the import stays to be resumed. */
  async fail(region: string, id: string, reason: string): Promise<void> {
    await this.update(region, id, { status: 'FAILED', statusReason: reason }).catch((error: unknown) =>
      this.options.logger.error({ region, imageId: id, err: error }, 'could not mark the import FAILED'),
    );
  }

  async update(region: string, id: string, patch: ImagePatch): Promise<boolean> {
    const image = await this.options.providers.get(region).updateImage(id, patch);
    if (image) this.options.events.publish({ region, id, kind: 'changed' });
    return image !== null;
  }
}

/** A failure whose message says what happened: the image's statusReason, no stack trace in the log. */
const isExplained = (error: unknown) =>
  error instanceof DomainError ||
  error instanceof UploadRefused ||
  error instanceof ConversionError ||
  error instanceof CopySourceError;

function failureReason(error: unknown): string {
  if (error instanceof ImageFetchError) {
    return `Downloading the image failed: ${error.message}`;
  }
  if (error instanceof UploadRefused) return `The provider refused the image's bytes: ${error.message}`;
  if (error instanceof ConversionError) return `Converting the image failed: ${error.message}`;
  if (error instanceof CopySourceError) return `Copying the image failed: ${error.message}`;
  if (error instanceof DomainError) return error.message;
  return "Storing the image failed because of an internal error; the operator's log has the details";
}
