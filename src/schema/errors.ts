import {
  type ErrorCode,
  type FetchFailureReason,
  IdempotencyConflictError,
  ImageFetchError,
  ImageInUseError,
  ImageNotFoundError,
  ImageNotOwnedError,
  ImageProtectedError,
  InvalidInputError,
  PermissionDeniedError,
  ProviderUnavailableError,
  QuotaExceededError,
  RegionNotFoundError,
  UnsafeImageError,
  UnsupportedImageFormatError,
} from '../errors.js';
import type { ImageSafetyProblem } from '../imports/formats/inspection.js';
import { builder } from './builder.js';
import { DetectedFormatEnum } from './enums.js';
import { Image } from './image.js';
import { ImageUseType } from './image-use.js';

/**
 * The domain errors a mutation answers with, each registered once as a GraphQL type implementing
 * `Error`. Mutation unions list them; query fields raise them with `extensions.code` instead
 * (query-errors.ts).
 */
const ErrorCodeEnum = builder.enumType('ErrorCode', {
  description: 'Stable machine-readable error codes; also used as `extensions.code` of query errors.',
  values: {
    UNSUPPORTED_IMAGE_FORMAT: { description: 'The remote image is not a raw bootable disk.' },
    IMAGE_FETCH_FAILED: { description: 'The remote image could not be fetched.' },
    INVALID_INPUT: { description: 'The input failed validation; see issues.' },
    REGION_NOT_FOUND: { description: 'The region does not exist or the caller may not see it.' },
    PERMISSION_DENIED: { description: "The caller's role does not allow this." },
    IDEMPOTENCY_CONFLICT: { description: 'The idempotency key was used before with different input.' },
    PROVIDER_UNAVAILABLE: { description: "The region's image provider cannot be reached; retry later." },
    IMAGE_IN_USE: { description: 'The image has registered uses.' },
    IMAGE_NOT_FOUND: { description: 'The image does not exist or the caller may not see it.' },
    IMAGE_NOT_OWNED: { description: 'The image belongs to the platform or another owner.' },
    IMAGE_PROTECTED: { description: 'The provider protects the image from deletion.' },
    QUOTA_EXCEEDED: { description: 'The organization has as many imports running as it may.' },
    UNSAFE_IMAGE: { description: 'Converting the image would be unsafe (it reads other files, is encrypted or too large).' },
  } satisfies Record<ErrorCode, { description: string }>,
});

export const ErrorInterface = builder.interfaceRef<{ message: string; code: ErrorCode }>('Error').implement({
  description: "A failure a client can act on, returned as a member of a mutation's result union.",
  fields: (t) => ({
    message: t.exposeString('message', { description: 'What went wrong, for people.' }),
    code: t.field({ type: ErrorCodeEnum, description: 'What went wrong, for programs.', resolve: (error) => error.code }),
  }),
});

const FetchFailureReasonEnum = builder.enumType('FetchFailureReason', {
  description: 'Why a remote image could not be fetched.',
  values: {
    INVALID_URL: { description: 'Not an absolute http(s) URL, or it carries user info.' },
    SCHEME_NOT_ALLOWED: { description: 'Not http(s), or plain http while the server allows only https.' },
    ADDRESS_NOT_ALLOWED: { description: 'The host is (or resolves to) a non-public address.' },
    DNS_FAILURE: { description: 'The host name does not resolve.' },
    CONNECTION_FAILED: { description: 'The connection was refused or broke.' },
    TLS_FAILURE: { description: 'The TLS handshake or certificate check failed.' },
    TIMEOUT: { description: 'The server was too slow.' },
    HTTP_STATUS: { description: 'The server answered with an error status; see httpStatus.' },
    REDIRECT_NOT_ALLOWED: { description: 'Too many redirects, https to http, or to another scheme.' },
    TOO_SMALL: { description: 'The file is too small to be a disk image.' },
    TOO_LARGE: { description: 'The file is larger than the server accepts.' },
  } satisfies Record<FetchFailureReason, { description: string }>,
});

const InputIssueType = builder.objectRef<InvalidInputError['issues'][number]>('InputIssue').implement({
  description: 'One problem with the input.',
  fields: (t) => ({
    path: t.exposeStringList('path', { description: 'Where in the input, e.g. ["input", "tags", "0", "name"].' }),
    message: t.exposeString('message', { description: 'What is wrong there.' }),
  }),
});

builder.objectType(UnsupportedImageFormatError, {
  name: 'UnsupportedImageFormatError',
  description: 'The remote image is not a raw bootable disk: what it is, and how to convert it.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    detectedFormat: t.field({ type: DetectedFormatEnum, description: 'What was found.', resolve: (e) => e.detectedFormat }),
    hint: t.exposeString('hint', { description: 'How to produce a raw bootable disk from it, e.g. the qemu-img command.' }),
  }),
});

