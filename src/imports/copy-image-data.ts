import { createHash, getHashes } from 'node:crypto';
import type { ProviderRegistry } from '../provider-access/provider-registry.js';
import type { ProgressReporter } from './import-progress.js';

/** Which image a copy reads. */
export interface CopySource {
  region: string;
  id: string;
}

/** The source of a copy went away (deleted, or no longer READY) or its bytes were not what it says. */
export class CopySourceError extends Error {
  override name = 'CopySourceError';
}

/** Bytes read from the source per request: memory stays flat whatever the image's size. */
const CHUNK_BYTES = 8 * 2 ** 20;

/**
 * Streams a READY image's bytes from its provider into another image, a chunk at a time (no copy of
 * the whole image in memory or on this server's disk), and verifies them against the source's
 * checksum on the way. Answers the size and the sha256 the copy is marked READY with.
 */
export async function copyImageData(
  providers: ProviderRegistry,
  from: CopySource,
  to: { region: string; id: string },
  signal: AbortSignal,
  progress: ProgressReporter,
): Promise<{ sizeBytes: number; checksum: { algorithm: string; value: string } }> {
  const source = providers.get(from.region);
  const [record] = await source.getImages([from.id]);
  if (!record || record.status !== 'READY' || record.sizeBytes === null) {
    throw new CopySourceError('the source image was deleted or is no longer READY');
  }
  const size = record.sizeBytes;
  const expected = record.checksum;
  const sha256 = createHash('sha256');
  // The source's own checksum (Glance: sha512 by default) is what the bytes must match.
  if (expected && !getHashes().includes(expected.algorithm)) {
    throw new CopySourceError(`the source image's checksum (${expected.algorithm}) is not one this server can check`);
  }
  const verify = expected && expected.algorithm !== 'sha256' ? createHash(expected.algorithm) : null;
  progress.phase('DOWNLOADING', size);
  async function* chunks(): AsyncGenerator<Uint8Array> {
    for (let start = 0; start < size; start += CHUNK_BYTES) {
      signal.throwIfAborted();
      let chunk: Uint8Array | null;
      let failure: unknown = null;
      try {
        chunk = await source.readImageData(from.id, start, Math.min(start + CHUNK_BYTES, size) - 1);
      } catch (error) {
        chunk = null;
        failure = error;
      }
      const wanted = Math.min(CHUNK_BYTES, size - start);
      if (chunk && chunk.byteLength !== wanted && chunk.byteLength !== 0) {
        throw new CopySourceError(`the source answered ${chunk.byteLength} bytes at ${start} where ${wanted} were asked for`);
      }
      if (!chunk || chunk.byteLength === 0) {
        // A read that fails or comes up short: most likely the source was deleted meanwhile.
        const [now] = await source.getImages([from.id]).catch(() => [record]);
        if (!now || now.status !== 'READY') throw new CopySourceError('the source image was deleted during the copy');
        // Glance answers 204, no bytes, for an image whose data is going (a delete under way).
        throw failure ?? new CopySourceError(`the source image was cut short: it ended at ${start} of ${size} bytes`);
      }
      sha256.update(chunk);
      verify?.update(chunk);
      progress.add(chunk.byteLength);
      yield chunk;
    }
  }
  await providers.get(to.region).writeImageData(to.id, chunks(), signal);
  const value = sha256.digest('hex');
  const check = verify ? verify.digest('hex') : value;
  if (expected && check !== expected.value) {
    throw new CopySourceError(`the bytes read do not match the source image's ${expected.algorithm} checksum`);
  }
  return { sizeBytes: size, checksum: { algorithm: 'sha256', value } };
}
