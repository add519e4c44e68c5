import { ascii, hasBytesAt } from './bytes.js';
import type { FormatProbe } from './types.js';

/**
 * LUKS encrypted volume, v1 and v2 (same first bytes). Specs:
 * https://gitlab.com/cryptsetup/cryptsetup/-/wikis/Specification
 *
 * | offset | size | field                              |
 * |--------|------|------------------------------------|
 * | 0      | 6    | magic `LUKS\xba\xbe`               |
 * | 6      | 2    | version, big endian (1 or 2)       |
 * | 8      | 32   | v1: cipher name; v2: header size   |
 */
const MAGIC_OFFSET = 0;
const MAGIC = ascii('LUKS\xba\xbe');

export const luksProbe: FormatProbe = {
  format: 'LUKS',
  minBytes: MAGIC_OFFSET + MAGIC.length,
  matches: (head) => hasBytesAt(head, MAGIC_OFFSET, MAGIC),
  hint:
    'This is a LUKS encrypted volume (cryptsetup). Encrypted volumes cannot be imported: the cloud cannot ' +
    'unlock it to boot. Import an unencrypted raw bootable disk instead (encrypt inside the guest if needed).',
};
