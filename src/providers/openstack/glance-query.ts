import type { ImageFilter, ImageOrder, ImageRecord, ImageScope, ImageStatus, PageKey } from '../types.js';
import { P } from './glance-image.js';

/**
 * Contract filters as Glance query parameters. What Glance cannot express exactly is pushed down as a
 * superset and finished by `residual` on each fetched page (never on a whole listing):
 * - status: FAILED imports stay `queued` in Glance (with imagegraph.failed_reason), so PENDING and
 *   FAILED both ask for `queued`;
 * - createdBefore: Glance honours only one `created_at` parameter (see createdAtParam);
 * - scope: "public OR these organizations" is one query per stream (see `streams`), merged in order.
 */
const GLANCE_STATUSES: Record<ImageStatus, string[]> = {
  PENDING: ['queued'],
  CREATING: ['saving', 'uploading', 'importing'],
  READY: ['active'],
  FAILED: ['queued', 'killed', 'deactivated'],
};

export type Params = [string, string][];

/**
 * One Glance listing per part of the scope: public images, and each organization's (or all of them).
 * Only images of imagegraph's project are shown, public ones included: another project's public
 * images were not published through imagegraph, and regions on one Glance stay apart.
 */
export function streams(scope: ImageScope, projectId: string): Params[] {
  const result: Params[] = [];
  if (scope.includePublic) {
    result.push([
      ['visibility', 'public'],
      ['owner', projectId],
    ]);
  }
  const own: Params = [
    ['visibility', 'private'],
    ['owner', projectId],
  ];
  if (scope.organizationIds === 'all') result.push(own);
  else for (const org of scope.organizationIds) result.push([...own, [P.organization, org]]);
  return result;
}

export function filterParams(filter: ImageFilter): Params {
  const params: Params = [];
  if (filter.statuses?.length) {
    params.push(['status', `in:${[...new Set(filter.statuses.flatMap((s) => GLANCE_STATUSES[s]))].join(',')}`]);
  }
  if (filter.names?.length) params.push(['name', `in:${filter.names.map((n) => `"${n.replace(/"/g, '')}"`).join(',')}`]);
  const properties: [string, string | undefined][] = [
    [P.architecture, filter.architecture],
    [P.virtualization, filter.virtualization],
    [P.osFamily, filter.osFamily],
    [P.osDistro, filter.osDistro],
    [P.osVersion, filter.osVersion],
    [P.gpuVendor, filter.gpuVendor],
  ];
  for (const [key, value] of properties) if (value !== undefined) params.push([key, value]);
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

/** The exact filter, applied to each fetched page to finish what the pushed-down superset left. */
export function residual(filter: ImageFilter): (image: ImageRecord) => boolean {
  return (image) =>
    (!filter.statuses?.length || filter.statuses.includes(image.status)) &&
    (!filter.names?.length || filter.names.includes(image.name)) &&
    (!filter.createdAfter || image.createdAt > filter.createdAfter) &&
    (!filter.createdBefore || image.createdAt < filter.createdBefore) &&
    (filter.tags ?? []).every((tag) => image.tags.some((t) => t.name === tag.name && t.value === tag.value));
}

export function sortParam(order: ImageOrder): string {
  const direction = order.direction === 'ASC' ? 'asc' : 'desc';
  return `${order.field === 'NAME' ? 'name' : 'created_at'}:${direction},id:${direction}`;
}

export function toQueryString(params: Params): string {
  return params.map(([key, value]) => `${encodeURIComponent(key)}=${encodeURIComponent(value)}`).join('&');
}
