import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ImageFetchError, UnsupportedImageFormatError } from '../errors.js';
import type { ProviderRegistry } from '../provider-access/provider-registry.js';
import { RemoteFetchFailed } from '../providers/errors.js';
import type { ImagePatch, ImageProvider, SourceFormat } from '../providers/types.js';
import type { ConversionTools } from './conversion/conversion-tools.js';
import { decompressed } from './conversion/decompress.js';
import { ConversionError, type ProcessLimits } from './conversion/limited-process.js';
import { qemuImgConvert, qemuImgInfo } from './conversion/qemu-img.js';
import type { ScratchJob, ScratchSpace } from './conversion/scratch-space.js';
import { type CopySource, copyImageData } from './copy-image-data.js';
import { DownloadBudget } from './download-budget.js';
import { type Compression, DISK_FORMATS, type DiskFormat, isCompression, isDiskFormat } from './formats/convertible.js';
import {
  detectFormat,
  HeadCollector,
  MIN_HEAD_BYTES,
  PEEK_BYTES,
  type ProbeFormat,
  VHD_FOOTER_BYTES,
  vhdFooterLength,
  vhdProbe,
} from './formats/index.js';
import { fileBytes } from './file-bytes.js';
import { type GuardedFetcher, toFetchError } from './guarded-fetch.js';
import type { ImportLimits } from './import-limits.js';
import { checkInspection, type ImportPlan, planImport } from './import-plan.js';
import type { ProgressReporter } from './import-progress.js';
import { peekHead, peekTail, remoteSize } from './peek-image.js';
import { type RawDisk, rawDiskStream } from './raw-disk-stream.js';

export interface ImportPipelineOptions {
  providers: ProviderRegistry;
  fetcher: GuardedFetcher;
  limits: ImportLimits;
  tools: ConversionTools;
  scratch: ScratchSpace;
  /** What qemu-img or a decompressor may use. */
  conversion: ProcessLimits;
  /** A whole download must finish within this. */
  deadlineMs: number;
  /** Minimum pace of a download, averaged over every `throughputWindowMs`. */
  minBytesPerSecond: number;
  throughputWindowMs: number;
}

/** An accepted import, as the runner hands it over. */
export interface PipelineJob {
  region: string;
  id: string;
  /** Where an import downloads from ('' for a copy). */
  uri: string;
  /** What the peek found: null for a raw disk, else what will be converted (the image's source format). */
  sourceFormat: SourceFormat | null;
  /** Present for a copy: the image whose bytes it reads, instead of a download. */
  copyFrom?: CopySource;
}

/** What a finished import sets on its image. */
export type StoredImage = Required<Pick<ImagePatch, 'sizeBytes' | 'checksum'>>;

/**
 * The one import pipeline, for every region and every path: the peek and the format rules at request
 * time (`check`), then in the background (`run`) the guarded download under its budget, the format
 * checked again on the bytes actually fetched, conversion or decompression under limits, and the raw
 * disk verified and hashed on its way into the provider. Providers only store and read bytes.
 */
export class ImportPipeline {
  constructor(private readonly options: ImportPipelineOptions) {}

  /** The peek and the format rules: what the import will do, or the typed refusal. */
  async check(region: string, uri: string, convert: boolean): Promise<ImportPlan> {
    const { fetcher, limits, tools } = this.options;
    const peek = await peekHead(fetcher, uri, limits);
    const tail = detectFormat(peek.head).format === 'RAW' ? await peekTail(fetcher, uri, peek) : null;
    return planImport(uri, peek.head, tail, { convert, regionCannotConvert: this.whyRegionCannotConvert(region), tools, limits });
  }

