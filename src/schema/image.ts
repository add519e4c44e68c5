import { RegionImage } from '../region-image.js';
import { visibleUses } from '../resolvers/support/visible-uses.js';
import { builder } from './builder.js';
import { importProgress } from '../resolvers/import-progress.js';
import { deprecation, sharedWith, signature } from '../resolvers/image-lifecycle-fields.js';
import {
  ArchitectureEnum,
  DetectedFormatEnum,
  DiskFormatEnum,
  ImageStatusEnum,
  ImageVisibilityEnum,
  VirtualizationEnum,
} from './enums.js';
import {
  Checksum,
  GpuType,
  ImageSourceType,
  OperatingSystemType,
  PropertyType,
  SoftwareVersionType,
  TagType,
} from './image-metadata.js';
import { ImageDeprecationType, ImageSignatureType } from './image-lifecycle.js';
import { ImageUseType } from './image-use.js';
import { ImportProgressType } from './import-progress.js';
import { NodeInterface } from './node.js';
import { Organization } from './organization.js';
import { Region } from './region.js';

const GIB = 2 ** 30;

export const Image = builder.objectRef<RegionImage>('Image');

Image.implement({
  description: "A virtual-machine disk image stored at a region's image provider.",
  interfaces: [NodeInterface],
  isTypeOf: (value) => value instanceof RegionImage,
  fields: (t) => ({
    providerId: t.string({ description: "The image's ID at its provider (e.g. the Glance UUID).", resolve: (i) => i.record.id }),
    region: t.field({
      type: Region,
      description: 'The region the image lives in.',
      // Already decided for this request (the image was reached through it), so this is a cache hit.
      resolve: async (i, _args, ctx) => (await ctx.regionAccess.load(i.region))!,
    }),
    name: t.exposeString('name', { description: 'Image name.' }),
    description: t.exposeString('description', { nullable: true, description: 'Free-text description.' }),
    organization: t.field({
      type: Organization,
      nullable: true,
      description:
        "Owning organization; null for a PUBLIC (platform) image, and for an ORGANIZATION image no organization owns (an operator's private image at the provider, seen by platform admins only).",
      resolve: (i) => (i.record.organizationId ? { id: i.record.organizationId } : null),
    }),
    visibility: t.expose('visibility', { type: ImageVisibilityEnum, description: 'Who can see the image.' }),
    status: t.expose('status', { type: ImageStatusEnum, description: 'Lifecycle status.' }),
    statusReason: t.exposeString('statusReason', { nullable: true, description: 'Why the image is FAILED, when it is.' }),
    diskFormat: t.expose('diskFormat', { type: DiskFormatEnum, description: 'Format of the stored disk.' }),
    sizeBytes: t.expose('sizeBytes', {
      type: 'SafeInt',
      nullable: true,
      description: 'Bytes stored at the provider; null until known.',
    }),
    sizeGiB: t.int({
      nullable: true,
      description: 'Virtual disk size rounded up to whole GiB; null until known.',
      // A raw disk's virtual size is its byte size.
      resolve: (i) => (i.record.sizeBytes === null ? null : Math.ceil(i.record.sizeBytes / GIB)),
    }),
    checksum: t.expose('checksum', {
      type: Checksum,
      nullable: true,
      description: 'Digest of the stored bytes; null until known.',
    }),
    architecture: t.expose('architecture', { type: ArchitectureEnum, description: 'CPU architecture.' }),
    virtualization: t.expose('virtualization', { type: VirtualizationEnum, description: 'Where the image may run.' }),
    os: t.expose('os', { type: OperatingSystemType, description: 'Installed operating system.' }),
    gpu: t.expose('gpu', { type: GpuType, nullable: true, description: 'GPU drivers installed, if any.' }),
    softwareVersions: t.expose('softwareVersions', {
      type: [SoftwareVersionType],
      description: 'Notable software installed, with versions.',
    }),
    tags: t.expose('tags', {
      type: [TagType],
      description: 'User tags. Reserved names (provenance, ownership) never appear here: they are typed fields.',
    }),
    source: t.expose('source', { type: ImageSourceType, description: 'Where the image came from.' }),
    usedBy: t.field({
      type: [ImageUseType],
      description: 'Who holds the image in use; deleteImage refuses while this is not empty.',
      resolve: (i, _args, ctx) => visibleUses(ctx, i),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the image was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When the image last changed.' }),
    properties: t.expose('properties', {
      type: [PropertyType],
      description: "Provider properties with no typed field, read-only; never imagegraph's own reserved ones.",
    }),
    minDiskGiB: t.exposeInt('minDiskGiB', {
      nullable: true,
      description: 'Minimum root disk the provider asks for, in GiB (Glance min_disk); null when unset.',
    }),
    minRamMiB: t.exposeInt('minRamMiB', {
      nullable: true,
      description: 'Minimum memory the provider asks for, in MiB (Glance min_ram); null when unset.',
    }),
    sourceFormat: t.field({
      type: DetectedFormatEnum,
      nullable: true,
      description: 'What was fetched, when the import converted it to raw; null for an image fetched raw.',
      resolve: (i) => i.record.source.format,
    }),
    progress: t.field({
      type: ImportProgressType,
      nullable: true,
      description: 'How far a running import has come; null unless PENDING or CREATING.',
      resolve: (i, _args, ctx) => importProgress(ctx, i),
    }),
    sharedWith: t.field({
      type: [Organization],
      description: "Organizations this image is shared with; empty unless the caller is the owner's member or a platform admin.",
      resolve: (i, _args, ctx) => sharedWith(ctx, i),
    }),
    deprecation: t.field({
      type: ImageDeprecationType,
      nullable: true,
      description: 'When the image is (or will be) deprecated, and what to use instead; null when it is not.',
      resolve: (i, _args, ctx) => deprecation(ctx, i),
    }),
    signature: t.field({
      type: ImageSignatureType,
      nullable: true,
      description: 'Signature state of a PUBLIC image in a region that requires signed platform images; null otherwise.',
      resolve: (i, _args, ctx) => signature(ctx, i),
    }),
  }),
});

ImageDeprecationType.implement({
  description: 'A deprecated image keeps working and stays readable by id; default listings leave it out from `at` on.',
  fields: (t) => ({
    at: t.field({ type: 'DateTime', description: 'From when on the image is deprecated.', resolve: (d) => d.at }),
    replacement: t.field({
      type: Image,
      nullable: true,
      description: 'The image to use instead; null when none was named or the caller cannot see it.',
      resolve: (d) => d.replacement,
    }),
  }),
});
