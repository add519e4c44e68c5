/**
 * Builds the detector's test corpus with the real tools (qemu-img, sfdisk, sgdisk, xorriso...), so the
 * tests check the bytes those tools actually write rather than our idea of them.
 * `scripts/make-format-fixtures.sh` makes the same corpus from a shell; keep the two in step.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, constants, copyFileSync, mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** Debian package of each tool, for the message when one is missing (CI installs them all). */
const PACKAGES: Record<string, string> = {
  'qemu-img': 'qemu-utils',
  sfdisk: 'fdisk',
  fdisk: 'fdisk',
  sgdisk: 'gdisk',
  xorriso: 'xorriso',
  'mkfs.ext4': 'e2fsprogs',
  gzip: 'gzip',
  xz: 'xz-utils',
  zstd: 'zstd',
  bzip2: 'bzip2',
  zip: 'zip',
  tar: 'tar',
  cryptsetup: 'cryptsetup-bin',
};

/** A tool the corpus needs is not installed. */
export class MissingToolError extends Error {
  constructor(readonly tool: string) {
    const pkg = PACKAGES[tool] ?? tool;
    super(`${tool} is not installed: install the Debian package "${pkg}" (apt-get install -y ${pkg})`);
  }
}

/** Absolute path of `tool`; sbin is searched too since partitioning tools live there, off a user's PATH. */
function findTool(tool: string): string {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  for (const dir of dirs.filter(Boolean)) {
    const file = join(dir, tool);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // not in this directory
    }
  }
  throw new MissingToolError(tool);
}

