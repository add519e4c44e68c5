import { DomainError, ImageFetchError, QuotaExceededError } from '../errors.js';
import type { ImageEvents } from '../image-events.js';
import type { Logger } from '../logger.js';
import type { ProviderRegistry } from '../provider-access/provider-registry.js';
import { ImageGone, UploadRefused } from '../providers/errors.js';
import type { ImagePatch } from '../providers/types.js';
import { ConversionError } from './conversion/limited-process.js';
import type { ImportPipeline, PipelineJob } from './import-pipeline.js';
import { ProgressReporter } from './import-progress.js';

export interface ImportRunnerOptions {
  /** The same counted, guarded providers requests use. */
  providers: ProviderRegistry;
  /** What each import does with its bytes. */
  pipeline: ImportPipeline;
  events: ImageEvents;
  logger: Logger;
  /** Imports running at once, over all regions; the rest wait PENDING. */
  maxConcurrent: number;
  /** Imports of one owner queued or running at once (limits.importsPerOrganization). */
  perOwner: number;
}

const RESUME_RETRY_MS = 30_000;

export interface ImportJob extends PipelineJob {
  /** The organization that owns the image; null for a PUBLIC (platform) image. */
  owner: string | null;
}

/** A place in an owner's import quota, taken before the image is created. */
export interface ImportReservation {
  /** Queues the import in the reserved place. */
  start(job: Omit<ImportJob, 'owner'>): void;
  /** Gives the place back (the import was refused, or was an idempotent retry). */
  cancel(): void;
}

/**
 * Runs accepted imports in the background, a few at a time and fairly between owners: each goes
 * through the import pipeline into its provider, then is marked READY, or FAILED with a reason a
 * person understands. Interrupted imports are picked up again by `resumeInterrupted` at start-up.
 */
export class ImportRunner {
  private readonly queue: ImportJob[] = [];
  /** Places taken per owner ('' for the platform): reserved, queued or running. */
  private readonly held = new Map<string, number>();
  private readonly runningByOwner = new Map<string, number>();
  private readonly running = new Map<string, AbortController>();
  private readonly idleWaiters: (() => void)[] = [];
  private stopping = false;

  constructor(private readonly options: ImportRunnerOptions) {}

  /**
   * Takes a place in the owner's quota, or throws QuotaExceededError when it has
   * `perOwner` imports reserved, queued or running already.
   */
  reserve(owner: string | null): ImportReservation {
    const key = owner ?? '';
    if ((this.held.get(key) ?? 0) >= this.options.perOwner) throw new QuotaExceededError(this.options.perOwner, owner);
    this.hold(key, 1);
    let settled = false;
    return {
      start: (job) => {
        if (settled) return;
        settled = true;
        this.queue.push({ ...job, owner });
        this.pump();
      },
      cancel: () => {
        if (settled) return;
        settled = true;
        this.hold(key, -1);
      },
    };
  }

  /** Stops an import (its image is being deleted): dropped from the queue, or its download aborted. */
  cancel(region: string, id: string): void {
    const index = this.queue.findIndex((job) => job.region === region && job.id === id);
    if (index >= 0) this.hold(this.queue.splice(index, 1)[0]!.owner ?? '', -1);
    this.running.get(jobKey(region, id))?.abort(new Error('import cancelled'));
  }

  /**
   * Re-queues every import a previous run left PENDING or CREATING (a crash, a SIGKILL, a restart).
   * A region whose provider cannot answer now does not hold up the start: it is tried again later.
   */
  async resumeInterrupted(): Promise<void> {
    await Promise.all(this.options.providers.entries().map(([region]) => this.resumeRegion(region)));
  }

  private async resumeRegion(region: string): Promise<void> {
    if (this.stopping) return;
    try {
      for (const image of await this.options.providers.get(region).listUnfinishedImports()) {
        if (!image.source.uri) {
          await this.update(region, image.id, {
            status: 'FAILED',
            statusReason: 'The import was interrupted and has no source to resume from',
          });
          continue;
        }
        if (image.status === 'CREATING') await this.update(region, image.id, { status: 'PENDING' });
        this.options.logger.info({ region, imageId: image.id }, 'resuming interrupted import');
        // Accepted before the restart: it keeps its place even when the owner's quota is full now.
        this.hold(image.organizationId ?? '', 1);
        this.queue.push({
          region,
          id: image.id,
          uri: image.source.uri,
          sourceFormat: image.source.format,
          owner: image.organizationId,
        });
        this.pump();
      }
    } catch (error) {
      this.options.logger.warn(
        { region, err: error },
        `cannot resume the region's interrupted imports yet; retrying in ${RESUME_RETRY_MS / 1000} s`,
      );
      setTimeout(() => void this.resumeRegion(region), RESUME_RETRY_MS).unref();
    }
  }

