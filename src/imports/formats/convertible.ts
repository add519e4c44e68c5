import type { SourceFormat } from '../../providers/types.js';
import type { ProbeFormat } from './types.js';
import type { Inspector } from './inspection.js';
import { inspectQcow2 } from './qcow2.js';
import { inspectQed } from './qed.js';
import { inspectVdi } from './vdi.js';
import { inspectVhd } from './vhd.js';
import { inspectVhdx } from './vhdx.js';
import { inspectVmdk } from './vmdk.js';

/** Disk formats qemu-img converts to raw: each with the name `qemu-img -f` takes and its header inspector. */
export const DISK_FORMATS = {
  QCOW2: { qemu: 'qcow2', inspect: inspectQcow2 },
  QED: { qemu: 'qed', inspect: inspectQed },
  VMDK: { qemu: 'vmdk', inspect: inspectVmdk },
  VHD: { qemu: 'vpc', inspect: inspectVhd },
  VHDX: { qemu: 'vhdx', inspect: inspectVhdx },
  VDI: { qemu: 'vdi', inspect: inspectVdi },
} as const satisfies Partial<Record<SourceFormat, { qemu: string; inspect: Inspector }>>;
export type DiskFormat = keyof typeof DISK_FORMATS;

/** Compressions of a raw disk that are undone while it streams: each with the system tool (or zlib) that does it. */
export const COMPRESSIONS = {
  GZIP: { tool: null, package: null },
  XZ: { tool: 'xz', package: 'xz-utils' },
  ZSTD: { tool: 'zstd', package: 'zstd' },
  BZIP2: { tool: 'bzip2', package: 'bzip2' },
} as const satisfies Partial<Record<SourceFormat, { tool: 'xz' | 'zstd' | 'bzip2' | null; package: string | null }>>;
export type Compression = keyof typeof COMPRESSIONS;

export const isDiskFormat = (format: ProbeFormat): format is DiskFormat => format in DISK_FORMATS;
export const isCompression = (format: ProbeFormat): format is Compression => format in COMPRESSIONS;