/** Runs a tool quietly; on failure the error carries its stderr. */
function run(tool: string, args: string[], options: { cwd: string; input?: string }): Buffer {
  try {
    return execFileSync(findTool(tool), args, {
      cwd: options.cwd,
      input: options.input ?? '',
      stdio: 'pipe',
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    if (error instanceof MissingToolError) throw error;
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`${tool} ${args.join(' ')} failed: ${stderr || String(error)}`, { cause: error });
  }
}

const DISK_SIZE = '8M';

/** One corpus entry: a file made in `dir`, named by the entry (the builder may use earlier entries). */
type Builder = (dir: string, use: (name: string) => string) => void;

const raw = (dir: string, name: string) => run('qemu-img', ['create', '-q', '-f', 'raw', name, DISK_SIZE], { cwd: dir });
const qemu =
  (format: string, ...options: string[]): Builder =>
  (dir) =>
    void run('qemu-img', ['create', '-q', '-f', format, ...options, `disk.${format}`, DISK_SIZE], { cwd: dir });
const iso =
  (...options: string[]): Builder =>
  (dir, use) =>
    void run('xorriso', ['-as', 'mkisofs', '-quiet', '-V', 'TEST', ...options, '-o', 'out.iso', use('iso-root')], { cwd: dir });

/** Every corpus file, by name; each builder writes its file to the name's own subdirectory. */
const BUILDERS: Record<string, { file: string; build: Builder }> = {
  'raw-zeros': { file: 'zeros.raw', build: (dir) => void raw(dir, 'zeros.raw') },
  'mbr-disk': {
    file: 'mbr.raw',
    build: (dir) => {
      raw(dir, 'mbr.raw');
      run('sfdisk', ['-q', 'mbr.raw'], { cwd: dir, input: 'label: dos\nstart=2048, type=83, bootable\n' });
    },
  },
  'mbr-empty-table': {
    file: 'empty.raw',
    build: (dir) => {
      raw(dir, 'empty.raw');
      run('sfdisk', ['-q', 'empty.raw'], { cwd: dir, input: 'label: dos\n' });
    },
  },
  'gpt-disk': {
    file: 'gpt.raw',
    build: (dir) => {
      raw(dir, 'gpt.raw');
      run('sgdisk', ['-o', '-n', '1:2048:0', '-t', '1:8300', 'gpt.raw'], { cwd: dir });
    },
  },
  'gpt-4k-disk': {
    file: 'gpt4k.raw',
    build: (dir) => {
      raw(dir, 'gpt4k.raw');
      // sgdisk and sfdisk cannot set the sector size of a plain file; fdisk -b can. g: new GPT, n: partition.
      run('fdisk', ['-b', '4096', 'gpt4k.raw'], { cwd: dir, input: 'g\nn\n\n\n\nw\n' });
    },
  },
  ext4: {
    file: 'ext4.img',
    build: (dir) => {
      writeFileSync(join(dir, 'ext4.img'), '');
      truncateSync(join(dir, 'ext4.img'), 8 * 1024 * 1024);
      run('mkfs.ext4', ['-q', '-F', 'ext4.img'], { cwd: dir });
    },
  },
  qcow2: { file: 'disk.qcow2', build: qemu('qcow2') },
  qed: { file: 'disk.qed', build: qemu('qed') },
  vmdk: { file: 'disk.vmdk', build: qemu('vmdk') },
  'vmdk-stream': { file: 'disk.vmdk', build: qemu('vmdk', '-o', 'subformat=streamOptimized') },
  'vmdk-descriptor': { file: 'disk.vmdk', build: qemu('vmdk', '-o', 'subformat=monolithicFlat') },
  vdi: { file: 'disk.vdi', build: qemu('vdi') },
  'vhd-dynamic': { file: 'disk.vpc', build: qemu('vpc', '-o', 'subformat=dynamic') },
  'vhd-fixed-zeros': { file: 'disk.vpc', build: qemu('vpc', '-o', 'subformat=fixed') },
  'vhd-fixed-mbr': {
    file: 'fixed.vhd',
    build: (dir, use) =>
      void run('qemu-img', ['convert', '-f', 'raw', '-O', 'vpc', '-o', 'subformat=fixed', use('mbr-disk'), 'fixed.vhd'], {
        cwd: dir,
      }),
  },
  vhdx: { file: 'disk.vhdx', build: qemu('vhdx') },
  'iso-root': {
    file: 'root',
    build: (dir) => {
      mkdirSync(join(dir, 'root'));
      writeFileSync(join(dir, 'root', 'README.txt'), 'installer media\n');
    },
  },
  iso: { file: 'out.iso', build: iso() },
  // What distributions ship: an MBR partition table in the system area plus an appended EFI partition
  // (xorriso's isohybrid without isolinux), and the same with a GPT and protective MBR.
  'iso-hybrid-mbr': {
    file: 'out.iso',
    build: (dir, use) => iso('-append_partition', '2', '0xef', use('efi-partition'), '--mbr-force-bootable')(dir, use),
  },
  'iso-hybrid-gpt': {
    file: 'out.iso',
    build: (dir, use) => iso('-append_partition', '2', '0xef', use('efi-partition'), '-appended_part_as_gpt')(dir, use),
  },
  'efi-partition': {
    file: 'efi.img',
    build: (dir) => {
      writeFileSync(join(dir, 'efi.img'), '');
      truncateSync(join(dir, 'efi.img'), 1024 * 1024);
    },
  },
  luks1: { file: 'luks.img', build: (dir) => luks(dir, 'luks1') },
  luks2: { file: 'luks.img', build: (dir) => luks(dir, 'luks2') },
  gzip: { file: 'mbr.raw.gz', build: (dir, use) => compress(dir, 'gzip', ['-c', use('mbr-disk')], 'mbr.raw.gz') },
  xz: { file: 'mbr.raw.xz', build: (dir, use) => compress(dir, 'xz', ['-c', '-T1', use('mbr-disk')], 'mbr.raw.xz') },
  zstd: { file: 'mbr.raw.zst', build: (dir, use) => compress(dir, 'zstd', ['-q', '-c', use('mbr-disk')], 'mbr.raw.zst') },
  bzip2: { file: 'mbr.raw.bz2', build: (dir, use) => compress(dir, 'bzip2', ['-c', use('mbr-disk')], 'mbr.raw.bz2') },
  zip: { file: 'mbr.zip', build: (dir, use) => archive(dir, use, 'zip', ['-q', '-j', 'mbr.zip']) },
  tar: { file: 'mbr.tar', build: (dir, use) => archive(dir, use, 'tar', ['-cf', 'mbr.tar']) },
  'tar-gnu': { file: 'mbr.tar', build: (dir, use) => archive(dir, use, 'tar', ['--format=gnu', '-cf', 'mbr.tar']) },
  'tar-v7': { file: 'mbr.tar', build: (dir, use) => archive(dir, use, 'tar', ['--format=v7', '-cf', 'mbr.tar']) },
  'tar-gz': { file: 'mbr.tar.gz', build: (dir, use) => archive(dir, use, 'tar', ['-czf', 'mbr.tar.gz']) },
};

function luks(dir: string, type: 'luks1' | 'luks2'): void {
  writeFileSync(join(dir, 'key'), 'not-a-secret');
  writeFileSync(join(dir, 'luks.img'), '');
  // LUKS2 keeps 16 MiB of metadata by default; the file is sparse, so this costs no disk.
  truncateSync(join(dir, 'luks.img'), 20 * 1024 * 1024);
  // pbkdf2 with few iterations: the default argon2 wants a gigabyte of memory and seconds of work.
  const kdf = type === 'luks2' ? ['--pbkdf', 'pbkdf2'] : [];
  const args = ['luksFormat', '--type', type, '--batch-mode', ...kdf, '--pbkdf-force-iterations', '1000'];
  run('cryptsetup', [...args, '--key-file', 'key', 'luks.img'], { cwd: dir });
}

function compress(dir: string, tool: string, args: string[], out: string): void {
  writeFileSync(join(dir, out), run(tool, args, { cwd: dir }));
}

/** Archives the MBR disk under the name `disk.raw`, as cloud image archives do. */
function archive(dir: string, use: (name: string) => string, tool: string, args: string[]): void {
  copyFileSync(use('mbr-disk'), join(dir, 'disk.raw'));
  run(tool, [...args, 'disk.raw'], { cwd: dir });
}

/** A corpus entry: its file, or why it could not be made. */
export type MadeImage = { file: string } | { error: Error };

/** Names of every corpus entry. */
export const IMAGE_NAMES = Object.keys(BUILDERS);

/**
 * Makes the whole corpus under `dir`, one subdirectory per entry. A failure (a missing tool, a tool
 * that cannot run here) is recorded for its entry and those built on it, not thrown, so each test can
 * report its own cause.
 */
export function makeImages(dir: string): Map<string, MadeImage> {
  const made = new Map<string, MadeImage>();
  const use = (name: string): string => {
    const entry = BUILDERS[name];
    if (!entry) throw new Error(`no corpus entry "${name}"`);
    let image = made.get(name);
    if (!image) {
      const sub = join(dir, name);
      mkdirSync(sub, { recursive: true });
      try {
        entry.build(sub, use);
        image = { file: join(sub, entry.file) };
      } catch (error) {
        image = { error: error instanceof Error ? error : new Error(String(error)) };
      }
      made.set(name, image);
    }
    if ('error' in image) throw image.error;
    return image.file;
  };
  for (const name of IMAGE_NAMES) {
    try {
      use(name);
    } catch {
      // recorded in `made`
    }
  }
  return made;
}
