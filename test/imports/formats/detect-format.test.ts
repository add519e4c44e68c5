import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { collectHead, detectFormat, PEEK_BYTES, VHD_FOOTER_BYTES, vhdFooterLength } from '../../../src/imports/formats/index.js';
import type { ProbeFormat } from '../../../src/imports/formats/index.js';
import { hasPlausibleBootRecord } from '../../../src/imports/formats/raw-disk.js';
import { makeImages, type MadeImage } from './make-images.js';

let dir: string;
let images: Map<string, MadeImage>;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'imagegraph-formats-'));
  images = makeImages(dir);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

interface Case {
  image: string;
  format: ProbeFormat;
}

interface RefusedCase extends Case {
  /** Text the hint must contain: the tool (and flags) that converts the image. */
  tool: string;
  /** The image needs a tool that may be unable to run here (cryptsetup): skip rather than fail. */
  optional?: boolean;
}

const ACCEPTED: Case[] = [
  { image: 'mbr-disk', format: 'RAW' },
  { image: 'gpt-disk', format: 'RAW' },
  { image: 'gpt-4k-disk', format: 'RAW' },
  // A fixed VHD is the raw disk plus a footer at the end: nothing in the head tells it apart.
  { image: 'vhd-fixed-mbr', format: 'RAW' },
];

const REFUSED: RefusedCase[] = [
  { image: 'qcow2', format: 'QCOW2', tool: 'qemu-img convert -f qcow2 -O raw' },
  { image: 'qed', format: 'QED', tool: 'qemu-img convert -f qed -O raw' },
  { image: 'vmdk', format: 'VMDK', tool: 'qemu-img convert -f vmdk -O raw' },
  { image: 'vmdk-stream', format: 'VMDK', tool: 'qemu-img convert -f vmdk -O raw' },
  { image: 'vmdk-descriptor', format: 'VMDK', tool: 'qemu-img convert -f vmdk -O raw' },
  { image: 'vdi', format: 'VDI', tool: 'qemu-img convert -f vdi -O raw' },
  { image: 'vhd-dynamic', format: 'VHD', tool: 'qemu-img convert -f vpc -O raw' },
  { image: 'vhdx', format: 'VHDX', tool: 'qemu-img convert -f vhdx -O raw' },
  { image: 'iso', format: 'ISO', tool: 'qemu-system-x86_64 -cdrom' },
  { image: 'iso-hybrid-mbr', format: 'ISO', tool: 'qemu-system-x86_64 -cdrom' },
  { image: 'iso-hybrid-gpt', format: 'ISO', tool: 'qemu-system-x86_64 -cdrom' },
  { image: 'luks1', format: 'LUKS', tool: 'cryptsetup', optional: true },
  { image: 'luks2', format: 'LUKS', tool: 'cryptsetup', optional: true },
  { image: 'gzip', format: 'GZIP', tool: 'gunzip' },
  { image: 'tar-gz', format: 'GZIP', tool: 'gunzip' },
  { image: 'xz', format: 'XZ', tool: 'xz -d' },
  { image: 'zstd', format: 'ZSTD', tool: 'zstd -d' },
  { image: 'bzip2', format: 'BZIP2', tool: 'bunzip2' },
  { image: 'zip', format: 'ZIP', tool: 'unzip' },
  { image: 'tar', format: 'TAR', tool: 'tar -xf' },
  { image: 'tar-gnu', format: 'TAR', tool: 'tar -xf' },
  // v7 tar has no magic; its first sector is a file header, so it has no boot record either.
  { image: 'tar-v7', format: 'RAW_WITHOUT_BOOT_RECORD', tool: 'sfdisk' },
  { image: 'raw-zeros', format: 'RAW_WITHOUT_BOOT_RECORD', tool: 'sfdisk' },
  { image: 'ext4', format: 'RAW_WITHOUT_BOOT_RECORD', tool: 'sfdisk' },
  { image: 'mbr-empty-table', format: 'RAW_WITHOUT_BOOT_RECORD', tool: 'sfdisk' },
  // A fixed VHD of an empty disk: the head is zeros, so it is refused as such, not as VHD.
  { image: 'vhd-fixed-zeros', format: 'RAW_WITHOUT_BOOT_RECORD', tool: 'sfdisk' },
];

/** The corpus file for `image`; fails with the cause (e.g. which package to install), or skips an optional one. */
function fileOf(image: string, ctx?: TestContext, optional = false): string {
  const made = images.get(image);
  if (!made) throw new Error(`no corpus entry "${image}"`);
  if ('file' in made) return made.file;
  if (optional && ctx) ctx.skip(`${image} could not be made here: ${made.error.message}`);
  throw made.error;
}

/** The first `bytes` of a file, or all of it when shorter: what the import peeks. */
function readHead(file: string, bytes = PEEK_BYTES): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const head = new Uint8Array(bytes);
    return head.subarray(0, readSync(fd, head, 0, bytes, 0));
  } finally {
    closeSync(fd);
  }
}

function readTail(file: string, bytes: number): Uint8Array {
  const size = statSync(file).size;
  const fd = openSync(file, 'r');
  try {
    const tail = new Uint8Array(Math.min(bytes, size));
    readSync(fd, tail, 0, tail.length, size - tail.length);
    return tail;
  } finally {
    closeSync(fd);
  }
}

