import { GraphQLError } from 'graphql';
import {
  DomainError,
  InvalidInputError,
  ProviderUnavailableError,
  QueryTooComplexError,
  RateLimitedError,
  RegionNotFoundError,
  RequestError,
  UnauthenticatedError,
} from '../errors.js';

/** The domain error behind a GraphQL error (resolvers' errors arrive wrapped), if it is one. */
export function domainErrorOf(error: unknown): DomainError | null {
  if (error instanceof DomainError) return error;
  if (error instanceof GraphQLError) return domainErrorOf(error.originalError);
  return null;
}

/**
 * GraphQL's own refusal of a request (syntax, validation, variable values): a GraphQLError that no
 * resolver raised (no path) and that wraps nothing but other GraphQL errors. The client's mistake.
 */
export function isRequestMistake(error: unknown): error is GraphQLError {
  if (!(error instanceof GraphQLError) || error.path !== undefined) return false;
  return error.originalError === undefined || error.originalError === null || isRequestMistake(error.originalError);
}

/** Whether an error is the client's business (a domain error or a request mistake), not the operator's. */
export function isExpectedError(error: unknown): boolean {
  return domainErrorOf(error) !== null || isRequestMistake(error);
}

const CLIENT_CODES = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_REQUEST', 'BAD_USER_INPUT']);

/**
 * Errors on the wire: a domain error keeps its message and gains a stable `extensions.code` (plus its
 * typed fields and HTTP status); GraphQL's request errors keep their message with quoted values cut
 * short (never an echo of the request) and a 400; anything else is masked as INTERNAL_SERVER_ERROR,
 * its details left to the log.
 */
export function toGraphQLError(error: unknown): GraphQLError {
  // The mapping runs again on whole results (use-request-errors.ts): what it made stays as it is.
  if (error instanceof GraphQLError && mapped.has(error)) return error;
  const wire = wireError(error);
  mapped.add(wire);
  return wire;
}

/** Errors toGraphQLError made. */
const mapped = new WeakSet<GraphQLError>();

function wireError(error: unknown): GraphQLError {
  const domain = domainErrorOf(error);
  const located = error instanceof GraphQLError ? error : undefined;
  const options = { nodes: located?.nodes, path: located?.path, source: located?.source, positions: located?.positions };
  if (domain) {
    return new GraphQLError(domain.message, { ...options, extensions: { code: domain.code, ...details(domain) } });
  }
  if (isRequestMistake(error)) {
    const given = error.extensions.code;
    const code = typeof given === 'string' && CLIENT_CODES.has(given) ? given : 'BAD_USER_INPUT';
    return new GraphQLError(withoutEchoes(error.message), { ...options, extensions: { code, http: { status: 400 } } });
  }
  return new GraphQLError('Unexpected error.', { ...options, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
}

function details(error: DomainError): Record<string, unknown> {
  if (error instanceof InvalidInputError) return { issues: error.issues };
  if (error instanceof RegionNotFoundError || error instanceof ProviderUnavailableError) return { region: error.region };
  if (error instanceof UnauthenticatedError) {
    return { http: { status: 401, headers: { 'www-authenticate': 'Bearer' } } };
  }
  if (error instanceof QueryTooComplexError) {
    return { limit: error.limit, max: error.max, http: { status: error.httpStatus } };
  }
  if (error instanceof RateLimitedError) {
    return { http: { status: 429, headers: { 'retry-after': String(error.retryAfterSeconds) } } };
  }
  if (error instanceof RequestError && error.httpStatus !== 200) return { http: { status: error.httpStatus } };
  return {};
}

const MAX_QUOTED = 40;
const MAX_MESSAGE = 300;

/**
 * GraphQL quotes the offending value in its messages (`Int cannot represent non-integer value: "..."`,
 * and scalars like DateTime without quotes): every quoted string and every long unbroken run of
 * characters is cut to a few characters and the message to a line, so a megabyte variable is never
 * sent back.
 */
export function withoutEchoes(message: string): string {
  const cut = (text: string) => `${text.slice(0, MAX_QUOTED)}…`;
  const shortened = message
    .replace(/"((?:[^"\\]|\\.)*)"/g, (quoted, inner: string) => (inner.length > MAX_QUOTED ? `"${cut(inner)}"` : quoted))
    .replace(new RegExp(`[^\\s"]{${MAX_QUOTED + 1},}`, 'g'), cut);
  return shortened.length > MAX_MESSAGE ? `${shortened.slice(0, MAX_MESSAGE)}…` : shortened;
}

/** The JSON response of an error answered before yoga executes anything (auth, limits, body policy). */
export function errorResponse(error: DomainError): Response {
  const wire = toGraphQLError(error);
  const { http, ...extensions } = wire.extensions as { http?: { status?: number; headers?: Record<string, string> } };
  return Response.json(
    { errors: [{ message: wire.message, extensions }] },
    { status: http?.status ?? 400, headers: http?.headers ?? {} },
  );
}
