import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';
import { isExpectedError } from '../schema/query-errors.js';

/**
 * Logs every error that is neither a domain error nor the client's mistake, with the request's id,
 * before it is masked on the wire: the client sees INTERNAL_SERVER_ERROR, the operator sees the cause.
 */
export function useErrorLog(): Plugin<Context> {
  return {
    onExecute() {
      return {
        onExecuteDone({ result, args }) {
          if (!('errors' in result) || !result.errors) return;
          const ctx = args.contextValue as Context;
          for (const error of result.errors) {
            if (!isExpectedError(error))
              ctx.log.error({ err: error.originalError ?? error, path: error.path }, 'unexpected error');
          }
        },
      };
    },
  };
}