describe('detectFormat on images made by real tools', () => {
  it.each(ACCEPTED)('accepts $image as a raw disk, with no hint', ({ image, format }) => {
    expect(detectFormat(readHead(fileOf(image)))).toEqual({ format, hint: null });
  });

  it.for(REFUSED)('refuses $image as $format, with a hint naming $tool', (testCase, ctx) => {
    const { format, hint } = detectFormat(readHead(fileOf(testCase.image, ctx, testCase.optional)));
    expect(format).toBe(testCase.format);
    expect(hint).toContain(testCase.tool);
  });

  it('sees a fixed VHD only by the footer at its end, which vhdFooterLength finds', () => {
    for (const image of ['vhd-fixed-mbr', 'vhd-fixed-zeros', 'vhd-dynamic']) {
      expect(vhdFooterLength(readTail(fileOf(image), VHD_FOOTER_BYTES)), image).toBe(512);
    }
    expect(vhdFooterLength(readTail(fileOf('mbr-disk'), VHD_FOOTER_BYTES))).toBe(0);
  });

  it('names a hybrid ISO as ISO although its MBR or GPT alone would pass as a raw disk', () => {
    for (const image of ['iso-hybrid-mbr', 'iso-hybrid-gpt']) {
      const head = readHead(fileOf(image));
      expect(hasPlausibleBootRecord(head), image).toBe(true);
      expect(detectFormat(head).format, image).toBe('ISO');
    }
  });

  it('names a VMDK descriptor smaller than a sector as VMDK rather than too small', () => {
    const file = fileOf('vmdk-descriptor');
    expect(statSync(file).size).toBeLessThan(512);
    expect(detectFormat(readHead(file)).format).toBe('VMDK');
  });

  it('answers UNKNOWN, too small, for a file under 512 bytes that matches no magic', () => {
    const disk = readHead(fileOf('mbr-disk'));
    for (const head of [disk.subarray(0, 511), disk.subarray(0, 0)]) {
      const result = detectFormat(head);
      expect(result.format).toBe('UNKNOWN');
      expect(result.hint).toMatch(/smaller than 512 bytes/);
    }
  });
});

/** A real disk's head with one change, as a damaged or forged boot record would have it. */
const MUTATIONS: { name: string; image: string; mutate: (head: Uint8Array) => void }[] = [
  { name: 'a boot flag other than 0x00/0x80', image: 'mbr-disk', mutate: (h) => void (h[446] = 0x01) },
  { name: 'its only partition starting at sector 0', image: 'mbr-disk', mutate: (h) => h.fill(0, 454, 458) },
  { name: 'no 55 AA signature', image: 'mbr-disk', mutate: (h) => void (h[511] = 0x00) },
  { name: 'a protective MBR but no GPT header', image: 'gpt-disk', mutate: (h) => h.fill(0, 512, 520) },
];

describe('detectFormat on damaged boot records', () => {
  it.each(MUTATIONS)('refuses an MBR with $name as RAW_WITHOUT_BOOT_RECORD', ({ image, mutate }) => {
    const head = readHead(fileOf(image)).slice();
    expect(detectFormat(head).format).toBe('RAW');
    mutate(head);
    expect(detectFormat(head).format).toBe('RAW_WITHOUT_BOOT_RECORD');
  });
});

/** Streams a whole file in `size`-byte chunks, recording how much was pulled and whether it was stopped. */
function chunked(file: string, size: number) {
  const stats = { bytesPulled: 0, stopped: false };
  async function* chunks(): AsyncGenerator<Uint8Array> {
    const fd = openSync(file, 'r');
    try {
      for (;;) {
        const chunk = new Uint8Array(size);
        const read = readSync(fd, chunk, 0, size, stats.bytesPulled);
        if (read === 0) return;
        stats.bytesPulled += read;
        yield chunk.subarray(0, read);
      }
    } finally {
      closeSync(fd);
      stats.stopped = true;
    }
  }
  return { chunks: chunks(), stats };
}

describe('collectHead feeding detectFormat', () => {
  const CHUNK_SIZES = [7, 17, 512, 1024 * 1024];
  const everyImage = [...ACCEPTED, ...REFUSED].map((c) => c.image);

  it.each(CHUNK_SIZES)('gives the same answer from %i-byte chunks, reading at most 64 KiB', async (size) => {
    for (const image of everyImage) {
      const made = images.get(image);
      if (!made || !('file' in made)) continue; // reported by the tests above
      const fileSize = statSync(made.file).size;
      const { chunks, stats } = chunked(made.file, size);
      const { head, bytesRead, endOfSource } = await collectHead(chunks);
      expect(detectFormat(head), image).toEqual(detectFormat(readHead(made.file)));
      expect(bytesRead, image).toBe(Math.min(fileSize, PEEK_BYTES));
      expect(endOfSource, image).toBe(fileSize < PEEK_BYTES);
      // Reading stopped in the chunk that filled the head, and the source was told to stop.
      expect(stats.bytesPulled, image).toBeLessThan(PEEK_BYTES + size);
      expect(stats.stopped, image).toBe(true);
    }
  });
});
