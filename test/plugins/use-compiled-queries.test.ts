import { GraphQLObjectType, GraphQLSchema, GraphQLString } from 'graphql';
import { compileQuery } from 'graphql-jit';
import { createYoga } from 'graphql-yoga';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useCompiledQueries } from '../../src/plugins/use-compiled-queries.js';
import { encodeImageId } from '../../src/ids.js';
import { catalog, seed } from '../fixtures/images.js';
import { startTestServer, type TestServer } from '../support/harness.js';

// A document's first execution runs on graphql-js, later ones compiled by graphql-jit
// (src/plugins/use-compiled-queries.ts): every answer below must be the same each time, errors included.

const MEMBER = 'compiled-member';
let server: TestServer;
let acmeImage: string;
let globexImage: string;

beforeAll(async () => {
  server = await startTestServer({
    regions: [{ id: 'local' }],
    callers: [{ token: MEMBER, subject: 'member', organizations: [{ id: 'acme', role: 'MEMBER' }] }],
  });
  const records = await seed(server.provider('local'), catalog(['acme', null, 'globex'], 12));
  acmeImage = encodeImageId('local', records.find((r) => r.organizationId === 'acme')!.id);
  globexImage = encodeImageId('local', records.find((r) => r.organizationId === 'globex')!.id);
});
afterAll(() => server.close());

const PAGE = `
  query Page($first: Int = 4, $after: String, $withTags: Boolean!, $skipOs: Boolean = false, $filter: ImageFilter) {
    page: images(region: "local", first: $first, after: $after, filter: $filter) {
      __typename
      totalCount
      nodes { ...Fields os @skip(if: $skipOs) { distro version } }
      pageInfo { hasNextPage endCursor startCursor }
      edges { cursor node { id } }
    }
  }
  fragment Fields on Image {
    __typename id name status sizeBytes sizeGiB createdAt architecture
    tags @include(if: $withTags) { name value }
    ... @include(if: $withTags) { usedBy { kind consumerId } }
    organization { id }
    region { id name }
  }`;

const cases: { name: string; query: string; variables?: () => Record<string, unknown>; refused?: true }[] = [
  { name: 'a page with fragments, aliases and @include', query: PAGE, variables: () => ({ withTags: true }) },
  { name: 'a page with @skip and no tags', query: PAGE, variables: () => ({ withTags: false, skipOs: true, first: 2 }) },
  {
    name: 'a filtered page',
    query: PAGE,
    variables: () => ({ withTags: true, filter: { osDistro: 'UBUNTU', scope: 'OWNED' } }),
  },
  { name: 'a wrong-typed variable', query: PAGE, variables: () => ({ withTags: true, first: 'many' }), refused: true },
  { name: 'a missing non-null variable', query: PAGE, variables: () => ({}), refused: true },
  { name: 'a bad cursor', query: PAGE, variables: () => ({ withTags: true, after: 'not-a-cursor' }), refused: true },
  {
    name: 'a non-null variable with a default',
    query: `query ($first: Int! = 3) { images(region: "local", first: $first) { nodes { name } } }`,
  },
  { name: 'an unknown region', query: `{ images(region: "atlantis") { nodes { id } } }`, refused: true },
  {
    name: 'node with inline fragments',
    query: `query ($id: ID!) { node(id: $id) { __typename id ... on Image { name visibility os { family } } } }`,
    variables: () => ({ id: acmeImage }),
  },
  {
    name: "another organization's image",
    query: `query ($id: ID!) { node(id: $id) { id ... on Image { name } } }`,
    variables: () => ({ id: globexImage }),
  },
  { name: 'a malformed id', query: `{ node(id: "nope") { id } }` },
  { name: 'viewer and regions', query: `{ viewer { subject organizations { id role } } regions { id name provider } }` },
];

describe('compiled queries', () => {
  it.each(cases)('answers $name the same on every execution', async ({ query, variables, refused }) => {
    const answers = [];
    for (let run = 0; run < 3; run++) answers.push(await server.gql(query, variables?.(), MEMBER));
    expect(Boolean(answers[0]!.errors)).toBe(Boolean(refused));
    expect(answers[1]).toEqual(answers[0]);
    expect(answers[2]).toEqual(answers[0]);
  });

  it('keeps the request errors of variables as 400s once compiled', async () => {
    const query = `query ($first: Int) { images(region: "local", first: $first) { nodes { id } } }`;
    for (let run = 0; run < 3; run++) {
      const answer = await server.gql(query, { first: 'ten' }, MEMBER);
      expect(answer.status).toBe(400);
      expect(answer.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    }
  });

  it('sees writes between executions (nothing of an answer is kept)', async () => {
    const query = `{ images(region: "local", first: 50, filter: { scope: OWNED }) { totalCount } }`;
    const before = await server.gql<{ images: { totalCount: number } }>(query, undefined, MEMBER);
    await server.gql(query, undefined, MEMBER);
    await seed(server.provider('local'), catalog(['acme'], 1, Date.UTC(2027, 0, 1)));
    const after = await server.gql<{ images: { totalCount: number } }>(query, undefined, MEMBER);
    expect(after.data!.images.totalCount).toBe(before.data!.images.totalCount + 1);
  });
});

describe('when a document is compiled', () => {
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({
      name: 'Query',
      fields: { hello: { type: GraphQLString, args: { to: { type: GraphQLString } }, resolve: (_, { to }) => `hi ${to}` } },
    }),
  });
  /** A compiler that counts its calls. */
  const counting = (compile: typeof compileQuery) => {
    const counted = ((...args: Parameters<typeof compileQuery>) => {
      counted.calls++;
      return compile(...args);
    }) as typeof compileQuery & { calls: number };
    counted.calls = 0;
    return counted;
  };
  const yogaWith = (compile: typeof compileQuery) =>
    createYoga({ schema, plugins: [useCompiledQueries({ compile })], logging: false });
  const ask = async (yoga: ReturnType<typeof yogaWith>, query: string) =>
    (
      await yoga.fetch('http://test/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ query, variables: { to: 'you' } }),
      })
    ).json();

  it('compiles a document at its second execution, once, and runs it compiled from then on', async () => {
    const compile = counting(compileQuery);
    const yoga = yogaWith(compile);
    const query = 'query ($to: String) { hello(to: $to) }';
    expect(await ask(yoga, query)).toEqual({ data: { hello: 'hi you' } });
    expect(compile.calls).toBe(0);
    for (let run = 0; run < 3; run++) expect(await ask(yoga, query)).toEqual({ data: { hello: 'hi you' } });
    expect(compile.calls).toBe(1);
    await ask(yoga, '{ once: hello }');
    expect(compile.calls).toBe(1);
  });

  it('runs a document graphql-jit cannot compile on graphql-js, without trying again', async () => {
    const compile = counting((() => ({ errors: [] })) as unknown as typeof compileQuery);
    const yoga = yogaWith(compile);
    for (let run = 0; run < 4; run++) expect(await ask(yoga, '{ hello }')).toEqual({ data: { hello: 'hi undefined' } });
    expect(compile.calls).toBe(1);
  });
});
