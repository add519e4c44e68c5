/**
 * Convertible and unsafe images made with the real tools (qemu-img, sfdisk, gzip, xz, zstd, bzip2),
 * all from one bootable 8 MiB raw disk with random bytes in its partition, so that a conversion's
 * output can be compared byte for byte with what `qemu-img convert` itself makes of the same file.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { randomBytes } from 'node:crypto';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const DISK_BYTES = 8 * 2 ** 20;
const PATH = `${process.env.PATH}:/usr/sbin:/sbin`;

function run(tool: string, args: string[], cwd: string, input?: string, bytes?: Uint8Array): Buffer {
  try {
    return execFileSync(tool, args, {
      cwd,
      input: bytes ?? input ?? '',
      stdio: 'pipe',
      env: { ...process.env, PATH },
      maxBuffer: 256 << 20,
    });
  } catch (error) {
    const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`${tool} ${args.join(' ')} failed: ${stderr || String(error)}`, { cause: error });
  }
}

/** An image to import, with the sha256 of the raw disk `qemu-img convert` makes of it (null: it must be refused). */
export interface ConvertibleImage {
  file: string;
  /** What imagegraph should report as its source format. */
  format: string;
  /** sha256 of `qemu-img convert -f <format> -O raw` of the file (for compressed ones: of the disk inside). */
  expectedSha256: string;
}

export interface UnsafeImage {
  file: string;
  format: string;
  problem: string;
}

