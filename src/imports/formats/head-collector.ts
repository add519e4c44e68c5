import { PEEK_BYTES } from './detect-format.js';

/**
 * Gathers the first `limit` bytes of a stream whatever its chunking (a server may send 7-byte chunks or
 * one 10 MiB chunk, and may ignore `Range`), copying no byte past the limit.
 */
export class HeadCollector {
  readonly #buffer: Uint8Array;
  #length = 0;

  constructor(readonly limit: number = PEEK_BYTES) {
    this.#buffer = new Uint8Array(limit);
  }

  /** Copies as much of `chunk` as still fits and returns how many of its bytes were taken. */
  push(chunk: Uint8Array): number {
    const taken = Math.min(chunk.length, this.limit - this.#length);
    this.#buffer.set(chunk.subarray(0, taken), this.#length);
    this.#length += taken;
    return taken;
  }

  /** True once `limit` bytes are held: the caller should stop reading. */
  get full(): boolean {
    return this.#length >= this.limit;
  }

  /** Bytes taken so far, never more than `limit`. */
  get bytesConsumed(): number {
    return this.#length;
  }

  /** The bytes collected so far (a view, not a copy). */
  get head(): Uint8Array {
    return this.#buffer.subarray(0, this.#length);
  }
}

/** What `collectHead` gathered. */
export interface CollectedHead {
  head: Uint8Array;
  /** Bytes taken from the source into `head`, at most the limit. */
  bytesRead: number;
  /** True when the source ended before the limit: `head` is the whole file. */
  endOfSource: boolean;
}

/**
 * Reads `source` until `limit` bytes are collected or it ends. Leaving the loop early calls the
 * iterator's `return()`, which for a Node stream or a fetch body stops the download.
 */
export async function collectHead(source: AsyncIterable<Uint8Array>, limit: number = PEEK_BYTES): Promise<CollectedHead> {
  const collector = new HeadCollector(limit);
  let endOfSource = true;
  for await (const chunk of source) {
    collector.push(chunk);
    if (collector.full) {
      endOfSource = false;
      break;
    }
  }
  return { head: collector.head, bytesRead: collector.bytesConsumed, endOfSource };
}
