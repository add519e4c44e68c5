import { z } from 'zod';
import { ImageIdSchema, OrganizationIdSchema } from './ids.js';

/** `RegisterImageUseInput` and `ReleaseImageUseInput` as GraphQL hands them over. */
export interface ImageUseInput {
  image: string;
  kind: string;
  consumerId: string;
  organization?: string | null;
}

/** One schema for the whole input, so that every issue is reported together. */
export const ImageUseInputSchema = z.looseObject({
  image: ImageIdSchema,
  organization: OrganizationIdSchema.nullish(),
  kind: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be 1-63 lowercase letters, digits, ".", "-" or "_"'),
  consumerId: z.string().min(1).max(255),
});
