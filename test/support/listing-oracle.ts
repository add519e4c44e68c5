import type { ImageRecord } from '../../src/providers/types.js';
import type { TestCaller } from './harness.js';

/**
 * An independent, in-memory statement of who sees what and in which order, to check the SQL
 * push-down against. Deliberately written without the server's own helpers.
 */
export interface OracleFilter {
  scope?: 'AVAILABLE' | 'OWNED';
  organizations?: string[];
  status?: string[];
  names?: string[];
  architecture?: string;
  virtualization?: string;
  osFamily?: string;
  osDistro?: string;
  osVersion?: string;
  gpuVendor?: string;
  tags?: { name: string; value: string }[];
  createdAfter?: string;
  createdBefore?: string;
}

export interface OracleOrder {
  field: 'NAME' | 'CREATED_AT';
  direction: 'ASC' | 'DESC';
}

export function expectedListing(
  images: ImageRecord[],
  caller: TestCaller,
  filter: OracleFilter,
  order: OracleOrder,
): ImageRecord[] {
  const member = new Set((caller.organizations ?? []).map((o) => o.id));
  const readable = (org: string) => caller.platformAdmin === true || member.has(org);
  const scopeOrgs = filter.organizations?.filter(readable);
  const inScope = (image: ImageRecord) => {
    if (image.organizationId === null) return (filter.scope ?? 'AVAILABLE') === 'AVAILABLE';
    if (scopeOrgs) return scopeOrgs.includes(image.organizationId);
    return readable(image.organizationId);
  };
  const matches = (image: ImageRecord) =>
    (!filter.status?.length || filter.status.includes(image.status)) &&
    (!filter.names?.length || filter.names.includes(image.name)) &&
    (!filter.architecture || image.architecture === filter.architecture) &&
    (!filter.virtualization || image.virtualization === filter.virtualization) &&
    (!filter.osFamily || image.os.family === filter.osFamily) &&
    (!filter.osDistro || image.os.distro === filter.osDistro) &&
    (filter.osVersion === undefined || image.os.version === filter.osVersion) &&
    (!filter.gpuVendor || image.gpu?.vendor === filter.gpuVendor) &&
    (filter.tags ?? []).every((t) => image.tags.some((it) => it.name === t.name && it.value === t.value)) &&
    (!filter.createdAfter || image.createdAt.getTime() > Date.parse(filter.createdAfter)) &&
    (!filter.createdBefore || image.createdAt.getTime() < Date.parse(filter.createdBefore));
  const key = (image: ImageRecord) => (order.field === 'NAME' ? image.name : image.createdAt.toISOString());
  const sign = order.direction === 'ASC' ? 1 : -1;
  const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return images
    .filter((image) => inScope(image) && matches(image))
    .sort((a, b) => sign * (compare(key(a), key(b)) || compare(a.id, b.id)));
}
