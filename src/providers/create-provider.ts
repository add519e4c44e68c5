import type { RegionConfig } from '../config.js';
import { LocalImageProvider } from './local/local-provider.js';
import { TrustedHeadersAuth } from './openstack/glance-auth.js';
import { OpenStackImageProvider } from './openstack/openstack-provider.js';
import type { ImageProvider } from './types.js';

/** Builds the provider a region's config names. */
export function createProvider(region: RegionConfig): ImageProvider {
  const config = region.provider;
  switch (config.type) {
    case 'local':
      return new LocalImageProvider(config.dataDir);
    case 'openstack':
      return new OpenStackImageProvider({
        region: region.id,
        imageUrl: config.imageUrl,
        projectId: config.auth.projectId,
        importMethod: config.importMethod,
        auth: new TrustedHeadersAuth(config.auth),
      });
  }
}