  /** Fetches, checks, converts and stores the image's bytes; the size and checksum its READY patch carries. */
  async run(job: PipelineJob, signal: AbortSignal, progress: ProgressReporter): Promise<StoredImage> {
    if (job.copyFrom) return copyImageData(this.options.providers, job.copyFrom, job, signal, progress);
    const provider = this.options.providers.get(job.region);
    if (provider.importFromUri) return this.throughProvider(provider, job, signal, progress);
    const expected = job.sourceFormat;
    const work = expected && isDiskFormat(expected) ? await this.options.scratch.job() : null;
    try {
      // The download is what the budget (deadline, minimum pace) bounds; a conversion has its own limits.
      const fetched = await this.withinBudget(job.uri, signal, true, async (budgeted, budget) => {
        const { head, body, discard } = await this.download(job, budgeted, budget, progress);
        try {
          const found = detectFormat(head).format;
          if (work && found === expected) {
            const source = await work.file('source');
            // A deep write buffer, so that the download goes on while the disk writes (as in the local provider).
            await pipeline(Readable.from(body), createWriteStream(source, { flags: 'r+', highWaterMark: 8 << 20 }), {
              signal: budgeted,
            });
            return { source, format: expected as DiskFormat };
          }
          // A fixed VHD is a raw disk with a footer at its end: stored as it streams, without the footer.
          // Any other disk format must still be that format (a QCOW2 that became raw changed since the peek).
          requireFormat(job, found, !expected || expected === 'VHD' ? 'RAW' : expected);
          const result: Partial<RawDisk> = {};
          await provider.writeImageData(job.id, this.rawDisk(job, head, body, signal, result), budgeted);
          return stored(result);
        } finally {
          // Whatever ended the transfer (the end, a refusal, a failed write), nothing more is read.
          discard();
        }
      });
      if ('checksum' in fetched) return fetched;
      return await this.convert(provider, job, fetched.format, fetched.source, work!, signal, progress);
    } finally {
      await work?.dispose();
    }
  }

  /** The raw disk a download holds (decompressed on the way when it is a compressed one), verified and hashed. */
  private rawDisk(
    job: PipelineJob,
    head: Uint8Array,
    body: AsyncIterable<Uint8Array>,
    signal: AbortSignal,
    result: Partial<RawDisk>,
  ): AsyncIterable<Uint8Array> {
    const compression = job.sourceFormat && isCompression(job.sourceFormat) ? job.sourceFormat : null;
    if (compression) {
      const what = `the file decompressed from ${compression}`;
      return rawDiskStream(this.decompress(compression, body, signal), {
        notRaw: (format) => notBootable(what, format),
        fixedVhd: 'refuse',
        refusedVhd: () => notBootable(what, 'VHD'),
        result,
      });
    }
    return rawDiskStream(body, {
      notRaw: (format) => changedSincePeek(job, format, head),
      fixedVhd: job.sourceFormat === 'VHD' ? 'require' : 'refuse',
      refusedVhd: () => new UnsupportedImageFormatError('VHD', vhdProbe.hint),
      missingFooter: () => changedSincePeek(job, 'RAW', head),
      result,
    });
  }

  private whyRegionCannotConvert(region: string): string | null {
    return this.options.providers.get(region).importFromUri
      ? `the region's Glance downloads images itself (web-download), and imagegraph converts only what it downloads`
      : null;
  }

  /** The download, counted against its budget and the size limit, with its first 64 KiB read ahead. */
  private async download(job: PipelineJob, signal: AbortSignal, budget: DownloadBudget, progress: ProgressReporter) {
    const response = await this.options.fetcher.open(job.uri, { signal });
    const size = remoteSize(response.status, response.headers);
    try {
      this.options.limits.checkDeclaredFileSize(job.uri, size);
    } catch (error) {
      response.discard();
      throw error;
    }
    progress.phase('DOWNLOADING', size);
    const body = this.options.limits.limitFile(job.uri, fetchErrors(job.uri, counted(response.body, budget, progress)));
    return { ...(await readAhead(body, PEEK_BYTES)), discard: response.discard };
  }

