import { ImageNotFoundError, InvalidInputError, PermissionDeniedError, ProviderUnavailableError } from '../errors.js';
import { type ImageUseInput, ImageUseInputSchema } from '../inputs/image-use.js';
import type { RegionImage } from '../region-image.js';
import { registerImageUse } from '../resolvers/register-image-use.js';
import { releaseImageUse } from '../resolvers/release-image-use.js';
import { builder } from './builder.js';
import './errors.js';
import { Image } from './image.js';

const RegisterImageUseInput = builder.inputRef<ImageUseInput>('RegisterImageUseInput').implement({
  description: 'A consumer that starts using an image.',
  validate: ImageUseInputSchema,
  fields: (t) => ({
    image: t.id({ required: true, description: "The image's global ID." }),
    kind: t.string({ required: true, description: 'What uses it, e.g. server or cluster.' }),
    consumerId: t.string({ required: true, description: "Its ID in the consumer's own system." }),
    organization: t.id({ description: 'The organization holding the use; required for a PUBLIC image, ignored otherwise.' }),
  }),
});

const ReleaseImageUseInput = builder.inputRef<ImageUseInput>('ReleaseImageUseInput').implement({
  description: 'A consumer that stops using an image.',
  validate: ImageUseInputSchema,
  fields: (t) => ({
    image: t.id({ required: true, description: "The image's global ID." }),
    kind: t.string({ required: true, description: 'What used it.' }),
    consumerId: t.string({ required: true, description: "Its ID in the consumer's own system." }),
    organization: t.id({
      description: 'For a PUBLIC image, whose use to release (default: every organization where the caller is MEMBER).',
    }),
  }),
});

const payload = (name: string, description: string) =>
  builder.objectRef<{ image: RegionImage }>(name).implement({
    description,
    isTypeOf: (value) => typeof value === 'object' && value !== null && 'image' in value,
    fields: (t) => ({ image: t.field({ type: Image, description: 'The image, with its uses.', resolve: (p) => p.image }) }),
  });

const RegisterImageUseResult = builder.errorUnion('RegisterImageUseResult', {
  description: 'The registered use, or why it was refused.',
  types: [
    payload('RegisterImageUsePayload', 'The use is registered (or already was).'),
    ImageNotFoundError,
    InvalidInputError,
    PermissionDeniedError,
    ProviderUnavailableError,
  ],
});

const ReleaseImageUseResult = builder.errorUnion('ReleaseImageUseResult', {
  description: 'The released use, or why it was refused.',
  types: [
    payload('ReleaseImageUsePayload', 'The use is released (or was not registered).'),
    ImageNotFoundError,
    PermissionDeniedError,
    ProviderUnavailableError,
  ],
});

builder.mutationFields((t) => ({
  registerImageUse: t.field({
    type: RegisterImageUseResult,
    description: 'Records that a consumer uses an image; deleteImage refuses while any use is registered.',
    args: { input: t.arg({ type: RegisterImageUseInput, required: true, description: 'The use.' }) },
    resolve: (_root, { input }, ctx) => registerImageUse(ctx, input),
  }),
  releaseImageUse: t.field({
    type: ReleaseImageUseResult,
    description: 'Removes a registered use.',
    args: { input: t.arg({ type: ReleaseImageUseInput, required: true, description: 'The use.' }) },
    resolve: (_root, { input }, ctx) => releaseImageUse(ctx, input),
  }),
}));
