import { ascii, hasBytesAt } from './bytes.js';
import { incomplete, type Inspector, safe, u64, unsafe, view } from './inspection.js';
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

/**
 * A hosted sparse extent header (little endian) and its embedded descriptor:
 * | offset | size | field                                   |
 * |--------|------|-----------------------------------------|
 * | 12     | 8    | capacity (sectors): the virtual size    |
 * | 28     | 8    | descriptor offset (sectors)             |
 * | 36     | 8    | descriptor size (sectors)               |
 *
 * Only a single sparse extent in this very file is safe: the descriptor's createType must be
 * monolithicSparse or streamOptimized, with exactly one extent line naming no path. Anything else
 * (monolithicFlat, twoGbMaxExtent*, vmfs, a bare descriptor file) reads other files. As in Glance's
 * format_inspector, a descriptor line of a kind not known here is refused rather than skipped.
 */
const CAPACITY_OFFSET = 12;
const DESCRIPTOR_OFFSET = 28;
const DESCRIPTOR_SIZE = 36;
const SECTOR = 512;
/** qemu reads at most this much descriptor. */
const MAX_DESCRIPTOR_BYTES = (1 << 20) - 1;
const SAFE_TYPES = new Set(['monolithicsparse', 'streamoptimized']);
const EXTENT = /^(rw|rdonly|noaccess)\s+\d+\s+(\w+)(\s+"([^"]*)")?(\s+\d+)?$/;

export const inspectVmdk: Inspector = (bytes) => {
  if (bytes.read(0, DESCRIPTOR_MARKER.length) && hasBytesAt(bytes.read(0, DESCRIPTOR_MARKER.length)!, 0, DESCRIPTOR_MARKER)) {
    return unsafe('EXTERNAL_EXTENTS', 'this is a VMDK descriptor file: its data lives in the extent files it names');
  }
  const header = view(bytes, 0, DESCRIPTOR_SIZE + 8);
  if (!header) return incomplete();
  if (!hasBytesAt(bytes.read(0, 4) ?? new Uint8Array(0), 0, SPARSE_MAGIC)) {
    return unsafe('CORRUPT', 'only hosted sparse VMDK extents can be converted');
  }
  const virtualSize = u64(header, CAPACITY_OFFSET, true) * SECTOR;
  // With no capacity, qemu reads the embedded descriptor as a descriptor file (to its first NUL, up to
  // 1 MiB, whatever size the header gives) and opens the extents it names: never safe.
  if (virtualSize === 0) {
    return unsafe('EXTERNAL_EXTENTS', 'a sparse VMDK with no capacity is read as a descriptor naming other files');
  }
  const offset = u64(header, DESCRIPTOR_OFFSET, true) * SECTOR;
  const size = Math.min(u64(header, DESCRIPTOR_SIZE, true) * SECTOR, MAX_DESCRIPTOR_BYTES);
  if (offset === 0 || size === 0) return unsafe('CORRUPT', 'the VMDK has no embedded descriptor', virtualSize);
  const descriptor = bytes.read(offset, size);
  if (!descriptor) return { ...incomplete(), virtualSize };
  const problem = descriptorProblem(new TextDecoder('latin1').decode(descriptor).split('\0')[0]!);
  return problem ? unsafe(problem.kind, problem.detail, virtualSize) : safe(virtualSize);
};

function descriptorProblem(text: string): { kind: 'EXTERNAL_EXTENTS' | 'CORRUPT'; detail: string } | null {
  // qemu takes the first createType it finds, comments included; two of them are one too many to agree on.
  if ((text.toLowerCase().match(/createtype/g) ?? []).length > 1) {
    return { kind: 'CORRUPT', detail: 'the VMDK descriptor names its createType more than once' };
  }
  let createType: string | null = null;
  const extents: RegExpExecArray[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim().toLowerCase();
    if (!line || line.startsWith('#') || line.startsWith('ddb.')) continue;
    const extent = EXTENT.exec(line);
    if (extent) extents.push(extent);
    else if (/^[\w.]+\s*=/.test(line)) {
      if (line.startsWith('createtype')) createType = /"([^"]*)"/.exec(line)?.[1] ?? null;
    } else return { kind: 'CORRUPT', detail: 'the VMDK descriptor holds a line of an unknown kind' };
  }
  if (!createType || !SAFE_TYPES.has(createType)) {
    return { kind: 'EXTERNAL_EXTENTS', detail: `VMDK createType "${createType ?? 'none'}" keeps data in other files` };
  }
  const [extent] = extents;
  if (extents.length !== 1 || extent![1] !== 'rw' || extent![2] !== 'sparse' || (extent![4] ?? '').includes('/')) {
    return { kind: 'EXTERNAL_EXTENTS', detail: 'the VMDK descriptor names extents other than the file itself' };
  }
  return null;
}
