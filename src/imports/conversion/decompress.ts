import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { COMPRESSIONS, type Compression } from '../formats/convertible.js';
import type { ConversionTools } from './conversion-tools.js';
import { ConversionError, type ProcessLimits, startLimited } from './limited-process.js';

/**
 * A compressed raw disk's bytes, decompressed as they stream: gzip with zlib (in libuv's thread
 * pool), xz, zstd and bzip2 with their Debian tools under the conversion limits. Nothing is held
 * whole: the consumer pulls, and stopping early (the size limit reached) kills the tool at once.
 */
export function decompressed(
  format: Compression,
  input: AsyncIterable<Uint8Array>,
  tools: ConversionTools,
  limits: ProcessLimits & { signal?: AbortSignal },
): AsyncIterable<Uint8Array> {
  const tool = COMPRESSIONS[format].tool;
  return tool ? throughTool(tool, input, tools, limits) : gunzipped(input);
}

async function* gunzipped(input: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const gunzip = createGunzip();
  const feeding = pipeline(Readable.from(input), gunzip);
  feeding.catch(() => undefined); // its error is the one the iteration below throws
  try {
    for await (const chunk of gunzip) yield chunk as Uint8Array;
  } catch (error) {
    // zlib's own errors (Z_DATA_ERROR...) say the data is bad; anything else is the download's.
    if (String((error as NodeJS.ErrnoException).code).startsWith('Z_')) {
      throw new ConversionError(`the gzip data is corrupt: ${(error as Error).message}`);
    }
    throw error;
  } finally {
    gunzip.destroy();
  }
  await feeding;
}

async function* throughTool(
  tool: 'xz' | 'zstd' | 'bzip2',
  input: AsyncIterable<Uint8Array>,
  tools: ConversionTools,
  limits: ProcessLimits & { signal?: AbortSignal },
): AsyncGenerator<Uint8Array> {
  const process = startLimited(tools, tool, ['-dc'], { ...limits, stdin: 'pipe' });
  const exited = process.done.then(
    () => null,
    (error: unknown) => error,
  );
  const feeding = pipeline(Readable.from(input), process.child.stdin!).then(
    () => null,
    (error: unknown) => error,
  );
  let finished = false;
  try {
    for await (const chunk of process.child.stdout!) yield chunk as Uint8Array;
    const [fed, exit] = await Promise.all([feeding, exited]);
    // The tool's own failure explains a broken pipe; a broken download explains the tool's failure.
    if (fed instanceof Error && (fed as NodeJS.ErrnoException).code !== 'EPIPE') throw fed;
    if (exit) throw exit;
    if (fed) throw fed;
    finished = true;
  } finally {
    if (!finished) process.kill();
  }
}
