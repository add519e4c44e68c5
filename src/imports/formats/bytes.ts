/** Byte helpers shared by the probes: magic numbers are written as ASCII or byte lists, read in place. */

/** The bytes of an ASCII string (with `\x..` escapes for non-printable magic bytes). */
export function ascii(text: string): Uint8Array {
  return Uint8Array.from(text, (ch) => ch.charCodeAt(0));
}

/** True when `head` holds exactly `magic` starting at `offset` (false when it is too short). */
export function hasBytesAt(head: Uint8Array, offset: number, magic: Uint8Array): boolean {
  if (offset + magic.length > head.length) return false;
  return magic.every((byte, i) => head[offset + i] === byte);
}

/** Little-endian unsigned 32-bit integer at `offset`; the caller has checked the length. */
export function u32le(head: Uint8Array, offset: number): number {
  return new DataView(head.buffer, head.byteOffset, head.byteLength).getUint32(offset, true);
}
