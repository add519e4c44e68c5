import { ascii, hasBytesAt } from './bytes.js';
import type { FormatProbe } from './types.js';

/**
 * Compressed streams and zip archives: all announce themselves in their first bytes.
 *
 * | format | offset | magic                        |
 * |--------|--------|------------------------------|
 * | gzip   | 0      | 1f 8b, then method 08        |
 * | xz     | 0      | fd 37 7a 58 5a 00            |
 * | zstd   | 0      | 28 b5 2f fd (0xfd2fb528 LE)  |
 * | bzip2  | 0      | `BZh`, then level '1'-'9'    |
 * | zip    | 0      | `PK\x03\x04` (local header)  |
 *
 * Specs: gzip RFC 1952 https://www.rfc-editor.org/rfc/rfc1952; xz https://tukaani.org/xz/xz-file-format.txt;
 * zstd RFC 8878 https://www.rfc-editor.org/rfc/rfc8878; bzip2 https://sourceware.org/bzip2/;
 * zip https://pkware.cachefly.net/webdocs/casestudies/APPNOTE.TXT
 *
 * The extra byte checked for gzip (deflate, the only method in use) and bzip2 (block size digit)
 * makes a chance match on a raw disk's boot code even less likely.
 */
const MAGIC_OFFSET = 0;
const GZIP_MAGIC = Uint8Array.of(0x1f, 0x8b, 0x08);
const XZ_MAGIC = Uint8Array.of(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00);
const ZSTD_MAGIC = Uint8Array.of(0x28, 0xb5, 0x2f, 0xfd);
const BZIP2_MAGIC = ascii('BZh');
const BZIP2_LEVEL_OFFSET = 3;
const ZIP_MAGIC = ascii('PK\x03\x04');

/** Undoing the compression only gets back a file; it must itself be a raw disk. */
const THEN_CHECK = 'then import the raw disk it holds (if it is qcow2, VMDK... convert it with qemu-img convert -O raw first).';

function magicProbe(format: FormatProbe['format'], magic: Uint8Array, howToUndo: string): FormatProbe {
  return {
    format,
    minBytes: MAGIC_OFFSET + magic.length,
    matches: (head) => hasBytesAt(head, MAGIC_OFFSET, magic),
    hint: `${howToUndo}, ${THEN_CHECK}`,
  };
}

export const gzipProbe = magicProbe('GZIP', GZIP_MAGIC, 'This is gzip-compressed. Decompress it: gunzip -k in.raw.gz');
export const xzProbe = magicProbe('XZ', XZ_MAGIC, 'This is xz-compressed. Decompress it: xz -dk in.raw.xz');
export const zstdProbe = magicProbe('ZSTD', ZSTD_MAGIC, 'This is zstd-compressed. Decompress it: zstd -d in.raw.zst');
export const zipProbe = magicProbe('ZIP', ZIP_MAGIC, 'This is a zip archive. Extract the disk image from it: unzip in.zip');

export const bzip2Probe: FormatProbe = {
  format: 'BZIP2',
  minBytes: BZIP2_LEVEL_OFFSET + 1,
  matches: (head) => {
    const level = head[BZIP2_LEVEL_OFFSET] ?? 0;
    return hasBytesAt(head, MAGIC_OFFSET, BZIP2_MAGIC) && level >= 0x31 && level <= 0x39;
  },
  hint: `This is bzip2-compressed. Decompress it: bunzip2 -k in.raw.bz2, ${THEN_CHECK}`,
};
