import { Worker } from 'node:worker_threads';

/**
 * The worker's code, evaluated rather than loaded from a file so that it runs the same under tsx,
 * vitest and plain node (a .ts worker file would need each runner's loader). It hashes each block it
 * is handed and hands the block back, so the block's memory moves between the threads instead of
 * being copied.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
let hash = createHash('sha256');
parentPort.on('message', (message) => {
  if (message === 'digest') {
    parentPort.postMessage(hash.digest('hex'));
    hash = createHash('sha256');
    return;
  }
  hash.update(message);
  parentPort.postMessage(message, [message.buffer]);
});
`;

/**
 * sha256 off the main thread: an import's bytes are hashed in a worker while the main thread keeps
 * downloading and writing (hashing 1 GiB takes about a second of CPU, which on the main thread would
 * be a second taken from every API request). Blocks come back in the order they went in.
 */
export class Sha256Worker {
  private readonly worker = new Worker(WORKER_SOURCE, { eval: true });
  private readonly waiting: { resolve: (value: never) => void; reject: (error: Error) => void }[] = [];
  private failure: Error | null = null;

  constructor() {
    this.worker.on('message', (message: unknown) => this.waiting.shift()?.resolve(message as never));
    this.worker.on('error', (error) => this.fail(error));
    this.worker.on('exit', () => this.fail(new Error('the hashing worker stopped')));
    this.worker.unref();
  }

  /**
   * Hashes `block` and resolves with it once done. The block must own its whole ArrayBuffer: the
   * buffer is moved to the worker and back, and is unusable in between.
   */
  update(block: Uint8Array): Promise<Uint8Array> {
    return this.send(block, [block.buffer as ArrayBuffer]);
  }

  /** The hex digest of everything hashed since the last digest. */
  digest(): Promise<string> {
    return this.send('digest', []);
  }

  close(): Promise<number> {
    return this.worker.terminate();
  }

  private send<T>(message: unknown, transfer: ArrayBuffer[]): Promise<T> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ resolve: resolve as (value: never) => void, reject });
      this.worker.postMessage(message, transfer);
    });
  }

  private fail(error: Error): void {
    this.failure ??= error;
    for (const waiter of this.waiting.splice(0)) waiter.reject(error);
  }
}
