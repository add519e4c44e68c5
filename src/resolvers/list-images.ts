import { listingScope } from '../access/image-visibility.js';
import type { Context } from '../context.js';
import { type ImageFilter, type ImageOrder, type ImageScope, sortValue, type ImageStatus, type Tag } from '../providers/types.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, encodeCursor } from './pagination.js';
import type { ImageConnectionModel } from './models.js';
import { requireRegion } from './require-region.js';

type Maybe<T> = T | null | undefined;

/** The arguments of `images`, `Region.images` and `Organization.images`, as GraphQL hands them over. */
export interface ListImagesArgs {
  filter?: Maybe<{
    scope?: Maybe<'AVAILABLE' | 'OWNED'>;
    organizations?: Maybe<string[]>;
    status?: Maybe<ImageStatus[]>;
    names?: Maybe<string[]>;
    architecture?: Maybe<ImageFilter['architecture']>;
    virtualization?: Maybe<ImageFilter['virtualization']>;
    osFamily?: Maybe<ImageFilter['osFamily']>;
    osDistro?: Maybe<ImageFilter['osDistro']>;
    osVersion?: Maybe<string>;
    gpuVendor?: Maybe<ImageFilter['gpuVendor']>;
    tags?: Maybe<Tag[]>;
    createdAfter?: Maybe<Date>;
    createdBefore?: Maybe<Date>;
  }>;
  orderBy?: Maybe<ImageOrder>;
  first?: Maybe<number>;
  after?: Maybe<string>;
}

const DEFAULT_ORDER: ImageOrder = { field: 'NAME', direction: 'ASC' };

/**
 * One page of a region's images the caller may see. With `owner`, only that organization's images
 * (Organization.images). Scope and filter go to the provider as one query; nothing is filtered here.
 */
export async function listImages(
  ctx: Context,
  region: string,
  args: ListImagesArgs,
  owner?: string,
): Promise<ImageConnectionModel> {
  await requireRegion(ctx, region);
  const order = args.orderBy ?? DEFAULT_ORDER;
  const after = args.after ? decodeCursor(args.after, order) : undefined;
  const scope: ImageScope = listingScope(
    ctx.principal,
    owner
      ? { scope: 'OWNED', organizations: [owner] }
      : { scope: args.filter?.scope ?? 'AVAILABLE', organizations: args.filter?.organizations ?? undefined },
  );
  const filter = providerFilter(args.filter);
  const page = await ctx.providerCalls.queryImages(region, {
    scope,
    filter,
    order,
    first: args.first ?? DEFAULT_PAGE_SIZE,
    after,
  });
  const edges = page.images.map((record) => ({
    cursor: encodeCursor(order, { value: sortValue(record, order.field), id: record.id }),
    node: { region, record },
  }));
  return {
    edges,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      // Forward pagination only: there is something before the page exactly when it starts after a cursor.
      hasPreviousPage: Boolean(after),
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
    totalCount: () => ctx.providerCalls.countImages(region, scope, filter),
  };
}

/** Drops absent conditions so that equal filters compare (and de-duplicate) equal. */
function providerFilter(filter: ListImagesArgs['filter']): ImageFilter {
  if (!filter) return {};
  const result: ImageFilter = {
    statuses: filter.status ?? undefined,
    names: filter.names ?? undefined,
    architecture: filter.architecture ?? undefined,
    virtualization: filter.virtualization ?? undefined,
    osFamily: filter.osFamily ?? undefined,
    osDistro: filter.osDistro ?? undefined,
    osVersion: filter.osVersion ?? undefined,
    gpuVendor: filter.gpuVendor ?? undefined,
    tags: filter.tags ?? undefined,
    createdAfter: filter.createdAfter ?? undefined,
    createdBefore: filter.createdBefore ?? undefined,
  };
  return Object.fromEntries(Object.entries(result).filter(([, value]) => value !== undefined)) as ImageFilter;
}
