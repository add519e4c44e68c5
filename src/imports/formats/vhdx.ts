import { ascii, hasBytesAt } from './bytes.js';
import { incomplete, type Inspector, safe, u64, unsafe, view } from './inspection.js';
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

/**
 * What converting a VHDX needs to know is in its metadata region, found through the region table
 * (all little endian; GUIDs in their on-disk mixed-endian byte order):
 * | where                    | field                                                     |
 * |--------------------------|-----------------------------------------------------------|
 * | 192 KiB                  | region table: `regi`, entry count at 8, entries at 16     |
 * | region entry (32 bytes)  | GUID (16), file offset (8), length (4), required (4)      |
 * | metadata region          | `metadata`, entry count at 10, entries at 32              |
 * | metadata entry (32 bytes)| item GUID (16), offset in the region (4), length (4)      |
 * | File Parameters item     | block size (4), flags (4): bit 1 = has a parent           |
 * | Virtual Disk Size item   | virtual size (8)                                          |
 *
 * All of it lies past the 64 KiB head, so the peek cannot see it: the whole file is inspected.
 */
const REGION_TABLE_OFFSET = 192 * 1024;
const METADATA_REGION = guid('8B7CA206-4790-4B9A-B8FE-575F050F886E');
const FILE_PARAMETERS = guid('CAA16737-FA36-4D43-B3B6-33F0AA44E76B');
const VIRTUAL_DISK_SIZE = guid('2FA54224-CD1B-4876-B211-5DBED83BF4B8');
const HAS_PARENT = 0b10;
const MAX_ENTRIES = 2047;

export const inspectVhdx: Inspector = (bytes) => {
  const table = view(bytes, REGION_TABLE_OFFSET, 16);
  if (!table) return incomplete();
  if (!hasBytesAt(new Uint8Array(table.buffer, table.byteOffset, 4), 0, ascii('regi'))) {
    return unsafe('CORRUPT', 'the VHDX region table is missing');
  }
  const regions = Math.min(table.getUint32(8, true), MAX_ENTRIES);
  let metadata: number | null = null;
  for (let i = 0; i < regions; i++) {
    const entry = bytes.read(REGION_TABLE_OFFSET + 16 + i * 32, 32);
    if (!entry) return incomplete();
    if (sameBytes(entry.subarray(0, 16), METADATA_REGION))
      metadata = u64(new DataView(entry.buffer, entry.byteOffset, 32), 16, true);
  }
  if (metadata === null) return unsafe('CORRUPT', 'the VHDX has no metadata region');
  const header = view(bytes, metadata, 32);
  if (!header) return incomplete();
  const items = Math.min(header.getUint16(10, true), MAX_ENTRIES);
  let virtualSize: number | null = null;
  let flags: number | null = null;
  for (let i = 0; i < items; i++) {
    const entry = bytes.read(metadata + 32 + i * 32, 32);
    if (!entry) return incomplete();
    const at = metadata + new DataView(entry.buffer, entry.byteOffset, 32).getUint32(16, true);
    if (sameBytes(entry.subarray(0, 16), VIRTUAL_DISK_SIZE))
      virtualSize = view(bytes, at, 8) && u64(view(bytes, at, 8)!, 0, true);
    if (sameBytes(entry.subarray(0, 16), FILE_PARAMETERS)) flags = view(bytes, at, 8)?.getUint32(4, true) ?? null;
  }
  if (virtualSize === null || flags === null) return unsafe('CORRUPT', 'the VHDX metadata is incomplete');
  if (flags & HAS_PARENT) return unsafe('BACKING_FILE', 'the VHDX is a differencing disk of a parent', virtualSize);
  return safe(virtualSize);
};

/** A GUID's 16 bytes as stored on disk: the first three groups little endian, the rest as written. */
function guid(text: string): Uint8Array {
  const hex = text.replace(/-/g, '');
  const bytes = Uint8Array.from(hex.match(/../g)!, (pair) => parseInt(pair, 16));
  return Uint8Array.from([
    ...bytes.subarray(0, 4).reverse(),
    ...bytes.subarray(4, 6).reverse(),
    ...bytes.subarray(6, 8).reverse(),
    ...bytes.subarray(8),
  ]);
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
