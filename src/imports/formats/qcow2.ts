import { ascii, hasBytesAt } from './bytes.js';
import { type Inspector, safe, u64, unsafe, view } from './inspection.js';
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

/**
 * The header fields that make a qcow2 unsafe to convert (big endian):
 * | offset | size | field                                                          |
 * |--------|------|----------------------------------------------------------------|
 * | 4      | 4    | version (2 or 3; 1 is refused)                                 |
 * | 8      | 8    | backing file offset: not 0 = reads another file                |
 * | 24     | 8    | virtual size                                                   |
 * | 32     | 4    | crypt method: not 0 = encrypted (AES or LUKS)                  |
 * | 72     | 8    | v3 incompatible features: bit 2 = external data file; bits 5+ unknown |
 */
const VERSION_OFFSET = 4;
const BACKING_OFFSET = 8;
const SIZE_OFFSET = 24;
const CRYPT_OFFSET = 32;
const FEATURES_OFFSET = 72;
const DATA_FILE_BIT = 2n;
const KNOWN_FEATURE_BITS = 5n;

export const inspectQcow2: Inspector = (bytes) => {
  const header = view(bytes, 0, FEATURES_OFFSET + 8);
  if (!header) return unsafe('CORRUPT', 'the qcow2 header is cut short');
  const version = header.getUint32(VERSION_OFFSET);
  const virtualSize = u64(header, SIZE_OFFSET, false);
  if (version !== 2 && version !== 3) return unsafe('CORRUPT', `qcow2 version ${version} is not supported`, virtualSize);
  if (header.getBigUint64(BACKING_OFFSET) !== 0n)
    return unsafe('BACKING_FILE', 'the qcow2 image names a backing file', virtualSize);
  if (header.getUint32(CRYPT_OFFSET) !== 0) return unsafe('ENCRYPTED', 'the qcow2 image is encrypted', virtualSize);
  if (version === 3) {
    const features = header.getBigUint64(FEATURES_OFFSET);
    if ((features >> DATA_FILE_BIT) & 1n)
      return unsafe('EXTERNAL_DATA_FILE', 'the qcow2 image keeps its data in an external data file', virtualSize);
    if (features >> KNOWN_FEATURE_BITS)
      return unsafe('CORRUPT', 'the qcow2 image uses incompatible features qemu-img may not know', virtualSize);
  }
  return safe(virtualSize);
};
