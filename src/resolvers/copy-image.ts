import type { Context } from '../context.js';
import { encodeImageId } from '../ids.js';
import { InvalidInputError } from '../errors.js';
import type { RegionImage } from '../region-image.js';
import { createInBackground, fingerprintOf, requireImportRight } from './support/idempotent-create.js';
import { requireVisibleImage } from './support/load-visible-image.js';
import { requireRegion } from './support/require-region.js';

export interface CopyImageInput {
  image: string;
  targetRegion: string;
  organization?: string | null;
  visibility?: 'PUBLIC' | 'ORGANIZATION' | null;
  name?: string | null;
  idempotencyKey?: string | null;
}

/**
 * `copyImage`: a READY image the caller can read, into a region it can see and import into, as a new
 * PENDING image of its organization (PUBLIC: platform admins) whose bytes are streamed provider to
 * provider in the background, in the owner's import quota, followed like an import.
 */
export async function copyImage(ctx: Context, input: CopyImageInput): Promise<{ image: RegionImage }> {
  const source = await requireVisibleImage(ctx, input.image, 'image-not-found');
  if (source.record.status !== 'READY') {
    throw new InvalidInputError([
      { path: ['input', 'image'], message: `is ${source.record.status}; only READY images can be copied` },
    ]);
  }
  const region = (await requireRegion(ctx, input.targetRegion)).id;
  const visibility = input.visibility ?? 'ORGANIZATION';
  if (visibility === 'ORGANIZATION' && !input.organization) {
    throw new InvalidInputError([{ path: ['input', 'organization'], message: 'is required unless visibility is PUBLIC' }]);
  }
  const owner = visibility === 'PUBLIC' ? null : input.organization!;
  requireImportRight(ctx, owner, 'Copying');
  const idempotency = input.idempotencyKey ? { key: input.idempotencyKey, fingerprint: fingerprintOf(input) } : undefined;
  const { record } = source;
  return createInBackground(ctx, { region, owner, idempotency }, async () => ({
    image: {
      name: input.name ?? record.name,
      description: record.description,
      organizationId: owner,
      visibility,
      status: 'PENDING',
      diskFormat: 'RAW',
      sizeBytes: null,
      checksum: null,
      architecture: record.architecture,
      virtualization: record.virtualization,
      os: record.os,
      gpu: record.gpu,
      softwareVersions: record.softwareVersions,
      tags: record.tags,
      source: {
        kind: 'COPY',
        uri: null,
        createdBy: ctx.principal.subject,
        format: null,
        sourceImageId: encodeImageId(source.region, record.id),
      },
    },
    job: (id) => ({ region, id, uri: '', sourceFormat: null, copyFrom: { region: source.region, id: record.id } }),
  }));
}
