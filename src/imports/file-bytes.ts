import { open } from 'node:fs/promises';
import type { ByteSource } from './formats/inspection.js';

/** Read up front: every format's fixed header, and the descriptors and tables that usually follow it. */
const PREFETCH_BYTES = 1 << 20;
/** Bytes read at most, per file, by one inspection: a header's tables are small; a hostile one may claim otherwise. */
const MAX_INSPECTED_BYTES = 16 << 20;
/** Passes of one inspection (each pass reads what the last one missed, so a header's chain of tables). */
const MAX_ROUNDS = 64;

/**
 * Lets a (synchronous) header inspector read a downloaded file: the file's first MiB is read up
 * front; a range the inspector asks for beyond what was read is noted, read, and the inspector runs
 * again, until it asks for nothing new (or the read budget is spent).
 */
export async function fileBytes<T>(path: string, inspect: (bytes: ByteSource) => T): Promise<T> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const chunks: { offset: number; bytes: Uint8Array }[] = [];
    const load = async (offset: number, length: number) => {
      const bytes = new Uint8Array(length);
      await handle.read(bytes, 0, length, offset);
      chunks.push({ offset, bytes });
    };
    await load(0, Math.min(size, PREFETCH_BYTES));
    let budget = MAX_INSPECTED_BYTES;
    for (let round = 0; ; round++) {
      const missing: [number, number][] = [];
      const result = inspect({
        read: (offset, length) => {
          if (offset < 0 || length < 0 || offset + length > size) return null;
          const chunk = chunks.find((c) => c.offset <= offset && offset + length <= c.offset + c.bytes.length);
          if (chunk) return chunk.bytes.subarray(offset - chunk.offset, offset - chunk.offset + length);
          missing.push([offset, length]);
          return null;
        },
      });
      const wanted = missing.filter(([, length]) => (budget -= length) >= 0);
      if (wanted.length === 0 || round >= MAX_ROUNDS) return result;
      for (const [offset, length] of wanted) await load(offset, length);
    }
  } finally {
    await handle.close();
  }
}
