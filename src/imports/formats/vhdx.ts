import { ascii, hasBytesAt } from './bytes.js';
import type { FormatProbe } from './types.js';

/**
 * Hyper-V VHDX. Spec [MS-VHDX]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-vhdx/
 *
 * File type identifier, the first 64 KiB of the file:
 * | offset | size | field                                 |
 * |--------|------|---------------------------------------|
 * | 0      | 8    | signature `vhdxfile`                  |
 * | 8      | 512  | creator, UTF-16LE (e.g. "QEMU v7.2")  |
 * | 65536  | 4    | first header, signature `head`        |
 */
const SIGNATURE_OFFSET = 0;
const SIGNATURE = ascii('vhdxfile');

export const vhdxProbe: FormatProbe = {
  format: 'VHDX',
  minBytes: SIGNATURE_OFFSET + SIGNATURE.length,
  matches: (head) => hasBytesAt(head, SIGNATURE_OFFSET, SIGNATURE),
  hint: 'This is a VHDX image. Convert it to a raw disk first: qemu-img convert -f vhdx -O raw in.vhdx out.raw',
};
