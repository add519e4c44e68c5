import { QuotaExceededError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { ProviderRegistry } from '../provider-access/provider-registry.js';
import type { ImportExecutor } from './import-executor.js';
import type { ImportJob, ImportQueue, ImportReservation } from './import-queue.js';
import { resumeUnfinished } from './resume-unfinished.js';

export interface InProcessImportQueueOptions {
  providers: ProviderRegistry;
  executor: ImportExecutor;
  logger: Logger;
  /** Imports running at once, over all regions; the rest wait PENDING. */
  maxConcurrent: number;
  /** Imports of one owner queued or running at once (limits.importsPerOrganization). */
  perOwner: number;
}

/**
 * The import queue of a single replica (no `coordination`): accepted imports wait in memory and run a
 * few at a time, fairly between owners. Interrupted imports are picked up again by `resumeInterrupted`
 * at start-up, from what the providers show PENDING or CREATING.
 */
export class InProcessImportQueue implements ImportQueue {
  private readonly queue: ImportJob[] = [];
  /** Places taken per owner ('' for the platform): reserved, queued or running. */
  private readonly held = new Map<string, number>();
  private readonly runningByOwner = new Map<string, number>();
  private readonly running = new Map<string, AbortController>();
  private readonly idleWaiters: (() => void)[] = [];
  private stopping = false;

  constructor(private readonly options: InProcessImportQueueOptions) {}

  reserve(owner: string | null): Promise<ImportReservation> {
    const key = owner ?? '';
    if ((this.held.get(key) ?? 0) >= this.options.perOwner) throw new QuotaExceededError(this.options.perOwner, owner);
    this.hold(key, 1);
    let settled = false;
    return Promise.resolve({
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
    });
  }

  cancel(region: string, id: string): Promise<void> {
    const index = this.queue.findIndex((job) => job.region === region && job.id === id);
    if (index >= 0) this.hold(this.queue.splice(index, 1)[0]!.owner ?? '', -1);
    this.running.get(jobKey(region, id))?.abort(new Error('import cancelled'));
    return Promise.resolve();
  }

  async resumeInterrupted(): Promise<void> {
    await resumeUnfinished({
      ...this.options,
      stopped: () => this.stopping,
      enqueue: async (job, image) => {
        if (image.status === 'CREATING') await this.options.executor.update(job.region, job.id, { status: 'PENDING' });
        this.options.logger.info({ region: job.region, imageId: job.id }, 'resuming interrupted import');
        // Accepted before the restart: it keeps its place even when the owner's quota is full now.
        this.hold(job.owner ?? '', 1);
        this.queue.push(job);
        this.pump();
      },
    });
  }

  idle(): Promise<void> {
    if (this.queue.length === 0 && this.running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

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
      void this.options.executor
        .run(job, controller.signal, () => this.stopping)
        .finally(() => {
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
}

const jobKey = (region: string, id: string) => `${region}\u0000${id}`;
