/**
 * What converting an image could do besides reading it (Glance's CVE-2022-47951 and CVE-2024-32498:
 * a qcow2 backing or data file, or VMDK extents, make the converter open the host's own files), and
 * what could make it unreasonably large.
 */
export const IMAGE_SAFETY_PROBLEMS = [
  'BACKING_FILE',
  'EXTERNAL_DATA_FILE',
  'EXTERNAL_EXTENTS',
  'ENCRYPTED',
  'VIRTUAL_SIZE_TOO_LARGE',
  'DECOMPRESSED_SIZE_TOO_LARGE',
  'CORRUPT',
] as const;
export type ImageSafetyProblem = (typeof IMAGE_SAFETY_PROBLEMS)[number];

/** Bytes of an image that an inspector may read: the peeked head, or the whole downloaded file. */
export interface ByteSource {
  /** `length` bytes at `offset`, or null when they are not available (past the head, or past the end). */
  read(offset: number, length: number): Uint8Array | null;
}

/** What an inspector found: the guest's disk size, and the first problem, if any. */
export interface Inspection {
  /** The virtual (guest) disk size in bytes, when the header says it. */
  virtualSize: number | null;
  problem: { kind: ImageSafetyProblem; detail: string } | null;
  /** The inspector needs bytes that were not there (e.g. past the peeked head): inspect the whole file again. */
  incomplete?: boolean;
}

export type Inspector = (bytes: ByteSource) => Inspection;

export const safe = (virtualSize: number | null): Inspection => ({ virtualSize, problem: null });
export const unsafe = (kind: ImageSafetyProblem, detail: string, virtualSize: number | null = null): Inspection => ({
  virtualSize,
  problem: { kind, detail },
});
export const incomplete = (): Inspection => ({ virtualSize: null, problem: null, incomplete: true });

/** A byte source over bytes in memory (the peeked head): anything past them is unavailable. */
export function bytesOf(head: Uint8Array): ByteSource {
  return { read: (offset, length) => (offset + length <= head.length ? head.subarray(offset, offset + length) : null) };
}

/** A DataView over bytes read from a source, or null when they are not available. */
export function view(bytes: ByteSource, offset: number, length: number): DataView | null {
  const data = bytes.read(offset, length);
  return data ? new DataView(data.buffer, data.byteOffset, data.byteLength) : null;
}

/** A 64-bit unsigned field as a number (sizes up to 2^53 are exact; beyond, far over any limit anyway). */
export function u64(data: DataView, offset: number, littleEndian: boolean): number {
  return Number(data.getBigUint64(offset, littleEndian));
}
