import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

const PARTIAL_PREFIX = '.partial-';
const WRITE_BUFFER_BYTES = 8 << 20;

/**
 * The local provider's image bytes: `<dataDir>/images/<id>.raw`. A file appears under its final name
 * only once complete and fsynced, so a crash leaves at most a `.partial-*` file, removed on start-up.
 */
export class ImageFiles {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(dataDir, 'images');
    mkdirSync(this.dir, { recursive: true });
    for (const name of readdirSync(this.dir)) {
      if (name.startsWith(PARTIAL_PREFIX)) rmSync(join(this.dir, name), { force: true });
    }
  }

  path(id: string): string {
    return join(this.dir, `${id}.raw`);
  }

  /** Writes `data` to a temp file, fsyncs it and renames it into place; removes the temp file on any failure. */
  async write(id: string, data: AsyncIterable<Uint8Array>, signal?: AbortSignal): Promise<void> {
    const partial = join(this.dir, `${PARTIAL_PREFIX}${id}-${randomBytes(4).toString('hex')}`);
    try {
      // A deep write buffer lets the download go on while libuv's threads write: with the default
      // 16 KiB every chunk would pause the source until the disk caught up, and the stages would take turns.
      await pipeline(Readable.from(data), createWriteStream(partial, { flags: 'wx', highWaterMark: WRITE_BUFFER_BYTES }), {
        signal,
      });
      const handle = await open(partial, 'r');
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(partial, this.path(id));
      await this.syncDir();
    } catch (error) {
      await rm(partial, { force: true });
      throw error;
    }
  }

  /** Bytes `start` to `end` (inclusive) of a stored image, fewer at its end. */
  async read(id: string, start: number, end: number): Promise<Uint8Array> {
    const handle = await open(this.path(id), 'r');
    try {
      const buffer = new Uint8Array(end - start + 1);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, start);
      return buffer.subarray(0, bytesRead);
    } finally {
      await handle.close();
    }
  }

  async remove(id: string): Promise<void> {
    await rm(this.path(id), { force: true });
  }

  /** Removes every image file whose id is not in `keep`: what a crash between delete and unlink left. */
  removeOrphans(keep: ReadonlySet<string>): void {
    for (const name of readdirSync(this.dir)) {
      if (name.endsWith('.raw') && !keep.has(name.slice(0, -'.raw'.length))) rmSync(join(this.dir, name), { force: true });
    }
  }

  /** Makes the rename durable: the directory entry must reach the disk too. */
  private async syncDir(): Promise<void> {
    const handle = await open(this.dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
