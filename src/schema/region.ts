import type { RegionConfig } from '../config.js';
import { RegionIdArgSchema } from '../inputs/ids.js';
import { images } from '../resolvers/images.js';
import { selectedImageFields } from '../resolvers/support/selected-image-fields.js';
import { regions } from '../resolvers/regions.js';
import { builder } from './builder.js';
import { ProviderKindEnum } from './enums.js';
import { ImageConnection, imageListArgs, pageComplexity } from './image-connection.js';

export const Region = builder.objectRef<RegionConfig>('Region');

Region.implement({
  description: 'A region of the cloud, with one image provider.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Region slug, e.g. eu-west-1.' }),
    name: t.exposeString('name', { description: 'Human-readable name.' }),
    description: t.exposeString('description', { nullable: true, description: 'What the region is for.' }),
    provider: t.field({
      type: ProviderKindEnum,
      description: 'The kind of image provider behind the region.',
      resolve: (region) => (region.provider.type === 'local' ? 'LOCAL' : 'OPENSTACK'),
    }),
    images: t.field({
      type: ImageConnection,
      description: 'Images in this region visible to the caller.',
      args: imageListArgs(t.arg),
      complexity: pageComplexity,
      resolve: (region, args, ctx, info) => images(ctx, region.id, args, { fields: selectedImageFields(info) }),
    }),
  }),
});

builder.queryFields((t) => ({
  regions: t.field({
    type: [Region],
    description: 'Regions the caller may access.',
    complexity: (_args, ctx) => ({ field: 1, multiplier: ctx.configuredRegions.length }),
    resolve: (_root, _args, ctx) => regions(ctx),
  }),
  region: t.field({
    type: Region,
    nullable: true,
    description: 'Null when the region does not exist or the caller may not see it.',
    args: { id: t.arg.id({ required: true, description: 'Region slug.', validate: RegionIdArgSchema }) },
    resolve: (_root, { id }, ctx) => ctx.regionAccess.load(id),
  }),
  images: t.field({
    type: ImageConnection,
    description: 'Images in one region visible to the caller. Raises REGION_NOT_FOUND for a region the caller may not see.',
    args: {
      region: t.arg.id({ required: true, description: 'Region slug.', validate: RegionIdArgSchema }),
      ...imageListArgs(t.arg),
    },
    complexity: pageComplexity,
    resolve: (_root, { region, ...args }, ctx, info) => images(ctx, region, args, { fields: selectedImageFields(info) }),
  }),
}));
