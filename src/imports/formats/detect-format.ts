import { PROBES } from './probes.js';
import { MBR_BYTES } from './raw-disk.js';
import type { ProbeFormat } from './types.js';

/** Below this a file cannot hold a boot record; the import reports such a file as TOO_SMALL. */
export const MIN_HEAD_BYTES = MBR_BYTES;
/** Bytes the detector may need: ISO's `CD001` at 0x8001 is the furthest magic, well inside 64 KiB. */
export const PEEK_BYTES = 65_536;

const TOO_SMALL_HINT = `The file is smaller than ${MIN_HEAD_BYTES} bytes, too small to hold a disk's boot record.`;

/** What `detectFormat` found: `RAW` (accepted, no hint) or a refused format with its hint. */
export interface DetectionResult {
  format: ProbeFormat;
  hint: string | null;
}

/**
 * Classifies a file from its first bytes: `head` is the first `PEEK_BYTES` bytes, or the whole file
 * when it is shorter (so a probe whose magic lies past the end cannot match).
 *
 * Magic numbers are checked even in a head under `MIN_HEAD_BYTES`: a 342-byte VMDK descriptor is
 * better named than called too small. `UNKNOWN` is left for short heads that nothing matched.
 */
export function detectFormat(head: Uint8Array): DetectionResult {
  const probe = PROBES.find((p) => head.length >= p.minBytes && p.matches(head));
  if (probe) return { format: probe.format, hint: probe.format === 'RAW' ? null : probe.hint };
  return { format: 'UNKNOWN', hint: TOO_SMALL_HINT };
}
