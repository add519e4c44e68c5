/**
 * Domain errors: one class per failure a client can act on. They know nothing of GraphQL;
 * `src/schema/errors.ts` maps them to the wire once (union members for mutations, an
 * `extensions.code` for queries). Anything that is not a DomainError is masked and logged.
 */
import type { DetectedFormat } from './imports/formats/types.js';
import type { ImageUse, RegionImage } from './providers/types.js';

export abstract class DomainError extends Error {
  /** Stable machine-readable code, equal to the contract's `ErrorCode` value where one exists. */
  abstract readonly code: string;
}

export class UnauthenticatedError extends DomainError {
  readonly code = 'UNAUTHENTICATED';
  constructor() {
    // One message for every cause, so a caller learns nothing about which check failed.
    super('Authentication required: send a valid bearer token');
  }
}

export interface InputIssue {
  path: string[];
  message: string;
}

export class InvalidInputError extends DomainError {
  readonly code = 'INVALID_INPUT';
  constructor(readonly issues: InputIssue[]) {
    super(`Invalid input: ${issues.map((i) => (i.path.length ? `${i.path.join('.')}: ${i.message}` : i.message)).join('; ')}`);
  }
}

export class RegionNotFoundError extends DomainError {
  readonly code = 'REGION_NOT_FOUND';
  constructor(readonly region: string) {
    // Same text for a missing region and one the caller may not see.
    super(`Region "${region}" not found`);
  }
}

export class PermissionDeniedError extends DomainError {
  readonly code = 'PERMISSION_DENIED';
}

export class ProviderUnavailableError extends DomainError {
  readonly code = 'PROVIDER_UNAVAILABLE';
  constructor(readonly region: string, options?: ErrorOptions) {
    super(`The image provider of region "${region}" is unavailable; try again later`, options);
  }
}

export class ImageNotFoundError extends DomainError {
  readonly code = 'IMAGE_NOT_FOUND';
  constructor(readonly id: string) {
    // Same text for a missing image and another organization's.
    super(`Image "${id}" not found`);
  }
}

export type FetchFailureReason =
  | 'INVALID_URL'
  | 'SCHEME_NOT_ALLOWED'
  | 'ADDRESS_NOT_ALLOWED'
  | 'DNS_FAILURE'
  | 'CONNECTION_FAILED'
  | 'TLS_FAILURE'
  | 'TIMEOUT'
  | 'HTTP_STATUS'
  | 'REDIRECT_NOT_ALLOWED'
  | 'TOO_SMALL'
  | 'TOO_LARGE';

export class ImageFetchError extends DomainError {
  readonly code = 'IMAGE_FETCH_FAILED';
  constructor(
    readonly uri: string,
    readonly reason: FetchFailureReason,
    message: string,
    readonly httpStatus: number | null = null,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export class UnsupportedImageFormatError extends DomainError {
  readonly code = 'UNSUPPORTED_IMAGE_FORMAT';
  constructor(
    readonly detectedFormat: DetectedFormat,
    readonly hint: string,
  ) {
    super(`Only raw bootable disk images can be imported; this one is ${detectedFormat}. ${hint}`);
  }
}

export class IdempotencyConflictError extends DomainError {
  readonly code = 'IDEMPOTENCY_CONFLICT';
  constructor(readonly idempotencyKey: string) {
    super(`Idempotency key "${idempotencyKey}" was already used with different input`);
  }
}

export class ImageInUseError extends DomainError {
  readonly code = 'IMAGE_IN_USE';
  constructor(
    readonly image: RegionImage,
    readonly usedBy: ImageUse[],
  ) {
    super(`Image "${image.record.name}" is in use by ${usedBy.length || 'at least one'} consumer(s); release its uses first`);
  }
}

export class ImageNotOwnedError extends DomainError {
  readonly code = 'IMAGE_NOT_OWNED';
  constructor(readonly image: RegionImage) {
    super(`Image "${image.record.name}" is a public platform image; only platform admins may change it`);
  }
}

export class ImageProtectedError extends DomainError {
  readonly code = 'IMAGE_PROTECTED';
  constructor(readonly image: RegionImage) {
    super(`Image "${image.record.name}" is protected at its provider; unprotect it there first`);
  }
}
