import type { Context } from '../context.js';
import { sourceFormatOf } from '../imports/import-plan.js';
import type { ImportImageInput } from '../inputs/import-image.js';
import type { Idempotency, NewImage, RegionImage, SourceFormat } from '../providers/types.js';
import { fingerprintOf, requireImportRight, retried } from './support/idempotent-create.js';
import { requireRegion } from './support/require-region.js';

/**
 * `importImage`, in the spec's order (input already validated at the edge): region visible, caller
 * allowed, idempotent retry, a place in the owner's import quota, the import pipeline's peek and
 * format rules, create PENDING, then the download (and conversion) in the background.
 */
export async function importImage(ctx: Context, input: ImportImageInput): Promise<{ image: RegionImage }> {
  const region = (await requireRegion(ctx, input.region)).id;
  const owner = input.visibility === 'PUBLIC' ? null : input.organization!;
  requireImportRight(ctx, owner, 'Importing');
  const idempotency = input.idempotencyKey ? { key: input.idempotencyKey, fingerprint: fingerprintOf(input) } : undefined;
  const provider = ctx.provider(region);
  if (idempotency) {
    const existing = await provider.findByIdempotencyKey(owner, idempotency.key);
    if (existing) return { image: { region, record: retried(idempotency, { result: 'existing', ...existing }) } };
  }
  const reservation = await ctx.imports.queue.reserve(owner, region);
  try {
    const plan = await ctx.imports.pipeline.check(region, input.uri, input.convert ?? true);
    const sourceFormat = sourceFormatOf(plan);
    const outcome = await provider.createImage(newImage(input, owner, ctx.principal.subject, sourceFormat, idempotency));
    if (outcome.result === 'created') {
      reservation.start({ region, id: outcome.image.id, uri: input.uri, sourceFormat });
      return { image: { region, record: outcome.image } };
    }
    // A concurrent call with the same key got there first.
    reservation.cancel();
    return { image: { region, record: retried(idempotency!, outcome) } };
  } catch (error) {
    reservation.cancel();
    throw error;
  }
}

function newImage(
  input: ImportImageInput,
  owner: string | null,
  subject: string,
  sourceFormat: SourceFormat | null,
  idempotency?: Idempotency,
): NewImage {
  return {
    name: input.name,
    description: input.description ?? null,
    organizationId: owner,
    visibility: owner === null ? 'PUBLIC' : 'ORGANIZATION',
    status: 'PENDING',
    diskFormat: 'RAW',
    sizeBytes: null,
    checksum: null,
    architecture: input.architecture ?? 'X86_64',
    virtualization: input.virtualization ?? 'VIRTUALIZED',
    os: {
      kernel: input.os.kernel ?? 'LINUX',
      family: input.os.family,
      distro: input.os.distro,
      version: input.os.version,
      variant: input.os.variant ?? null,
      codename: input.os.codename ?? null,
    },
    gpu: input.gpu ?? null,
    softwareVersions: input.softwareVersions ?? [],
    tags: input.tags ?? [],
    source: { kind: 'IMPORT', uri: input.uri, createdBy: subject, format: sourceFormat },
    idempotency,
  };
}
