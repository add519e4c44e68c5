import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_QUERY } from '../../src/graphiql/graphiql-page.js';
import { capturedLogs, loud } from '../support/captured-logs.js';
import { startTestServer, type TestServer } from '../support/harness.js';

const READER = { token: 't-reader', subject: 'rita', organizations: [{ id: 'acme', role: 'READER' as const }] };
const ADMIN = { token: 't-admin', subject: 'root', platformAdmin: true };

/** `images -> region -> images ...` nested `levels` deep, `first` images at each level. */
function nested(levels: number, first = 100): string {
  let selection = 'id';
  for (let level = 1; level < levels; level++) selection = `id region { images(first: ${first}) { nodes { ${selection} } } }`;
  return `{ images(region: "alpha", first: ${first}) { nodes { ${selection} } } }`;
}

/** The ```graphql blocks of the README, each with the ```json block that follows it, if any. */
function readmeOperations(): { query: string; variables: Record<string, unknown> }[] {
  const readme = readFileSync(join(import.meta.dirname, '..', '..', 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```(graphql|json)\n([\s\S]*?)```/g)].map(([, kind, body]) => ({ kind, body: body! }));
  return blocks.flatMap((block, index) => {
    if (block.kind !== 'graphql') return [];
    const next = blocks[index + 1];
    return [{ query: block.body, variables: next?.kind === 'json' ? (JSON.parse(next.body) as Record<string, unknown>) : {} }];
  });
}

describe('query limits', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ regions: [{ id: 'alpha' }, { id: 'beta' }], callers: [READER, ADMIN] });
  });
  afterAll(() => server.close());

  it('refuses the five-deep images query of a READER in milliseconds, before any provider call', async () => {
    const started = performance.now();
    const result = await server.gql(nested(5), {}, READER.token);
    const elapsed = performance.now() - started;

    expect(result.status).toBe(400);
    expect(result.data ?? null).toBeNull();
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'maxDepth', max: 12 });
    expect(result.errors![0]!.message).toMatch(/limits\.maxDepth/);
    expect(elapsed).toBeLessThan(500);
    expect(await server.metric('imagegraph_provider_calls_total', { region: 'alpha', operation: 'queryImages' })).toBe(0);
  });

  it('refuses a shallow query whose pages multiply past maxCost, naming the limit and the cost', async () => {
    const result = await server.gql(nested(3), {}, READER.token);

    expect(result.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'maxCost', max: 20_000 });
    expect(result.errors![0]!.message).toMatch(/cost [\d,]+ exceeds 20000 \(limits\.maxCost\)/);
  });

  it('counts page sizes given as variables and by default', async () => {
    const query = `query ($first: Int) { images(region: "alpha", first: $first) { nodes { id region { images { nodes { id region { images { nodes { id } } } } } } } } }`;
    // 1 + n * (2 + 20 * (2 + 20 * 1)) grows with the variable: small pages pass, large ones do not.
    expect((await server.gql(query, { first: 5 }, READER.token)).errors).toBeUndefined();
    const refused = await server.gql(query, { first: 100 }, READER.token);
    expect(refused.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'maxCost' });
  });

  it('refuses more than maxAliases aliases, counting those inside fragments', async () => {
    const aliases = Array.from({ length: 16 }, (_, i) => `a${i}: id`).join(' ');
    const query = `{ viewer { subject } regions { ...R } } fragment R on Region { ${aliases} x: name y: name z: name w: name v: name u: name t: name s: name s2: name s3: name s4: name s5: name s6: name s7: name s8: name }`;
    const result = await server.gql(query, {}, READER.token);

    expect(result.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'maxAliases', max: 30 });
    expect(result.errors![0]!.message).toMatch(/aliases 31 exceeds 30/);
  });

  it('stops parsing at maxTokens, for a document of any size under the body limit', async () => {
    const fields = Array.from({ length: 60_000 }, () => 'subject').join(' ');
    const started = performance.now();
    const result = await server.gql(`{ viewer { ${fields} } }`, {}, READER.token);

    expect(result.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'maxTokens', max: 5000 });
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it('survives a fragment bomb: fragments spread into each other are measured once each', async () => {
    const fragments = Array.from(
      { length: 40 },
      (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} viewer { subject } }`,
    );
    const query = `{ ...F0 } ${fragments.join(' ')} fragment F40 on Query { regions { id } }`;
    const started = performance.now();
    const result = await server.gql(query, {}, READER.token);

    expect(result.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'maxCost' });
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  it('refuses an over-limit subscription the same way', async () => {
    const aliases = Array.from({ length: 31 }, (_, i) => `a${i}: status`).join(' ');
    const result = await server.gql(`subscription { imageChanged(id: "x") { ${aliases} } }`, {}, READER.token);
    expect(result.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'maxAliases' });
  });

  it('lets every query of the README and the GraphiQL example through', async () => {
    const operations = [...readmeOperations(), { query: EXAMPLE_QUERY, variables: {} }];
    expect(operations.length).toBeGreaterThanOrEqual(5);
    for (const { query, variables } of operations) {
      const result = await server.gql(query, variables, ADMIN.token);
      const codes = (result.errors ?? []).map((error) => error.extensions?.code);
      expect(codes, query).not.toContain('QUERY_TOO_COMPLEX');
      expect(codes, query).not.toContain('GRAPHQL_VALIDATION_FAILED');
    }
  });
});

describe('a 10,000-deep document', () => {
  it('is refused before it is parsed, with no error-level log line', async () => {
    const { logger, lines } = capturedLogs();
    const server = await startTestServer({ regions: [{ id: 'alpha' }], callers: [READER], logger });
    try {
      const deep = `${'{ a '.repeat(10_000)}${'} '.repeat(10_000)}`;
      const result = await server.gql(deep, {}, READER.token);
      expect(result.errors![0]!.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limit: 'maxDepth' });
      expect(loud(lines)).toEqual([]);
      // Braces in strings and comments are not nesting.
      const quoted = await server.gql(`# ${'{'.repeat(100)}\n{ viewer { subject } }`, {}, READER.token);
      expect(quoted.errors).toBeUndefined();
    } finally {
      await server.close();
    }
  });
});
