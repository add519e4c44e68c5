import { randomUUID } from 'node:crypto';
import { type Job, Queue, WaitingError, Worker } from 'bullmq';
import { CoordinationUnavailableError, QuotaExceededError } from '../errors.js';
import type { ImageEvents } from '../image-events.js';
import type { ImportExecutor } from '../imports/import-executor.js';
import type { ImportJob, ImportQueue, ImportReservation } from '../imports/import-queue.js';
import { resumeUnfinished } from '../imports/resume-unfinished.js';
import type { Logger } from '../logger.js';
import type { ProviderRegistry } from '../provider-access/provider-registry.js';
import type { RedisClients } from './redis-clients.js';
import { RedisImportQuota } from './redis-import-quota.js';

export interface RedisImportQueueOptions {
  redis: RedisClients;
  providers: ProviderRegistry;
  executor: ImportExecutor;
  events: ImageEvents;
  logger: Logger;
  /** Imports this replica runs at once. */
  maxConcurrent: number;
  /** Imports of one owner queued or running at once, over all replicas. */
  perOwner: number;
  /** How long a replica's hold on a running import lasts without renewal: a dead replica's imports move on after it. */
  leaseMs: number;
}

/** A replica that stops this many times while running the same import (killed, say, by what the import does) fails it. */
const MAX_INTERRUPTIONS = 2;
/** How long a reservation holds a quota place before the image is created; a replica killed meanwhile cannot leak it. */
const RESERVATION_MS = 5 * 60_000;
/** A job whose provider cannot answer before the import starts is tried again this often, for an hour. */
const RETRY_MS = 30_000;
const RETRIES = 120;
/** How long shutdown waits for running imports to hand their jobs back before leaving them to the lease. */
const CLOSE_MS = 5_000;
const IDLE_POLL_MS = 100;

type JobData = ImportJob;

/**
 * The import queue shared by every replica (`coordination.redis`): a BullMQ queue whose jobs are
 * imports, one per image (the job id is region/image, so queuing twice is a no-op). A worker takes a
 * job with a lease it renews every quarter lease; a replica that dies stops renewing, and BullMQ's
 * stall check (every half lease) gives the job to another replica. A replica that cannot renew (a
 * stall, Redis away) aborts the import itself before its lease ends, so no image is uploaded twice at once.
 */
export class RedisImportQueue implements ImportQueue {
  private readonly queue: Queue<JobData, void, 'import'>;
  private readonly worker: Worker<JobData, void, 'import'>;
  private readonly quota: RedisImportQuota;
  private readonly commandTimeoutMs: number;
  /** When each running job's lease was last renewed (or taken). */
  private readonly renewedAt = new Map<string, number>();
  private readonly leaseLost = new Set<string>();
  private readonly leaseWatch: NodeJS.Timeout;
  private stopping = false;
  private started = false;

  constructor(private readonly options: RedisImportQueueOptions) {
    const { redis, leaseMs, logger } = options;
    const prefix = redis.settings.keyPrefix;
    this.commandTimeoutMs = redis.settings.commandTimeoutMs;
    this.quota = new RedisImportQuota(redis.commands, prefix, options.perOwner);
    const connection = redis.workerConnection();
    this.queue = new Queue<JobData, void, 'import'>('imports', {
      connection,
      prefix,
      defaultJobOptions: {
        removeOnComplete: true,
        removeOnFail: true,
        attempts: RETRIES,
        backoff: { type: 'fixed', delay: RETRY_MS },
      },
    });
    this.worker = new Worker<JobData, void, 'import'>('imports', (job, _token, signal) => this.process(job, signal!), {
      connection,
      prefix,
      autorun: false,
      concurrency: options.maxConcurrent,
      lockDuration: leaseMs,
      lockRenewTime: leaseMs / 4,
      stalledInterval: leaseMs / 2,
      // This queue fails an import after MAX_INTERRUPTIONS itself, with a reason on the image.
      maxStalledCount: MAX_INTERRUPTIONS + 1,
    });
    this.worker.on('locksRenewed', ({ jobIds }) => {
      for (const jobId of jobIds) if (this.renewedAt.has(jobId)) this.renewedAt.set(jobId, Date.now());
    });
    this.worker.on('lockRenewalFailed', (jobIds) => jobIds.forEach((jobId) => this.loseLease(jobId)));
    // A renewal that hangs (Redis unreachable) reports nothing: stop before another replica may take over.
    this.leaseWatch = setInterval(() => {
      for (const [jobId, renewed] of this.renewedAt) if (Date.now() - renewed > leaseMs * 0.75) this.loseLease(jobId);
    }, leaseMs / 8).unref();
    this.worker.on('error', (error) => logger.warn({ err: error.message }, 'import worker: Redis error'));
    this.queue.on('error', (error) => logger.debug({ err: error.message }, 'import queue: Redis error'));
    options.events.subscribeAll((event) => {
      if (event.kind === 'deleted') this.worker.cancelJob(jobIdOf(event.region, event.id), 'image deleted');
    });
    // Jobs queued while Redis was away (or lost with it) are queued again once it is back: after a
    // lease, so that a replica whose job Redis forgot has noticed and stopped it first.
    let wasReady = true;
    redis.commands.on('ready', () => {
      if (!wasReady && this.started && !this.stopping) setTimeout(() => void this.resumeInterrupted(), leaseMs).unref();
      wasReady = true;
    });
    redis.commands.on('close', () => (wasReady = false));
  }

