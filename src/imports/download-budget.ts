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
 * for ever: its `signal` aborts the transfer once the deadline passes or once the bytes counted over
 * the last window fall below the minimum pace, and `failure()` then says which, as an ImageFetchError.
 */
export class DownloadBudget {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private readonly started = Date.now();
  /** Bytes counted per tick, the most recent last; as many ticks as make one window. */
  private readonly ticks: number[] = [0];
  private reason: ImageFetchError | null = null;

  constructor(private readonly options: DownloadBudgetOptions) {
    const tickMs = options.tickMs ?? 1_000;
    const window = Math.max(1, Math.round(options.windowMs / tickMs));
    this.timer = setInterval(() => {
      if (Date.now() - this.started >= options.deadlineMs) {
        return this.stop(
          `The download did not finish within ${Math.round(options.deadlineMs / 1000)} s (limits.importDeadlineSeconds)`,
        );
      }
      const counted = this.ticks.length >= window ? this.ticks.reduce((sum, bytes) => sum + bytes, 0) : null;
      if (counted !== null && counted < (options.minBytesPerSecond * options.windowMs) / 1000) {
        return this.stop(
          `The download averaged ${Math.round(counted / (options.windowMs / 1000))} bytes/s over ${options.windowMs / 1000} s, ` +
            `below the minimum of ${options.minBytesPerSecond} (limits.importMinBytesPerSecond)`,
        );
      }
      this.ticks.push(0);
      if (this.ticks.length > window) this.ticks.shift();
    }, tickMs);
    this.timer.unref();
  }

  /** Aborted when the budget is spent. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Records bytes received. */
  count(bytes: number): void {
    this.ticks[this.ticks.length - 1]! += bytes;
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
