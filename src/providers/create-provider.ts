import { readFileSync } from 'node:fs';
import { ConfigError, type RegionConfig } from '../config.js';
import type { Logger } from '../logger.js';
import { LocalImageProvider } from './local/local-provider.js';
import { type GlanceAuth, TrustedHeadersAuth } from './openstack/glance-auth.js';
import { KeystoneAuth } from './openstack/keystone-auth.js';
import { OpenStackImageProvider } from './openstack/openstack-provider.js';
import type { ImageProvider } from './types.js';

/** Builds the provider a region's config names. */
export function createProvider(region: RegionConfig, logger: Logger): ImageProvider {
  const config = region.provider;
  if (config.type === 'local') return new LocalImageProvider(config.dataDir);
  return new OpenStackImageProvider({
    region: region.id,
    imageUrl: config.imageUrl,
    importMethod: config.importMethod,
    auth: glanceAuth(region, logger),
  });
}

function glanceAuth(region: RegionConfig, logger: Logger): GlanceAuth {
  const config = region.provider;
  if (config.type !== 'openstack') throw new Error('not an openstack region');
  const auth = config.auth;
  if (auth.type === 'trusted-headers') return new TrustedHeadersAuth(auth);
  return new KeystoneAuth({
    region: region.id,
    authUrl: auth.authUrl,
    applicationCredential: { id: auth.applicationCredential.id, secret: secretOf(auth.applicationCredential) },
    interface: auth.interface,
    regionName: auth.regionName,
    imageUrl: config.imageUrl,
    logger: logger.child({ component: 'keystone' }),
  });
}

function secretOf(credential: { secret?: string; secretFile?: string }): string {
  if (credential.secret) return credential.secret;
  try {
    return readFileSync(credential.secretFile!, 'utf8').trim();
  } catch (error) {
    throw new ConfigError(`Cannot read applicationCredential.secretFile ${credential.secretFile}: ${(error as Error).message}`);
  }
}
