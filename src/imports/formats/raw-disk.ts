import { ascii, hasBytesAt, u32le } from './bytes.js';
import type { FormatProbe } from './types.js';

/**
 * Raw disks: the one accepted format. Specs: MBR https://en.wikipedia.org/wiki/Master_boot_record,
 * GPT (UEFI 2.10 ch. 5) https://uefi.org/specs/UEFI/2.10/05_GUID_Partition_Table_Format.html
 *
 * Sector 0, the MBR (on a GPT disk a "protective" MBR with one entry of type 0xEE):
 * | offset | size | field                                   |
 * |--------|------|-----------------------------------------|
 * | 0      | 440  | boot code                               |
 * | 440    | 4    | disk signature                          |
 * | 446    | 64   | 4 partition entries of 16 bytes         |
 * | 510    | 2    | boot signature 55 AA                    |
 * Partition entry:
 * | offset | size | field                                   |
 * |--------|------|-----------------------------------------|
 * | +0     | 1    | status: 0x00, or 0x80 bootable          |
 * | +4     | 1    | type: 0x00 empty, 0xEE GPT protective   |
 * | +8     | 4    | first LBA, little endian                |
 * | +12    | 4    | sector count, little endian             |
 * GPT header at LBA 1: `EFI PART` at 512 with 512-byte sectors, at 4096 with 4 KiB sectors.
 *
 * `55 AA` alone is not enough: a FAT volume boot record or random data can carry it. The table must
 * look like one: every status byte valid and at least one entry in use with a start past sector 0.
 */
export const MBR_BYTES = 512;
const BOOT_SIGNATURE_OFFSET = 510;
const BOOT_SIGNATURE = Uint8Array.of(0x55, 0xaa);
const PARTITION_TABLE_OFFSET = 446;
const PARTITION_ENTRY_BYTES = 16;
const PARTITION_ENTRIES = 4;
const ENTRY_STATUS = 0;
const ENTRY_TYPE = 4;
const ENTRY_FIRST_LBA = 8;
const ENTRY_SECTOR_COUNT = 12;
const STATUS_INACTIVE = 0x00;
const STATUS_BOOTABLE = 0x80;
const TYPE_EMPTY = 0x00;
const TYPE_GPT_PROTECTIVE = 0xee;
const GPT_SIGNATURE = ascii('EFI PART');
const GPT_HEADER_OFFSETS = [512, 4096];

interface PartitionEntry {
  status: number;
  type: number;
  firstLba: number;
  sectorCount: number;
}

function partitionEntries(head: Uint8Array): PartitionEntry[] {
  return Array.from({ length: PARTITION_ENTRIES }, (_, i) => {
    const at = PARTITION_TABLE_OFFSET + i * PARTITION_ENTRY_BYTES;
    return {
      status: head[at + ENTRY_STATUS] ?? 0,
      type: head[at + ENTRY_TYPE] ?? 0,
      firstLba: u32le(head, at + ENTRY_FIRST_LBA),
      sectorCount: u32le(head, at + ENTRY_SECTOR_COUNT),
    };
  });
}

/** True when the head starts with a boot record whose partition table (MBR or GPT) is plausible. */
export function hasPlausibleBootRecord(head: Uint8Array): boolean {
  if (head.length < MBR_BYTES || !hasBytesAt(head, BOOT_SIGNATURE_OFFSET, BOOT_SIGNATURE)) return false;
  const entries = partitionEntries(head);
  if (!entries.every((e) => e.status === STATUS_INACTIVE || e.status === STATUS_BOOTABLE)) return false;
  // A protective entry promises a GPT header; without one the disk has no usable table.
  if (entries.some((e) => e.type === TYPE_GPT_PROTECTIVE)) {
    return GPT_HEADER_OFFSETS.some((offset) => hasBytesAt(head, offset, GPT_SIGNATURE));
  }
  return entries.some((e) => e.type !== TYPE_EMPTY && e.firstLba > 0 && e.sectorCount > 0);
}

export const rawDiskProbe: FormatProbe = {
  format: 'RAW',
  minBytes: MBR_BYTES,
  matches: hasPlausibleBootRecord,
  hint: '',
};

/**
 * The last entry of the table, matching whatever is left: bytes with no recognised container, archive
 * or boot record. Listed explicitly so that refusing them is a decision, not a fall-through.
 */
export const noBootRecordProbe: FormatProbe = {
  format: 'RAW_WITHOUT_BOOT_RECORD',
  minBytes: MBR_BYTES,
  matches: () => true,
  hint:
    'No MBR or GPT boot record was found (no 55 AA at byte 510, or no plausible partition table): this looks ' +
    'like a bare filesystem image or unformatted data, not a bootable disk. Put it in a partitioned disk ' +
    '(e.g. sfdisk or sgdisk, then copy the filesystem into the partition with dd) and install a boot loader ' +
    '(e.g. grub-install), or build one with virt-make-fs --partition=mbr.',
};
