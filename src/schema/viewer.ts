import type { Principal } from '../auth/principal.js';
import { builder } from './builder.js';
import { Organization } from './organization.js';

export const Viewer = builder.objectRef<Principal>('Viewer');

Viewer.implement({
  description: 'The authenticated caller.',
  fields: (t) => ({
    subject: t.exposeString('subject', { description: "The caller's subject (user or client ID)." }),
    platformAdmin: t.exposeBoolean('platformAdmin', {
      description: 'Whether the caller administers the platform: sees every region and image, manages public images.',
    }),
    organizations: t.field({
      type: [Organization],
      description: 'Organizations the caller is a member of, with its role in each.',
      complexity: (_args, ctx) => ({ field: 1, multiplier: ctx.principal.organizations.length }),
      resolve: (principal) => principal.organizations.map(({ id }) => ({ id })),
    }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({ type: Viewer, description: 'The authenticated caller.', resolve: (_root, _args, ctx) => ctx.principal }),
);