  async reserve(owner: string | null, region: string): Promise<ImportReservation> {
    const reason = this.options.redis.unavailableReason();
    if (reason) throw new CoordinationUnavailableError(region, reason);
    const reservation = `reservation:${randomUUID()}`;
    let taken: boolean;
    try {
      taken = await this.withDeadline(this.quota.take(owner, reservation, RESERVATION_MS));
    } catch (error) {
      throw new CoordinationUnavailableError(region, `Redis did not answer (${(error as Error).message})`, { cause: error });
    }
    if (!taken) throw new QuotaExceededError(this.options.perOwner, owner);
    let settled = false;
    return {
      start: (job) => {
        if (settled) return;
        settled = true;
        const jobId = jobIdOf(job.region, job.id);
        this.withDeadline(this.quota.convert(owner, reservation, jobId).then(() => this.add({ ...job, owner }))).catch(
          (error: unknown) =>
            this.options.logger.warn(
              { region: job.region, imageId: job.id, err: error },
              'could not queue an accepted import; it stays PENDING and is queued when Redis answers again',
            ),
        );
      },
      cancel: () => {
        if (settled) return;
        settled = true;
        this.quota.release(owner, reservation).catch(() => undefined); // it expires anyway
      },
    };
  }

  async cancel(region: string, id: string, owner: string | null): Promise<void> {
    const jobId = jobIdOf(region, id);
    this.worker.cancelJob(jobId, 'image deleted');
    try {
      await this.withDeadline(
        (async () => {
          const job = await this.queue.getJob(jobId);
          // A job running on another replica is locked: the 'deleted' event stops it there.
          if (job && (await job.isWaiting())) await job.remove();
          await this.quota.release(owner, jobId);
        })(),
      );
    } catch (error) {
      // The image is gone: whoever takes the job finds nothing to import and gives the place back.
      this.options.logger.debug({ region, imageId: id, err: error }, 'could not drop a deleted image from the import queue');
    }
  }

  async resumeInterrupted(): Promise<void> {
    if (!this.started) {
      this.started = true;
      this.worker.run().catch((error: unknown) => this.options.logger.error({ err: error }, 'import worker stopped'));
    }
    await resumeUnfinished({
      ...this.options,
      stopped: () => this.stopping,
      enqueue: async (job) => {
        await this.quota.hold(job.owner, jobIdOf(job.region, job.id));
        // Queuing an id that is queued or running already does nothing: a live replica keeps its import.
        await this.add(job);
      },
    });
  }

  async idle(): Promise<void> {
    for (;;) {
      const counts = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized');
      if (Object.values(counts).every((count) => count === 0)) return;
      await new Promise((resolve) => setTimeout(resolve, IDLE_POLL_MS));
    }
  }

  async close(): Promise<void> {
    this.stopping = true;
    clearInterval(this.leaseWatch);
    this.worker.cancelAllJobs('server shutting down');
    const closed = this.worker.close();
    // With Redis away the hand-back cannot finish: the jobs are left to their leases.
    const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), CLOSE_MS).unref());
    if ((await Promise.race([closed, timer])) === 'late') await this.worker.close(true);
    await this.queue.close();
  }

  private add(job: ImportJob): Promise<unknown> {
    return this.queue.add('import', job, { jobId: jobIdOf(job.region, job.id) });
  }

  private loseLease(jobId: string): void {
    if (!this.renewedAt.delete(jobId)) return;
    this.leaseLost.add(jobId);
    this.options.logger.warn({ jobId }, 'lost the lease on a running import; stopping it here, another replica takes it over');
    this.worker.cancelJob(jobId, 'lease lost');
  }

  private async process(job: Job<JobData, void, 'import'>, signal: AbortSignal): Promise<void> {
    const data = job.data;
    const jobId = job.id!;
    if (this.stopping) return this.handBack(job); // taken as shutdown began
    const log = this.options.logger.child({ region: data.region, imageId: data.id, jobId });
    // A provider that cannot answer throws here: BullMQ tries the job again in RETRY_MS.
    const [image] = await this.options.providers.get(data.region).getImages([data.id]);
    if (!image || (image.status !== 'PENDING' && image.status !== 'CREATING')) {
      // Finished or deleted while queued (or queued again after it finished).
      await this.quota.release(data.owner, jobId).catch(() => undefined);
      return;
    }
    if (job.stalledCounter >= MAX_INTERRUPTIONS) {
      log.warn({ interruptions: job.stalledCounter }, 'import failed: its replica stopped while running it too often');
      await this.options.executor.fail(
        data.region,
        data.id,
        `The import was interrupted ${job.stalledCounter} times (the server running it stopped) and is not tried again`,
      );
      await this.quota.release(data.owner, jobId).catch(() => undefined);
      return;
    }
    if (job.stalledCounter > 0) log.info({ interruptions: job.stalledCounter }, 'taking over an import whose replica stopped');
    else log.info('running import');
    this.renewedAt.set(jobId, Date.now());
    let end;
    try {
      end = await this.options.executor.run(data, signal, () => this.stopping);
    } finally {
      this.renewedAt.delete(jobId);
    }
    if (this.leaseLost.delete(jobId)) return; // another replica runs it now, in its quota place
    if (end === 'stopped') return this.handBack(job);
    await this.quota.release(data.owner, jobId).catch(() => undefined);
  }

  /** Shutting down: the job goes back to the queue at once, for another replica (or this one, restarted). */
  private async handBack(job: Job<JobData, void, 'import'>): Promise<never> {
    await job.moveToWait(job.token);
    throw new WaitingError();
  }

  private withDeadline<T>(promise: Promise<T>): Promise<T> {
    const deadline = AbortSignal.timeout(this.commandTimeoutMs);
    return Promise.race([
      promise,
      new Promise<never>((_, reject) =>
        deadline.addEventListener('abort', () => reject(new Error(`no answer within ${this.commandTimeoutMs} ms`))),
      ),
    ]);
  }
}

/** One job per image: BullMQ ignores an add whose id is queued or running already. */
const jobIdOf = (region: string, id: string) => `${region}/${id}`;
