import { createHash } from 'node:crypto';
import { roleIn } from '../auth/principal.js';
import type { Context } from '../context.js';
import { IdempotencyConflictError, PermissionDeniedError } from '../errors.js';
import { sourceFormatOf } from '../imports/import-plan.js';
import type { ImportImageInput } from '../inputs/import-image.js';
import type { CreateOutcome, Idempotency, NewImage, RegionImage, SourceFormat } from '../providers/types.js';
import { stableStringify } from '../stable-json.js';
import { requireRegion } from './support/require-region.js';

/**
 * `importImage`, in the spec's order (input already validated at the edge): region visible, caller
 * allowed, idempotent retry, a place in the owner's import quota, the import pipeline's peek and
 * format rules, create PENDING, then the download (and conversion) in the background.
 */
export async function importImage(ctx: Context, input: ImportImageInput): Promise<{ image: RegionImage }> {
  const region = (await requireRegion(ctx, input.region)).id;
  const owner = input.visibility === 'PUBLIC' ? null : input.organization!;
  requireImportRight(ctx, owner);
  const idempotency = input.idempotencyKey ? { key: input.idempotencyKey, fingerprint: fingerprint(input) } : undefined;
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

/** MEMBER or ADMIN of the owning organization; PUBLIC images are the platform admins' alone. */
function requireImportRight(ctx: Context, owner: string | null): void {
  if (ctx.principal.platformAdmin) return;
  if (owner === null) throw new PermissionDeniedError('Only platform admins may import PUBLIC images');
  const role = roleIn(ctx.principal, owner);
  if (role !== 'MEMBER' && role !== 'ADMIN') {
    throw new PermissionDeniedError(`Importing into organization "${owner}" needs the MEMBER or ADMIN role`);
  }
}

/**
 * The one idempotency rule: a key used before answers the image it created when the input is the
 * same (a retry), and is a conflict when it is not, or when the provider can no longer use the key.
 */
function retried(idempotency: Idempotency, outcome: Exclude<CreateOutcome, { result: 'created' }>) {
  if (outcome.result === 'existing' && outcome.fingerprint === idempotency.fingerprint) return outcome.image;
  throw new IdempotencyConflictError(idempotency.key);
}

/**
 * What makes two calls "the same input" for an idempotency key: everything but the key itself, with
 * absent and null alike and tags in any order, so a client's harmless re-serialisation is a retry.
 */
function fingerprint(input: ImportImageInput): string {
  const { idempotencyKey: _key, ...rest } = input;
  const tags = [...(rest.tags ?? [])].sort((a, b) => (a.name < b.name ? -1 : 1));
  // convert: true is the default, left out so that keys used before the field existed still match.
  const convert = rest.convert === false ? false : undefined;
  const normalised = JSON.parse(JSON.stringify({ ...rest, tags, convert }, (_k, v: unknown) => (v === null ? undefined : v)));
  return createHash('sha256').update(stableStringify(normalised)).digest('hex');
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
