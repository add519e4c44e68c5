import type { CodegenConfig } from '@graphql-codegen/cli';

/**
 * `npm run possible-types`: which concrete types stand behind each union and interface of the schema,
 * in the form Apollo Client's `InMemoryCache({ possibleTypes })` takes. Without it Apollo cannot match
 * `... on Error { code message }` against an `ImageNotFoundError` and silently drops those fields.
 * A test fails when possible-types.json is stale.
 */
const config: CodegenConfig = {
  schema: 'schema.graphql',
  generates: {
    'possible-types.json': {
      plugins: ['fragment-matcher'],
      config: { apolloClientVersion: 3 },
    },
  },
};

export default config;
