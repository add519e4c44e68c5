import type { Gpu, ImageSource, OperatingSystem, ProviderProperty, SoftwareVersion, Tag } from '../providers/types.js';
import { builder } from './builder.js';
import { GpuVendorEnum, ImageSourceKindEnum, OsDistroEnum, OsFamilyEnum, OsKernelEnum } from './enums.js';

export const Checksum = builder.objectRef<{ algorithm: string; value: string }>('Checksum').implement({
  description: 'A digest of the image bytes as stored.',
  fields: (t) => ({
    algorithm: t.exposeString('algorithm', { description: 'Digest algorithm, e.g. sha256.' }),
    value: t.exposeString('value', { description: 'The digest in lowercase hex.' }),
  }),
});

export const OperatingSystemType = builder.objectRef<OperatingSystem>('OperatingSystem').implement({
  description: 'The operating system installed in an image.',
  fields: (t) => ({
    kernel: t.expose('kernel', { type: OsKernelEnum, description: 'Kernel.' }),
    family: t.expose('family', { type: OsFamilyEnum, description: 'Family.' }),
    distro: t.expose('distro', { type: OsDistroEnum, description: 'Distribution.' }),
    version: t.exposeString('version', { description: 'Version, e.g. 24.04.' }),
    variant: t.exposeString('variant', { nullable: true, description: 'Variant, e.g. server or minimal.' }),
    codename: t.exposeString('codename', { nullable: true, description: 'Release codename, e.g. noble.' }),
  }),
});

export const PropertyType = builder.objectRef<ProviderProperty>('Property').implement({
  description: 'A provider property with no typed field (Glance hw_*, img_*, min_disk, min_ram, ...).',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The property name, as the provider spells it (e.g. hw_firmware_type).' }),
    value: t.exposeString('value', { description: 'Its value, as the provider holds it.' }),
  }),
});

export const GpuType = builder.objectRef<Gpu>('Gpu').implement({
  description: 'The GPU an image carries drivers for.',
  fields: (t) => ({
    vendor: t.expose('vendor', { type: GpuVendorEnum, description: 'GPU vendor.' }),
    driver: t.exposeString('driver', { description: 'Driver version installed.' }),
    models: t.exposeStringList('models', { description: 'GPU models the image is made for.' }),
  }),
});

export const SoftwareVersionType = builder.objectRef<SoftwareVersion>('SoftwareVersion').implement({
  description: 'A piece of software installed in an image, with its version.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Software name, e.g. kubernetes.' }),
    version: t.exposeString('version', { description: 'Its version.' }),
  }),
});

export const TagType = builder.objectRef<Tag>('Tag').implement({
  description: 'A user tag.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'Tag name.' }),
    value: t.exposeString('value', { description: 'Tag value.' }),
  }),
});

export const ImageSourceType = builder.objectRef<ImageSource>('ImageSource').implement({
  description: 'Where an image came from (provenance).',
  fields: (t) => ({
    kind: t.expose('kind', { type: ImageSourceKindEnum, description: 'How the image was made.' }),
    uri: t.exposeString('uri', { nullable: true, description: 'The URI an imported image was fetched from.' }),
    createdBy: t.exposeString('createdBy', { nullable: true, description: 'Subject of the principal that created the image.' }),
    sourceImageId: t.id({
      nullable: true,
      description: 'The image a COPY was made from (its global ID; it may since have been deleted).',
      resolve: (source) => source.sourceImageId ?? null,
    }),
  }),
});
