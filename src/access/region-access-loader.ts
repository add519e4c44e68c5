import DataLoader from 'dataloader';
import type { Principal } from '../auth/principal.js';
import type { RegionConfig } from '../config.js';
import type { Metrics } from '../metrics.js';
import type { RegionAccessPolicy } from './region-access-policy.js';

export type RegionAccessLoader = DataLoader<string, RegionConfig | null>;

/**
 * The per-request loader every region check goes through. Its first batch decides the requested ids
 * together with every configured region and primes the cache with all of them, so a request makes
 * one policy call however many regions it reaches and however deep in the query it reaches them.
 */
export function createRegionAccessLoader(policy: RegionAccessPolicy, principal: Principal, metrics: Metrics): RegionAccessLoader {
  const loader: RegionAccessLoader = new DataLoader(async (requested) => {
    const ids = [...new Set([...requested, ...policy.regions.map((region) => region.id)])];
    const decisions = policy.decide(principal, ids);
    metrics.accessBatches.inc();
    metrics.accessKeys.inc(ids.length);
    const byId = new Map(ids.map((id, index) => [id, decisions[index] ?? null]));
    for (const [id, decision] of byId) if (!requested.includes(id)) loader.prime(id, decision);
    return requested.map((id) => byId.get(id) ?? null);
  });
  return loader;
}
