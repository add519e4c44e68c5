import type { Plugin } from 'graphql-yoga';
import { toGraphQLError } from '../schema/query-errors.js';

/**
 * GraphQL's own refusals of a request (parse and validation errors) skip yoga's error masking and
 * quote the request back (`Int cannot represent non-integer value: "<the whole value>"`): this passes
 * every error of a result through the one mapping (`toGraphQLError`), so they too are 400s with a
 * short message and a stable code.
 */
export function useRequestErrors(): Plugin {
  return {
    onExecutionResult({ result, setResult }) {
      if (!result || Symbol.asyncIterator in result || !result.errors?.length) return;
      setResult({ ...result, errors: result.errors.map((error) => toGraphQLError(error)) });
    },
  };
}
