import {
  type DocumentNode,
  execute,
  type ExecutionArgs,
  type ExecutionResult,
  getOperationAST,
  getVariableValues,
  GraphQLError,
  OperationTypeNode,
  type Source,
} from 'graphql';
import { type CompiledQuery, compileQuery, isCompiledQuery } from 'graphql-jit';
import type { Plugin } from 'graphql-yoga';
import { LRUCache } from 'lru-cache';

/** Executions of one document after which its queries are compiled: one-off documents never are. */
const COMPILE_AFTER = 2;

/**
 * Documents whose executions are counted and compiled queries kept. Compiled code is many times the
 * size of its source, so it is bounded by count here rather than riding on the document cache (whose
 * bytes bound source text only); a client cycling documents costs recompilation, not memory.
 */
const MAX_DOCUMENTS = 500;

/** What is known of one parsed document. */
interface DocumentState {
  executions: number;
  /** Compiled queries by operation name ('' for the only one); null where graphql-jit could not compile it. */
  compiled: Map<string, CompiledQuery | null>;
}

/**
 * How operations run. Queries of a document seen before run compiled by graphql-jit (its resolvers
 * and result shape turned into one function, once per document); the rest runs on graphql-js's own
 * `execute`, which this schema needs nothing beyond (yoga's default, graphql-tools', adds @defer,
 * @stream and a signal check per field). Together they cut an images page's CPU by about a third
 * (bench/listing.ts). Subscriptions keep yoga's executor.
 *
 * Variables are coerced by graphql-js first, so a wrong value is refused exactly as without
 * compilation (a request error, HTTP 400).
 */
export function useCompiledQueries({ compile = compileQuery }: { compile?: typeof compileQuery } = {}): Plugin {
  // Keyed by the parsed document: yoga's parser cache hands the same object to each request.
  const documents = new LRUCache<DocumentNode, DocumentState>({ max: MAX_DOCUMENTS });
  return {
    onExecute({ args, setExecuteFn }) {
      const operation = getOperationAST(args.document, args.operationName);
      // Without one operation to run, graphql-js answers the request error itself.
      if (!operation) return setExecuteFn(execute);
      if (operation.operation === OperationTypeNode.SUBSCRIPTION) return;
      if (operation.operation === OperationTypeNode.MUTATION) return setExecuteFn(execute);
      let state = documents.get(args.document);
      if (!state) documents.set(args.document, (state = { executions: 0, compiled: new Map() }));
      if (++state.executions < COMPILE_AFTER) return setExecuteFn(execute);
      const compiled = compiledQuery(state, args, compile);
      if (!compiled) return setExecuteFn(execute);
      setExecuteFn((run: ExecutionArgs) => {
        const variables = getVariableValues(run.schema, operation.variableDefinitions ?? [], run.variableValues ?? {});
        if (variables.errors) return { errors: variables.errors };
        const result = compiled.query(run.rootValue, run.contextValue, variables.coerced);
        const source = run.document.loc?.source;
        return result instanceof Promise ? result.then((r) => locatedErrors(r, source)) : locatedErrors(result, source);
      });
    },
  };
}

function compiledQuery(state: DocumentState, args: ExecutionArgs, compile: typeof compileQuery): CompiledQuery | undefined {
  const name = args.operationName ?? '';
  let compiled = state.compiled.get(name);
  if (compiled === undefined) {
    const result = compile(args.schema, args.document, args.operationName ?? undefined, {
      // graphql-jit's older handling of @skip/@include in fragment spreads has known gaps.
      useExperimentalPathBasedSkipInclude: true,
    });
    // A document graphql-jit cannot compile runs on graphql-js (which answers it the standard way),
    // and is not tried again.
    compiled = isCompiledQuery(result) ? result : null;
    state.compiled.set(name, compiled);
  }
  return compiled ?? undefined;
}

/**
 * graphql-jit locates its errors by line and column, without the source graphql-js errors carry,
 * and yoga's serializer keeps locations only from a source: they are made again from the document's.
 */
function locatedErrors(result: ExecutionResult, source: Source | undefined): ExecutionResult {
  if (!result.errors?.length || !source) return result;
  const lineStarts = [0];
  for (let i = 0; i < source.body.length; i++) if (source.body[i] === '\n') lineStarts.push(i + 1);
  const errors = result.errors.map((error) =>
    error.source || !error.locations?.length
      ? error
      : new GraphQLError(error.message, {
          source,
          positions: error.locations.map(({ line, column }) => (lineStarts[line - 1] ?? 0) + column - 1),
          path: error.path,
          originalError: error.originalError,
          extensions: error.extensions,
        }),
  );
  // Errors first, as graphql-js writes them.
  return { errors, data: result.data, ...(result.extensions ? { extensions: result.extensions } : {}) };
}
