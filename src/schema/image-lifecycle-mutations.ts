import { z } from 'zod';
import {
  ImageInUseError,
  ImageNotFoundError,
  ImageNotOwnedError,
  InvalidInputError,
  PermissionDeniedError,
  ProviderUnavailableError,
} from '../errors.js';
import { ImageIdSchema, OrganizationIdSchema } from '../inputs/ids.js';
import type { RegionImage } from '../region-image.js';
import { deprecateImage, setImageSignature, shareImage, undeprecateImage, unshareImage } from '../resolvers/image-lifecycle.js';
import { builder } from './builder.js';
import './errors.js';
import { Image } from './image.js';

/** Base64 of a DER ECDSA P-256 signature: 70-72 bytes, so at most 96 characters. */
const SignatureSchema = z
  .string()
  .max(128, 'is longer than an ECDSA P-256 signature')
  .regex(/^[A-Za-z0-9+/]+={0,2}$/, 'must be base64');

const ShareImageInput = builder.inputType('ShareImageInput', {
  description: 'Which image to share, and with whom.',
  fields: (t) => ({
    image: t.id({ required: true, description: "The image's global ID.", validate: ImageIdSchema }),
    organization: t.id({ required: true, description: 'The organization to share it with.', validate: OrganizationIdSchema }),
  }),
});

const UnshareImageInput = builder.inputType('UnshareImageInput', {
  description: 'Which image to take back, and from whom.',
  fields: (t) => ({
    image: t.id({ required: true, description: "The image's global ID.", validate: ImageIdSchema }),
    organization: t.id({ required: true, description: 'The organization it was shared with.', validate: OrganizationIdSchema }),
  }),
});

const DeprecateImageInput = builder.inputType('DeprecateImageInput', {
  description: 'Which image to deprecate, from when, and what to use instead.',
  fields: (t) => ({
    image: t.id({ required: true, description: "The image's global ID.", validate: ImageIdSchema }),
    at: t.field({ type: 'DateTime', description: 'From when on; default now.' }),
    replacement: t.id({ description: 'The image to use instead (its global ID).', validate: ImageIdSchema }),
  }),
});

const UndeprecateImageInput = builder.inputType('UndeprecateImageInput', {
  description: 'Which image to bring back into default listings.',
  fields: (t) => ({ image: t.id({ required: true, description: "The image's global ID.", validate: ImageIdSchema }) }),
});

const SetImageSignatureInput = builder.inputType('SetImageSignatureInput', {
  description: 'The signature of a platform image.',
  fields: (t) => ({
    image: t.id({ required: true, description: "The image's global ID.", validate: ImageIdSchema }),
    signature: t.string({
      description: "Base64 of an ASN.1 (DER) ECDSA P-256 signature over the SHA-256 of the image's providerId; null removes it.",
      validate: SignatureSchema,
    }),
  }),
});

/** One payload type per mutation, each holding the changed image. */
function payload(name: string, description: string) {
  return builder.objectRef<{ image: RegionImage }>(name).implement({
    description,
    isTypeOf: (value) => typeof value === 'object' && value !== null && 'image' in value,
    fields: (t) => ({ image: t.field({ type: Image, description: 'The image as it is now.', resolve: (p) => p.image }) }),
  });
}

const ShareImageResult = builder.errorUnion('ShareImageResult', {
  description: 'The shared image, or why it was refused.',
  types: [
    payload('ShareImagePayload', "The image is shared: the organization's members see it and may use it."),
    ImageNotFoundError,
    ImageNotOwnedError,
    PermissionDeniedError,
    InvalidInputError,
    ProviderUnavailableError,
  ],
});

const UnshareImageResult = builder.errorUnion('UnshareImageResult', {
  description: 'The image taken back, or why it was refused.',
  types: [
    payload('UnshareImagePayload', 'The organization no longer sees the image.'),
    ImageNotFoundError,
    ImageNotOwnedError,
    PermissionDeniedError,
    ImageInUseError,
    ProviderUnavailableError,
  ],
});

const DeprecateImageResult = builder.errorUnion('DeprecateImageResult', {
  description: 'The deprecated image, or why it was refused.',
  types: [
    payload('DeprecateImagePayload', 'The image is deprecated from `deprecation.at` on.'),
    ImageNotFoundError,
    ImageNotOwnedError,
    PermissionDeniedError,
    InvalidInputError,
    ProviderUnavailableError,
  ],
});

const UndeprecateImageResult = builder.errorUnion('UndeprecateImageResult', {
  description: 'The image brought back, or why it was refused.',
  types: [
    payload('UndeprecateImagePayload', 'The image is no longer deprecated.'),
    ImageNotFoundError,
    ImageNotOwnedError,
    PermissionDeniedError,
    ProviderUnavailableError,
  ],
});

const SetImageSignatureResult = builder.errorUnion('SetImageSignatureResult', {
  description: 'The signed image, or why it was refused.',
  types: [
    payload('SetImageSignaturePayload', 'The signature is attached (or removed); Image.signature says whether it verifies.'),
    ImageNotFoundError,
    PermissionDeniedError,
    InvalidInputError,
    ProviderUnavailableError,
  ],
});

builder.mutationFields((t) => ({
  shareImage: t.field({
    type: ShareImageResult,
    description: "Shares an organization's image with another organization (the owner's MEMBER or ADMIN, or a platform admin).",
    args: { input: t.arg({ type: ShareImageInput, required: true, description: 'Which image, with whom.' }) },
    resolve: (_root, { input }, ctx) => shareImage(ctx, input),
  }),
  unshareImage: t.field({
    type: UnshareImageResult,
    description: 'Takes a shared image back; refused while that organization holds uses of it.',
    args: { input: t.arg({ type: UnshareImageInput, required: true, description: 'Which image, from whom.' }) },
    resolve: (_root, { input }, ctx) => unshareImage(ctx, input),
  }),
  deprecateImage: t.field({
    type: DeprecateImageResult,
    description:
      'Deprecates an image from a time on (the owner; a platform admin for PUBLIC images): it leaves default listings then, and keeps working.',
    args: { input: t.arg({ type: DeprecateImageInput, required: true, description: 'Which image, from when.' }) },
    resolve: (_root, { input }, ctx) => deprecateImage(ctx, input),
  }),
  undeprecateImage: t.field({
    type: UndeprecateImageResult,
    description: "Removes an image's deprecation.",
    args: { input: t.arg({ type: UndeprecateImageInput, required: true, description: 'Which image.' }) },
    resolve: (_root, { input }, ctx) => undeprecateImage(ctx, input),
  }),
  setImageSignature: t.field({
    type: SetImageSignatureResult,
    description: "Platform admins only, PUBLIC images only: attach the signature over the image's provider id.",
    args: { input: t.arg({ type: SetImageSignatureInput, required: true, description: 'Which image, which signature.' }) },
    resolve: (_root, { input }, ctx) => setImageSignature(ctx, input),
  }),
}));
