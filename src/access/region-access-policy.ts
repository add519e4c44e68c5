import type { Principal } from '../auth/principal.js';
import type { RegionConfig } from '../config.js';

/**
 * Decides which regions a caller may see: open regions for everyone, restricted ones for members of
 * their organizations and platform admins. A region the caller may not see is answered exactly like
 * one that does not exist (null), never "forbidden".
 */
export class RegionAccessPolicy {
  private readonly regionsById: ReadonlyMap<string, RegionConfig>;

  constructor(readonly regions: readonly RegionConfig[]) {
    this.regionsById = new Map(regions.map((region) => [region.id, region]));
  }

  /** One decision per id, in order: the region when visible, else null. */
  decide(principal: Principal, regionIds: readonly string[]): (RegionConfig | null)[] {
    return regionIds.map((id) => {
      const region = this.regionsById.get(id);
      return region && this.isVisible(principal, region) ? region : null;
    });
  }

  private isVisible(principal: Principal, region: RegionConfig): boolean {
    if (!region.organizations || principal.platformAdmin) return true;
    return principal.organizations.some((membership) => region.organizations!.includes(membership.id));
  }
}
