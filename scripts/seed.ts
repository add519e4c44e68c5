// Puts the sample catalog (scripts/seed/sample-catalog.ts: public images of the common distros and
// a few of each organization's own, all READY) into every local region of the config
// (IMAGEGRAPH_CONFIG, or the dev defaults): `npm run seed [-- --orgs acme,globex]`.
// Skips a region that already holds images, so running it twice does not double the catalog.
import { parseArgs } from 'node:util';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { createProvider } from '../src/providers/create-provider.js';
import { sampleCatalog } from './seed/sample-catalog.js';

const { values } = parseArgs({ options: { orgs: { type: 'string' } } });
const config = loadConfig();
for (const region of config.regions) {
  if (region.provider.type !== 'local') continue;
  const provider = createProvider(region, createLogger('warn'));
  try {
    const existing = await provider.countImages({ includePublic: true, organizationIds: 'all' }, {});
    if (existing) {
      console.log(`${region.id}: already holds ${existing} images, left alone`);
      continue;
    }
    const orgs = values.orgs?.split(',') ?? region.organizations ?? ['dev'];
    const images = sampleCatalog(orgs);
    for (const image of images) await provider.createImage(image);
    console.log(`${region.id}: added ${images.length} READY images (public and ${orgs.join(', ')})`);
  } finally {
    await provider.close();
  }
}
