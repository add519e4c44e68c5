import { ascii, hasBytesAt } from './bytes.js';
import { type Inspector, safe, u64, unsafe, view } from './inspection.js';
import type { FormatProbe } from './types.js';

/**
 * QEMU Enhanced Disk. Spec: https://wiki.qemu.org/Features/QED/Specification
 *
 * | offset | size | field                              |
 * |--------|------|------------------------------------|
 * | 0      | 4    | magic `QED\0` (0x00444551 LE)      |
 * | 4      | 4    | cluster size                       |
 * | 8      | 4    | table size                         |
 * | 12     | 4    | header size (in clusters)          |
 */
const MAGIC_OFFSET = 0;
const MAGIC = ascii('QED\x00');

export const qedProbe: FormatProbe = {
  format: 'QED',
  minBytes: MAGIC_OFFSET + MAGIC.length,
  matches: (head) => hasBytesAt(head, MAGIC_OFFSET, MAGIC),
  hint: 'This is a QED image. Convert it to a raw disk first: qemu-img convert -f qed -O raw in.qed out.raw',
};

/**
 * The header fields that matter for conversion (little endian):
 * | offset | size | field                                        |
 * |--------|------|----------------------------------------------|
 * | 16     | 8    | features: bit 0 = has a backing file         |
 * | 48     | 8    | image (virtual) size                         |
 */
const FEATURES_OFFSET = 16;
const IMAGE_SIZE_OFFSET = 48;
const BACKING_FILE_FEATURE = 1n;

export const inspectQed: Inspector = (bytes) => {
  const header = view(bytes, 0, IMAGE_SIZE_OFFSET + 8);
  if (!header) return unsafe('CORRUPT', 'the QED header is cut short');
  const virtualSize = u64(header, IMAGE_SIZE_OFFSET, true);
  if (header.getBigUint64(FEATURES_OFFSET, true) & BACKING_FILE_FEATURE)
    return unsafe('BACKING_FILE', 'the QED image names a backing file', virtualSize);
  return safe(virtualSize);
};
