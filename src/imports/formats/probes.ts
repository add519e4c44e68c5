import { bzip2Probe, gzipProbe, xzProbe, zipProbe, zstdProbe } from './compressed.js';
import { iso9660Probe } from './iso9660.js';
import { luksProbe } from './luks.js';
import { qcow2Probe } from './qcow2.js';
import { qedProbe } from './qed.js';
import { noBootRecordProbe, rawDiskProbe } from './raw-disk.js';
import { tarProbe } from './tar.js';
import type { FormatProbe } from './types.js';
import { vdiProbe } from './vdi.js';
import { vhdProbe } from './vhd.js';
import { vhdxProbe } from './vhdx.js';
import { vmdkDescriptorProbe, vmdkSparseProbe } from './vmdk.js';

/**
 * Every format the detector knows, in order of precedence: the first probe that matches wins.
 *
 * 1. Magic at offset 0 (containers, encrypted volumes, compressed streams): they wrap whatever follows,
 *    so the outer layer is what the user has to undo first.
 * 2. tar (`ustar` at 257) and ISO 9660 (`CD001` at 0x8001): their magic sits further in.
 * 3. ISO before the raw disk: a hybrid ISO carries a valid MBR (or GPT) in its system area, yet is
 *    installer media.
 * 4. The raw disk with a plausible MBR/GPT: accepted.
 * 5. Anything else: refused as RAW_WITHOUT_BOOT_RECORD.
 *
 * Not in the head at all: a fixed VHD, which is a raw disk plus a footer at the end (see vhd.ts). Its
 * head is the guest's first sector, so it lands on step 4 or 5; the import checks the tail later.
 */
export const PROBES: readonly FormatProbe[] = [
  qcow2Probe,
  qedProbe,
  vmdkSparseProbe,
  vmdkDescriptorProbe,
  vhdProbe,
  vhdxProbe,
  vdiProbe,
  luksProbe,
  gzipProbe,
  xzProbe,
  zstdProbe,
  bzip2Probe,
  zipProbe,
  tarProbe,
  iso9660Probe,
  rawDiskProbe,
  noBootRecordProbe,
];
