import type { ImageUse } from '../providers/types.js';
import { builder } from './builder.js';
import { Organization } from './organization.js';

export const ImageUseType = builder.objectRef<ImageUse>('ImageUse');

ImageUseType.implement({
  description: 'A consumer holding an image in use; the image cannot be deleted while any exists.',
  fields: (t) => ({
    kind: t.exposeString('kind', { description: 'What kind of thing uses the image, e.g. server, cluster.' }),
    consumerId: t.exposeString('consumerId', { description: "Its ID in the consumer's own system." }),
    organization: t.field({
      type: Organization,
      nullable: true,
      description: 'The organization that registered the use.',
      resolve: (use) => ({ id: use.organizationId }),
    }),
    createdAt: t.field({ type: 'DateTime', description: 'When the use was registered.', resolve: (use) => use.createdAt }),
  }),
});
