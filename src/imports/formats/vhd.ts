import { ascii, hasBytesAt } from './bytes.js';
import { type Inspector, safe, u64, unsafe, view } from './inspection.js';
import type { FormatProbe } from './types.js';

/**
 * Microsoft Virtual Hard Disk (qemu's `vpc`). Spec: "Virtual Hard Disk Image Format Specification",
 * https://learn.microsoft.com/en-us/windows/win32/vstor/about-vhd
 *
 * Every VHD ends with a 512-byte footer; a dynamic or differencing VHD also starts with a copy of it:
 * | offset | size | field                                  |
 * |--------|------|----------------------------------------|
 * | 0      | 8    | cookie `conectix`                      |
 * | 8      | 4    | features                               |
 * | 60     | 4    | disk type (2 fixed, 3 dynamic, 4 diff) |
 *
 * A *fixed* VHD is the raw disk followed by the footer only: its head is the guest's own first sector,
 * so the head probe cannot see it (a fixed VHD of a bootable disk looks like an accepted raw disk).
 * The import checks the downloaded file's tail with `hasVhdFooter` once it has the whole file.
 */
const COOKIE_OFFSET = 0;
const COOKIE = ascii('conectix');
/** Footer size; images made before Virtual PC 2004 wrote a 511-byte footer, so both are checked. */
export const VHD_FOOTER_BYTES = 512;
const LEGACY_FOOTER_BYTES = 511;

export const vhdProbe: FormatProbe = {
  format: 'VHD',
  minBytes: COOKIE_OFFSET + COOKIE.length,
  matches: (head) => hasBytesAt(head, COOKIE_OFFSET, COOKIE),
  hint: 'This is a VHD image. Convert it to a raw disk first: qemu-img convert -f vpc -O raw in.vhd out.raw',
};

/**
 * The length of the VHD footer `tail` (the last `VHD_FOOTER_BYTES` or more bytes of a file) ends with:
 * 512, 511 for a legacy footer, or 0 when there is none.
 */
export function vhdFooterLength(tail: Uint8Array): number {
  return (
    [VHD_FOOTER_BYTES, LEGACY_FOOTER_BYTES].find(
      (size) => tail.length >= size && hasBytesAt(tail, tail.length - size + COOKIE_OFFSET, COOKIE),
    ) ?? 0
  );
}

/**
 * A dynamic or differencing VHD's footer copy at 0 (big endian):
 * | offset | size | field                                  |
 * |--------|------|----------------------------------------|
 * | 48     | 8    | current (virtual) size                 |
 * | 60     | 4    | disk type (2 fixed, 3 dynamic, 4 diff) |
 */
const CURRENT_SIZE_OFFSET = 48;
const DISK_TYPE_OFFSET = 60;

export const inspectVhd: Inspector = (bytes) => {
  const footer = view(bytes, 0, DISK_TYPE_OFFSET + 4);
  if (!footer) return unsafe('CORRUPT', 'the VHD footer is cut short');
  const virtualSize = u64(footer, CURRENT_SIZE_OFFSET, false);
  const type = footer.getUint32(DISK_TYPE_OFFSET);
  if (type === 4) return unsafe('BACKING_FILE', 'the VHD is a differencing disk of a parent', virtualSize);
  if (type !== 2 && type !== 3) return unsafe('CORRUPT', `VHD disk type ${type} is not known`, virtualSize);
  return safe(virtualSize);
};
