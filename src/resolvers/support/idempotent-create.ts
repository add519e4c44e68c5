import { createHash } from 'node:crypto';
import { roleIn } from '../../auth/principal.js';
import type { Context } from '../../context.js';
import { IdempotencyConflictError, PermissionDeniedError } from '../../errors.js';
import type { ImportJob } from '../../imports/import-queue.js';
import type { CreateOutcome, Idempotency, NewImage } from '../../providers/types.js';
import { RegionImage } from '../../region-image.js';
import { stableStringify } from '../../stable-json.js';

/** What importImage and copyImage share: who may create an image for an owner, the idempotency rule, the quota place. */

/** MEMBER or ADMIN of the owning organization; PUBLIC images are the platform admins' alone. */
export function requireImportRight(ctx: Context, owner: string | null, action: 'Importing' | 'Copying'): void {
  if (ctx.principal.platformAdmin) return;
  if (owner === null)
    throw new PermissionDeniedError(`Only platform admins may ${action === 'Importing' ? 'import' : 'copy'} PUBLIC images`);
  const role = roleIn(ctx.principal, owner);
  if (role !== 'MEMBER' && role !== 'ADMIN') {
    throw new PermissionDeniedError(`${action} into organization "${owner}" needs the MEMBER or ADMIN role`);
  }
}

/**
 * The one idempotency rule: a key used before answers the image it created when the input is the
 * same (a retry), and is a conflict when it is not, or when the provider can no longer use the key.
 */
export function retried(idempotency: Idempotency, outcome: Exclude<CreateOutcome, { result: 'created' }>) {
  if (outcome.result === 'existing' && outcome.fingerprint === idempotency.fingerprint) return outcome.image;
  throw new IdempotencyConflictError(idempotency.key);
}

/**
 * What makes two calls "the same input" for an idempotency key: everything but the key itself, with
 * absent and null alike and tags in any order, so a client's harmless re-serialisation is a retry.
 */
export function fingerprintOf(input: {
  idempotencyKey?: string | null;
  tags?: { name: string }[] | null;
  convert?: boolean | null;
}): string {
  const { idempotencyKey: _key, ...rest } = input;
  const tags = [...(rest.tags ?? [])].sort((a, b) => (a.name < b.name ? -1 : 1));
  // convert: true is the default, left out so that keys used before the field existed still match.
  const convert = rest.convert === false ? false : undefined;
  const normalised = JSON.parse(JSON.stringify({ ...rest, tags, convert }, (_k, v: unknown) => (v === null ? undefined : v)));
  return createHash('sha256').update(stableStringify(normalised)).digest('hex');
}

/** What an image made in the background (an import, a copy) needs once its quota place is taken. */
export interface BackgroundCreation {
  image: NewImage;
  /** The job that fills the image with bytes, once it has an id. */
  job: (id: string) => Omit<ImportJob, 'owner'>;
}

/**
 * The sequence importImage and copyImage share: an earlier call with the same idempotency key answers
 * first; then a place in the owner's import quota; then `prepare` (checks that may refuse), the PENDING
 * image, and its job queued. The place is given back whenever no new image came of it.
 */
export async function createInBackground(
  ctx: Context,
  target: { region: string; owner: string | null; idempotency?: Idempotency },
  prepare: () => Promise<BackgroundCreation>,
): Promise<{ image: RegionImage }> {
  const { region, owner, idempotency } = target;
  const provider = ctx.provider(region);
  if (idempotency) {
    const existing = await provider.findByIdempotencyKey(owner, idempotency.key);
    if (existing) return { image: new RegionImage(region, retried(idempotency, { result: 'existing', ...existing })) };
  }
  const reservation = await ctx.imports.queue.reserve(owner, region);
  try {
    const { image, job } = await prepare();
    const outcome = await provider.createImage({ ...image, idempotency });
    if (outcome.result === 'created') {
      reservation.start(job(outcome.image.id));
      return { image: new RegionImage(region, outcome.image) };
    }
    // A concurrent call with the same key got there first.
    reservation.cancel();
    return { image: new RegionImage(region, retried(idempotency!, outcome)) };
  } catch (error) {
    reservation.cancel();
    throw error;
  }
}
