/**
 * The conversion pieces on their own, with the real tools: the process limits (memory, time), the
 * scratch space's permissions, the refusal when a tool is missing, and the header inspectors against
 * files qemu-img made (each unsafe one named by its problem, each safe one with qemu-img's virtual size).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnsafeImageError, UnsupportedImageFormatError } from '../../../src/errors.js';
import { ConversionTools } from '../../../src/imports/conversion/conversion-tools.js';
import { ConversionError, startLimited } from '../../../src/imports/conversion/limited-process.js';
import { qemuImgInfo } from '../../../src/imports/conversion/qemu-img.js';
import { ScratchSpace } from '../../../src/imports/conversion/scratch-space.js';
import { fileBytes } from '../../../src/imports/file-bytes.js';
import { DISK_FORMATS, isDiskFormat } from '../../../src/imports/formats/convertible.js';
import { detectFormat } from '../../../src/imports/formats/index.js';
import { bytesOf } from '../../../src/imports/formats/inspection.js';
import { ImportLimits } from '../../../src/imports/import-limits.js';
import { planImport } from '../../../src/imports/import-plan.js';
import { type Corpus, makeConvertibleImages } from './make-convertible-images.js';

const tools = new ConversionTools();
const LIMITS = { timeoutMs: 30_000, memoryBytes: 2 ** 30 };
let dir: string;
let corpus: Corpus;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'imagegraph-conversion-units-'));
  corpus = makeConvertibleImages(dir);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const head = (file: string) => new Uint8Array(readFileSync(file).subarray(0, 65_536));

describe('header inspection of files made by qemu-img', () => {
  it('finds each unsafe file problem in its first 64 KiB, as the peek does', () => {
    for (const [name, { file, format, problem }] of Object.entries(corpus.unsafe)) {
      const found = detectFormat(head(file)).format;
      expect(found, name).toBe(format);
      if (!isDiskFormat(found)) continue; // the xz bomb shows itself only when decompressed
      const inspection = DISK_FORMATS[found].inspect(bytesOf(head(file)));
      const limits = new ImportLimits(2 ** 30, 64 * 2 ** 20);
      const answer =
        inspection.problem?.kind ?? (inspection.virtualSize! > limits.maxDiskBytes ? 'VIRTUAL_SIZE_TOO_LARGE' : null);
      expect(answer, name).toBe(problem);
    }
  });

  it('reads the virtual size qemu-img reports from every convertible file (a VHDX from beyond its head)', async () => {
    for (const [name, { file, format }] of Object.entries(corpus.convertible)) {
      // Compressed disks have no header to inspect; a fixed VHD's head is the raw disk itself.
      if (!isDiskFormat(format as never) || detectFormat(head(file)).format !== format) continue;
      const diskFormat = format as keyof typeof DISK_FORMATS;
      const inspection = await fileBytes(file, (bytes) => DISK_FORMATS[diskFormat].inspect(bytes));
      const info = await qemuImgInfo(tools, file, diskFormat, LIMITS);
      expect(inspection, name).toEqual({ virtualSize: info.virtualSize, problem: null });
    }
  });

  it('agrees with qemu-img info on the problems it sees too (the second opinion)', async () => {
    const info = (name: string, format: keyof typeof DISK_FORMATS) =>
      qemuImgInfo(tools, corpus.unsafe[name]!.file, format, LIMITS);
    expect((await info('backed.qcow2', 'QCOW2')).problem?.kind).toBe('BACKING_FILE');
    expect((await info('data-file.qcow2', 'QCOW2')).problem?.kind).toBe('EXTERNAL_DATA_FILE');
    expect((await info('encrypted.qcow2', 'QCOW2')).problem?.kind).toBe('ENCRYPTED');
  });
});

describe('a VMDK header crafted to disagree with qemu', () => {
  /** The monolithicSparse VMDK qemu-img made, with its header or its embedded descriptor rewritten. */
  const crafted = (edit: (file: Buffer, descriptorAt: number, descriptorBytes: number) => void) => {
    const file = Buffer.from(readFileSync(corpus.convertible['disk.vmdk']!.file).subarray(0, 65_536));
    const descriptorAt = Number(file.readBigUInt64LE(28)) * 512;
    const descriptorBytes = Number(file.readBigUInt64LE(36)) * 512;
    edit(file, descriptorAt, descriptorBytes);
    return DISK_FORMATS.VMDK.inspect(bytesOf(file)).problem;
  };
  const withDescriptor = (text: string) =>
    crafted((file, at, bytes) => {
      file.fill(0, at, at + bytes);
      file.write(text, at, 'latin1');
    });
  const descriptor = (createType: string, extent: string) =>
    `# Disk DescriptorFile\nversion=1\nCID=12345678\nparentCID=ffffffff\n${createType}\n${extent}\n`;

  it('accepts what qemu-img made', () => {
    expect(crafted(() => undefined)).toBeNull();
  });

  it('refuses a capacity of 0, which qemu reads as a descriptor file naming other files', () => {
    expect(crafted((file) => file.writeBigUInt64LE(0n, 12))?.kind).toBe('EXTERNAL_EXTENTS');
  });

  it('refuses a second createType, even in a comment (qemu takes the first it finds)', () => {
    const text = descriptor('# createType="monolithicFlat"\ncreateType="monolithicSparse"', 'RW 16384 SPARSE "disk.vmdk"');
    expect(withDescriptor(text)?.kind).toBe('CORRUPT');
  });

  it('refuses an extent qemu would not use as the data (RDONLY), or a flat one naming a host file', () => {
    expect(withDescriptor(descriptor('createType="monolithicSparse"', 'RDONLY 16384 SPARSE "disk.vmdk"'))?.kind).toBe(
      'EXTERNAL_EXTENTS',
    );
    expect(withDescriptor(descriptor('createType="monolithicSparse"', 'RW 2048 FLAT "/etc/passwd" 0'))?.kind).toBe(
      'EXTERNAL_EXTENTS',
    );
  });
});