  /** Compressed raw disks: decompressed as they stream in, stopped at the disk size limit. */
  private decompress(format: Compression, body: AsyncIterable<Uint8Array>, signal: AbortSignal): AsyncIterable<Uint8Array> {
    const { tools, conversion, limits } = this.options;
    return limits.limitDecompressed(format, decompressed(format, body, tools, { ...conversion, signal }));
  }

  /** Disk formats, downloaded to a private scratch file: inspected in full, converted by qemu-img, then stored. */
  private async convert(
    provider: ImageProvider,
    job: PipelineJob,
    format: DiskFormat,
    source: string,
    work: ScratchJob,
    signal: AbortSignal,
    progress: ProgressReporter,
  ): Promise<StoredImage> {
    const { tools, conversion, limits } = this.options;
    // The whole file now: parts of the header past the first 64 KiB (a VHDX's metadata) are seen too.
    const inspection = await fileBytes(source, (bytes) => DISK_FORMATS[format].inspect(bytes));
    if (inspection.incomplete) throw new ConversionError(`The ${format} file is cut short`);
    checkInspection(format, inspection, limits);
    const info = await qemuImgInfo(tools, source, format, { ...conversion, signal });
    checkInspection(format, { virtualSize: info.virtualSize, problem: info.problem }, limits);
    progress.phase('CONVERTING', info.virtualSize);
    const target = await work.file('disk.raw');
    await qemuImgConvert(tools, source, target, format, {
      ...conversion,
      signal,
      onProgress: (fraction) => progress.done(Math.round(fraction * info.virtualSize)),
    });
    await rm(source);
    progress.phase('STORING', info.virtualSize);
    const what = `the disk converted from ${format}`;
    const result: Partial<RawDisk> = {};
    const file = createReadStream(target, { highWaterMark: 1 << 20 });
    const stream = rawDiskStream(counted(file, null, progress), {
      notRaw: (found) => notBootable(what, found),
      fixedVhd: 'refuse',
      refusedVhd: () => notBootable(what, 'VHD'),
      result,
    });
    try {
      await provider.writeImageData(job.id, stream, signal);
    } finally {
      // A provider that failed before reading would leave the file open (and its space taken) otherwise.
      file.destroy();
    }
    return stored(result);
  }

  /**
   * Glance web-download: Glance fetches the URL itself under the import deadline, and imagegraph then
   * reads back the head and the end of what it stored, which must be a raw disk with a boot record and
   * no VHD footer (else the image is FAILED, and the provider makes it unusable).
   */
  private async throughProvider(
    provider: ImageProvider,
    job: PipelineJob,
    signal: AbortSignal,
    progress: ProgressReporter,
  ): Promise<StoredImage> {
    progress.phase('DOWNLOADING', null);
    const stored = await this.withinBudget(job.uri, signal, false, (budgeted) =>
      provider.importFromUri!(job.id, job.uri, budgeted).catch((error: unknown) => {
        if (!(error instanceof RemoteFetchFailed)) throw error;
        throw new ImageFetchError(job.uri, error.refusedUrl ? 'ADDRESS_NOT_ALLOWED' : 'CONNECTION_FAILED', error.message);
      }),
    );
    const head = await provider.readImageData(job.id, 0, PEEK_BYTES - 1);
    const found = detectFormat(head).format;
    if (found !== 'RAW') throw changedSincePeek(job, found, head);
    const size = stored.sizeBytes ?? 0;
    if (size > head.length && vhdFooterLength(await provider.readImageData(job.id, size - VHD_FOOTER_BYTES, size - 1))) {
      throw new UnsupportedImageFormatError('VHD', vhdProbe.hint);
    }
    return { sizeBytes: stored.sizeBytes ?? null, checksum: stored.checksum ?? null };
  }

