import { z } from 'zod';
import { isReservedName } from '../providers/reserved-properties.js';

/** A user tag as clients send it. */
export interface TagInput {
  name: string;
  value: string;
}

export const TagNameSchema = z.string().min(1).max(63);
export const TagValueSchema = z.string().max(255);

/** Tags an image is created with: at most 32, unique names, none under the reserved prefix. */
export const ImageTagsSchema = z
  .array(
    z.object({
      name: TagNameSchema.refine((name) => !isReservedName(name), 'is a reserved tag name'),
      value: TagValueSchema,
    }),
  )
  .max(32)
  .refine((tags) => new Set(tags.map((tag) => tag.name)).size === tags.length, 'tag names must be unique');
