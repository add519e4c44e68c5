import { ascii, hasBytesAt } from './bytes.js';
import type { FormatProbe } from './types.js';

/**
 * VMware virtual disks come in two shapes, so two probes.
 * Spec: VMware "Virtual Disk Format 5.0" technote; readable summary:
 * https://github.com/libyal/libvmdk/blob/main/documentation/VMWare%20Virtual%20Disk%20Format%20(VMDK).asciidoc
 *
 * Sparse extent (monolithicSparse, streamOptimized), and the older ESX `COWD` sparse extent:
 * | offset | size | field                              |
 * |--------|------|------------------------------------|
 * | 0      | 4    | magic `KDMV` (0x564d444b LE)       |
 * | 4      | 4    | version                            |
 * | 28     | 8    | descriptor offset (sectors)        |
 *
 * Descriptor file (monolithicFlat, split extents): plain text whose first line is the marker; the
 * data sits in separate extent files (`-flat.vmdk`), so such a file is often only a few hundred bytes.
 * | offset | size | field                              |
 * |--------|------|------------------------------------|
 * | 0      | 21   | `# Disk DescriptorFile`            |
 */
const MAGIC_OFFSET = 0;
const SPARSE_MAGIC = ascii('KDMV');
const COWD_MAGIC = ascii('COWD');
const DESCRIPTOR_MARKER = ascii('# Disk DescriptorFile');

export const vmdkSparseProbe: FormatProbe = {
  format: 'VMDK',
  minBytes: MAGIC_OFFSET + SPARSE_MAGIC.length,
  matches: (head) => hasBytesAt(head, MAGIC_OFFSET, SPARSE_MAGIC) || hasBytesAt(head, MAGIC_OFFSET, COWD_MAGIC),
  hint: 'This is a VMDK image. Convert it to a raw disk first: qemu-img convert -f vmdk -O raw in.vmdk out.raw',
};

export const vmdkDescriptorProbe: FormatProbe = {
  format: 'VMDK',
  minBytes: MAGIC_OFFSET + DESCRIPTOR_MARKER.length,
  matches: (head) => hasBytesAt(head, MAGIC_OFFSET, DESCRIPTOR_MARKER),
  hint:
    'This is a VMDK descriptor file; the disk data lives in the extent files it names (e.g. disk-flat.vmdk). ' +
    'With the extents beside it, convert to a raw disk: qemu-img convert -f vmdk -O raw in.vmdk out.raw',
};
