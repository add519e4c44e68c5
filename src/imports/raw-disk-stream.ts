import { createHash } from 'node:crypto';
import { detectFormat, PEEK_BYTES, type ProbeFormat, VHD_FOOTER_BYTES, vhdFooterLength } from './formats/index.js';

/** Filled in by rawDiskStream once the last byte has passed. */
export interface RawDisk {
  sizeBytes: number;
  sha256: string;
}

export interface RawDiskOptions {
  /** The error for a stream that does not start with a raw disk's boot record. */
  notRaw(format: ProbeFormat, head: Uint8Array): Error;
  /** A fixed VHD's footer at the end: left out (the peek saw a fixed VHD, so it must be there), or refused. */
  fixedVhd: 'require' | 'refuse';
  /** The error for a fixed VHD when it is refused. */
  refusedVhd?: () => Error;
  /** The error when a footer is required and the end has none. */
  missingFooter?: () => Error;
  result: Partial<RawDisk>;
}

/**
 * The last stage before storage, for every import path: passes a raw disk's chunks through as they
 * come, checking the boot record in its first 64 KiB before any byte is passed on, handling a fixed
 * VHD's footer at its end, and counting size and sha256 on the way. At least the last 512 bytes seen
 * are always held back, so that a footer is never passed on before it is recognised.
 *
 * sha256 runs on the main thread, a chunk at a time (about 40 µs for a 64 KiB chunk, with the CPU's
 * SHA extensions), while the previous chunks are being written by libuv's threads: the stages
 * overlap, and no chunk is copied. A worker thread was measured slower here: the copies into
 * transferable blocks and the messages cost the main thread more than the hashing they moved off it.
 */
export async function* rawDiskStream(source: AsyncIterable<Uint8Array>, options: RawDiskOptions): AsyncGenerator<Uint8Array> {
  const hash = createHash('sha256');
  let size = 0;
  /** Chunks not yet passed on: the head until it is checked, then at least the last 512 bytes. */
  const held: Uint8Array[] = [];
  let heldBytes = 0;
  let headChecked = false;
  const checkHead = () => {
    const head = concat(held, PEEK_BYTES);
    const { format } = detectFormat(head);
    if (format !== 'RAW') throw options.notRaw(format, head);
    headChecked = true;
  };
  const pass = (chunk: Uint8Array) => {
    hash.update(chunk);
    size += chunk.length;
    return chunk;
  };
  for await (const chunk of source) {
    if (chunk.length === 0) continue;
    held.push(chunk);
    heldBytes += chunk.length;
    if (!headChecked) {
      if (heldBytes < PEEK_BYTES + VHD_FOOTER_BYTES) continue;
      checkHead();
    }
    while (heldBytes - held[0]!.length >= VHD_FOOTER_BYTES) {
      const first = held.shift()!;
      heldBytes -= first.length;
      yield pass(first);
    }
  }
  // The end: a short disk's head is checked now; a footer in the last 512 bytes is left out or refused.
  const rest = concat(held, heldBytes);
  if (!headChecked) checkHead();
  const footer = vhdFooterLength(rest.subarray(Math.max(0, rest.length - VHD_FOOTER_BYTES)));
  // Before the last bytes go on, so that the provider discards what it wrote rather than keeping it.
  if (footer && options.fixedVhd === 'refuse') throw options.refusedVhd!();
  if (!footer && options.fixedVhd === 'require') throw options.missingFooter!();
  if (rest.length - footer > 0) yield pass(rest.subarray(0, rest.length - footer));
  options.result.sizeBytes = size;
  options.result.sha256 = hash.digest('hex');
}

/** The first `bytes` of `chunks` as one array (the chunks themselves when there is only one). */
function concat(chunks: Uint8Array[], bytes: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!.subarray(0, bytes);
  return Buffer.concat(chunks).subarray(0, bytes);
}