const ImageSafetyProblemEnum = builder.enumType('ImageSafetyProblem', {
  description: 'Why converting an image would be unsafe (the lessons of Glance CVE-2022-47951 and CVE-2024-32498).',
  values: {
    BACKING_FILE: { description: 'It names a backing (parent) file: converting it would read that file from the server.' },
    EXTERNAL_DATA_FILE: {
      description: 'A qcow2 whose data lives in an external data file, which would be read from the server.',
    },
    EXTERNAL_EXTENTS: {
      description: 'A VMDK whose extents are other files (monolithicFlat, twoGbMaxExtent*, vmfs, a descriptor).',
    },
    ENCRYPTED: { description: 'It is encrypted: the cloud could not boot it.' },
    VIRTUAL_SIZE_TOO_LARGE: { description: "Its disk is larger than this server's limit (imports.maxVirtualSizeBytes)." },
    DECOMPRESSED_SIZE_TOO_LARGE: {
      description: "It decompresses to more than this server's limit (a compression bomb stops there).",
    },
    CORRUPT: { description: 'Its header is malformed or uses features a converter may not handle safely.' },
  } satisfies Record<ImageSafetyProblem, { description: string }>,
});

builder.objectType(UnsafeImageError, {
  name: 'UnsafeImageError',
  description: 'The image could be converted, but doing so would be unsafe; nothing was stored.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    detectedFormat: t.field({ type: DetectedFormatEnum, description: 'What was found.', resolve: (e) => e.detectedFormat }),
    problem: t.field({ type: ImageSafetyProblemEnum, description: 'What makes it unsafe.', resolve: (e) => e.problem }),
  }),
});

builder.objectType(ImageFetchError, {
  name: 'ImageFetchError',
  description: 'The remote image could not be fetched.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    uri: t.exposeString('uri', { description: 'The URI as given.' }),
    reason: t.field({ type: FetchFailureReasonEnum, description: 'Why.', resolve: (e) => e.reason }),
    httpStatus: t.int({
      nullable: true,
      description: "The remote server's HTTP status, when it answered.",
      resolve: (e) => e.httpStatus,
    }),
  }),
});

builder.objectType(InvalidInputError, {
  name: 'InvalidInputError',
  description: 'The input failed validation; every problem is listed.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    issues: t.field({ type: [InputIssueType], description: 'Every problem, with its path.', resolve: (e) => e.issues }),
  }),
});

builder.objectType(RegionNotFoundError, {
  name: 'RegionNotFoundError',
  description: 'The region does not exist or the caller may not see it (the two are not told apart).',
  interfaces: [ErrorInterface],
  fields: (t) => ({ region: t.exposeID('region', { description: 'The region as given.' }) }),
});

builder.objectType(PermissionDeniedError, {
  name: 'PermissionDeniedError',
  description: "The caller's role does not allow this (e.g. a READER importing).",
  interfaces: [ErrorInterface],
});

builder.objectType(IdempotencyConflictError, {
  name: 'IdempotencyConflictError',
  description: 'The idempotency key was used before with different input.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ idempotencyKey: t.exposeString('idempotencyKey', { description: 'The key as given.' }) }),
});

builder.objectType(ProviderUnavailableError, {
  name: 'ProviderUnavailableError',
  description: "The region's image provider cannot be reached; retry later.",
  interfaces: [ErrorInterface],
  fields: (t) => ({ region: t.exposeID('region', { description: 'The region.' }) }),
});

builder.objectType(ImageNotFoundError, {
  name: 'ImageNotFoundError',
  description: 'The image does not exist or the caller may not see it (the two are not told apart).',
  interfaces: [ErrorInterface],
  fields: (t) => ({ id: t.exposeID('id', { description: 'The image ID as given.' }) }),
});

builder.objectType(ImageInUseError, {
  name: 'ImageInUseError',
  description: 'The image has registered uses; release them first.',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    image: t.field({ type: Image, description: 'The image.', resolve: (e) => e.image }),
    usedBy: t.field({ type: [ImageUseType], description: 'The uses that hold it.', resolve: (e) => e.usedBy }),
  }),
});

builder.objectType(ImageNotOwnedError, {
  name: 'ImageNotOwnedError',
  description: 'The image is a public platform image, which only platform admins may delete.',
  interfaces: [ErrorInterface],
  fields: (t) => ({ image: t.field({ type: Image, description: 'The image.', resolve: (e) => e.image }) }),
});

builder.objectType(ImageProtectedError, {
  name: 'ImageProtectedError',
  description: 'The provider protects the image from deletion (Glance `protected`).',
  interfaces: [ErrorInterface],
  fields: (t) => ({ image: t.field({ type: Image, description: 'The image.', resolve: (e) => e.image }) }),
});

builder.objectType(QuotaExceededError, {
  name: 'QuotaExceededError',
  description: 'The organization already has as many imports running as it may (limits.importsPerOrganization).',
  interfaces: [ErrorInterface],
  fields: (t) => ({
    limit: t.exposeInt('limit', { description: 'Imports one organization may have PENDING or CREATING at once.' }),
  }),
});
