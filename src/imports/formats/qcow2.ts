import { ascii, hasBytesAt } from './bytes.js';
import type { FormatProbe } from './types.js';

/**
 * QEMU copy-on-write v1/v2/v3. Spec: https://www.qemu.org/docs/master/interop/qcow2.html
 *
 * | offset | size | field                          |
 * |--------|------|--------------------------------|
 * | 0      | 4    | magic `QFI\xfb` (0x514649fb)   |
 * | 4      | 4    | version, big endian (1, 2, 3)  |
 * | 8      | 8    | backing file offset            |
 * | 24     | 8    | virtual size                   |
 *
 * The magic alone decides: every version shares it, and qemu itself probes on nothing more.
 */
const MAGIC_OFFSET = 0;
const MAGIC = ascii('QFI\xfb');

export const qcow2Probe: FormatProbe = {
  format: 'QCOW2',
  minBytes: MAGIC_OFFSET + MAGIC.length,
  matches: (head) => hasBytesAt(head, MAGIC_OFFSET, MAGIC),
  hint: 'This is a QCOW2 image. Convert it to a raw disk first: qemu-img convert -f qcow2 -O raw in.qcow2 out.raw',
};
