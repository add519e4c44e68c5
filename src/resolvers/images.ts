import { listingScope } from '../access/image-visibility.js';
import type { Context } from '../context.js';
import { InvalidInputError } from '../errors.js';
import type { ImageFilterInput, ImageListArgs } from '../inputs/image-filter.js';
import { DEFAULT_PAGE_SIZE } from '../inputs/pagination.js';
import { PageKeyNotFound } from '../providers/errors.js';
import type { RequestProvider } from '../provider-access/request-providers.js';
import {
  type ImageField,
  type ImageFilter,
  type ImageOrder,
  type ImagePage,
  type ImageQuery,
  type ImageRecord,
  sortValue,
} from '../providers/types.js';
import { RegionImage } from '../region-image.js';
import { decodeCursor, encodeCursor } from './support/cursor.js';
import type { ImageConnectionModel } from './support/models.js';
import { requireRegion } from './support/require-region.js';

const DEFAULT_ORDER: ImageOrder = { field: 'NAME', direction: 'ASC' };

/**
 * `images`, `Region.images` and `Organization.images`: one page of a region's images the caller may
 * see; with `owner`, only that organization's. Scope and filter go to the provider as one query;
 * only the signature rule for platform images, which the provider cannot check, is applied here.
 * `fields`: the record fields the selection reads (selectedImageFields), for the provider to read no more.
 */
export async function images(
  ctx: Context,
  region: string,
  args: ImageListArgs,
  { owner, fields }: { owner?: string; fields?: readonly ImageField[] } = {},
): Promise<ImageConnectionModel> {
  await requireRegion(ctx, region);
  const order = args.orderBy ?? DEFAULT_ORDER;
  const after = args.after ? decodeCursor(args.after, order) : undefined;
  const scope = listingScope(
    ctx.principal,
    owner
      ? { scope: 'OWNED', organizations: [owner] }
      : { scope: args.filter?.scope ?? 'AVAILABLE', organizations: args.filter?.organizations ?? undefined },
  );
  const filter = providerFilter(args.filter, ctx.now);
  const provider = ctx.provider(region);
  const first = args.first ?? DEFAULT_PAGE_SIZE;
  // Unverified platform images are hidden from this caller: pages are filled past them (see fillPage).
  const hiding = scope.includePublic && ctx.signatures.requiredIn(region) && !ctx.principal.platformAdmin;
  const page = await (
    hiding
      ? fillPage(
          provider,
          { scope, filter, order, first, after, fields },
          (record) => !ctx.signatures.hides(ctx.principal, region, record),
        )
      : provider.queryImages({ scope, filter, order, first, after, fields })
  ).catch(cursorGone);
  const edges = page.images.map((record) => new PageEdge(order, new RegionImage(region, record)));
  // A page the provider ended early goes on from where it stopped, past what it scanned and left out.
  const endCursor = page.resumeAfter ? encodeCursor(order, page.resumeAfter) : (edges.at(-1)?.cursor ?? null);
  return {
    edges,
    pageInfo: {
      hasNextPage: page.hasNextPage,
      // Forward pagination only: there is something before the page exactly when it starts after a cursor.
      hasPreviousPage: Boolean(after),
      startCursor: edges[0]?.cursor ?? null,
      endCursor,
    },
    // The provider cannot count what only the server can verify.
    totalCount: () => (hiding ? Promise.resolve(null) : provider.countImages(scope, filter)),
  };
}

/**
 * An image in a page. Its cursor is made when read: a page asked for by `nodes` needs only its end
 * cursor. (A class, not an object literal with a getter: that would make a closure and an accessor
 * per image.)
 */
class PageEdge {
  constructor(
    private readonly order: ImageOrder,
    readonly node: RegionImage,
  ) {}

  get cursor(): string {
    return encodeCursor(this.order, { value: sortValue(this.node.record, this.order.field), id: this.node.record.id });
  }
}

/** Provider pages read to fill one page past images the server hides; past this, a short page ends early. */
const MAX_FILL_ROUNDS = 10;

/**
 * A page of `first` images that `keep` accepts: provider pages are read on from the last image seen
 * until one more than `first` is found, so the page is full and hasNextPage exact whatever is hidden,
 * within MAX_FILL_ROUNDS provider pages (past them the page ends early and the cursor goes on).
 */
async function fillPage(
  provider: RequestProvider,
  query: ImageQuery,
  keep: (record: ImageRecord) => boolean,
): Promise<ImagePage> {
  const kept: ImageRecord[] = [];
  let after = query.after;
  for (let round = 0; round < MAX_FILL_ROUNDS; round++) {
    const page = await provider.queryImages({ ...query, first: query.first + 1 - kept.length, after });
    kept.push(...page.images.filter(keep));
    if (kept.length > query.first) return { images: kept.slice(0, query.first), hasNextPage: true };
    const last = page.images.at(-1);
    const next = page.resumeAfter ?? (last ? { value: sortValue(last, query.order.field), id: last.id } : undefined);
    if (!page.hasNextPage || !next) return { images: kept, hasNextPage: false };
    after = next;
  }
  // Mostly hidden images: end this page here, and go on next time from the last image scanned.
  return { images: kept, hasNextPage: true, resumeAfter: after };
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
function providerFilter(filter: ImageFilterInput | null | undefined, now: Date): ImageFilter {
  // Deprecation is compared with the time of the query: one set for later takes effect by itself.
  const deprecatedBy = filter?.includeDeprecated ? undefined : now;
  if (!filter) return { deprecatedBy };
  const result: ImageFilter = {
    deprecatedBy,
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
