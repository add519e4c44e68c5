import {
  ImageInUseError,
  ImageNotFoundError,
  ImageNotOwnedError,
  ImageProtectedError,
  PermissionDeniedError,
  ProviderUnavailableError,
  RegionNotFoundError,
} from '../errors.js';
import { ImageIdSchema } from '../inputs/ids.js';
import { deleteImage } from '../resolvers/delete-image.js';
import { builder } from './builder.js';
import './errors.js';

const DeleteImageInput = builder.inputType('DeleteImageInput', {
  description: 'Which image to delete.',
  fields: (t) => ({ id: t.id({ required: true, description: "The image's global ID.", validate: ImageIdSchema }) }),
});

const DeleteImagePayload = builder.objectRef<{ deletedImageId: string }>('DeleteImagePayload').implement({
  description: 'The image and its bytes are gone.',
  isTypeOf: (value) => typeof value === 'object' && value !== null && 'deletedImageId' in value,
  fields: (t) => ({ deletedImageId: t.exposeID('deletedImageId', { description: "The deleted image's global ID." }) }),
});

const DeleteImageResult = builder.errorUnion('DeleteImageResult', {
  description: 'The deletion, or why it was refused.',
  types: [
    DeleteImagePayload,
    ImageInUseError,
    ImageNotFoundError,
    ImageNotOwnedError,
    ImageProtectedError,
    RegionNotFoundError,
    PermissionDeniedError,
    ProviderUnavailableError,
  ],
});

builder.mutationField('deleteImage', (t) =>
  t.field({
    type: DeleteImageResult,
    description: "Deletes an image of the caller's organization (metadata and bytes); refused while it has uses.",
    args: { input: t.arg({ type: DeleteImageInput, required: true, description: 'Which image.' }) },
    resolve: (_root, { input }, ctx) => deleteImage(ctx, input.id),
  }),
);
