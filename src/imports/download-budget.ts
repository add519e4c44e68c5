import { ImageFetchError } from '../errors.js';

export interface DownloadBudgetOptions {
  uri: string;
  /** The whole download must finish within this. */
  deadlineMs: number;
  /** Bytes per second the download must average over every window (0: no minimum). */
  minBytesPerSecond: number;
  windowMs: number;
  /** How often the pace is checked. @default 1000 */
  tickMs?: number;
}

/**
 * The time and pace a download may take, so that a slow or stalled server cannot hold an import slot
 * for ever: its `signal` aborts the transfer once the deadline passes or once the server's pace over
 * the last window falls below the minimum, and `failure()` then says which, as an ImageFetchError.
 *
 * The pace is the server's: bytes per second of the time spent waiting for it. While imagegraph itself
 * is the slow side (a disk writing, a decompressor turning a few compressed bytes into gigabytes of
 * zeros) the transfer pauses without counting against the server. A window is judged only when at
 * least half of it was spent waiting.
 */
export class DownloadBudget {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly started = Date.now();
  /** Per tick, the most recent last (as many as make one window): bytes received, and time spent waiting for them. */
  private readonly ticks: { bytes: number; waitedMs: number }[] = [{ bytes: 0, waitedMs: 0 }];
  private tickStarted = Date.now();
  private waitingSince: number | null = null;
  private reason: ImageFetchError | null = null;

  constructor(private readonly options: DownloadBudgetOptions) {
    const tickMs = options.tickMs ?? 1_000;
    const window = Math.max(1, Math.round(options.windowMs / tickMs));
    this.timer = setInterval(() => {
      const now = Date.now();
      if (now - this.started >= options.deadlineMs) {
        return this.stop(
          `The download did not finish within ${Math.round(options.deadlineMs / 1000)} s (limits.importDeadlineSeconds)`,
        );
      }
      this.settleWait(now);
      if (this.ticks.length >= window && options.minBytesPerSecond > 0) {
        const bytes = this.ticks.reduce((sum, tick) => sum + tick.bytes, 0);
        const waitedMs = this.ticks.reduce((sum, tick) => sum + tick.waitedMs, 0);
        if (waitedMs >= options.windowMs / 2 && bytes < (options.minBytesPerSecond * waitedMs) / 1000) {
          return this.stop(
            `The server sent ${Math.round(bytes / (waitedMs / 1000))} bytes/s over the last ${options.windowMs / 1000} s, ` +
              `below the minimum of ${options.minBytesPerSecond} (limits.importMinBytesPerSecond)`,
          );
        }
      }
      this.ticks.push({ bytes: 0, waitedMs: 0 });
      if (this.ticks.length > window) this.ticks.shift();
      this.tickStarted = now;
    }, tickMs);
    this.timer.unref();
  }

  /** Aborted when the budget is spent. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Records bytes received. */
  count(bytes: number): void {
    this.ticks.at(-1)!.bytes += bytes;
    this.settleWait(Date.now());
    this.waitingSince = null;
  }

  /** The transfer asks the server for more: the time until `count` is the server's. */
  waiting(): void {
    this.waitingSince = Date.now();
  }

  /** Adds the wait so far (within the current tick) to the current tick. */
  private settleWait(now: number): void {
    if (this.waitingSince === null) return;
    this.ticks.at(-1)!.waitedMs += now - Math.max(this.waitingSince, this.tickStarted);
    this.waitingSince = now;
  }

  /** Why the budget stopped the download, or null when it did not. */
  failure(): ImageFetchError | null {
    return this.reason;
  }

  /** Ends the checks (the download finished or failed on its own). */
  dispose(): void {
    clearInterval(this.timer);
  }

  private stop(message: string): void {
    this.reason = new ImageFetchError(this.options.uri, 'TIMEOUT', message);
    this.dispose();
    this.controller.abort(this.reason);
  }
}
