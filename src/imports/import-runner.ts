import { DomainError, ImageFetchError } from '../errors.js';
import type { ImageEvents } from '../image-events.js';
import type { Logger } from '../logger.js';
import type { ImagePatch, ImageProvider } from '../providers/types.js';
import { type GuardedFetcher, toFetchError } from './guarded-fetch.js';
import { remoteSize } from './peek-image.js';
import { type StreamedImage, verifiedImageStream } from './verified-image-stream.js';

export interface ImportRunnerOptions {
  providers: ReadonlyMap<string, ImageProvider>;
  fetcher: GuardedFetcher;
  events: ImageEvents;
  logger: Logger;
  /** Downloads running at once, over all regions; the rest wait PENDING. */
  maxConcurrent: number;
  maxSizeBytes: number;
}

const RESUME_RETRY_MS = 30_000;

interface Job {
  region: string;
  id: string;
  uri: string;
}

/**
 * Runs accepted imports in the background: downloads each image through the guarded client into
 * its provider, verifying it on the way, then marks it READY, or FAILED with a reason a person
 * understands. Interrupted imports are picked up again by `resumeInterrupted` at start-up.
 */
export class ImportRunner {
  private readonly queue: Job[] = [];
  private readonly running = new Map<string, AbortController>();
  private readonly idleWaiters: (() => void)[] = [];
  private stopping = false;

  constructor(private readonly options: ImportRunnerOptions) {}

  enqueue(job: Job): void {
    this.queue.push(job);
    this.pump();
  }

  /** Stops an import (its image is being deleted): dropped from the queue, or its download aborted. */
  cancel(region: string, id: string): void {
    const index = this.queue.findIndex((job) => job.region === region && job.id === id);
    if (index >= 0) this.queue.splice(index, 1);
    this.running.get(jobKey(region, id))?.abort(new Error('import cancelled'));
  }

  /**
   * Re-queues every import a previous run left PENDING or CREATING (a crash, a SIGKILL, a restart).
   * A region whose provider cannot answer now does not hold up the start: it is tried again later.
   */
  async resumeInterrupted(): Promise<void> {
    await Promise.all([...this.options.providers.keys()].map((region) => this.resumeRegion(region)));
  }

  private async resumeRegion(region: string): Promise<void> {
    if (this.stopping) return;
    try {
      for (const image of await this.options.providers.get(region)!.listUnfinishedImports()) {
        if (!image.source.uri) {
          await this.update(region, image.id, { status: 'FAILED', statusReason: 'The import was interrupted and has no source to resume from' });
          continue;
        }
        if (image.status === 'CREATING') await this.update(region, image.id, { status: 'PENDING' });
        this.options.logger.info({ region, imageId: image.id }, 'resuming interrupted import');
        this.enqueue({ region, id: image.id, uri: image.source.uri });
      }
    } catch (error) {
      this.options.logger.warn({ region, err: error }, `cannot resume the region's interrupted imports yet; retrying in ${RESUME_RETRY_MS / 1000} s`);
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
    this.queue.length = 0;
    for (const controller of this.running.values()) controller.abort(new Error('server shutting down'));
    await this.idle();
  }

  private pump(): void {
    while (!this.stopping && this.running.size < this.options.maxConcurrent && this.queue.length > 0) {
      const job = this.queue.shift()!;
      const controller = new AbortController();
      this.running.set(jobKey(job.region, job.id), controller);
      void this.run(job, controller.signal).finally(() => {
        this.running.delete(jobKey(job.region, job.id));
        this.pump();
        if (this.queue.length === 0 && this.running.size === 0) this.idleWaiters.splice(0).forEach((resolve) => resolve());
      });
    }
  }

  private async run(job: Job, signal: AbortSignal): Promise<void> {
    const { region, id } = job;
    const log = this.options.logger.child({ region, imageId: id });
    try {
      if (!(await this.update(region, id, { status: 'CREATING' }))) return; // deleted meanwhile
      const provider = this.options.providers.get(region)!;
      const stored = provider.importFromUri
        ? await provider.importFromUri(id, job.uri, signal)
        : await this.download(job, signal).then((result) => ({
            sizeBytes: result.sizeBytes,
            checksum: { algorithm: 'sha256', value: result.sha256 },
          }));
      await this.update(region, id, { status: 'READY', ...stored });
      log.info({ sizeBytes: stored.sizeBytes }, 'import finished');
    } catch (error) {
      if (signal.aborted) {
        // Cancelled for a delete (nothing to mark) or stopped for shutdown (left PENDING to resume).
        if (this.stopping) await this.update(region, id, { status: 'PENDING' }).catch(() => undefined);
        return;
      }
      if (!(error instanceof DomainError)) log.error({ err: error }, 'import failed unexpectedly');
      await this.update(region, id, { status: 'FAILED', statusReason: failureReason(error) }).catch((updateError: unknown) =>
        log.error({ err: updateError }, 'could not mark the import FAILED'),
      );
    }
  }

  private async download({ region, id, uri }: Job, signal: AbortSignal): Promise<StreamedImage> {
    const response = await this.options.fetcher.open(uri, { signal });
    const { maxSizeBytes } = this.options;
    const size = remoteSize(response.status, response.headers);
    if (size !== null && size > maxSizeBytes) {
      response.discard();
      throw new ImageFetchError(uri, 'TOO_LARGE', `The image is ${size} bytes, over this server's limit of ${maxSizeBytes}`);
    }
    const result: Partial<StreamedImage> = {};
    const bytes = verifiedImageStream(mapBodyErrors(uri, response.body), { uri, maxSizeBytes, result });
    await this.options.providers.get(region)!.writeImageData(id, bytes, signal);
    return result as StreamedImage;
  }

  private async update(region: string, id: string, patch: ImagePatch): Promise<boolean> {
    const image = await this.options.providers.get(region)!.updateImage(id, patch);
    if (image) this.options.events.publish({ region, id, kind: 'changed' });
    return image !== null;
  }
}

/** Errors of the body (a reset, a stall) become fetch errors like those of the request. */
async function* mapBodyErrors(uri: string, body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* body;
  } catch (error) {
    throw toFetchError(uri, error);
  }
}

function failureReason(error: unknown): string {
  if (error instanceof ImageFetchError) {
    return `Downloading the image failed: ${error.message}`;
  }
  if (error instanceof DomainError) return error.message;
  return 'Storing the image failed because of an internal error; the operator\'s log has the details';
}

const jobKey = (region: string, id: string) => `${region}\u0000${id}`;
