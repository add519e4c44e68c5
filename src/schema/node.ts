import { ImageIdSchema } from '../inputs/ids.js';
import type { RegionImage } from '../region-image.js';
import { node } from '../resolvers/node.js';
import { builder } from './builder.js';

/** Only images are nodes today; a second node type would make this a union of models with a kind tag. */
export const NodeInterface = builder.interfaceRef<RegionImage>('Node').implement({
  description: 'An object with a globally unique, opaque ID that `node(id)` can fetch again.',
  resolveType: () => 'Image',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Opaque global ID; encodes region and provider image ID.' }),
  }),
});

builder.queryField('node', (t) =>
  t.field({
    type: NodeInterface,
    nullable: true,
    description: 'The object with this global ID; null when it does not exist or the caller may not see it.',
    args: { id: t.arg.id({ required: true, description: 'A global ID, e.g. Image.id.', validate: ImageIdSchema }) },
    resolve: (_root, { id }, ctx) => node(ctx, id),
  }),
);
