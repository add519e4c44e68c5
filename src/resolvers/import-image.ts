import type { Context } from '../context.js';
import { sourceFormatOf } from '../imports/import-plan.js';
import type { ImportImageInput } from '../inputs/import-image.js';
import type { NewImage, SourceFormat } from '../providers/types.js';
import type { RegionImage } from '../region-image.js';
import { createInBackground, fingerprintOf, requireImportRight } from './support/idempotent-create.js';
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
  return createInBackground(ctx, { region, owner, idempotency }, async () => {
    const plan = await ctx.imports.pipeline.check(region, input.uri, input.convert ?? true);
    const sourceFormat = sourceFormatOf(plan);
    return {
      image: newImage(input, owner, ctx.principal.subject, sourceFormat),
      job: (id) => ({ region, id, uri: input.uri, sourceFormat }),
    };
  });
}

function newImage(input: ImportImageInput, owner: string | null, subject: string, sourceFormat: SourceFormat | null): NewImage {
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
  };
}
