import { detectFormat, PEEK_BYTES, type ProbeFormat, VHD_FOOTER_BYTES, vhdFooterLength } from './formats/index.js';
import { Sha256Worker } from './sha256-worker.js';

/** Filled in by rawDiskStream once the last byte has passed. */
export interface RawDisk {
  sizeBytes: number;
  sha256: string;
  /** The stream was a fixed VHD: a raw disk followed by a footer, which was left out. */
  wasFixedVhd: boolean;
}

export interface RawDiskOptions {
  /** The error for a stream that does not start with a raw disk's boot record. */
  notRaw(format: ProbeFormat, head: Uint8Array): Error;
  /** A fixed VHD's footer at the end: left out (the import converts), or refused. */
  fixedVhd: 'strip' | 'refuse';
  /** The error for a fixed VHD when it is refused. */
  refusedVhd?: () => Error;
  result: Partial<RawDisk>;
}

/** Bytes handed to the hashing worker and on to storage at once: large enough that messages are few. */
const BLOCK_BYTES = 1 << 20;
/** The first block: just the head, so that its check passes and bytes reach the provider early. */
const FIRST_BLOCK_BYTES = PEEK_BYTES + VHD_FOOTER_BYTES;
/** Blocks being hashed at once: the worker stays busy while the main thread gathers the next. */
const HASH_WINDOW = 8;

interface Hashing {
  promise: Promise<Uint8Array>;
  settled: boolean;
}

/**
 * The last stage before storage, for every import path: passes a raw disk through in blocks of up to
 * 1 MiB, checking the boot record in its first 64 KiB before any byte is passed on, handling a fixed
 * VHD's footer at its end, and counting size and sha256 on the way (sha256 in a worker thread,
 * overlapping the download and the write). A block is passed on as soon as it is hashed; the last
 * 512 bytes seen are always held back, so that a footer is never passed on before it is recognised.
 * Memory stays bounded by the window of blocks being hashed.
 */
export async function* rawDiskStream(source: AsyncIterable<Uint8Array>, options: RawDiskOptions): AsyncGenerator<Uint8Array> {
  const hasher = new Sha256Worker();
  const hashing: Hashing[] = [];
  const iterator = source[Symbol.asyncIterator]();
  let size = 0;
  let headChecked = false;
  let ended = false;
  const hash = (block: Uint8Array) => {
    if (!headChecked) {
      const head = block.subarray(0, PEEK_BYTES);
      const { format } = detectFormat(head);
      if (format !== 'RAW') throw options.notRaw(format, head);
      headChecked = true;
    }
    size += block.length;
    const entry: Hashing = { promise: hasher.update(block), settled: false };
    // Awaited below, in order; a failure must not surface as unhandled before then.
    entry.promise.then(
      () => (entry.settled = true),
      () => (entry.settled = true),
    );
    hashing.push(entry);
  };
  try {
    let current = new Uint8Array(FIRST_BLOCK_BYTES);
    let filled = 0;
    let pending: Promise<IteratorResult<Uint8Array>> | null = null;
    for (;;) {
      if (hashing.length > HASH_WINDOW || hashing[0]?.settled) {
        yield await hashing.shift()!.promise;
        continue;
      }
      pending ??= iterator.next();
      if (hashing.length > 0) {
        // Pass a block on as soon as it is hashed, even while the source is slow to send more.
        const first = await Promise.race([
          pending.then(() => 'chunk'),
          hashing[0]!.promise.then(
            () => 'hashed',
            () => 'hashed',
          ),
        ]);
        if (first === 'hashed') continue;
      }
      const next = await pending;
      pending = null;
      if (next.done) break;
      const chunk = next.value;
      for (let offset = 0; offset < chunk.length;) {
        const taken = Math.min(chunk.length - offset, current.length - filled);
        current.set(chunk.subarray(offset, offset + taken), filled);
        filled += taken;
        offset += taken;
        if (filled < current.length) continue;
        // Full: all but its last 512 bytes go on; those start the next block (they may be a footer).
        const full = current;
        current = new Uint8Array(BLOCK_BYTES);
        current.set(full.subarray(full.length - VHD_FOOTER_BYTES), 0);
        filled = VHD_FOOTER_BYTES;
        hash(full.subarray(0, full.length - VHD_FOOTER_BYTES));
      }
    }
    ended = true;
    const footer = vhdFooterLength(current.subarray(Math.max(0, filled - VHD_FOOTER_BYTES), filled));
    if (footer && options.fixedVhd === 'refuse') throw options.refusedVhd!();
    if (filled - footer > 0 || !headChecked) hash(current.subarray(0, filled - footer));
    while (hashing.length) yield await hashing.shift()!.promise;
    options.result.sizeBytes = size;
    options.result.sha256 = await hasher.digest();
    options.result.wasFixedVhd = footer > 0;
  } finally {
    // Stops the source (the download); not awaited, since a read of it may still be in flight.
    if (!ended) iterator.return?.()?.catch(() => undefined);
    void hasher.close();
  }
}
