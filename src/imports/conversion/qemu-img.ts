import { dirname, resolve } from 'node:path';
import type { DiskFormat } from '../formats/convertible.js';
import { DISK_FORMATS } from '../formats/convertible.js';
import type { ImageSafetyProblem } from '../formats/inspection.js';
import type { ConversionTools } from './conversion-tools.js';
import { ConversionError, type ProcessLimits, startLimited } from './limited-process.js';

/** What `qemu-img info` says about an image that matters for converting it safely. */
export interface QemuImageInfo {
  virtualSize: number;
  problem: { kind: ImageSafetyProblem; detail: string } | null;
}

const INFO_OUTPUT_BYTES = 1 << 20;

/**
 * `qemu-img info -f <format> --output=json`: a second opinion after imagegraph's own header inspection
 * (Glance's lesson: never trust one parser). The format is always given, so qemu-img never probes.
 */
export async function qemuImgInfo(
  tools: ConversionTools,
  file: string,
  format: DiskFormat,
  limits: ProcessLimits & { signal?: AbortSignal },
): Promise<QemuImageInfo> {
  const process = startLimited(tools, 'qemu-img', ['info', '-f', DISK_FORMATS[format].qemu, '--output=json', file], {
    ...limits,
    hide: [file],
  });
  let output = '';
  process.child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    output += text;
    if (output.length > INFO_OUTPUT_BYTES) process.child.kill('SIGKILL');
  });
  await process.done;
  let info: Record<string, unknown>;
  try {
    info = JSON.parse(output) as Record<string, unknown>;
  } catch {
    throw new ConversionError('qemu-img info gave no readable answer');
  }
  const virtualSize = Number(info['virtual-size']);
  const specific = ((info['format-specific'] as { data?: Record<string, unknown> } | undefined)?.data ?? {}) as Record<
    string,
    unknown
  >;
  const problem = (kind: ImageSafetyProblem, detail: string) => ({ virtualSize, problem: { kind, detail } });
  if (info['backing-filename'] !== undefined) return problem('BACKING_FILE', 'qemu-img reports a backing file');
  if (specific['data-file'] !== undefined) return problem('EXTERNAL_DATA_FILE', 'qemu-img reports an external data file');
  if (info.encrypted === true || specific.encrypt !== undefined) return problem('ENCRYPTED', 'qemu-img reports encryption');
  const extents = specific.extents as { filename?: string }[] | undefined;
  if (extents?.some((extent) => extent.filename !== undefined && resolve(dirname(file), extent.filename) !== resolve(file))) {
    return problem('EXTERNAL_EXTENTS', 'qemu-img reports extents in other files');
  }
  if (!Number.isSafeInteger(virtualSize) || virtualSize <= 0) return problem('CORRUPT', 'qemu-img reports no virtual size');
  return { virtualSize, problem: null };
}

/**
 * `qemu-img convert -f <format> -O raw -p`: the source format is given, never probed. Progress is
 * read from `-p`'s "(12.34/100%)" lines and reported as a fraction.
 */
export async function qemuImgConvert(
  tools: ConversionTools,
  source: string,
  target: string,
  format: DiskFormat,
  limits: ProcessLimits & { signal?: AbortSignal; onProgress?: (fraction: number) => void },
): Promise<void> {
  const process = startLimited(
    tools,
    'qemu-img',
    ['convert', '-f', DISK_FORMATS[format].qemu, '-O', 'raw', '-p', source, target],
    {
      ...limits,
      hide: [source, target],
    },
  );
  process.child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    const percents = [...text.matchAll(/\((\d+(?:\.\d+)?)\/100%\)/g)];
    const last = percents.at(-1);
    if (last) limits.onProgress?.(Math.min(1, Number(last[1]) / 100));
  });
  await process.done;
}
