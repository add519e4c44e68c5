import type { ImageFilter, ImageOrder, ImageQuery, ImageScope } from '../types.js';

/** A SQL fragment with its positional parameters. */
export interface SqlPart {
  sql: string;
  params: unknown[];
}

const ORDER_COLUMN = { NAME: 'name', CREATED_AT: 'created_at' } as const;

/**
 * WHERE clause for scope and filter. Every condition is a column comparison the indexes in
 * `database.ts` can serve; tags match through EXISTS on `image_tags` rather than joining, so one
 * image never appears twice in a page.
 */
export function whereClause(scope: ImageScope, filter: ImageFilter): SqlPart {
  const conditions: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, ...values: unknown[]) => {
    conditions.push(sql);
    params.push(...values);
  };
  const inList = (column: string, values: readonly unknown[]) =>
    add(`${column} IN (${values.map(() => '?').join(', ')})`, ...values);

  const orgs = scope.organizationIds;
  const shared = scope.sharedWith?.length
    ? `id IN (SELECT image_id FROM image_shares WHERE organization_id IN (${scope.sharedWith.map(() => '?').join(', ')}))`
    : null;
  if (orgs === 'all') {
    if (!scope.includePublic) add(`visibility = 'ORGANIZATION'`);
  } else {
    const owned = orgs.length ? `organization_id IN (${orgs.map(() => '?').join(', ')})` : null;
    const parts = [scope.includePublic ? `visibility = 'PUBLIC'` : null, owned, shared].filter(Boolean);
    add(parts.length ? `(${parts.join(' OR ')})` : '0', ...orgs, ...(shared ? scope.sharedWith! : []));
  }
  if (filter.statuses?.length) inList('status', filter.statuses);
  if (filter.names?.length) inList('name', filter.names);
  if (filter.architecture) add('architecture = ?', filter.architecture);
  if (filter.virtualization) add('virtualization = ?', filter.virtualization);
  if (filter.osFamily) add('os_family = ?', filter.osFamily);
  if (filter.osDistro) add('os_distro = ?', filter.osDistro);
  if (filter.osVersion !== undefined) add('os_version = ?', filter.osVersion);
  if (filter.gpuVendor) add('gpu_vendor = ?', filter.gpuVendor);
  if (filter.createdAfter) add('created_at > ?', filter.createdAfter.toISOString());
  if (filter.createdBefore) add('created_at < ?', filter.createdBefore.toISOString());
  // Compared at query time, so a deprecation set for later takes effect by itself.
  if (filter.deprecatedBy) add('(deprecated_at IS NULL OR deprecated_at > ?)', filter.deprecatedBy.toISOString());
  for (const tag of filter.tags ?? []) {
    add('EXISTS (SELECT 1 FROM image_tags t WHERE t.image_id = images.id AND t.name = ? AND t.value = ?)', tag.name, tag.value);
  }
  return { sql: conditions.length ? `WHERE ${conditions.join(' AND ')}` : '', params };
}

/** Keyset condition and ORDER BY: a row-value comparison, so a deep page costs what the first does. */
export function keysetAndOrder(order: ImageOrder, after: ImageQuery['after']): { keyset: SqlPart; orderBy: string } {
  const column = ORDER_COLUMN[order.field];
  const direction = order.direction === 'ASC' ? 'ASC' : 'DESC';
  const keyset: SqlPart = after
    ? { sql: `(${column}, id) ${direction === 'ASC' ? '>' : '<'} (?, ?)`, params: [after.value, after.id] }
    : { sql: '', params: [] };
  return { keyset, orderBy: `ORDER BY ${column} ${direction}, id ${direction}` };
}
