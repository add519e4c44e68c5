import { createComplexityRule } from '@pothos/plugin-complexity';
import { type DocumentNode, type GraphQLSchema, GraphQLError, parse, validate } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { DomainError, QueryTooComplexError } from '../errors.js';
import { countAliases } from '../limits/alias-count.js';
import { braceNesting } from '../limits/brace-nesting.js';
import type { Metrics } from '../metrics.js';
import { toGraphQLError } from '../schema/query-errors.js';

export interface QueryLimitsOptions {
  /** Static cost of one operation (list fields multiply their selection by their page size). @default 20000 */
  maxCost: number;
  /** Selection-set depth. @default 12 */
  maxDepth: number;
  /** Aliased fields, fragments expanded. @default 30 */
  maxAliases: number;
  /** Lexer tokens; the parser stops at the first one over. @default 5000 */
  maxTokens: number;
  metrics: Metrics;
}

interface OperationArgs {
  schema: GraphQLSchema;
  document: DocumentNode;
  operationName?: string | null;
  variableValues?: Record<string, unknown> | null;
  contextValue: unknown;
}

/**
 * Refuses, before anything runs, an operation that would cost too much: braces nested far deeper
 * than maxDepth (one pass over the text, before the recursive parser), too many tokens (while
 * parsing, so a huge document is never built), then too many aliases, too deep or too costly (one
 * walk of the document with the request's variables, fragments counted once). The refusal is one
 * QUERY_TOO_COMPLEX error naming the limit.
 */
export function useQueryLimits(options: QueryLimitsOptions): Plugin {
  const refuse = (refusal: DomainError, stop: (result: { data?: null; errors: GraphQLError[] }) => void) => {
    options.metrics.requestsRefused.inc({ reason: refusal instanceof QueryTooComplexError ? refusal.limit : 'invalidArguments' });
    stop({ data: null, errors: [toGraphQLError(refusal)] });
  };
  return {
    onParse({ setParseFn }) {
      setParseFn((source, parseOptions) => {
        const text = typeof source === 'string' ? source : source.body;
        // Braces also open input objects (a filter, a list of tags): a bound above any real query's depth.
        if (braceNesting(text) > options.maxDepth * 2 + 8) {
          options.metrics.requestsRefused.inc({ reason: 'maxDepth' });
          throw new QueryTooComplexError('maxDepth', options.maxDepth, null);
        }
        try {
          return parse(source, { ...parseOptions, maxTokens: options.maxTokens });
        } catch (error) {
          if (error instanceof GraphQLError && /contains more th\w+ \d+ tokens/.test(error.message)) {
            options.metrics.requestsRefused.inc({ reason: 'maxTokens' });
            throw new QueryTooComplexError('maxTokens', options.maxTokens, null);
          }
          throw error;
        }
      });
    },
    onExecute({ args, setResultAndStopExecution }) {
      const refusal = check(args, options);
      if (refusal) refuse(refusal, setResultAndStopExecution);
    },
    onSubscribe({ args, setResultAndStopExecution }) {
      const refusal = check(args, options);
      if (refusal) refuse(refusal, ({ errors }) => setResultAndStopExecution({ errors }));
    },
  };
}

/** Verdicts kept per parsed document (the parse cache hands out the same one for the same text). */
const VERDICTS_PER_DOCUMENT = 32;
const verdicts = new WeakMap<DocumentNode, Map<string, DomainError | null>>();

/**
 * `measure`, once per document, operation and variables: a dashboard repeats the same few
 * operations, and walking the document with the complexity rule was a twentieth of a listing's CPU.
 * The costs depend on nothing else (page sizes come from arguments and variables).
 */
function check(args: OperationArgs, limits: QueryLimitsOptions): DomainError | null {
  let known = verdicts.get(args.document);
  if (!known) verdicts.set(args.document, (known = new Map()));
  const key = `${args.operationName ?? ''}\u0000${JSON.stringify(args.variableValues ?? {})}`;
  if (known.has(key)) return known.get(key)!;
  const verdict = measure(args, limits);
  if (known.size >= VERDICTS_PER_DOCUMENT) known.delete(known.keys().next().value!);
  known.set(key, verdict);
  return verdict;
}

/**
 * The refusal of an operation: a limit it goes over, or the InvalidInputError of a list argument
 * (a page size is a cost, so an operation whose page sizes are invalid cannot be measured, and is
 * refused whole rather than run in part unmeasured).
 */
function measure(args: OperationArgs, limits: QueryLimitsOptions): DomainError | null {
  const aliases = countAliases(args.document, args.operationName);
  if (aliases > limits.maxAliases) return new QueryTooComplexError('maxAliases', limits.maxAliases, aliases);
  let refusal: QueryTooComplexError | null = null;
  const rule = createComplexityRule({
    context: args.contextValue as object,
    variableValues: args.variableValues ?? {},
    operationName: args.operationName ?? undefined,
    validate: ({ depth, complexity }) => {
      if (depth > limits.maxDepth) refusal = new QueryTooComplexError('maxDepth', limits.maxDepth, depth);
      else if (complexity > limits.maxCost) refusal = new QueryTooComplexError('maxCost', limits.maxCost, complexity);
    },
  });
  try {
    // Only this rule: GraphQL's own validation has already passed (and is cached per document).
    validate(args.schema, args.document, [rule]);
  } catch (error) {
    if (error instanceof DomainError) return error;
    throw error;
  }
  return refusal;
}
