import { mkdirSync, readdirSync, rmSync } from 'node:fs';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PREFIX = 'imagegraph-imports-';

/** One import's private directory; removed with everything in it by `dispose`. */
export interface ScratchJob {
  dir: string;
  /** Creates an empty file only the server can read (0600) and returns its path. */
  file(name: string): Promise<string>;
  dispose(): Promise<void>;
}

/**
 * Where downloads wait to be converted: `<parent>/imagegraph-imports-<pid>-XXXX` (0700), one 0700
 * directory per import inside, files 0600, so no other user on the host can read an image or swap a
 * file under qemu-img. Directories left by a server that is no longer running are removed when this
 * one first needs scratch space.
 */
export class ScratchSpace {
  private root: Promise<string> | null = null;

  constructor(private readonly parent: string = tmpdir()) {}

  async job(): Promise<ScratchJob> {
    const dir = await mkdtemp(join(await this.rootDir(), 'job-'));
    return {
      dir,
      file: async (name) => {
        const path = join(dir, name);
        await (await open(path, 'wx', 0o600)).close();
        return path;
      },
      dispose: () => rm(dir, { recursive: true, force: true }),
    };
  }

  async close(): Promise<void> {
    if (this.root) await rm(await this.root, { recursive: true, force: true });
  }

  private rootDir(): Promise<string> {
    this.root ??= (async () => {
      mkdirSync(this.parent, { recursive: true });
      removeAbandoned(this.parent);
      // mkdtemp creates the directory 0700.
      return mkdtemp(join(this.parent, `${PREFIX}${process.pid}-`));
    })();
    return this.root;
  }
}

function removeAbandoned(parent: string): void {
  for (const name of readdirSync(parent)) {
    const pid = Number(name.startsWith(PREFIX) ? name.slice(PREFIX.length).split('-')[0] : NaN);
    if (Number.isInteger(pid) && pid > 0 && !isRunning(pid)) rmSync(join(parent, name), { recursive: true, force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
