import { ascii, hasBytesAt } from './bytes.js';
import type { FormatProbe } from './types.js';

/**
 * tar archives (POSIX ustar, pax and GNU). Spec: POSIX pax "ustar Interchange Format",
 * https://pubs.opengroup.org/onlinepubs/9699919799/utilities/pax.html#tag_20_92_13_06
 *
 * | offset | size | field                                              |
 * |--------|------|----------------------------------------------------|
 * | 0      | 100  | name of the first member                           |
 * | 148    | 8    | header checksum                                    |
 * | 257    | 6    | magic `ustar\0` (POSIX) or `ustar ` (GNU)          |
 * | 263    | 2    | version `00` (POSIX) or ` \0` (GNU)                |
 * | 512    |      | first member's data                                |
 *
 * Pre-POSIX (v7) tar has no magic and is not recognised here; it is still refused, as a raw file
 * without a boot record (its first sector is a header, not an MBR).
 */
const MAGIC_OFFSET = 257;
const MAGIC = ascii('ustar');

export const tarProbe: FormatProbe = {
  format: 'TAR',
  minBytes: MAGIC_OFFSET + MAGIC.length,
  matches: (head) => hasBytesAt(head, MAGIC_OFFSET, MAGIC),
  hint:
    'This is a tar archive. Extract the disk image from it (tar -xf in.tar), then import the raw disk it holds ' +
    '(if it is qcow2, VMDK... convert it with qemu-img convert -O raw first).',
};
