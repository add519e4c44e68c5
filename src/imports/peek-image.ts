import { ImageFetchError, UnsupportedImageFormatError } from '../errors.js';
import { collectHead, detectFormat, MIN_HEAD_BYTES, PEEK_BYTES } from './formats/index.js';
import type { GuardedFetcher } from './guarded-fetch.js';
import { toFetchError } from './guarded-fetch.js';

export interface PeekOptions {
  maxSizeBytes: number;
  /** A slow server cannot hold the request longer than this. @default 20000 */
  deadlineMs?: number;
}

/**
 * Checks a remote image before anything is created: asks for the first 64 KiB with Range, reads at
 * most that much even when the server ignores Range and sends the whole file, and accepts only a raw
 * disk with a boot record. Throws ImageFetchError or UnsupportedImageFormatError.
 */
export async function peekImage(fetcher: GuardedFetcher, uri: string, options: PeekOptions): Promise<void> {
  const signal = AbortSignal.timeout(options.deadlineMs ?? 20_000);
  const response = await fetcher.open(uri, { range: [0, PEEK_BYTES - 1], signal }).catch((error: unknown) => {
    // 416: not even the first byte exists; the file is empty.
    if (error instanceof ImageFetchError && error.httpStatus === 416) {
      throw new ImageFetchError(uri, 'TOO_SMALL', 'The file is empty', 416);
    }
    throw error;
  });
  let head: Uint8Array;
  try {
    const totalBytes = remoteSize(response.status, response.headers);
    if (totalBytes !== null && totalBytes > options.maxSizeBytes) {
      throw new ImageFetchError(
        uri,
        'TOO_LARGE',
        `The image is ${totalBytes} bytes, over this server's limit of ${options.maxSizeBytes}`,
      );
    }
    ({ head } = await collectHead(response.body, PEEK_BYTES));
  } catch (error) {
    throw toFetchError(uri, error);
  } finally {
    // Stops the transfer of whatever the server would still send.
    response.discard();
  }
  checkHead(uri, head);
}

/** Accepts a raw bootable disk's head; anything else is TOO_SMALL or UnsupportedImageFormatError. */
export function checkHead(uri: string, head: Uint8Array): void {
  const { format, hint } = detectFormat(head);
  if (format === 'RAW') return;
  if (format === 'UNKNOWN' && head.length < MIN_HEAD_BYTES) {
    throw new ImageFetchError(uri, 'TOO_SMALL', `The file is ${head.length} bytes, too small to be a disk image`);
  }
  throw new UnsupportedImageFormatError(format, hint ?? '');
}

/** The whole file's size from a 206's Content-Range or a 200's Content-Length, when the server says. */
export function remoteSize(status: number, headers: Record<string, string | string[] | undefined>): number | null {
  if (status === 206) {
    const match = /\/(\d+)\s*$/.exec(String(headers['content-range'] ?? ''));
    return match ? Number(match[1]) : null;
  }
  const length = Number(headers['content-length']);
  return Number.isFinite(length) && headers['content-length'] !== undefined ? length : null;
}
