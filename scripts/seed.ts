// Puts sample images into every local region of the config (IMAGEGRAPH_CONFIG, or the dev defaults),
// through the provider as an import would: `npm run seed [-- --count 40 --orgs acme,globex]`.
// Skips a region that already holds images, so running it twice does not double the catalog.
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { createProvider } from '../src/providers/create-provider.js';
import { catalog, seed } from '../test/fixtures/images.js';

const { values } = parseArgs({
  options: { count: { type: 'string', default: '40' }, orgs: { type: 'string' } },
});
const config = loadConfig();
for (const region of config.regions) {
  const provider = createProvider(region, createLogger('warn'));
  try {
    const existing = await provider.countImages({ includePublic: true, organizationIds: 'all' }, {});
    if (existing) {
      console.log(`${region.id}: already holds ${existing} images, left alone`);
      continue;
    }
    const orgs = values.orgs?.split(',') ?? region.organizations ?? ['dev'];
    const images = await seed(provider, catalog([null, ...orgs], Number(values.count)));
    console.log(`${region.id}: added ${images.length} images (public and ${orgs.join(', ')})`);
  } finally {
    await provider.close();
  }
}
