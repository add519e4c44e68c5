import { ImageFetchError, UnsafeImageError, UnsupportedImageFormatError } from '../errors.js';
import type { ConversionTools } from './conversion/conversion-tools.js';
import {
  COMPRESSIONS,
  type Compression,
  DISK_FORMATS,
  type DiskFormat,
  isCompression,
  isDiskFormat,
} from './formats/convertible.js';
import { detectFormat, MIN_HEAD_BYTES, vhdFooterLength, vhdProbe } from './formats/index.js';
import { bytesOf, type Inspection } from './formats/inspection.js';
import type { SourceFormat } from '../providers/types.js';
import type { ImportLimits } from './import-limits.js';

/** How an import turns what it fetches into a raw disk. */
export type ImportPlan =
  | { kind: 'raw' }
  /** A raw disk followed by a VHD footer, which is left out. */
  | { kind: 'fixed-vhd' }
  | { kind: 'decompress'; format: Compression }
  | { kind: 'convert'; format: DiskFormat };

/** What an image records as fetched: null for a raw disk, else the format it was converted from. */
export function sourceFormatOf(plan: ImportPlan): SourceFormat | null {
  if (plan.kind === 'raw') return null;
  return plan.kind === 'fixed-vhd' ? 'VHD' : plan.format;
}

/** What may be converted for one import. */
export interface ImportPolicy {
  /** The caller's `convert` (default true). */
  convert: boolean;
  /** Why the region cannot convert at all (its Glance fetches images itself), or null. */
  regionCannotConvert: string | null;
  tools: ConversionTools;
  limits: ImportLimits;
}

/**
 * The format rules, applied to an image's first 64 KiB (and its last 512 bytes, when known): a raw bootable disk is stored as it is; a
 * disk format or a compressed raw disk is converted when the import allows it and this server can,
 * after its header shows nothing unsafe (a backing or data file, other files' extents, encryption, a
 * disk over the size limit); everything else is refused with a hint saying what to do instead.
 */
export function planImport(uri: string, head: Uint8Array, tail: Uint8Array | null, policy: ImportPolicy): ImportPlan {
  const { format, hint } = detectFormat(head);
  if (format === 'RAW') {
    if (!tail || !vhdFooterLength(tail)) return { kind: 'raw' };
    // A raw disk with a footer: a fixed VHD, made raw by leaving the footer out.
    const cannot = policy.convert ? policy.regionCannotConvert : 'the import asked for convert: false';
    if (cannot) throw new UnsupportedImageFormatError('VHD', `${vhdProbe.hint} (Not converted while importing: ${cannot}.)`);
    return { kind: 'fixed-vhd' };
  }
  if (format === 'UNKNOWN' && head.length < MIN_HEAD_BYTES) {
    throw new ImageFetchError(uri, 'TOO_SMALL', `The file is ${head.length} bytes, too small to be a disk image`);
  }
  if (!isDiskFormat(format) && !isCompression(format)) throw new UnsupportedImageFormatError(format, hint ?? '');
  const cannot = whyNotConverted(format, policy);
  if (cannot) throw new UnsupportedImageFormatError(format, `${hint} (Not converted while importing: ${cannot}.)`);
  if (isCompression(format)) return { kind: 'decompress', format };
  checkInspection(format, DISK_FORMATS[format].inspect(bytesOf(head)), policy.limits);
  return { kind: 'convert', format };
}

/** Throws UnsafeImageError for a problem an inspection found, or a disk over the size limit. */
export function checkInspection(format: DiskFormat, inspection: Inspection, limits: ImportLimits): void {
  if (inspection.problem) throw new UnsafeImageError(format, inspection.problem.kind, inspection.problem.detail);
  limits.checkVirtualSize(format, inspection.virtualSize);
}

function whyNotConverted(format: DiskFormat | Compression, policy: ImportPolicy): string | null {
  if (!policy.convert) return 'the import asked for convert: false';
  if (policy.regionCannotConvert) return policy.regionCannotConvert;
  if (isCompression(format)) {
    const tool = COMPRESSIONS[format].tool;
    return tool ? (policy.tools.missing(tool) ?? policy.tools.missing('prlimit')) : null;
  }
  return policy.tools.missing('qemu-img') ?? policy.tools.missing('prlimit');
}
