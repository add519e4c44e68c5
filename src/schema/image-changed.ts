import { ImageIdSchema } from '../inputs/ids.js';
import type { RegionImage } from '../region-image.js';
import { imageChanged } from '../resolvers/image-changed.js';
import { builder } from './builder.js';
import { Image } from './image.js';

builder.subscriptionType({
  description: 'Live updates, over server-sent events (POST /graphql with Accept: text/event-stream).',
});

builder.subscriptionField('imageChanged', (t) =>
  t.field({
    type: Image,
    description:
      'Emits the image now and on every change of status, size or usage; completes after READY or FAILED. If the image is deleted, the last event is an IMAGE_NOT_FOUND error saying so, then the stream completes.',
    args: { id: t.arg.id({ required: true, description: "The image's global ID.", validate: ImageIdSchema }) },
    subscribe: (_root, { id }, ctx) => imageChanged(ctx, id),
    resolve: (image: RegionImage) => image,
  }),
);
