import { ImageFetchError } from '../errors.js';
import { collectHead, PEEK_BYTES, VHD_FOOTER_BYTES } from './formats/index.js';
import type { GuardedFetcher } from './guarded-fetch.js';
import { toFetchError } from './guarded-fetch.js';
import type { ImportLimits } from './import-limits.js';

/** What the peek saw of a remote image. */
export interface Peek {
  /** The first 64 KiB, or the whole file when shorter. */
  head: Uint8Array;
  /** The file's size when the server said it. */
  totalBytes: number | null;
  /** Whether the server answered the Range request (so the tail can be asked for too). */
  ranged: boolean;
}

/** A slow server cannot hold the request longer than this. */
const PEEK_DEADLINE_MS = 20_000;

/**
 * Asks for the first 64 KiB with Range and reads at most that much even when the server ignores
 * Range and sends the whole file; a declared size over the limit is refused before anything is read.
 * Throws ImageFetchError.
 */
export async function peekHead(
  fetcher: GuardedFetcher,
  uri: string,
  limits: ImportLimits,
  deadlineMs = PEEK_DEADLINE_MS,
): Promise<Peek> {
  const signal = AbortSignal.timeout(deadlineMs);
  const response = await fetcher.open(uri, { range: [0, PEEK_BYTES - 1], signal }).catch((error: unknown) => {
    // 416: not even the first byte exists; the file is empty.
    if (error instanceof ImageFetchError && error.httpStatus === 416) {
      throw new ImageFetchError(uri, 'TOO_SMALL', 'The file is empty', 416);
    }
    throw error;
  });
  try {
    const totalBytes = remoteSize(response.status, response.headers);
    limits.checkDeclaredFileSize(uri, totalBytes);
    const { head } = await collectHead(response.body, PEEK_BYTES);
    return { head, totalBytes, ranged: response.status === 206 };
  } catch (error) {
    throw toFetchError(uri, error);
  } finally {
    // Stops the transfer of whatever the server would still send.
    response.discard();
  }
}

/**
 * The last 512 bytes of a file whose head looked like a raw disk: a fixed VHD shows itself only
 * there. Null when the server cannot say (no Range, no size) or does not answer in time: the
 * download checks the end again anyway.
 */
export async function peekTail(fetcher: GuardedFetcher, uri: string, peek: Peek): Promise<Uint8Array | null> {
  const { totalBytes, head } = peek;
  if (totalBytes !== null && totalBytes <= head.length) return head.subarray(Math.max(0, head.length - VHD_FOOTER_BYTES));
  if (!peek.ranged || totalBytes === null) return null;
  const start = totalBytes - VHD_FOOTER_BYTES;
  try {
    const response = await fetcher.open(uri, { range: [start, totalBytes - 1], signal: AbortSignal.timeout(PEEK_DEADLINE_MS) });
    try {
      if (response.status !== 206 || !String(response.headers['content-range'] ?? '').startsWith(`bytes ${start}-`)) return null;
      const { head: tail } = await collectHead(response.body, VHD_FOOTER_BYTES);
      return tail.length === VHD_FOOTER_BYTES ? tail : null;
    } finally {
      response.discard();
    }
  } catch {
    return null;
  }
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
