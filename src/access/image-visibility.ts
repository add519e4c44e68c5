import { canRead, type Principal } from '../auth/principal.js';
import type { ImageRecord, ImageScope } from '../providers/types.js';

/**
 * A caller sees PUBLIC images, its organizations' images, images shared with them, and (platform
 * admin) everything, images that no organization owns included. The one rule for every route:
 * listings, node(id), imageChanged and every mutation (region rules such as signed platform images
 * come on top, see platform-image-signatures.ts).
 */
export function isImageVisible(principal: Principal, image: ImageRecord): boolean {
  if (image.visibility === 'PUBLIC') return true;
  if (image.organizationId === null) return principal.platformAdmin;
  return canRead(principal, image.organizationId) || image.sharedWith.some((org) => canRead(principal, org));
}

export interface ListingScopeRequest {
  scope: 'AVAILABLE' | 'OWNED' | 'SHARED';
  /** Organizations named in the filter; those the caller may not read are dropped silently. */
  organizations?: readonly string[];
}

/** The provider scope for a listing: never wider than what `isImageVisible` allows. */
export function listingScope(principal: Principal, request: ListingScopeRequest): ImageScope {
  const includePublic = request.scope === 'AVAILABLE';
  const readable = request.organizations
    ? request.organizations.filter((id) => canRead(principal, id))
    : principal.organizations.map((membership) => membership.id);
  if (request.scope === 'SHARED') return { includePublic: false, organizationIds: [], sharedWith: readable };
  const sharedWith = request.scope === 'AVAILABLE' ? readable : [];
  // Unassigned images are neither public nor any organization's: platform admins see them among all.
  if (!request.organizations && principal.platformAdmin) {
    return { includePublic, organizationIds: 'all', includeUnassigned: includePublic };
  }
  return { includePublic, organizationIds: readable, sharedWith };
}
