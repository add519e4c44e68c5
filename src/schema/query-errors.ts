import { GraphQLError } from 'graphql';
import { DomainError, InvalidInputError, ProviderUnavailableError, RegionNotFoundError, UnauthenticatedError } from '../errors.js';

/** The domain error behind a GraphQL error (resolvers' errors arrive wrapped), if it is one. */
export function domainErrorOf(error: unknown): DomainError | null {
  if (error instanceof DomainError) return error;
  if (error instanceof GraphQLError) return domainErrorOf(error.originalError);
  return null;
}

/**
 * Query errors on the wire: a domain error keeps its message and gains a stable `extensions.code`
 * (plus its typed fields); anything else is masked as INTERNAL_SERVER_ERROR, its details left to the log.
 */
export function toGraphQLError(error: unknown): GraphQLError {
  const domain = domainErrorOf(error);
  const located = error instanceof GraphQLError ? error : undefined;
  const options = { nodes: located?.nodes, path: located?.path, source: located?.source, positions: located?.positions };
  // GraphQL's own request errors (syntax, validation) are the client's to see as they are.
  if (!domain && error instanceof GraphQLError && !error.originalError) return error;
  if (!domain) {
    return new GraphQLError('Unexpected error.', { ...options, extensions: { code: 'INTERNAL_SERVER_ERROR' } });
  }
  return new GraphQLError(domain.message, { ...options, extensions: { code: domain.code, ...details(domain) } });
}

function details(error: DomainError): Record<string, unknown> {
  if (error instanceof InvalidInputError) return { issues: error.issues };
  if (error instanceof RegionNotFoundError || error instanceof ProviderUnavailableError) return { region: error.region };
  if (error instanceof UnauthenticatedError) {
    return { http: { status: 401, headers: { 'www-authenticate': 'Bearer' } } };
  }
  return {};
}
