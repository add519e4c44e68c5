import fc from 'fast-check';
import {
  getNamedType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  isUnionType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, REQUEST_ERROR_CODES } from '../../src/errors.js';
import { schema } from '../../src/schema/index.js';
import { newImage } from '../fixtures/images.js';
import { startTestServer, type TestServer } from '../support/harness.js';

/**
 * Property-based abuse of the HTTP API: arbitrary bodies, content types and methods, and GraphQL
 * documents generated from the schema itself (random fields, arguments, aliases, fragments, variables)
 * or mutated from valid ones. Whatever comes in, the server never answers 5xx, never echoes a long
 * piece of the request, and never shows internal details. `npm test` runs a few hundred cases;
 * `npm run fuzz` (FUZZ_RUNS=10000) many more.
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : undefined;

/** Planted in generated input: no 64-character piece of it may come back. */
const MARKER = `ECHO${'q7Zx'.repeat(100)}`;
const READER = { token: 't-reader', subject: 'rita', organizations: [{ id: 'acme', role: 'READER' as const }] };
const INTERNAL = /\bat .+:\d+:\d+|\.ts:\d+|node_modules|SQLITE|sqlite|originalError|stacktrace|Unexpected token|undici/;
const KNOWN_CODES = new Set<string>([
  ...ERROR_CODES,
  ...REQUEST_ERROR_CODES,
  // GraphQL's own refusals of a request.
  'BAD_USER_INPUT',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
]);

// ---------------------------------------------------------------- documents from the schema

/** Literals of every kind, for the cases where an argument gets the wrong one. */
const junkValue = fc.oneof(
  fc.integer({ min: -3, max: 300 }).map(String),
  fc.double({ noNaN: true }).map((n) => n.toString()),
  fc.boolean().map(String),
  fc.constantFrom('""', `"${MARKER}"`, 'null', '[]', '{}', 'NOPE', '"bm9wZQ"'),
  fc.string({ maxLength: 20 }).map((text) => JSON.stringify(text)),
);

const IDS = [
  '"alpha"',
  '"lab"',
  '"acme"',
  '"globex"',
  `"${MARKER}"`,
  `"${Buffer.from('Image:alpha:00000000-0000-4000-8000-00000000dead').toString('base64url')}"`,
];

/** A literal that fits the scalar most of the time. */
function scalarValue(name: string): fc.Arbitrary<string> {
  const fitting: Record<string, fc.Arbitrary<string>> = {
    Int: fc.integer({ min: 0, max: 120 }).map(String),
    SafeInt: fc.integer({ min: 0, max: 2 ** 40 }).map(String),
    Boolean: fc.boolean().map(String),
    ID: fc.constantFrom(...IDS),
    String: fc.oneof(
      fc.constantFrom(...IDS, '"server"', '"vm-1"', '"24.04"'),
      fc.string({ maxLength: 12 }).map((text) => JSON.stringify(text)),
    ),
    DateTime: fc
      .date({ min: new Date('2020-01-01'), max: new Date('2030-01-01'), noInvalidDate: true })
      .map((d) => `"${d.toISOString()}"`),
  };
  return fc.oneof({ arbitrary: fitting[name] ?? junkValue, weight: 30 }, { arbitrary: junkValue, weight: 1 });
}

function valueFor(type: GraphQLInputType, depth: number): fc.Arbitrary<string> {
  const inner = isNonNullType(type) ? type.ofType : type;
  if (isListType(inner))
    return fc.array(valueFor(inner.ofType, depth + 1), { maxLength: 3 }).map((items) => `[${items.join(', ')}]`);
  const named = getNamedType(type);
  if (isEnumType(named)) {
    return fc.oneof(
      { arbitrary: fc.constantFrom(...named.getValues().map((v) => v.name)), weight: 30 },
      { arbitrary: junkValue, weight: 1 },
    );
  }
  if (isInputObjectType(named)) {
    if (depth >= 3) return fc.constant('{}');
    const fields = Object.values(named.getFields());
    const required = fields.filter((field) => isNonNullType(field.type) && field.defaultValue === undefined);
    const optional = fields.filter((field) => !required.includes(field));
    return fc
      .subarray(optional, { maxLength: Math.min(3, optional.length) })
      .chain((chosen) =>
        fc.tuple(...[...required, ...chosen].map((f) => valueFor(f.type, depth + 1).map((v) => `${f.name}: ${v}`))),
      )
      .map((parts) => `{ ${parts.join(', ')} }`);
  }
  return isScalarType(named) ? scalarValue(named.name) : junkValue;
}