  /**
   * Runs a transfer under the import deadline and (when `paced`) minimum pace; when either stops it,
   * the failure says which (the job's own cancellation stays a cancellation).
   */
  private async withinBudget<T>(
    uri: string,
    signal: AbortSignal,
    paced: boolean,
    transfer: (budgeted: AbortSignal, budget: DownloadBudget) => Promise<T>,
  ): Promise<T> {
    const budget = new DownloadBudget({
      uri,
      deadlineMs: this.options.deadlineMs,
      minBytesPerSecond: paced ? this.options.minBytesPerSecond : 0,
      windowMs: this.options.throughputWindowMs,
    });
    try {
      return await transfer(AbortSignal.any([signal, budget.signal]), budget);
    } catch (error) {
      throw (!signal.aborted && budget.failure()) || error;
    } finally {
      budget.dispose();
    }
  }
}

function stored(result: Partial<RawDisk>): StoredImage {
  return { sizeBytes: result.sizeBytes!, checksum: { algorithm: 'sha256', value: result.sha256! } };
}

/** The bytes fetched now must be what the peek saw (the remote file may have changed since). */
function requireFormat(job: PipelineJob, found: ProbeFormat, expected: ProbeFormat): void {
  if (found !== expected) throw new UnsupportedImageFormatError(found === 'RAW' ? 'UNKNOWN' : found, changedHint(job, expected));
}

function changedSincePeek(job: PipelineJob, found: ProbeFormat, head: Uint8Array): Error {
  if (found === 'UNKNOWN' && head.length < MIN_HEAD_BYTES) {
    return new ImageFetchError(job.uri, 'TOO_SMALL', `The file is ${head.length} bytes, too small to be a disk image`);
  }
  return new UnsupportedImageFormatError(found === 'RAW' ? 'UNKNOWN' : found, changedHint(job, job.sourceFormat ?? 'RAW'));
}

const changedHint = (job: PipelineJob, expected: ProbeFormat) =>
  `The file at ${job.uri} changed after it was checked (it was ${expected === 'RAW' ? 'a raw disk' : expected}); import it again.`;

/** What came out of a conversion is not a bootable raw disk: the import fails, naming what it was. */
function notBootable(what: string, found: ProbeFormat): ConversionError {
  const named =
    found === 'RAW_WITHOUT_BOOT_RECORD' || found === 'UNKNOWN'
      ? 'has no MBR or GPT boot record'
      : `is a ${found} file, not a raw disk`;
  return new ConversionError(`${what[0]!.toUpperCase()}${what.slice(1)} ${named}; only bootable disks can be imported`);
}

/** Counts a body's bytes against its download budget (if any) and as progress. */
async function* counted(
  body: AsyncIterable<Uint8Array>,
  budget: DownloadBudget | null,
  progress: ProgressReporter,
): AsyncGenerator<Uint8Array> {
  budget?.waiting();
  for await (const chunk of body) {
    budget?.count(chunk.length);
    progress.add(chunk.length);
    yield chunk;
    budget?.waiting();
  }
}

/** Errors of the body (a reset, a stall) become fetch errors like those of the request. */
async function* fetchErrors(uri: string, body: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  try {
    yield* body;
  } catch (error) {
    throw toFetchError(uri, error);
  }
}

/**
 * Reads the first `bytes` of a stream (for the format check) and gives back the whole stream,
 * those bytes included, to read on.
 */
async function readAhead(source: AsyncIterable<Uint8Array>, bytes: number) {
  const iterator = source[Symbol.asyncIterator]();
  const taken: Uint8Array[] = [];
  let length = 0;
  let ended = false;
  while (length < bytes) {
    const next = await iterator.next();
    if (next.done) {
      ended = true;
      break;
    }
    taken.push(next.value);
    length += next.value.length;
  }
  const collector = new HeadCollector(bytes);
  for (const chunk of taken) collector.push(chunk);
  const head = collector.head;
  async function* body(): AsyncGenerator<Uint8Array> {
    try {
      yield* taken;
      if (ended) return;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
    } finally {
      await iterator.return?.();
    }
  }
  return { head, body: body() };
}
