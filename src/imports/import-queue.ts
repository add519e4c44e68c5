import type { PipelineJob } from './import-pipeline.js';

export interface ImportJob extends PipelineJob {
  /** The organization that owns the image; null for a PUBLIC (platform) image. */
  owner: string | null;
}

/** A place in an owner's import quota, taken before the image is created. */
export interface ImportReservation {
  /** Queues the import in the reserved place. The image exists already: a failure here is logged, and the import is queued again when the queue can take it. */
  start(job: Omit<ImportJob, 'owner'>): void;
  /** Gives the place back (the import was refused, or was an idempotent retry). */
  cancel(): void;
}

/**
 * Where accepted imports wait and who runs them: in this process (one replica), or in a Redis queue
 * with leases shared by every replica (`coordination.redis`). Either way each import runs once at a
 * time, an owner holds at most `importsPerOrganization` places, and unfinished imports are resumed.
 */
export interface ImportQueue {
  /**
   * Takes a place in the owner's quota, or throws QuotaExceededError when it has `perOwner` imports
   * reserved, queued or running already (ProviderUnavailableError when the shared queue cannot answer).
   */
  reserve(owner: string | null, region: string): Promise<ImportReservation>;
  /** Stops an import (its image was deleted): dropped from the queue, or its download aborted wherever it runs; its place is given back. */
  cancel(region: string, id: string, owner: string | null): Promise<void>;
  /** Queues every import the providers show PENDING or CREATING that nobody runs (a crash, a SIGKILL, a restart). */
  resumeInterrupted(): Promise<void>;
  /** Resolves when nothing is queued or running (for tests and benchmarks). */
  idle(): Promise<void>;
  /** Stops for shutdown: running imports are aborted and left to be resumed (here at the next start, or by another replica). */
  close(): Promise<void>;
}