export interface Corpus {
  /** The bootable raw disk everything is made from. */
  disk: string;
  convertible: Record<string, ConvertibleImage>;
  unsafe: Record<string, UnsafeImage>;
  /** A qcow2 of a disk without any boot record: converts, but the result is not bootable. */
  blankQcow2: string;
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** What qemu-img itself makes of `file`: the reference each import is compared with. */
function qemuRawSha256(dir: string, file: string, qemuFormat: string): string {
  const out = join(dir, `${file}.reference.raw`);
  run('qemu-img', ['convert', '-f', qemuFormat, '-O', 'raw', file, out], dir);
  return sha256(out);
}

export function makeConvertibleImages(dir: string): Corpus {
  const disk = join(dir, 'disk.raw');
  writeFileSync(disk, '');
  truncateSync(disk, DISK_BYTES);
  run('sfdisk', ['-q', disk], dir, 'label: dos\nstart=2048, type=83, bootable\n');
  // Random bytes in the partition: a conversion that dropped or moved data would change the hash.
  const content = randomBytes(DISK_BYTES / 2);
  const bytes = readFileSync(disk);
  bytes.set(content, 1 << 20);
  writeFileSync(disk, bytes);

  const convertible: Record<string, ConvertibleImage> = {};
  const qemu = (name: string, qemuFormat: string, format: string, ...options: string[]) => {
    run('qemu-img', ['convert', '-f', 'raw', '-O', qemuFormat, ...options, disk, name], dir);
    convertible[name] = { file: join(dir, name), format, expectedSha256: qemuRawSha256(dir, name, qemuFormat) };
  };
  qemu('disk.qcow2', 'qcow2', 'QCOW2');
  qemu('disk-compressed.qcow2', 'qcow2', 'QCOW2', '-c');
  qemu('disk.qed', 'qed', 'QED');
  qemu('disk.vmdk', 'vmdk', 'VMDK');
  qemu('disk-stream.vmdk', 'vmdk', 'VMDK', '-o', 'subformat=streamOptimized');
  qemu('disk.vhd', 'vpc', 'VHD', '-o', 'subformat=dynamic');
  qemu('disk-fixed.vhd', 'vpc', 'VHD', '-o', 'subformat=fixed');
  qemu('disk.vhdx', 'vhdx', 'VHDX');
  qemu('disk.vdi', 'vdi', 'VDI');
  const compressed = (name: string, format: string, tool: string, args: string[]) => {
    writeFileSync(join(dir, name), run(tool, [...args, disk], dir));
    convertible[name] = { file: join(dir, name), format, expectedSha256: sha256(disk) };
  };
  compressed('disk.raw.gz', 'GZIP', 'gzip', ['-c']);
  compressed('disk.raw.xz', 'XZ', 'xz', ['-c', '-T1']);
  compressed('disk.raw.zst', 'ZSTD', 'zstd', ['-q', '-c']);
  compressed('disk.raw.bz2', 'BZIP2', 'bzip2', ['-c']);

  const unsafe: Record<string, UnsafeImage> = {};
  const add = (name: string, format: string, problem: string) => (unsafe[name] = { file: join(dir, name), format, problem });
  // A backing file that is the server's own disk image: converting would copy the host's file in.
  run('qemu-img', ['create', '-q', '-f', 'qcow2', '-b', disk, '-F', 'raw', 'backed.qcow2'], dir);
  add('backed.qcow2', 'QCOW2', 'BACKING_FILE');
  // qemu-img create makes (and zeroes) the data file itself: a file of its own, standing for a host file.
  run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${join(dir, 'host-file.raw')}`, 'data-file.qcow2', '8M'], dir);
  add('data-file.qcow2', 'QCOW2', 'EXTERNAL_DATA_FILE');
  // A descriptor whose extent is a file on the server (CVE-2022-47951).
  writeFileSync(
    join(dir, 'flat.vmdk'),
    `# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType="monolithicFlat"\n\n` +
      `RW 16384 FLAT "${disk}" 0\n\nddb.virtualHWVersion = "4"\nddb.geometry.cylinders = "16"\n` +
      `ddb.geometry.heads = "16"\nddb.geometry.sectors = "63"\nddb.adapterType = "ide"\n`,
  );
  add('flat.vmdk', 'VMDK', 'EXTERNAL_EXTENTS');
  run('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=twoGbMaxExtentSparse', 'split.vmdk', '8M'], dir);
  add('split.vmdk', 'VMDK', 'EXTERNAL_EXTENTS');
  // LUKS times its key derivation on the CPU first; on a loaded machine qemu-img may find no CPU time
  // to measure ("Unable to get accurate CPU usage"), so it is asked again.
  const encrypt = [
    'create',
    '-q',
    '-f',
    'qcow2',
    '--object',
    'secret,id=sec0,data=not-a-secret',
    '-o',
    'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=50',
    'encrypted.qcow2',
    '8M',
  ];
  for (let attempt = 1; ; attempt++) {
    try {
      run('qemu-img', encrypt, dir);
      break;
    } catch (error) {
      if (attempt === 5 || !String(error).includes('accurate CPU usage')) throw error;
    }
  }
  add('encrypted.qcow2', 'QCOW2', 'ENCRYPTED');
  run('qemu-img', ['create', '-q', '-f', 'qcow2', 'huge.qcow2', '100T'], dir);
  add('huge.qcow2', 'QCOW2', 'VIRTUAL_SIZE_TOO_LARGE');
  // A compression bomb: a bootable disk's first MiB, then 16384 xz streams of 64 MiB of zeros each
  // (xz -d reads concatenated streams as one): 1 TiB of disk in about 160 MB of file, large enough
  // that loopback's socket buffers (up to 32 MiB to receive) cannot hide whether the download stopped.
  const zeros = run('xz', ['-c', '-0', '-T1'], dir, undefined, Buffer.alloc(64 << 20));
  const head = run('xz', ['-c', '-0', '-T1'], dir, undefined, readFileSync(disk).subarray(0, 1 << 20));
  writeFileSync(join(dir, 'bomb.raw.xz'), Buffer.concat([head, ...Array.from({ length: 16_384 }, () => zeros)]));
  add('bomb.raw.xz', 'XZ', 'DECOMPRESSED_SIZE_TOO_LARGE');

  const blankQcow2 = join(dir, 'blank.qcow2');
  run('qemu-img', ['create', '-q', '-f', 'qcow2', blankQcow2, '8M'], dir);
  return { disk, convertible, unsafe, blankQcow2 };
}