function fieldsOf(type: GraphQLObjectType): GraphQLField<unknown, unknown>[] {
  return Object.values(type.getFields());
}

/** A selection on `type`: some of its fields (sometimes aliased, sometimes with arguments), recursively. */
function selection(type: GraphQLObjectType, depth: number): fc.Arbitrary<string> {
  const field = fc.constantFrom(...fieldsOf(type)).chain((f) => {
    const named = getNamedType(f.type);
    const required = f.args.filter((arg) => isNonNullType(arg.type) && arg.defaultValue === undefined);
    const optional = f.args.filter((arg) => !required.includes(arg));
    const args = fc
      .subarray(optional, { maxLength: optional.length })
      .chain((chosen) => fc.tuple(...[...required, ...chosen].map((a) => valueFor(a.type, 0).map((v) => `${a.name}: ${v}`))))
      .map((parts) => (parts.length ? `(${parts.join(', ')})` : ''));
    // Fields with arguments always get an alias of their own: two of them under one name with other
    // arguments would only meet GraphQL's field-merging rule, over and over.
    const alias = fc.tuple(fc.boolean(), fc.nat(1_000_000)).map(([aliased, n]) => (aliased || f.args.length ? `a${n}: ` : ''));
    let sub: fc.Arbitrary<string> = fc.constant('');
    if (isObjectType(named) || isInterfaceType(named) || isUnionType(named)) {
      if (depth >= 6) sub = fc.constant('{ __typename }');
      else if (isObjectType(named)) sub = selection(named, depth + 1).map((s) => `{ ${s} }`);
      else {
        const possible = schema.getPossibleTypes(named);
        sub = fc
          .constantFrom(...possible)
          .chain((t) => selection(t, depth + 1).map((s) => `{ __typename ... on ${t.name} { ${s} } }`));
      }
    }
    return fc.tuple(alias, fc.constant(f.name), args, sub).map(([a, n, g, s]) => `${a}${n}${g} ${s}`);
  });
  return fc.array(field, { minLength: 1, maxLength: 4 }).map((parts) => parts.join(' '));
}

const operation = fc.oneof(
  selection(schema.getQueryType()!, 0).map((s) => `query Q { ${s} }`),
  selection(schema.getMutationType()!, 0).map((s) => `mutation M { ${s} }`),
  selection(schema.getSubscriptionType()!, 0).map((s) => `subscription S { ${s} }`),
  selection(schema.getQueryType()!, 0).map(
    (s) =>
      `query V($first: Int = 5, $r: ID! = "alpha", $f: ImageFilter) { v: images(region: $r, first: $first, filter: $f) { nodes { id name } } ${s} }`,
  ),
);

/** A valid document with random characters inserted, deleted or replaced. */
const mutated = fc
  .tuple(
    operation,
    fc.array(
      fc.tuple(
        fc.nat(),
        fc.constantFrom('insert', 'delete', 'replace'),
        fc.constantFrom('{', '}', '(', ')', '$', '"', ':', '...', '@', '#', '\\u0000', MARKER),
      ),
      {
        maxLength: 5,
      },
    ),
  )
  .map(([doc, edits]) =>
    edits.reduce((text, [at, kind, piece]) => {
      const i = text.length ? at % text.length : 0;
      if (kind === 'insert') return text.slice(0, i) + piece + text.slice(i);
      if (kind === 'delete') return text.slice(0, i) + text.slice(i + 1);
      return text.slice(0, i) + piece + text.slice(i + piece.length);
    }, doc),
  );

const variables = fc.oneof(
  { arbitrary: fc.constant(undefined), weight: 4 },
  { arbitrary: fc.record({ first: fc.integer({ min: 0, max: 100 }), r: fc.constantFrom('alpha', 'lab') }), weight: 2 },
  {
    arbitrary: fc.dictionary(
      fc.constantFrom('first', 'r', 'f', 'id', MARKER),
      fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(MARKER)),
      { maxKeys: 3 },
    ),
    weight: 1,
  },
  { arbitrary: fc.jsonValue({ maxDepth: 2 }), weight: 1 },
);

// ---------------------------------------------------------------- HTTP requests

interface FuzzRequest {
  method: string;
  contentType: string | undefined;
  accept: string | undefined;
  token: string | undefined;
  body: string | undefined;
  query: string | undefined;
}

const graphqlBody = fc
  .record({
    query: fc.oneof(
      { arbitrary: operation, weight: 6 },
      { arbitrary: mutated, weight: 2 },
      { arbitrary: fc.string({ maxLength: 40 }), weight: 1 },
    ),
    variables,
    operationName: fc.option(fc.constantFrom('Q', 'M', 'S', 'V', MARKER), { freq: 10 }),
  })
  .map((body) => JSON.stringify(body));

