/**
 * The contract's `DetectedFormat` enum, value for value. `RAW` is not in it: a raw disk with a
 * plausible boot record is the one thing the detector accepts, so it never reaches the wire.
 */
export type DetectedFormat =
  | 'QCOW2'
  | 'QED'
  | 'VMDK'
  | 'VHD'
  | 'VHDX'
  | 'VDI'
  | 'ISO'
  | 'LUKS'
  | 'GZIP'
  | 'XZ'
  | 'ZSTD'
  | 'BZIP2'
  | 'ZIP'
  | 'TAR'
  | 'RAW_WITHOUT_BOOT_RECORD'
  | 'UNKNOWN';

/** What the detector answers: `RAW` is accepted; anything else is refused with its hint. */
export type ProbeFormat = DetectedFormat | 'RAW';

/** One entry of the detection table (`probes.ts`): recognises one format family from a file's head. */
export interface FormatProbe {
  /** The format reported when `matches` is true. */
  format: ProbeFormat;
  /**
   * Bytes the head must hold before `matches` is asked. A shorter head is the whole file (the caller
   * reads up to `PEEK_BYTES`), so a file too short for the magic cannot be this format.
   */
  minBytes: number;
  /** True when `head` (the first bytes of the file, at least `minBytes` long) is this format. */
  matches(head: Uint8Array): boolean;
  /** How to turn this format into a raw bootable disk, naming the tool and its flags. */
  hint: string;
}
