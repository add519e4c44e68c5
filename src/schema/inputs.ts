import { type ImageFilterInput, ImageFilterFieldSchemas } from '../inputs/image-filter.js';
import type { TagInput as TagInputShape } from '../inputs/tags.js';
import type { ImageOrder as ImageOrderShape } from '../providers/types.js';
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

export const TagInput = builder.inputRef<TagInputShape>('TagInput').implement({
  description: 'A user tag: a name and a value.',
  fields: (t) => ({
    // Validated by the schema of the input that holds tags, so that every issue is reported together.
    name: t.string({ required: true, description: 'Tag name, 1-63 characters.' }),
    value: t.string({ required: true, description: 'Tag value, at most 255 characters.' }),
  }),
});

export const ImageFilter = builder.inputRef<ImageFilterInput>('ImageFilter').implement({
  description: 'Conditions every listed image must meet; all given conditions apply together.',
  fields: (t) => ({
    scope: t.field({
      type: ImageScopeEnum,
      description:
        "AVAILABLE (default): public images, the caller's organizations' images and those shared with them. OWNED: only the organizations' own. SHARED: only those shared with them.",
    }),
    organizations: t.idList({
      description: 'Restrict to these organizations (each must be one the caller may read; others are ignored).',
      validate: ImageFilterFieldSchemas.organizations,
    }),
    status: t.field({ type: [ImageStatusEnum], description: 'Any of these statuses (default: all).' }),
    names: t.stringList({ description: 'Exact names.', validate: ImageFilterFieldSchemas.names }),
    architecture: t.field({ type: ArchitectureEnum, description: 'CPU architecture.' }),
    virtualization: t.field({ type: VirtualizationEnum, description: 'Where the image may run.' }),
    osFamily: t.field({ type: OsFamilyEnum, description: 'Operating system family.' }),
    osDistro: t.field({ type: OsDistroEnum, description: 'Operating system distribution.' }),
    osVersion: t.string({ description: 'Operating system version, exactly.', validate: ImageFilterFieldSchemas.osVersion }),
    gpuVendor: t.field({ type: GpuVendorEnum, description: 'Vendor of the GPU the image has drivers for.' }),
    tags: t.field({
      type: [TagInput],
      description: 'Every listed tag must match.',
      validate: ImageFilterFieldSchemas.tags,
    }),
    createdAfter: t.field({ type: 'DateTime', description: 'Created strictly after this time.' }),
    createdBefore: t.field({ type: 'DateTime', description: 'Created strictly before this time.' }),
    includeDeprecated: t.boolean({
      description: 'Deprecated images (deprecation time passed) are left out unless this is true.',
    }),
  }),
});

export const ImageOrder = builder.inputRef<ImageOrderShape>('ImageOrder').implement({
  description: 'How to sort images. Ties are always broken by ID, so the order is total and stable.',
  fields: (t) => ({
    field: t.field({ type: ImageOrderFieldEnum, required: true, description: 'What to sort by.' }),
    direction: t.field({ type: OrderDirectionEnum, required: true, description: 'Ascending or descending.' }),
  }),
});
