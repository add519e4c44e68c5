import { ascii, hasBytesAt, u32le } from './bytes.js';
import { type Inspector, safe, u64, unsafe, view } from './inspection.js';
import type { FormatProbe } from './types.js';

/**
 * VirtualBox Disk Image. No published spec; the layout VirtualBox and qemu agree on
 * (https://gitlab.com/qemu-project/qemu/-/blob/master/block/vdi.c):
 * | offset | size | field                                                        |
 * |--------|------|--------------------------------------------------------------|
 * | 0      | 64   | text, `<<< Oracle VM VirtualBox Disk Image >>>\n` or qemu's  |
 * | 64     | 4    | signature 0xbeda107f, little endian                          |
 * | 68     | 4    | version                                                      |
 *
 * The signature is the real magic; the `<<< ` text that every writer puts first is checked too, so
 * that four stray bytes at 64 in a raw disk's boot code cannot make it a VDI.
 */
const TEXT_OFFSET = 0;
const TEXT_PREFIX = ascii('<<< ');
const SIGNATURE_OFFSET = 0x40;
const SIGNATURE = 0xbeda107f;

export const vdiProbe: FormatProbe = {
  format: 'VDI',
  minBytes: SIGNATURE_OFFSET + 4,
  matches: (head) => hasBytesAt(head, TEXT_OFFSET, TEXT_PREFIX) && u32le(head, SIGNATURE_OFFSET) === SIGNATURE,
  hint:
    'This is a VirtualBox VDI image. Convert it to a raw disk first: qemu-img convert -f vdi -O raw in.vdi out.raw ' +
    '(or VBoxManage clonemedium disk in.vdi out.raw --format RAW)',
};

/**
 * The header fields that matter for conversion (little endian):
 * | offset | size | field                                                   |
 * |--------|------|---------------------------------------------------------|
 * | 0x4c   | 4    | image type: 1 dynamic, 2 fixed, 3 undo, 4 differencing  |
 * | 0x170  | 8    | disk (virtual) size                                     |
 */
const IMAGE_TYPE_OFFSET = 0x4c;
const DISK_SIZE_OFFSET = 0x170;

export const inspectVdi: Inspector = (bytes) => {
  const header = view(bytes, 0, DISK_SIZE_OFFSET + 8);
  if (!header) return unsafe('CORRUPT', 'the VDI header is cut short');
  const virtualSize = u64(header, DISK_SIZE_OFFSET, true);
  const type = header.getUint32(IMAGE_TYPE_OFFSET, true);
  if (type === 3 || type === 4)
    return unsafe('BACKING_FILE', 'the VDI image is a differencing (or undo) image of another', virtualSize);
  if (type !== 1 && type !== 2) return unsafe('CORRUPT', `VDI image type ${type} is not known`, virtualSize);
  return safe(virtualSize);
};
