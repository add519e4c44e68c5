import { z } from 'zod';
import type { Architecture, GpuVendor, ImageOrder, ImageStatus, OsDistro, OsFamily, Virtualization } from '../providers/types.js';
import { OrganizationIdSchema } from './ids.js';
import { TagNameSchema, type TagInput, TagValueSchema } from './tags.js';

type Maybe<T> = T | null | undefined;

/** `ImageFilter` as GraphQL hands it over: every condition optional, absent and null alike. */
export interface ImageFilterInput {
  scope?: Maybe<'AVAILABLE' | 'OWNED' | 'SHARED'>;
  organizations?: Maybe<string[]>;
  status?: Maybe<ImageStatus[]>;
  names?: Maybe<string[]>;
  architecture?: Maybe<Architecture>;
  virtualization?: Maybe<Virtualization>;
  osFamily?: Maybe<OsFamily>;
  osDistro?: Maybe<OsDistro>;
  osVersion?: Maybe<string>;
  gpuVendor?: Maybe<GpuVendor>;
  tags?: Maybe<TagInput[]>;
  createdAfter?: Maybe<Date>;
  createdBefore?: Maybe<Date>;
  includeDeprecated?: Maybe<boolean>;
}

/** The arguments of `images`, `Region.images` and `Organization.images` (region aside). */
export interface ImageListArgs {
  filter?: Maybe<ImageFilterInput>;
  orderBy?: Maybe<ImageOrder>;
  first?: Maybe<number>;
  after?: Maybe<string>;
}

/** Bounds on the filter's lists and strings (checked field by field), so a filter never costs more than a page. */
export const ImageFilterFieldSchemas = {
  organizations: z.array(OrganizationIdSchema).max(100),
  names: z.array(z.string().max(255)).max(100),
  osVersion: z.string().max(64),
  tags: z.array(z.object({ name: TagNameSchema, value: TagValueSchema })).max(32),
};
