import {
  BrokenCircuitError,
  CircuitState,
  circuitBreaker,
  ConsecutiveBreaker,
  ExponentialBackoff,
  handleWhen,
  type IPolicy,
  noop,
  retry,
  TaskCancelledError,
  timeout,
  TimeoutStrategy,
  wrap,
} from 'cockatiel';
import { ProviderUnavailableError } from '../errors.js';
import type { Metrics } from '../metrics.js';
import { ProviderUnavailable } from '../providers/errors.js';
import type { ImageProvider } from '../providers/types.js';

export interface ResilienceOptions {
  /** Deadline of one call; streamed uploads have none here (the import deadline bounds them). */
  timeoutMs: number;
  /** Consecutive failures after which the circuit opens and calls fail at once. */
  breakerFailures: number;
  /** How long an open circuit waits before one call may try the provider again. */
  breakerResetMs: number;
  metrics: Metrics;
}

/** A use registration may wait for an upload in progress to end (see the Glance provider). */
const USE_REGISTRATION_TIMEOUT_MS = 150_000;

type Operation = Exclude<keyof ImageProvider, 'kind' | 'answersInProcess' | 'close'>;

/**
 * How each operation may be retried and how long it may take. `metadata`: it reads records only, so a
 * provider that answers in process (SQLite) returns before a deadline could pass, and none is set: a
 * deadline costs an AbortController, a timer and listeners per call, about a tenth of a listing's CPU.
 */
const OPERATIONS: Record<Operation, { read: boolean; deadline: 'call' | 'use' | 'none'; metadata?: true }> = {
  queryImages: { read: true, deadline: 'call', metadata: true },
  countImages: { read: true, deadline: 'call', metadata: true },
  getImages: { read: true, deadline: 'call', metadata: true },
  findByIdempotencyKey: { read: true, deadline: 'call', metadata: true },
  listImageUses: { read: true, deadline: 'call', metadata: true },
  listUnfinishedImports: { read: true, deadline: 'call' },
  checkHealth: { read: true, deadline: 'call' },
  createImage: { read: false, deadline: 'call' },
  updateImage: { read: false, deadline: 'call' },
  deleteImage: { read: false, deadline: 'call' },
  releaseImageUse: { read: false, deadline: 'call' },
  registerImageUse: { read: false, deadline: 'use' },
  writeImageData: { read: false, deadline: 'none' },
  readImageData: { read: true, deadline: 'call' },
  importFromUri: { read: false, deadline: 'none' },
  prepare: { read: false, deadline: 'none' },
};

/** Failures that say the provider is down or hanging: they open the circuit and may be retried. */
const isOutage = (error: Error) => error instanceof ProviderUnavailable || error instanceof TaskCancelledError;

/**
 * The way the server reaches a region's provider, for requests and background imports alike: every
 * call is counted (`imagegraph_provider_calls_total`), has a deadline, and goes through the region's
 * circuit breaker, so that a dead or hanging provider answers PROVIDER_UNAVAILABLE at once after a few
 * failures and recovers by itself; idempotent reads are retried with backoff. Other regions have
 * breakers of their own.
 */
export class ResilientProvider implements ImageProvider {
  readonly kind: ImageProvider['kind'];
  readonly importFromUri?: ImageProvider['importFromUri'];
  readonly prepare?: ImageProvider['prepare'];
  private readonly policies: Map<Operation, IPolicy>;

