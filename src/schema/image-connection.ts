import type { ArgBuilder } from '@pothos/core';
import { CursorSchema, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, PageSizeSchema } from '../inputs/pagination.js';
import type { ImageConnectionModel, PageInfoModel } from '../resolvers/support/models.js';
import { builder, type Types } from './builder.js';
import { Image } from './image.js';
import { ImageFilter, ImageOrder } from './inputs.js';

/** What a page of images costs: its selection once per image it may hold. */
export const pageComplexity = (args: { first?: number | null }) => ({ field: 1, multiplier: args.first ?? DEFAULT_PAGE_SIZE });

/** The arguments every image listing takes. */
export function imageListArgs(arg: ArgBuilder<Types>) {
  return {
    filter: arg({ type: ImageFilter, description: 'Conditions the images must meet.' }),
    orderBy: arg({ type: ImageOrder, description: 'Sort order; default NAME ASC. Ties are broken by ID.' }),
    first: arg.int({
      defaultValue: DEFAULT_PAGE_SIZE,
      description: `Page size, 0-${MAX_PAGE_SIZE} (default ${DEFAULT_PAGE_SIZE}); more is an INVALID_INPUT error.`,
      validate: PageSizeSchema,
    }),
    after: arg.string({
      description: 'Return images after this cursor (an endCursor of the same orderBy).',
      validate: CursorSchema,
    }),
  };
}

export const PageInfo = builder.objectRef<PageInfoModel>('PageInfo');

PageInfo.implement({
  description: 'Where a page sits in the whole list (Relay cursor connections).',
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage', { description: 'Whether more images follow this page.' }),
    hasPreviousPage: t.exposeBoolean('hasPreviousPage', { description: 'Whether the page started after a cursor.' }),
    startCursor: t.exposeString('startCursor', {
      nullable: true,
      description: 'Cursor of the first image; null for an empty page.',
    }),
    endCursor: t.exposeString('endCursor', {
      nullable: true,
      description: 'Cursor of the last image: pass it as `after` for the next page.',
    }),
  }),
});

export const ImageEdge = builder.objectRef<ImageConnectionModel['edges'][number]>('ImageEdge');

ImageEdge.implement({
  description: 'An image in a page, with its cursor.',
  fields: (t) => ({
    cursor: t.exposeString('cursor', { description: 'Opaque position of this image in the list.' }),
    node: t.field({ type: Image, description: 'The image.', resolve: (edge) => edge.node }),
  }),
});

export const ImageConnection = builder.objectRef<ImageConnectionModel>('ImageConnection');

ImageConnection.implement({
  description: 'A page of images.',
  fields: (t) => ({
    // The page's own field already multiplies by its size.
    edges: t.field({
      type: [ImageEdge],
      complexity: { field: 1, multiplier: 1 },
      description: 'The images with their cursors.',
      resolve: (c) => c.edges,
    }),
    nodes: t.field({
      type: [Image],
      complexity: { field: 1, multiplier: 1 },
      description: 'The images, without cursors.',
      resolve: (c) => c.edges.map((e) => e.node),
    }),
    pageInfo: t.field({ type: PageInfo, description: 'Pagination state.', resolve: (c) => c.pageInfo }),
    totalCount: t.int({
      nullable: true,
      description: 'How many images match in all pages; null where the provider cannot count cheaply.',
      resolve: (c) => c.totalCount(),
    }),
  }),
});
