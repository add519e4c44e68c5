import { ImageFetchError, UnsafeImageError } from '../errors.js';
import type { DetectedFormat } from './formats/types.js';

/**
 * Every size limit of an import, each checked here and nowhere else: the file fetched (its declared
 * size before a byte is read, its counted size as it arrives), and the guest disk a conversion or
 * decompression makes (the size a header declares, and the bytes counted as they come out).
 */
export class ImportLimits {
  constructor(
    /** Largest file fetched (imports.maxSizeBytes). */
    readonly maxFileBytes: number,
    /** Largest raw disk a conversion or decompression may produce (imports.maxVirtualSizeBytes). */
    readonly maxDiskBytes: number,
  ) {}

  /** The size a server declares for the file (Content-Length, Content-Range), before it is read. */
  checkDeclaredFileSize(uri: string, bytes: number | null): void {
    if (bytes !== null && bytes > this.maxFileBytes) {
      throw new ImageFetchError(
        uri,
        'TOO_LARGE',
        `The image is ${bytes} bytes, over this server's limit of ${this.maxFileBytes}`,
      );
    }
  }

  /** Passes a download through, stopping it the moment it passes the file limit. */
  limitFile(uri: string, body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    return stopPast(
      this.maxFileBytes,
      body,
      () => new ImageFetchError(uri, 'TOO_LARGE', `The image is larger than this server's limit of ${this.maxFileBytes} bytes`),
    );
  }

  /** The guest disk size a header declares (a qcow2's virtual size, say), before converting. */
  checkVirtualSize(format: DetectedFormat, bytes: number | null): void {
    if (bytes !== null && bytes > this.maxDiskBytes) {
      throw new UnsafeImageError(
        format,
        'VIRTUAL_SIZE_TOO_LARGE',
        `its disk is ${bytes} bytes, over this server's limit of ${this.maxDiskBytes}`,
      );
    }
  }

  /** Passes a decompressor's output through, stopping at the limit: a compression bomb ends here, not at its end. */
  limitDecompressed(format: DetectedFormat, output: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
    return stopPast(
      this.maxDiskBytes,
      output,
      () =>
        new UnsafeImageError(
          format,
          'DECOMPRESSED_SIZE_TOO_LARGE',
          `it decompresses to more than this server's limit of ${this.maxDiskBytes} bytes`,
        ),
    );
  }
}

/** Passes `stream` through, throwing `tooMany()` the moment more than `limit` bytes have passed. */
async function* stopPast(limit: number, stream: AsyncIterable<Uint8Array>, tooMany: () => Error): AsyncGenerator<Uint8Array> {
  let bytes = 0;
  for await (const chunk of stream) {
    bytes += chunk.length;
    if (bytes > limit) throw tooMany();
    yield chunk;
  }
}
