import { roleIn } from '../auth/principal.js';
import { RegionIdArgSchema } from '../inputs/ids.js';
import { images } from '../resolvers/images.js';
import { selectedImageFields } from '../resolvers/support/selected-image-fields.js';
import type { OrganizationModel } from '../resolvers/support/models.js';
import { builder } from './builder.js';
import { OrganizationRoleEnum } from './enums.js';
import { ImageConnection, imageListArgs, pageComplexity } from './image-connection.js';

export const Organization = builder.objectRef<OrganizationModel>('Organization');

Organization.implement({
  description: 'A tenant of the cloud; owns images.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Organization ID.' }),
    role: t.field({
      type: OrganizationRoleEnum,
      nullable: true,
      description: "The caller's role in it; null when the caller is not a member (platform admins).",
      resolve: (org, _args, ctx) => roleIn(ctx.principal, org.id),
    }),
    images: t.field({
      type: ImageConnection,
      description:
        'Images this organization owns in one region (empty unless the caller may read the organization). ' +
        "The filter's scope and organizations are ignored here.",
      args: {
        region: t.arg.id({ required: true, description: 'Region slug.', validate: RegionIdArgSchema }),
        ...imageListArgs(t.arg),
      },
      complexity: pageComplexity,
      resolve: (org, { region, ...args }, ctx, info) =>
        images(ctx, region, args, { owner: org.id, fields: selectedImageFields(info) }),
    }),
  }),
});