  /** Resolves when nothing is queued or running (for tests and benchmarks). */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops for shutdown: running downloads are aborted and left PENDING, to be resumed at the next start. */
  async close(): Promise<void> {
    this.stopping = true;
    for (const job of this.queue.splice(0)) this.hold(job.owner ?? '', -1);
    for (const controller of this.running.values()) controller.abort(new Error('server shutting down'));
    await this.idle();
  }

  private pump(): void {
    while (!this.stopping && this.running.size < this.options.maxConcurrent && this.queue.length > 0) {
      const job = this.queue.splice(this.fairestIndex(), 1)[0]!;
      const owner = job.owner ?? '';
      const controller = new AbortController();
      this.running.set(jobKey(job.region, job.id), controller);
      this.runningByOwner.set(owner, (this.runningByOwner.get(owner) ?? 0) + 1);
      void this.run(job, controller.signal).finally(() => {
        this.running.delete(jobKey(job.region, job.id));
        this.runningByOwner.set(owner, this.runningByOwner.get(owner)! - 1);
        this.hold(owner, -1);
        this.pump();
        if (this.queue.length === 0 && this.running.size === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
      });
    }
  }

  /** The oldest queued job of an owner with the fewest running: one tenant cannot take every slot first. */
  private fairestIndex(): number {
    let best = 0;
    let fewest = Infinity;
    this.queue.forEach((job, index) => {
      const running = this.runningByOwner.get(job.owner ?? '') ?? 0;
      if (running < fewest) {
        fewest = running;
        best = index;
      }
    });
    return best;
  }

  private hold(owner: string, delta: number): void {
    const count = (this.held.get(owner) ?? 0) + delta;
    if (count > 0) this.held.set(owner, count);
    else this.held.delete(owner);
  }

  private async run(job: ImportJob, signal: AbortSignal): Promise<void> {
    const { region, id } = job;
    const log = this.options.logger.child({ region, imageId: id });
    const progress = new ProgressReporter((now) => this.options.events.publish({ region, id, kind: 'progress', progress: now }));
    try {
      if (!(await this.update(region, id, { status: 'CREATING' }))) return; // deleted meanwhile
      const stored = await this.options.pipeline.run(job, signal, progress);
      progress.end();
      if (!(await this.update(region, id, { status: 'READY', ...stored }))) {
        log.info('import finished, but the image was deleted meanwhile');
        return;
      }
      log.info({ sizeBytes: stored.sizeBytes, sourceFormat: job.sourceFormat }, 'import finished');
    } catch (error) {
      progress.end();
      if (signal.aborted) {
        // Cancelled for a delete (nothing to mark) or stopped for shutdown (left PENDING to resume).
        if (this.stopping) await this.update(region, id, { status: 'PENDING' }).catch(() => undefined);
        return;
      }
      if (error instanceof ImageGone) {
        // Deleted at the provider by someone else (the OpenStack CLI, say): nothing left to mark.
        log.info({ reason: error.message }, 'import stopped: the image was deleted at the provider');
        this.options.events.publish({ region, id, kind: 'deleted' });
        return;
      }
      if (!isExplained(error)) log.error({ err: error }, 'import failed unexpectedly');
      else log.info({ reason: failureReason(error) }, 'import failed');
      await this.update(region, id, { status: 'FAILED', statusReason: failureReason(error) }).catch((updateError: unknown) =>
        log.error({ err: updateError }, 'could not mark the import FAILED'),
      );
    }
  }

  private async update(region: string, id: string, patch: ImagePatch): Promise<boolean> {
    const image = await this.options.providers.get(region).updateImage(id, patch);
    if (image) this.options.events.publish({ region, id, kind: 'changed' });
    return image !== null;
  }
}

/** A failure whose message says what happened: the image's statusReason, no stack trace in the log. */
const isExplained = (error: unknown) =>
  error instanceof DomainError || error instanceof UploadRefused || error instanceof ConversionError;

function failureReason(error: unknown): string {
  if (error instanceof ImageFetchError) {
    return `Downloading the image failed: ${error.message}`;
  }
  if (error instanceof UploadRefused) return `The provider refused the image's bytes: ${error.message}`;
  if (error instanceof ConversionError) return `Converting the image failed: ${error.message}`;
  if (error instanceof DomainError) return error.message;
  return "Storing the image failed because of an internal error; the operator's log has the details";
}

const jobKey = (region: string, id: string) => `${region}\u0000${id}`;