describe('the format rules', () => {
  const limits = new ImportLimits(2 ** 30, 64 * 2 ** 20);
  const policy = { convert: true, regionCannotConvert: null, tools, limits };

  it('plans a conversion, a decompression, or a fixed VHD by its tail', () => {
    expect(planImport('u', head(corpus.convertible['disk.qcow2']!.file), null, policy)).toEqual({
      kind: 'convert',
      format: 'QCOW2',
    });
    expect(planImport('u', head(corpus.convertible['disk.raw.zst']!.file), null, policy)).toEqual({
      kind: 'decompress',
      format: 'ZSTD',
    });
    const fixed = readFileSync(corpus.convertible['disk-fixed.vhd']!.file);
    expect(
      planImport('u', head(corpus.convertible['disk-fixed.vhd']!.file), new Uint8Array(fixed.subarray(-512)), policy),
    ).toEqual({
      kind: 'fixed-vhd',
    });
    expect(planImport('u', head(corpus.disk), new Uint8Array(readFileSync(corpus.disk).subarray(-512)), policy)).toEqual({
      kind: 'raw',
    });
  });

  it('refuses with a hint naming the Debian package when qemu-img is not installed (npm start works without it)', () => {
    const without = { ...policy, tools: new ConversionTools('/nonexistent') };
    const refusal = () => planImport('u', head(corpus.convertible['disk.vmdk']!.file), null, without);
    expect(refusal).toThrow(UnsupportedImageFormatError);
    expect(refusal).toThrow(/qemu-img convert -f vmdk -O raw .*qemu-img is not installed here .*apt-get install qemu-utils/);
    // gzip needs no tool: zlib is in Node.
    expect(planImport('u', head(corpus.convertible['disk.raw.gz']!.file), null, without)).toEqual({
      kind: 'decompress',
      format: 'GZIP',
    });
  });

  it('refuses an unsafe header at the peek with UnsafeImageError', () => {
    expect(() => planImport('u', head(corpus.unsafe['backed.qcow2']!.file), null, policy)).toThrow(UnsafeImageError);
  });
});

describe('conversion tools run under limits', () => {
  it('kills a tool over its memory limit and says so', async () => {
    const info = qemuImgInfo(tools, corpus.convertible['disk.qcow2']!.file, 'QCOW2', {
      timeoutMs: 10_000,
      memoryBytes: 16 * 2 ** 20,
    });
    await expect(info).rejects.toBeInstanceOf(ConversionError);
    await expect(info).rejects.toThrow(/qemu-img (was killed|exited)/);
  });

  it('kills a tool at its deadline, and everything it started', async () => {
    // xz waiting for input that never comes.
    const process = startLimited(tools, 'xz', ['-dc'], { timeoutMs: 300, memoryBytes: 2 ** 30, stdin: 'pipe' });
    await expect(process.done).rejects.toThrow(/xz took longer than 1 s and was stopped/);
    expect(process.child.exitCode ?? process.child.signalCode).toBe('SIGKILL');
  });

  it('never names the server-side path of the file in its error', async () => {
    const garbage = join(dir, 'garbage.qcow2');
    execFileSync('sh', ['-c', `head -c 4096 /dev/urandom > '${garbage}'`]);
    const error = await qemuImgInfo(tools, garbage, 'QCOW2', LIMITS).catch((e: Error) => e);
    expect(error).toBeInstanceOf(ConversionError);
    expect((error as Error).message).not.toContain(dir);
  });
});

describe('scratch space', () => {
  it('keeps each import in a directory only the server can enter, files only it can read, removed afterwards', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'imagegraph-scratch-units-'));
    const scratch = new ScratchSpace(parent);
    const job = await scratch.job();
    const file = await job.file('source');
    expect(statSync(job.dir).mode & 0o777).toBe(0o700);
    expect(statSync(join(job.dir, '..')).mode & 0o777).toBe(0o700);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    await job.dispose();
    expect(() => statSync(job.dir)).toThrow();
    await scratch.close();
    rmSync(parent, { recursive: true, force: true });
  });

  it("removes what a server that is no longer running left, and leaves a running one's alone", async () => {
    const parent = mkdtempSync(join(tmpdir(), 'imagegraph-scratch-units-'));
    const deadPid = spawnSync('true').pid!; // exited by now
    const abandoned = join(parent, `imagegraph-imports-${deadPid}-aaaa`);
    const running = join(parent, `imagegraph-imports-${process.ppid}-bbbb`);
    mkdirSync(join(abandoned, 'job-x'), { recursive: true });
    mkdirSync(running);
    const scratch = new ScratchSpace(parent);
    await (await scratch.job()).dispose();
    expect(existsSync(abandoned)).toBe(false);
    expect(existsSync(running)).toBe(true);
    await scratch.close();
    rmSync(parent, { recursive: true, force: true });
  });
});
