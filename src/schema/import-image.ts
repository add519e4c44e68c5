import { type ImportImageInput as ImportImageInputShape, ImportImageInputSchema } from '../inputs/import-image.js';
import type { RegionImage } from '../region-image.js';
import { importImage } from '../resolvers/import-image.js';
import { builder } from './builder.js';
import './errors.js';
import {
  ArchitectureEnum,
  GpuVendorEnum,
  ImageVisibilityEnum,
  OsDistroEnum,
  OsFamilyEnum,
  OsKernelEnum,
  VirtualizationEnum,
} from './enums.js';
import {
  IdempotencyConflictError,
  ImageFetchError,
  InvalidInputError,
  PermissionDeniedError,
  ProviderUnavailableError,
  QuotaExceededError,
  RegionNotFoundError,
  UnsafeImageError,
  UnsupportedImageFormatError,
} from '../errors.js';
import { Image } from './image.js';
import { TagInput } from './inputs.js';

const OperatingSystemInput = builder.inputType('OperatingSystemInput', {
  description: 'The operating system installed in the image.',
  fields: (t) => ({
    kernel: t.field({ type: OsKernelEnum, defaultValue: 'LINUX', description: 'Kernel (default LINUX).' }),
    family: t.field({ type: OsFamilyEnum, required: true, description: 'Family.' }),
    distro: t.field({ type: OsDistroEnum, required: true, description: 'Distribution.' }),
    version: t.string({ required: true, description: 'Version, e.g. 24.04 (1-64 characters).' }),
    variant: t.string({ description: 'Variant, e.g. server.' }),
    codename: t.string({ description: 'Release codename, e.g. noble.' }),
  }),
});

const GpuInput = builder.inputType('GpuInput', {
  description: 'The GPU the image carries drivers for.',
  fields: (t) => ({
    vendor: t.field({ type: GpuVendorEnum, required: true, description: 'GPU vendor.' }),
    driver: t.string({ required: true, description: 'Driver version.' }),
    models: t.stringList({ required: true, description: 'GPU models the image is made for.' }),
  }),
});

const SoftwareVersionInput = builder.inputType('SoftwareVersionInput', {
  description: 'A piece of software installed in the image.',
  fields: (t) => ({
    name: t.string({ required: true, description: 'Software name.' }),
    version: t.string({ required: true, description: 'Its version.' }),
  }),
});

const ImportImageInput = builder.inputRef<ImportImageInputShape>('ImportImageInput').implement({
  description: 'What to import, from where, and who owns it.',
  validate: ImportImageInputSchema,
  fields: (t) => ({
    region: t.id({ required: true, description: 'Region to import into.' }),
    organization: t.id({ description: 'Owning organization; required unless visibility is PUBLIC (platform admins only).' }),
    visibility: t.field({ type: ImageVisibilityEnum, defaultValue: 'ORGANIZATION', description: 'Who can see the image.' }),
    name: t.string({ required: true, description: 'Image name: 1-63 letters, digits, ".", "-" or "_".' }),
    description: t.string({ description: 'Free text, at most 255 characters.' }),
    uri: t.string({
      required: true,
      description:
        'http(s) URL of a bootable disk image: raw, or (with convert) QCOW2, VMDK, VHD(X), VDI, QED or gzip/xz/zstd/bzip2-compressed raw.',
    }),
    architecture: t.field({ type: ArchitectureEnum, defaultValue: 'X86_64', description: 'CPU architecture.' }),
    virtualization: t.field({ type: VirtualizationEnum, defaultValue: 'VIRTUALIZED', description: 'Where it may run.' }),
    os: t.field({ type: OperatingSystemInput, required: true, description: 'Installed operating system.' }),
    gpu: t.field({ type: GpuInput, description: 'GPU drivers installed, if any.' }),
    softwareVersions: t.field({ type: [SoftwareVersionInput], description: 'Notable software, at most 32.' }),
    tags: t.field({ type: [TagInput], description: 'User tags, at most 32; names starting "imagegraph." are reserved.' }),
    idempotencyKey: t.string({ description: 'Retrying with the same key returns the first result instead of importing twice.' }),
    convert: t.boolean({
      defaultValue: true,
      description: 'Convert QCOW2, VMDK, VHD, VHDX, VDI, QED or compressed raw disks to raw while importing.',
    }),
  }),
});

const ImportImagePayload = builder.objectRef<{ image: RegionImage }>('ImportImagePayload').implement({
  description: 'The import was accepted; the image is PENDING and the bytes follow asynchronously.',
  isTypeOf: (value) => typeof value === 'object' && value !== null && 'image' in value,
  fields: (t) => ({ image: t.field({ type: Image, description: 'The new image.', resolve: (p) => p.image }) }),
});

const ImportImageResult = builder.errorUnion('ImportImageResult', {
  description: 'The accepted import, or why it was refused.',
  // Error classes, not their refs: the plugin catches thrown instances of these classes.
  types: [
    ImportImagePayload,
    UnsupportedImageFormatError,
    ImageFetchError,
    InvalidInputError,
    RegionNotFoundError,
    PermissionDeniedError,
    IdempotencyConflictError,
    ProviderUnavailableError,
    QuotaExceededError,
    UnsafeImageError,
  ],
});

builder.mutationField('importImage', (t) =>
  t.field({
    type: ImportImageResult,
    description:
      'Checks a remote disk image (format, safety, size) and starts importing it, converting it to raw when needed; follow it with imageChanged or by polling.',
    args: { input: t.arg({ type: ImportImageInput, required: true, description: 'What to import.' }) },
    resolve: (_root, { input }, ctx) => importImage(ctx, input),
  }),
);
