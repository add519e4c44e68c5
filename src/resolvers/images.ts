import { listingScope } from '../access/image-visibility.js';
import type { Context } from '../context.js';
import { InvalidInputError } from '../errors.js';
import type { ImageFilterInput, ImageListArgs } from '../inputs/image-filter.js';
import { DEFAULT_PAGE_SIZE } from '../inputs/pagination.js';
import { PageKeyNotFound } from '../providers/errors.js';
import { type ImageFilter, type ImageOrder, sortValue } from '../providers/types.js';
import { decodeCursor, encodeCursor } from './support/cursor.js';
import type { ImageConnectionModel } from './support/models.js';
import { requireRegion } from './support/require-region.js';

const DEFAULT_ORDER: ImageOrder = { field: 'NAME', direction: 'ASC' };

/**
 * `images`, `Region.images` and `Organization.images`: one page of a region's images the caller may
 * see; with `owner`, only that organization's. Scope and filter go to the provider as one query;
 * nothing is filtered here.
 */
export async function images(ctx: Context, region: string, args: ImageListArgs, owner?: string): Promise<ImageConnectionModel> {
  await requireRegion(ctx, region);
  const order = args.orderBy ?? DEFAULT_ORDER;
  const after = args.after ? decodeCursor(args.after, order) : undefined;
  const scope = listingScope(
    ctx.principal,
    owner
      ? { scope: 'OWNED', organizations: [owner] }
      : { scope: args.filter?.scope ?? 'AVAILABLE', organizations: args.filter?.organizations ?? undefined },
  );
  const filter = providerFilter(args.filter);
  const provider = ctx.provider(region);
  const page = await provider
    .queryImages({ scope, filter, order, first: args.first ?? DEFAULT_PAGE_SIZE, after })
    .catch(cursorGone);
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
    totalCount: () => provider.countImages(scope, filter),
  };
}

/** INVALID_INPUT on `after` when the provider no longer has the image the cursor points at. */
function cursorGone(error: unknown): never {
  if (error instanceof PageKeyNotFound) {
    throw new InvalidInputError([
      { path: ['after'], message: 'the image this cursor points at was deleted; start from the first page' },
    ]);
  }
  throw error;
}

/** Drops absent conditions so that equal filters compare (and de-duplicate) equal. */
function providerFilter(filter: ImageFilterInput | null | undefined): ImageFilter {
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
