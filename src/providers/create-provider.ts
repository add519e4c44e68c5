import type { ProviderConfig } from '../config.js';
import { LocalImageProvider } from './local/local-provider.js';
import type { ImageProvider } from './types.js';

/** Builds the provider a region's config names. */
export function createProvider(config: ProviderConfig): ImageProvider {
  switch (config.type) {
    case 'local':
      return new LocalImageProvider(config.dataDir);
  }
}
