import { z } from 'zod';
import {
  IdempotencyConflictError,
  ImageNotFoundError,
  InvalidInputError,
  PermissionDeniedError,
  ProviderUnavailableError,
  QuotaExceededError,
  RegionNotFoundError,
} from '../errors.js';
import { ImageIdSchema, OrganizationIdSchema, RegionIdArgSchema } from '../inputs/ids.js';
import type { RegionImage } from '../region-image.js';
import { copyImage } from '../resolvers/copy-image.js';
import { builder } from './builder.js';
import { ImageVisibilityEnum } from './enums.js';
import './errors.js';
import { Image } from './image.js';

const CopyImageInput = builder.inputType('CopyImageInput', {
  description: 'Which image to copy, into which region, for whom.',
  fields: (t) => ({
    image: t.id({ required: true, description: 'The READY image to copy (its global ID).', validate: ImageIdSchema }),
    targetRegion: t.id({ required: true, description: 'The region to copy it into.', validate: RegionIdArgSchema }),
    organization: t.id({
      description: 'Owner of the copy; required unless visibility is PUBLIC (platform admins only).',
      validate: OrganizationIdSchema,
    }),
    visibility: t.field({ type: ImageVisibilityEnum, defaultValue: 'ORGANIZATION', description: 'Who will see the copy.' }),
    name: t.string({ description: "Default: the source image's name.", validate: z.string().min(1).max(255) }),
    idempotencyKey: t.string({
      description: 'A retry with the same key and input answers the first copy instead of making another.',
      validate: z.string().min(1).max(255),
    }),
  }),
});

const CopyImagePayload = builder.objectRef<{ image: RegionImage }>('CopyImagePayload').implement({
  description: 'The copy was accepted; its bytes follow asynchronously, like an import.',
  isTypeOf: (value) => typeof value === 'object' && value !== null && 'image' in value,
  fields: (t) => ({
    image: t.field({ type: Image, description: 'The new image in the target region, PENDING.', resolve: (p) => p.image }),
  }),
});

const CopyImageResult = builder.errorUnion('CopyImageResult', {
  description: 'The accepted copy, or why it was refused.',
  types: [
    CopyImagePayload,
    ImageNotFoundError,
    RegionNotFoundError,
    PermissionDeniedError,
    InvalidInputError,
    IdempotencyConflictError,
    QuotaExceededError,
    ProviderUnavailableError,
  ],
});

builder.mutationField('copyImage', (t) =>
  t.field({
    type: CopyImageResult,
    description:
      'Copies a READY image into another region (or the same one) without going back to its original URL: streamed provider to provider, verified by checksum, followed with imageChanged.',
    args: { input: t.arg({ type: CopyImageInput, required: true, description: 'What to copy where.' }) },
    resolve: (_root, { input }, ctx) => copyImage(ctx, input),
  }),
);
