import { ascii, hasBytesAt } from './bytes.js';
import type { FormatProbe } from './types.js';

/**
 * ISO 9660 (CD/DVD) images. Spec: ECMA-119, https://ecma-international.org/publications-and-standards/standards/ecma-119/
 *
 * Sectors 0-15 are the "system area" (hybrid ISOs put an MBR or GPT there so USB sticks boot);
 * the volume descriptors start at sector 16 = byte 0x8000:
 * | offset | size | field                                        |
 * |--------|------|----------------------------------------------|
 * | 0      | 512  | system area: zeros, or an MBR (hybrid ISO)   |
 * | 0x8000 | 1    | volume descriptor type (1 primary)           |
 * | 0x8001 | 5    | standard identifier `CD001`                  |
 * | 0x8006 | 1    | version (1)                                  |
 *
 * This probe must run before the raw-disk one: a hybrid ISO carries a valid MBR (or a protective MBR
 * and a GPT) but is still installer media.
 */
const IDENTIFIER_OFFSET = 0x8001;
const IDENTIFIER = ascii('CD001');

export const iso9660Probe: FormatProbe = {
  format: 'ISO',
  minBytes: IDENTIFIER_OFFSET + IDENTIFIER.length,
  matches: (head) => hasBytesAt(head, IDENTIFIER_OFFSET, IDENTIFIER),
  hint:
    'This is an ISO 9660 image: installer media, not a disk image, and qemu-img cannot convert it into one. ' +
    'Boot it in a VM (e.g. qemu-system-x86_64 -cdrom in.iso -drive file=disk.raw,format=raw) to install the ' +
    'system onto a raw disk, then import that disk.',
};
