import { ascii, hasBytesAt } from './bytes.js';
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
