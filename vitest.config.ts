import { defineConfig } from 'vitest/config';

/**
 * Two tiers. `unit`: tests that need nothing but this checkout and the Debian tools the pretest step
 * installs (no Glance, no Keystone, no browser, no server process): `npm run test:unit`, in seconds.
 * `services`: everything else, with the global setup that starts Glance and Keystone. `npm test` runs
 * both. A new test that uses providerKinds(), a real OpenStack, Chromium or a spawned server belongs
 * in `services`: it is everything UNIT does not list. So does one that spends seconds making real
 * disk images (the conversion corpus), to keep the unit tier under 20 s.
 */
const UNIT = [
  'test/schema/**/*.test.ts',
  'test/config.test.ts',
  'test/auth/**/*.test.ts',
  'test/imports/address-policy.test.ts',
  'test/imports/download-budget.test.ts',
  'test/imports/formats/**/*.test.ts',
  'test/imports/guarded-fetch.test.ts',
  'test/imports/peek-image.test.ts',
  'test/plugins/error-masking.test.ts',
  'test/plugins/use-compiled-queries.test.ts',
  'test/plugins/use-query-limits.test.ts',
  'test/plugins/use-request-body.test.ts',
  'test/image-watcher.test.ts',
  'test/providers/local/local-provider.test.ts',
  'test/resolvers/selected-image-fields.test.ts',
  'test/providers/openstack/glance-image.test.ts',
  'test/fuzz/**/*.test.ts',
];

export default defineConfig({
  resolve: {
    // Node loads graphql's CommonJS build (it has no "exports" map); Vite would pick its .mjs build for
    // our imports while CommonJS dependencies load the other one: two graphql instances. Use Node's choice.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Tests start real servers and SQLite files; two workers match the machine's two cores.
    maxWorkers: 2,
    projects: [
      // Unit test files share their workers' module cache (no per-file isolation): they keep no global
      // state, and loading the schema and its dependencies once per worker halves the tier's time.
      { extends: true, test: { name: 'unit', include: UNIT, isolate: false } },
      {
        extends: true,
        test: { name: 'services', include: ['test/**/*.test.ts'], exclude: UNIT, globalSetup: ['test/global-setup.ts'] },
      },
    ],
  },
});
