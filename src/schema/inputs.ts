import { z } from 'zod';
import { MAX_PAGE_SIZE } from '../resolvers/pagination.js';
import { builder } from './builder.js';
import {
  ArchitectureEnum,
  GpuVendorEnum,
  ImageOrderFieldEnum,
  ImageScopeEnum,
  ImageStatusEnum,
  OrderDirectionEnum,
  OsDistroEnum,
  OsFamilyEnum,
  VirtualizationEnum,
} from './enums.js';

export const TagNameSchema = z.string().min(1).max(63);

/** An image's global ID as clients pass it back: bounded, so a refusal never has to quote a megabyte. */
export const ImageIdSchema = z.string().max(256, 'is not an image ID this API issued');
/** A region ID as given: region slugs are at most 63 characters. */
export const RegionIdArgSchema = z.string().max(63, 'is not a region ID (at most 63 characters)');
export const TagValueSchema = z.string().max(255);

export const TagInput = builder.inputType('TagInput', {
  description: 'A user tag: a name and a value.',
  fields: (t) => ({
    // Validated by the schema of the input that holds tags, so that every issue is reported together.
    name: t.string({ required: true, description: 'Tag name, 1-63 characters.' }),
    value: t.string({ required: true, description: 'Tag value, at most 255 characters.' }),
  }),
});

export const ImageFilter = builder.inputType('ImageFilter', {
  description: 'Conditions every listed image must meet; all given conditions apply together.',
  fields: (t) => ({
    scope: t.field({
      type: ImageScopeEnum,
      description:
        "AVAILABLE (default): public images plus the caller's organizations' images. OWNED: only the organizations' own.",
    }),
    organizations: t.idList({
      description: 'Restrict to these organizations (each must be one the caller may read; others are ignored).',
      validate: z.array(z.string().max(255)).max(100),
    }),
    status: t.field({ type: [ImageStatusEnum], description: 'Any of these statuses (default: all).' }),
    names: t.stringList({ description: 'Exact names.', validate: z.array(z.string().max(255)).max(100) }),
    architecture: t.field({ type: ArchitectureEnum, description: 'CPU architecture.' }),
    virtualization: t.field({ type: VirtualizationEnum, description: 'Where the image may run.' }),
    osFamily: t.field({ type: OsFamilyEnum, description: 'Operating system family.' }),
    osDistro: t.field({ type: OsDistroEnum, description: 'Operating system distribution.' }),
    osVersion: t.string({ description: 'Operating system version, exactly.', validate: z.string().max(64) }),
    gpuVendor: t.field({ type: GpuVendorEnum, description: 'Vendor of the GPU the image has drivers for.' }),
    tags: t.field({
      type: [TagInput],
      description: 'Every listed tag must match.',
      validate: z.array(z.object({ name: TagNameSchema, value: TagValueSchema })).max(32),
    }),
    createdAfter: t.field({ type: 'DateTime', description: 'Created strictly after this time.' }),
    createdBefore: t.field({ type: 'DateTime', description: 'Created strictly before this time.' }),
  }),
});

export const ImageOrder = builder.inputType('ImageOrder', {
  description: 'How to sort images. Ties are always broken by ID, so the order is total and stable.',
  fields: (t) => ({
    field: t.field({ type: ImageOrderFieldEnum, required: true, description: 'What to sort by.' }),
    direction: t.field({ type: OrderDirectionEnum, required: true, description: 'Ascending or descending.' }),
  }),
});

export const PageSizeSchema = z.number().int().min(0).max(MAX_PAGE_SIZE, `first may be at most ${MAX_PAGE_SIZE}`);
export const CursorSchema = z.string().max(1024);
