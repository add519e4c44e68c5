import { createHash } from 'node:crypto';
import { ImageFetchError, UnsupportedImageFormatError } from '../errors.js';
import { HeadCollector, hasVhdFooter, PEEK_BYTES, VHD_FOOTER_BYTES, vhdProbe } from './formats/index.js';
import { checkHead } from './peek-image.js';

/** Filled in by verifiedImageStream once the last byte has passed. */
export interface StreamedImage {
  sizeBytes: number;
  sha256: string;
}

/**
 * Passes an image's bytes through while checking them: the format again on the first 64 KiB actually
 * downloaded (the remote file may have changed since the peek; nothing is passed on before that
 * check), the size limit on every chunk, a fixed VHD's footer at the end, and sha256 and size counted
 * on the way. Memory stays flat: chunks flow through, only the head and the last 512 bytes are kept.
 */
export async function* verifiedImageStream(
  body: AsyncIterable<Uint8Array>,
  options: { uri: string; maxSizeBytes: number; result: Partial<StreamedImage> },
): AsyncGenerator<Uint8Array> {
  const { uri, maxSizeBytes } = options;
  const hash = createHash('sha256');
  const head = new HeadCollector(PEEK_BYTES);
  // Chunks held back until the head has been checked; null once it has.
  let held: Uint8Array[] | null = [];
  let size = 0;
  let tail: Uint8Array = new Uint8Array(0);
  for await (const chunk of body) {
    size += chunk.length;
    if (size > maxSizeBytes) {
      throw new ImageFetchError(uri, 'TOO_LARGE', `The image is larger than this server's limit of ${maxSizeBytes} bytes`);
    }
    hash.update(chunk);
    tail = lastBytes(tail, chunk, VHD_FOOTER_BYTES);
    if (held) {
      head.push(chunk);
      held.push(chunk);
      if (!head.full) continue;
      checkHead(uri, head.head);
      yield* held;
      held = null;
      continue;
    }
    yield chunk;
  }
  if (held) {
    checkHead(uri, head.head);
    yield* held;
  }
  if (hasVhdFooter(tail)) throw new UnsupportedImageFormatError('VHD', vhdProbe.hint);
  options.result.sizeBytes = size;
  options.result.sha256 = hash.digest('hex');
}

function lastBytes(previous: Uint8Array, chunk: Uint8Array, count: number): Uint8Array {
  if (chunk.length >= count) return chunk.slice(chunk.length - count);
  const joined = new Uint8Array(Math.min(count, previous.length + chunk.length));
  const fromPrevious = joined.length - chunk.length;
  joined.set(previous.subarray(previous.length - fromPrevious), 0);
  joined.set(chunk, fromPrevious);
  return joined;
}
