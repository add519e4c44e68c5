import { imageChanges } from '../resolvers/image-changes.js';
import type { ImageModel } from '../resolvers/models.js';
import { builder } from './builder.js';
import { Image } from './image.js';
import { ImageIdSchema } from './inputs.js';

builder.subscriptionType({
  description: 'Live updates, over server-sent events (POST /graphql with Accept: text/event-stream).',
});

builder.subscriptionField('imageChanged', (t) =>
  t.field({
    type: Image,
    description: 'Emits the image now and on every change of status, size or usage; completes after READY, FAILED or deletion.',
    args: { id: t.arg.id({ required: true, description: "The image's global ID.", validate: ImageIdSchema }) },
    subscribe: (_root, { id }, ctx) => imageChanges(ctx, id),
    resolve: (image: ImageModel) => image,
  }),
);