const junkBody = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value)),
  fc.constant(`{"query": "${MARKER}`),
  fc.constant(`query=${encodeURIComponent(`mutation { deleteImage(input: { id: "${MARKER}" }) { __typename } }`)}`),
  fc.uint8Array({ maxLength: 200 }).map((bytes) => Buffer.from(bytes).toString('latin1')),
);

/** Mostly what a client sends (so that most cases reach execution), sometimes anything at all. */
const often = <T>(usual: T, ...others: T[]) =>
  fc.oneof({ arbitrary: fc.constant(usual), weight: 6 }, { arbitrary: fc.constantFrom(...others), weight: 1 });

const request: fc.Arbitrary<FuzzRequest> = fc.record({
  method: often('POST', 'GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'),
  contentType: often<string | undefined>(
    'application/json',
    'application/graphql+json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    undefined,
    'application/json; charset=latin1',
  ),
  accept: often<string | undefined>(
    undefined,
    'application/json',
    'text/event-stream',
    'application/graphql-response+json',
    'text/html',
    '*/*',
  ),
  token: often<string | undefined>(READER.token, undefined, 'not-a-token', MARKER),
  body: fc.oneof({ arbitrary: graphqlBody, weight: 6 }, { arbitrary: junkBody, weight: 1 }),
  query: fc.option(fc.oneof(operation, mutated).map((q) => `query=${encodeURIComponent(q)}`)),
});

describe('fuzzing the HTTP API', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ regions: [{ id: 'alpha' }, { id: 'lab', organizations: ['globex'] }], callers: [READER] });
    await server.provider('alpha').createImage(newImage({ organizationId: 'acme', name: 'acme-image' }));
    await server.provider('alpha').createImage(newImage({ organizationId: null, name: 'public-image' }));
  });
  afterAll(() => server.close());

  async function send(req: FuzzRequest): Promise<{ status: number; text: string }> {
    const headers: Record<string, string> = {};
    if (req.contentType) headers['content-type'] = req.contentType;
    if (req.accept) headers.accept = req.accept;
    if (req.token) headers.authorization = `Bearer ${req.token}`;
    const withBody = req.method !== 'GET' && req.method !== 'OPTIONS';
    const response = await server.app.yoga.fetch(
      `http://imagegraph.test/graphql${req.query && !withBody ? `?${req.query}` : ''}`,
      {
        method: req.method,
        headers,
        body: withBody ? req.body : undefined,
        signal: AbortSignal.timeout(10_000),
      },
    );
    // Streams (subscriptions) are read for a moment only: their first events tell what the checks need.
    const reader = response.body?.getReader();
    let text = '';
    if (reader) {
      const until = Date.now() + 1_000;
      while (Date.now() < until) {
        const chunk = await Promise.race([
          reader.read(),
          new Promise<null>((resolve) => setTimeout(() => resolve(null), until - Date.now())),
        ]);
        if (!chunk || chunk.done) break;
        text += new TextDecoder().decode(chunk.value);
      }
      await reader.cancel().catch(() => undefined);
    }
    return { status: response.status, text };
  }

  it(
    `answers ${RUNS} arbitrary requests without a 5xx, an echo or an internal detail`,
    async () => {
      const outcomes = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(request, async (req) => {
          const { status, text } = await send(req);
          const outcome = /"data":\{/.test(text) ? 'executed' : `${status} ${/"code":"([A-Z_]+)"/.exec(text)?.[1] ?? ''}`.trim();
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
          expect(status, text.slice(0, 500)).toBeLessThan(500);
          expect(text.length).toBeLessThan(64 * 1024);
          for (let at = 0; at + 64 <= MARKER.length; at += 64) expect(text).not.toContain(MARKER.slice(at, at + 64));
          expect(text).not.toMatch(INTERNAL);
          for (const code of text.matchAll(/"code":"([A-Z_]+)"/g)) expect(KNOWN_CODES, text.slice(0, 500)).toContain(code[1]);
        }),
        { numRuns: RUNS, seed: SEED },
      );
      // What the cases came to, so that a run shows how deep it went (how many reached execution).
      process.stdout.write(
        `${[...outcomes]
          .sort((a, b) => b[1] - a[1])
          .map(([outcome, count]) => `${count} ${outcome}`)
          .join('\n')}\n`,
      );
    },
    Math.max(60_000, RUNS * 300),
  );
});
