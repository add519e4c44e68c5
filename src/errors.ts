/**
 * Domain errors: one class per failure a client can act on. They know nothing of GraphQL;
 * `src/schema/errors.ts` maps them to the wire once (union members for mutations, an
 * `extensions.code` for queries). Anything that is not a DomainError is masked and logged.
 */
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