  constructor(
    readonly region: string,
    /** The provider guarded here; reached directly only by tests that inspect its state. */
    readonly inner: ImageProvider,
    private readonly options: ResilienceOptions,
  ) {
    this.kind = inner.kind;
    const breaker = circuitBreaker(handleWhen(isOutage), {
      halfOpenAfter: options.breakerResetMs,
      breaker: new ConsecutiveBreaker(options.breakerFailures),
    });
    options.metrics.circuitOpen.set({ region }, 0);
    breaker.onStateChange((state) => options.metrics.circuitOpen.set({ region }, state === CircuitState.Open ? 1 : 0));
    const readRetry = retry(handleWhen(isOutage), {
      maxAttempts: 2,
      backoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1_000 }),
    });
    // A call that returned has nothing left to stop: aborting its signal anyway (cockatiel's default)
    // builds a DOMException per call, a few percent of a listing's CPU.
    const deadline = { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false };
    const deadlines = {
      call: timeout(options.timeoutMs, deadline),
      use: timeout(Math.max(options.timeoutMs, USE_REGISTRATION_TIMEOUT_MS), deadline),
      none: noop,
    };
    this.policies = new Map(
      Object.entries(OPERATIONS).map(([operation, { read, deadline, metadata }]) => {
        const limit = metadata && inner.answersInProcess ? noop : deadlines[deadline];
        return [operation as Operation, read ? wrap(readRetry, breaker, limit) : wrap(breaker, limit)];
      }),
    );
    if (inner.prepare) {
      const prepare = inner.prepare.bind(inner);
      this.prepare = () => this.call('prepare', prepare);
    }
    if (inner.importFromUri) {
      const importFromUri = inner.importFromUri.bind(inner);
      this.importFromUri = (id, uri, signal) => this.call('importFromUri', () => importFromUri(id, uri, signal));
    }
  }

  queryImages: ImageProvider['queryImages'] = (query) => this.call('queryImages', () => this.inner.queryImages(query));
  countImages: ImageProvider['countImages'] = (scope, filter) =>
    this.call('countImages', () => this.inner.countImages(scope, filter));
  getImages: ImageProvider['getImages'] = (ids) => this.call('getImages', () => this.inner.getImages(ids));
  createImage: ImageProvider['createImage'] = (image) => this.call('createImage', () => this.inner.createImage(image));
  findByIdempotencyKey: ImageProvider['findByIdempotencyKey'] = (organizationId, key) =>
    this.call('findByIdempotencyKey', () => this.inner.findByIdempotencyKey(organizationId, key));
  updateImage: ImageProvider['updateImage'] = (id, patch) => this.call('updateImage', () => this.inner.updateImage(id, patch));
  writeImageData: ImageProvider['writeImageData'] = (id, data, signal) =>
    this.call('writeImageData', () => this.inner.writeImageData(id, data, signal));
  readImageData: ImageProvider['readImageData'] = (id, start, end) =>
    this.call('readImageData', () => this.inner.readImageData(id, start, end));
  listUnfinishedImports: ImageProvider['listUnfinishedImports'] = () =>
    this.call('listUnfinishedImports', () => this.inner.listUnfinishedImports());
  deleteImage: ImageProvider['deleteImage'] = (id) => this.call('deleteImage', () => this.inner.deleteImage(id));
  registerImageUse: ImageProvider['registerImageUse'] = (id, use) =>
    this.call('registerImageUse', () => this.inner.registerImageUse(id, use));
  releaseImageUse: ImageProvider['releaseImageUse'] = (id, release) =>
    this.call('releaseImageUse', () => this.inner.releaseImageUse(id, release));
  listImageUses: ImageProvider['listImageUses'] = (ids) => this.call('listImageUses', () => this.inner.listImageUses(ids));
  checkHealth: ImageProvider['checkHealth'] = () => this.call('checkHealth', () => this.inner.checkHealth());
  close: ImageProvider['close'] = () => this.inner.close();

  private async call<T>(operation: Operation, run: () => Promise<T>): Promise<T> {
    this.options.metrics.providerCalls.inc({ region: this.region, operation });
    try {
      return await this.policies.get(operation)!.execute(run);
    } catch (error) {
      // The one place where provider-level outages become the domain's ProviderUnavailableError.
      if (error instanceof ProviderUnavailable || error instanceof BrokenCircuitError || error instanceof TaskCancelledError) {
        throw new ProviderUnavailableError(this.region, { cause: error });
      }
      throw error;
    }
  }
}
