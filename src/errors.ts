/**
 * Domain errors: one class per failure a client can act on. They know nothing of GraphQL;
 * `src/schema/errors.ts` maps them to the wire once (union members for mutations, an
 * `extensions.code` for queries). Anything that is not a DomainError is masked and logged.
 */
import type { ImageSafetyProblem } from './imports/formats/inspection.js';
import type { DetectedFormat } from './imports/formats/types.js';
import type { ImageUse } from './providers/types.js';
import type { RegionImage } from './region-image.js';

/** The contract's `ErrorCode` enum: the `code` of every error a mutation's result union can answer. */
export const ERROR_CODES = [
  'UNSUPPORTED_IMAGE_FORMAT',
  'IMAGE_FETCH_FAILED',
  'INVALID_INPUT',
  'REGION_NOT_FOUND',
  'PERMISSION_DENIED',
  'IDEMPOTENCY_CONFLICT',
  'PROVIDER_UNAVAILABLE',
  'IMAGE_IN_USE',
  'IMAGE_NOT_FOUND',
  'IMAGE_NOT_OWNED',
  'IMAGE_PROTECTED',
  'QUOTA_EXCEEDED',
  'UNSAFE_IMAGE',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/** Codes of refusals that are never union members: seen only as a query error's `extensions.code`. */
export const REQUEST_ERROR_CODES = [
  'UNAUTHENTICATED',
  'QUERY_TOO_COMPLEX',
  'RATE_LIMITED',
  'SUBSCRIPTION_LIMIT_EXCEEDED',
  'BAD_REQUEST',
] as const;
export type RequestErrorCode = (typeof REQUEST_ERROR_CODES)[number];

export abstract class DomainError extends Error {
  /** Stable machine-readable code: the contract's `ErrorCode`, or a request error's code. */
  abstract readonly code: ErrorCode | RequestErrorCode;
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
  constructor(
    readonly region: string,
    options?: ErrorOptions,
    message = `The image provider of region "${region}" is unavailable; try again later`,
  ) {
    super(message, options);
  }
}

/** The replicas' shared queue and counters (Redis) cannot answer: a mutation that needs them is refused, and nothing was created. */
export class CoordinationUnavailableError extends ProviderUnavailableError {
  constructor(region: string, reason: string, options?: ErrorOptions) {
    super(region, options, `Imports cannot be accepted in region "${region}" now: ${reason}; try again later`);
  }
}

export class ImageNotFoundError extends DomainError {
  readonly code = 'IMAGE_NOT_FOUND';
  constructor(readonly id: string) {
    // Same text for a missing image and another organization's.
    super(`Image "${id}" not found`);
  }
}

/**
 * What an `imageChanged` stream ends with when its image is deleted: a last event with this error
 * (IMAGE_NOT_FOUND), so that a client can tell a deletion from the completion after READY or FAILED.
 */
export class ImageDeletedError extends DomainError {
  readonly code = 'IMAGE_NOT_FOUND';
  constructor(readonly id: string) {
    super(`Image "${id}" was deleted`);
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
    super(`${detectedFormat === 'UNKNOWN' ? 'This file' : `This ${detectedFormat} file`} cannot be imported. ${hint}`);
  }
}

/** Converting the image could read the server's own files, or would be unreasonably large: nothing was stored. */
export class UnsafeImageError extends DomainError {
  readonly code = 'UNSAFE_IMAGE';
  constructor(
    readonly detectedFormat: DetectedFormat,
    readonly problem: ImageSafetyProblem,
    detail: string,
  ) {
    super(`This ${detectedFormat} image is not safe to convert: ${detail}`);
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

export class QuotaExceededError extends DomainError {
  readonly code = 'QUOTA_EXCEEDED';
  constructor(
    readonly limit: number,
    organizationId: string | null,
  ) {
    super(
      `${organizationId === null ? 'The platform' : `Organization "${organizationId}"`} already has ${limit} imports ` +
        'PENDING or CREATING, as many as it may; wait for one to finish',
    );
  }
}

/**
 * Request errors: a request refused before (or instead of) execution. They are answered as a GraphQL
 * error with `extensions.code` and, where the HTTP status says more than 200, that status.
 */
export abstract class RequestError extends DomainError {
  abstract readonly httpStatus: number;
}

export type QueryLimit = 'maxCost' | 'maxDepth' | 'maxAliases' | 'maxTokens';

export class QueryTooComplexError extends RequestError {
  readonly code = 'QUERY_TOO_COMPLEX';
  readonly httpStatus = 400;
  constructor(
    readonly limit: QueryLimit,
    readonly max: number,
    readonly value: number | null,
  ) {
    const what = { maxCost: 'cost', maxDepth: 'depth', maxAliases: 'aliases', maxTokens: 'tokens' }[limit];
    super(
      `Query too complex: ${what} ${value === null ? `over ${max}` : `${formatCount(value)} exceeds ${max}`} (limits.${limit}); ` +
        'ask for smaller pages or fewer nested lists',
    );
  }
}

export class RateLimitedError extends RequestError {
  readonly code = 'RATE_LIMITED';
  readonly httpStatus = 429;
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many requests; retry after ${retryAfterSeconds} s`);
  }
}

export class SubscriptionLimitError extends RequestError {
  readonly code = 'SUBSCRIPTION_LIMIT_EXCEEDED';
  readonly httpStatus = 200;
  constructor(readonly max: number) {
    super(`At most ${max} subscriptions may be open at once per caller; close one first`);
  }
}

/** A client mistake in the HTTP request itself; the message is fixed and never echoes the request. */
export class BadRequestError extends RequestError {
  readonly code = 'BAD_REQUEST';
  constructor(
    message: string,
    readonly httpStatus: 400 | 413 | 415 = 400,
  ) {
    super(message);
  }
}

/** 12345678 as "12,345,678"; astronomic costs (fragment doubling) in exponent form. */
function formatCount(value: number): string {
  return value < 1e15 ? Math.round(value).toLocaleString('en-US') : value.toExponential(2);
}
