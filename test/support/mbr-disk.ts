/**
 * Small real raw disks for import tests: `qemu-img create -f raw` plus an MBR partition table written
 * by `sfdisk`, so the importer sees the bytes the real tools write. Each disk gets a distinct size so a
 * stored file can be matched to its source by size alone.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

function findTool(tool: string): string {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'].filter(Boolean)) {
    try {
      accessSync(join(dir, tool), constants.X_OK);
      return join(dir, tool);
    } catch {
      // not here
    }
  }
  throw new Error(`${tool} is not installed (Debian: ${tool === 'qemu-img' ? 'qemu-utils' : 'fdisk'})`);
}

/** Writes `<dir>/<name>`: a raw disk of `sizeKiB` KiB (at least 2048) with one bootable Linux partition. */
export function makeMbrDisk(dir: string, name: string, sizeKiB: number): string {
  const file = join(dir, name);
  execFileSync(findTool('qemu-img'), ['create', '-q', '-f', 'raw', file, `${sizeKiB}K`], { stdio: 'pipe' });
  execFileSync(findTool('sfdisk'), ['-q', file], { input: 'label: dos\nstart=2048, type=83, bootable\n', stdio: 'pipe' });
  return file;
}
