import type { ImageFilter, ImageOrder, ImageRecord, ImageScope, ImageStatus, PageKey } from '../types.js';
import { P } from './glance-image.js';
import { matchesStandard, standardFilterParams } from './standard-properties.js';

/**
 * Contract filters as Glance query parameters. What Glance cannot express exactly is pushed down as a
 * superset and finished by `residual` on each fetched page (never on a whole listing):
 * - status: FAILED imports stay `queued` in Glance (with imagegraph.failed_reason), and so do running
 *   ones (with imagegraph.import_started_at), so PENDING, CREATING and FAILED all ask for `queued`;
 * - createdBefore: Glance honours only one `created_at` parameter (see createdAtParam);
 * - scope: "public OR these organizations OR shared with them" is one query per stream (see `streams`),
 *   merged in order;
 * - deprecatedBy: Glance cannot ask for "no deprecated_at, or a later one", so it is residual only.
 */
const GLANCE_STATUSES: Record<ImageStatus, string[]> = {
  PENDING: ['queued'],
  CREATING: ['queued', 'saving', 'uploading', 'importing'],
  READY: ['active'],
  FAILED: ['queued', 'killed', 'deactivated'],
};

export type Params = [string, string][];

/** One Glance listing of a query: its parameters, and which of its images the scope keeps. */
export interface Stream {
  params: Params;
  keep(image: ImageRecord): boolean;
}

/**
 * One Glance listing per part of the scope, each over the region's project only (`owner`, with
 * `visibility=all` so community images are listed too), merged in order by the provider. The parts
 * are disjoint, so no image is listed twice: PUBLIC images come from the public and community
 * listings, an organization's from the listing of its property, and "everything" (a platform admin's
 * available images) from one listing of the whole project. What `ownership` says of each image decides
 * whether its stream keeps it.
 */
export function streams(scope: ImageScope, projectId: string): Stream[] {
  const own: Params = [['owner', projectId]];
  if (scope.includePublic && scope.organizationIds === 'all' && scope.includeUnassigned) {
    return [{ params: [...own, ['visibility', 'all']], keep: () => true }];
  }
  const result: Stream[] = [];
  if (scope.includePublic) {
    const isPublic = (image: ImageRecord) => image.visibility === 'PUBLIC';
    result.push({ params: [...own, ['visibility', 'public']], keep: isPublic });
    result.push({ params: [...own, ['visibility', 'community']], keep: isPublic });
  }
  if (scope.organizationIds === 'all') {
    result.push({
      params: [...own, ['visibility', 'all']],
      keep: (image) => image.organizationId !== null || (Boolean(scope.includeUnassigned) && image.visibility === 'ORGANIZATION'),
    });
  } else {
    for (const org of scope.organizationIds) {
      result.push({
        params: [...own, ['visibility', 'all'], [P.organization, org]],
        keep: (image) => image.organizationId === org,
      });
    }
    // Images shared with the caller's organizations: one listing per organization, each keeping an image
    // only where no earlier part lists it (its owner's listing, or an earlier organization's share).
    const owned = new Set(scope.organizationIds);
    const sharedWith = scope.sharedWith ?? [];
    for (const org of sharedWith) {
      result.push({
        params: [...own, ['visibility', 'all'], ['tag', `${P.sharedWithTag}${org}`]],
        // Only an organization's image can be shared (a tag an operator put on another is not a share).
        keep: (image) =>
          image.organizationId !== null &&
          !owned.has(image.organizationId) &&
          sharedWith.find((candidate) => image.sharedWith.includes(candidate)) === org,
      });
    }
  }
  return result;
}

/** The filter's conditions Glance can answer exactly, as query parameters; `residual` checks them all again. */
export function filterParams(filter: ImageFilter): Params {
  const params: Params = [];
  if (filter.statuses?.length) {
    params.push(['status', `in:${[...new Set(filter.statuses.flatMap((s) => GLANCE_STATUSES[s]))].join(',')}`]);
  }
  if (filter.names?.length) params.push(['name', `in:${filter.names.map((n) => `"${n.replace(/"/g, '')}"`).join(',')}`]);
  params.push(...standardFilterParams(filter));
  // VIRTUALIZED is also what a missing property means: only the others can be asked for.
  if (filter.virtualization && filter.virtualization !== 'VIRTUALIZED') params.push([P.virtualization, filter.virtualization]);
  if (filter.gpuVendor) params.push([P.gpuVendor, filter.gpuVendor]);
  for (const tag of filter.tags ?? []) params.push(['tag', `${tag.name}=${tag.value}`]);
  return params;
}

/**
 * The one `created_at` condition Glance honours: where a creation-ordered page resumes (the cursor's
 * second: Glance shows seconds but orders by microseconds, so a marker cannot be trusted within a
 * second), else createdAfter. Whatever it leaves out, `residual` checks.
 */
export function createdAtParam(filter: ImageFilter, order: ImageOrder, after?: PageKey): Params {
  if (order.field === 'CREATED_AT' && after) {
    const resumeAt = after.value;
    // Glance compares microseconds: the whole cursor second is [second, second + 1s).
    if (order.direction === 'DESC') return [['created_at', `lt:${new Date(Date.parse(resumeAt) + 1000).toISOString()}`]];
    const later = filter.createdAfter && filter.createdAfter.toISOString() >= resumeAt;
    return [['created_at', later ? `gt:${filter.createdAfter!.toISOString()}` : `gte:${resumeAt}`]];
  }
  return filter.createdAfter ? [['created_at', `gt:${filter.createdAfter.toISOString()}`]] : [];
}

/**
 * The exact filter, applied to each fetched page to finish what the pushed-down superset left. It
 * checks every condition on the record as read, so a listed image always matches its own fields.
 */
export function residual(filter: ImageFilter): (image: ImageRecord) => boolean {
  return (image) =>
    (!filter.statuses?.length || filter.statuses.includes(image.status)) &&
    matchesStandard(filter, image) &&
    (!filter.virtualization || image.virtualization === filter.virtualization) &&
    (!filter.gpuVendor || image.gpu?.vendor === filter.gpuVendor) &&
    (!filter.names?.length || filter.names.includes(image.name)) &&
    (!filter.createdAfter || image.createdAt > filter.createdAfter) &&
    (!filter.createdBefore || image.createdAt < filter.createdBefore) &&
    (!filter.deprecatedBy || !image.deprecation || image.deprecation.at > filter.deprecatedBy) &&
    (filter.tags ?? []).every((tag) => image.tags.some((t) => t.name === tag.name && t.value === tag.value));
}

export function sortParam(order: ImageOrder): string {
  const direction = order.direction === 'ASC' ? 'asc' : 'desc';
  return `${order.field === 'NAME' ? 'name' : 'created_at'}:${direction},id:${direction}`;
}

export function toQueryString(params: Params): string {
  return params.map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join('&');
}
